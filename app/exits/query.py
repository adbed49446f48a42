"""Exit candidates (rule 7), one query for `/exit-candidates`, for opening exit cases and for WFS
`landcycle:exit_candidates`: a row per (contract, reason) with the evaluations that show it.

- `repeated_below_bottom_line` / `failed_rectification`: a contract in rectification whose latest result
  made it a candidate (a later pass restores it and ends the candidacy);
- `expired`: held past its expiry without renewal (evidence: its expiry evaluation results);
- `idle_land`: its parcel still `supplied` (not under construction) a year after the agreed start;
- `repeated_class_d`: its enterprise rated D (亩均) in each of the last `:d_years` consecutive years ending
  with its latest rated year (`rating_exit_after_d_years`; 0: never); evidence: those ratings' ids,
  since: the end of the latest of those years.
Contracts with an open exit case are `exiting`, not candidates.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Date, String, TextClause, column, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.expression import TextualSelect

from models.base import current_sql

CANDIDATES_SQL = f"""
SELECT c.id AS contract_id, c.parcel_id, l.exit_reason AS reason, l.evidence, l.evaluated_on AS since
  FROM contract c
  CROSS JOIN LATERAL (
       SELECT e.consequence, e.exit_reason, e.evidence, e.evaluated_on FROM evaluation e
        WHERE e.contract_id = c.id AND e.evaluated_on IS NOT NULL
        ORDER BY e.evaluated_on DESC, e.id DESC LIMIT 1) l
 WHERE {current_sql('c')} AND c.status = 'rectification' AND l.consequence = 'exit_candidate'
UNION ALL
SELECT c.id, c.parcel_id, 'expired',
       coalesce((SELECT array_agg(e.id ORDER BY e.id) FROM evaluation e
                  WHERE e.contract_id = c.id AND e.stage = 'expiry' AND e.evaluated_on IS NOT NULL),
                '{{}}'::bigint[]),
       c.expires_on
  FROM contract c
 WHERE {current_sql('c')} AND c.status IN ('active', 'rectification') AND c.expires_on <= :today
UNION ALL
SELECT c.id, c.parcel_id, 'idle_land', '{{}}'::bigint[],
       (c.start_by + make_interval(years => :idle_years))::date
  FROM contract c JOIN parcel p ON p.id = c.parcel_id AND {current_sql('p')} AND p.status = 'supplied'
 WHERE {current_sql('c')} AND c.status IN ('active', 'rectification')
   AND c.start_by + make_interval(years => :idle_years) <= :today
UNION ALL
SELECT c.id, c.parcel_id, 'repeated_class_d', d.evidence, make_date(d.last, 12, 31)
  FROM (SELECT r.enterprise_id, l.last, array_agg(r.id ORDER BY r.year) AS evidence
          FROM (SELECT enterprise_id, max(year) AS last FROM rating GROUP BY enterprise_id) l
          JOIN rating r ON r.enterprise_id = l.enterprise_id AND r.year > l.last - :d_years AND r.class = 'D'
         WHERE :d_years > 0
         GROUP BY r.enterprise_id, l.last
        HAVING count(*) = :d_years) d
  JOIN contract c ON c.enterprise_id = d.enterprise_id
 WHERE {current_sql('c')} AND c.status IN ('active', 'rectification')
"""  # noqa: S608


# The same candidates for readers that cannot pass today's date (WFS): "today" and the idle-land years come
# from the connection's settings (app/db.py sets them from LANDCYCLE_TODAY and LANDCYCLE_IDLE_AFTER_YEARS).
LIVE_TODAY = ("coalesce(nullif(current_setting('landcycle.today', true), '')::date, "
              "(now() AT TIME ZONE 'Asia/Shanghai')::date)")
LIVE_IDLE_YEARS = "coalesce(nullif(current_setting('landcycle.idle_after_years', true), '')::int, 1)"
LIVE_D_YEARS = "coalesce(nullif(current_setting('landcycle.rating_exit_after_d_years', true), '')::int, 3)"


def live_candidates() -> TextualSelect:
    """`candidates()` for today as the database connection knows it."""
    sql = (CANDIDATES_SQL.replace(":today", LIVE_TODAY).replace(":idle_years", LIVE_IDLE_YEARS)
           .replace(":d_years", LIVE_D_YEARS))
    return text(sql).columns(column("contract_id", BigInteger), column("parcel_id", BigInteger),
                             column("reason", String), column("evidence", ARRAY(BigInteger)),
                             column("since", Date))


def candidates(today: date, idle_after_years: int, d_years: int = 3) -> TextualSelect:
    """(contract_id, parcel_id, reason, evidence, since) rows; join it like a table (`.subquery()`)."""
    stmt: TextClause = text(CANDIDATES_SQL).bindparams(today=today, idle_years=idle_after_years, d_years=d_years)
    return stmt.columns(column("contract_id", BigInteger), column("parcel_id", BigInteger),
                        column("reason", String), column("evidence", ARRAY(BigInteger)),
                        column("since", Date))


LIST_SQL = f"""
SELECT x.contract_id, c.code AS contract_code, c.status AS contract_status, x.parcel_id,
       p.code AS parcel_code, p.district_code, c.enterprise_id, en.name AS enterprise_name,
       en.industry_code, c.responsible_org_id, x.reason, x.evidence, x.since
  FROM ({CANDIDATES_SQL}) x
  JOIN contract c ON c.id = x.contract_id AND {current_sql('c')}
  JOIN enterprise en ON en.id = c.enterprise_id
  LEFT JOIN parcel p ON p.id = x.parcel_id AND {current_sql('p')}
 WHERE (CAST(:reason AS text) IS NULL OR x.reason = :reason)
   AND (CAST(:district AS text) IS NULL OR p.district_code = :district)
   AND (CAST(:organisation AS bigint) IS NULL OR c.responsible_org_id = :organisation)
   AND (CAST(:contract_id AS bigint) IS NULL OR x.contract_id = :contract_id)
"""  # noqa: S608 (constant)
COUNT_SQL = f"SELECT count(*) FROM ({LIST_SQL}) AS listed"  # noqa: S608 (constant)
PAGE_SQL = LIST_SQL + " ORDER BY x.contract_id, x.reason LIMIT :limit OFFSET :offset"


def params(today: date, idle_after_years: int, reason: str | None = None, district_code: str | None = None,
           contract_id: int | None = None, organisation_id: int | None = None, *, d_years: int
           ) -> dict[str, Any]:
    """Bind parameters of LIST_SQL (`organisation_id`: an org_manager's scope, SPEC §4; `d_years`: the
    policy's rating_exit_after_d_years)."""
    return {"today": today, "idle_years": idle_after_years, "d_years": d_years, "reason": reason,
            "district": district_code, "contract_id": contract_id, "organisation": organisation_id}


def as_json(row: Any) -> dict[str, Any]:
    """One exit candidate (SPEC §5)."""
    m = row._mapping
    return {
        "contract_id": m["contract_id"], "contract_code": m["contract_code"],
        "contract_status": m["contract_status"], "parcel_id": m["parcel_id"], "parcel_code": m["parcel_code"],
        "district_code": m["district_code"], "enterprise_id": m["enterprise_id"],
        "enterprise_name": m["enterprise_name"], "industry_code": m["industry_code"],
        "responsible_org_id": m["responsible_org_id"], "reason": m["reason"], "evidence": list(m["evidence"]),
        "since": m["since"],
    }
