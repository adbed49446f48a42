"""SPEC §1, §5 accountability per responsible organisation (谁提出、谁管理): one row per organisation with
what its contracts show on a day: in force, in rectification, evaluations overdue, latest result below
the bottom line, exit candidates, exit cases, and the land it manages in hectares and mu.

One set-based statement over every contract of the reader's scope (SPEC §4: city-wide, a district's
contracts, or one organisation's). Contracts and parcels are the versions valid at `as_of` (rule 10);
evaluation and exit-case states follow their dates on that day; exit candidates are rule 7's over the
current rows with `as_of`'s day as today (app/exits/query.py).

Areas are exact decimals: each parcel's `area_m2` (on the ellipsoid, SPEC §2) rounded to 0.01 m², summed;
hectares = m² / 10,000 and mu = m² × 15 / 10,000, each rounded half away from zero to 4 decimals.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.query import in_force_sql
from app.exits.query import CANDIDATES_SQL
from app.policy import Policy
from models.base import current_sql

COLUMNS = ("organisation_id", "organisation_name", "organisation_kind", "organisation_district_code",
           "contracts_in_force", "in_rectification", "evaluations_overdue", "below_bottom_line",
           "exit_candidates", "exit_candidate_reasons", "exit_cases_open", "exit_cases_completed",
           "area_m2", "hectares", "mu")
COUNTS = COLUMNS[4:12]


def _alive(alias: str, as_of: datetime | None) -> str:
    """Rule 10 in SQL text: the current row, or the one valid at :as_of."""
    if as_of is None:
        return current_sql(alias)
    return f"{alias}.valid_from <= :as_of AND ({current_sql(alias)} OR {alias}.valid_to > :as_of)"


def statement(as_of: datetime | None) -> str:
    """The report's one statement; binds :day, :as_of (when given), :district, :organisation and the exit
    candidates' policy numbers (:idle_years, :d_years)."""
    candidates = CANDIDATES_SQL.replace(":today", ":day")
    # Pending on the day: today's is the pending index's predicate (ix_evaluation_pending_due); a past day's
    # counts the results and cancellations after it as pending.
    pending = ("e.evaluated_on IS NULL AND e.cancelled_on IS NULL" if as_of is None else
               "(e.evaluated_on IS NULL OR e.evaluated_on > :day)"
               " AND (e.cancelled_on IS NULL OR e.cancelled_on > :day)")
    return f"""
WITH scoped AS (
    SELECT c.id, c.responsible_org_id AS org_id, c.status,
           (c.status IN ('active', 'rectification') AND {in_force_sql()}) AS in_force,
           round(p.area_m2::numeric, 2) AS m2
      FROM contract c
      LEFT JOIN parcel p ON p.id = c.parcel_id AND {_alive('p', as_of)}
     WHERE {_alive('c', as_of)}
       AND (CAST(:district AS text) IS NULL OR p.district_code = :district)
       AND (CAST(:organisation AS bigint) IS NULL OR c.responsible_org_id = :organisation)
), held AS (
    SELECT org_id, count(*) FILTER (WHERE in_force) AS contracts_in_force,
           count(*) FILTER (WHERE in_force AND status = 'rectification') AS in_rectification,
           coalesce(sum(m2) FILTER (WHERE in_force), 0) AS area_m2
      FROM scoped GROUP BY org_id
), overdue AS (
    SELECT s.org_id, count(*) AS evaluations_overdue
      FROM evaluation e JOIN scoped s ON s.id = e.contract_id
     WHERE e.due_on < :day AND {pending}
     GROUP BY s.org_id
), below AS (
    SELECT s.org_id, count(*) AS below_bottom_line
      FROM scoped s
     CROSS JOIN LATERAL (
           SELECT e.outcome FROM evaluation e
            WHERE e.contract_id = s.id AND e.evaluated_on <= :day
            ORDER BY e.evaluated_on DESC, e.id DESC LIMIT 1) l
     WHERE s.in_force AND l.outcome = 'below_bottom_line'
     GROUP BY s.org_id
), candidate AS (
    SELECT s.org_id, x.contract_id, x.reason
      FROM ({candidates}) x JOIN scoped s ON s.id = x.contract_id
), candidates AS (
    SELECT k.org_id, count(DISTINCT k.contract_id) AS exit_candidates, count(*) AS exit_candidate_reasons,
           (SELECT jsonb_object_agg(r.reason, r.n) FROM (
                SELECT reason, count(*) AS n FROM candidate WHERE org_id = k.org_id GROUP BY reason) r
           ) AS by_reason
      FROM candidate k GROUP BY k.org_id
), cases AS (
    SELECT s.org_id,
           count(*) FILTER (WHERE ec.opened_on <= :day
                            AND (ec.completed_on IS NULL OR ec.completed_on > :day)) AS exit_cases_open,
           count(*) FILTER (WHERE ec.completed_on <= :day) AS exit_cases_completed
      FROM exit_case ec JOIN scoped s ON s.id = ec.contract_id
     GROUP BY s.org_id
)
SELECT o.id AS organisation_id, o.name AS organisation_name, o.kind AS organisation_kind,
       o.district_code AS organisation_district_code,
       coalesce(h.contracts_in_force, 0) AS contracts_in_force, coalesce(h.in_rectification, 0) AS in_rectification,
       coalesce(ov.evaluations_overdue, 0) AS evaluations_overdue,
       coalesce(b.below_bottom_line, 0) AS below_bottom_line,
       coalesce(ca.exit_candidates, 0) AS exit_candidates,
       coalesce(ca.exit_candidate_reasons, 0) AS exit_candidate_reasons,
       coalesce(ca.by_reason, '{{}}'::jsonb) AS exit_candidates_by_reason,
       coalesce(cs.exit_cases_open, 0) AS exit_cases_open,
       coalesce(cs.exit_cases_completed, 0) AS exit_cases_completed,
       coalesce(h.area_m2, 0) AS area_m2
  FROM organisation o
  LEFT JOIN held h ON h.org_id = o.id
  LEFT JOIN overdue ov ON ov.org_id = o.id
  LEFT JOIN below b ON b.org_id = o.id
  LEFT JOIN candidates ca ON ca.org_id = o.id
  LEFT JOIN cases cs ON cs.org_id = o.id
 WHERE (CAST(:organisation AS bigint) IS NULL OR o.id = :organisation)
   AND (CAST(:district AS text) IS NULL OR o.district_code = :district OR h.org_id IS NOT NULL)
 ORDER BY evaluations_overdue DESC, below_bottom_line DESC, o.id
"""  # noqa: S608 (constant text; values are bound)

HA = Decimal(10_000)
PLACES = Decimal("0.0001")


def _area(m2: Decimal) -> dict[str, Decimal]:
    """m² (0.01), hectares and mu (0.0001), exact decimals."""
    m2 = Decimal(m2)
    return {"area_m2": m2.quantize(Decimal("0.01")),
            "hectares": (m2 / HA).quantize(PLACES, rounding="ROUND_HALF_UP"),
            "mu": (m2 * 15 / HA).quantize(PLACES, rounding="ROUND_HALF_UP")}


async def report(session: AsyncSession, policy: Policy, day: date, as_of: datetime | None,
                 district_code: str | None = None, organisation_id: int | None = None) -> dict[str, Any]:
    """`{"as_of", "items", "totals"}`: a row per organisation within the scope (every organisation
    city-wide; in a district those seated there or managing a contract there; an org_manager its own),
    by evaluations overdue, then below the bottom line (most first); totals over the rows."""
    binds: dict[str, Any] = {"day": day, "district": district_code, "organisation": organisation_id,
                             "idle_years": policy.idle_after_years, "d_years": policy.rating_exit_after_d_years}
    if as_of is not None:
        binds["as_of"] = as_of
    rows = (await session.execute(text(statement(as_of)), binds)).all()
    items = []
    for r in rows:
        m = r._mapping
        items.append({**{c: m[c] for c in COLUMNS[:12]},
                      "exit_candidates_by_reason": dict(sorted(m["exit_candidates_by_reason"].items())),
                      **_area(m["area_m2"])})
    total_m2 = sum((Decimal(r._mapping["area_m2"]) for r in rows), Decimal(0))
    totals: dict[str, Any] = {"organisations": len(items), **{c: sum(i[c] for i in items) for c in COUNTS},
                              **_area(total_m2)}
    return {"as_of": day.isoformat(), "district_code": district_code, "items": items, "totals": totals}


def as_json(report_: dict[str, Any]) -> dict[str, Any]:
    """The report with its decimals as JSON numbers (4 decimals at most: the text is the exact value)."""
    def numbers(row: dict[str, Any]) -> dict[str, Any]:
        return {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}

    return {**report_, "items": [numbers(i) for i in report_["items"]], "totals": numbers(report_["totals"])}


def csv_rows(report_: dict[str, Any]) -> list[dict[str, Any]]:
    """The items as CSV rows (COLUMNS plus the reasons as `reason:n;…`), then a totals row."""
    def reasons(by: dict[str, int]) -> str:
        return ";".join(f"{k}:{n}" for k, n in by.items())

    out = [{**i, "exit_candidates_by_reason": reasons(i["exit_candidates_by_reason"])} for i in report_["items"]]
    out.append({"organisation_name": "total", **{c: report_["totals"][c] for c in (*COUNTS, "area_m2",
                                                                                  "hectares", "mu")}})
    return out


CSV_COLUMNS = (*COLUMNS[:12], "exit_candidates_by_reason", *COLUMNS[12:])
