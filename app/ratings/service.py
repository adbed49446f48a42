"""亩均 ratings: rate a year (bureau; one transaction, replacing that year's run, audited) and read the
ratings within a reader's scope (SPEC §4). Figures and land are gathered in one statement; scores and
classes by the pure rules of app/ratings/rules.py. Never commits."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, cast

import orjson
from sqlalchemy import Table, delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app import locks
from app.audit import service as audit
from app.auth.permissions import Actor, Scope, require_role
from app.contracts.query import in_force_sql
from app.errors import DomainError, Refusal, ValidationFailed
from app.measurements.figures import M2_PER_MU
from app.policy import Policy
from app.ratings import rules
from models import Rating, RatingRun
from models.base import current_sql
from models.rating import CLASSES

rating = cast(Table, Rating.__table__)
rating_run = cast(Table, RatingRun.__table__)
READ = "read 亩均 ratings"

# Per enterprise: its land on 31 Dec (Σ parcel area of its contracts in force), the district holding most
# of it, and its figures of the year: the latest batch's value of each (subject, figure); a figure
# delivered for the enterprise stands, else its contracts' figures are summed into it.
_SUBJECTS = text(f"""
WITH held AS (
    SELECT c.enterprise_id, p.district_code, sum(p.area_m2) AS m2
      FROM contract c JOIN parcel p ON p.id = c.parcel_id AND {current_sql('p')}
     WHERE {current_sql('c')} AND {in_force_sql('c', ':day')}
     GROUP BY c.enterprise_id, p.district_code
), land AS (
    SELECT enterprise_id, round(sum(m2)::numeric, 2) AS m2,
           (array_agg(district_code ORDER BY m2 DESC, district_code))[1] AS district_code
      FROM held GROUP BY enterprise_id
), latest AS (
    SELECT DISTINCT ON (m.enterprise_id, m.contract_id, m.figure) m.enterprise_id, m.contract_id, m.figure,
           m.value
      FROM measurement m
     WHERE m.year = :year
     ORDER BY m.enterprise_id, m.contract_id, m.figure, m.batch_id DESC, m.id DESC
), parts AS (
    SELECT c.enterprise_id, l.figure, sum(l.value) AS value
      FROM latest l JOIN contract c ON c.id = l.contract_id AND {current_sql('c')}
     GROUP BY c.enterprise_id, l.figure
), figures AS (
    SELECT coalesce(o.enterprise_id, p.enterprise_id) AS enterprise_id, coalesce(o.figure, p.figure) AS figure,
           coalesce(o.value, p.value) AS value
      FROM (SELECT enterprise_id, figure, value FROM latest WHERE enterprise_id IS NOT NULL) o
      FULL JOIN parts p ON p.enterprise_id = o.enterprise_id AND p.figure = o.figure
), by_firm AS (
    SELECT enterprise_id, array_agg(figure ORDER BY figure) AS names, array_agg(value ORDER BY figure) AS vals
      FROM figures GROUP BY enterprise_id
)
SELECT coalesce(l.enterprise_id, f.enterprise_id) AS enterprise_id, l.district_code,
       coalesce(l.m2, 0) AS m2, f.names, f.vals
  FROM land l FULL JOIN by_firm f ON f.enterprise_id = l.enterprise_id
 ORDER BY 1
""")  # noqa: S608 (constant)


_INSERT = text("""
INSERT INTO rating (year, enterprise_id, district_code, land_m2, land_mu, figures, indicators, score, rank,
                    group_size, class, unrated_reason)
SELECT :year, u.id, u.district, u.m2, u.mu, u.figures::jsonb, u.indicators::jsonb, u.score, u.rank, u.size,
       u.cls, u.reason
  FROM unnest(CAST(:ids AS bigint[]), CAST(:districts AS text[]), CAST(:m2 AS numeric[]),
              CAST(:mu AS numeric[]), CAST(:figures AS text[]), CAST(:indicators AS text[]),
              CAST(:score AS numeric[]), CAST(:rank AS int[]), CAST(:size AS int[]), CAST(:cls AS text[]),
              CAST(:reason AS text[]))
       AS u(id, district, m2, mu, figures, indicators, score, rank, size, cls, reason)
""")


def _num(value: Decimal) -> float:
    return float(rules.rounded(value))


def _json(value: dict[str, float]) -> str:
    return orjson.dumps(value).decode()


def _counts(classes: Counter[str | None], total: int) -> dict[str, int]:
    return {**{c: classes.get(c, 0) for c in CLASSES}, "unrated": classes.get(None, 0), "enterprises": total}


async def _run_counts(session: AsyncSession, year: int) -> dict[str, int] | None:
    rows = (await session.execute(select(rating.c["class"], text("count(*)")).where(rating.c.year == year)
                                  .group_by(rating.c["class"]))).all()
    exists = await session.scalar(select(rating_run.c.year).where(rating_run.c.year == year))
    if exists is None:
        return None
    found: Counter[str | None] = Counter({r[0]: int(r[1]) for r in rows})
    return _counts(found, sum(found.values()))


async def rate_year(session: AsyncSession, actor: Actor, policy: Policy, year: int,
                    today: date) -> dict[str, Any]:
    """Rate every enterprise with land in force on 31 Dec of `year` or figures of that year, replacing the
    year's run; one audit row (action `rate`, entity `rating_run`) with the counts per class, the policy
    numbers and the counts it replaced. Bureau only."""
    try:  # a refused attempt is kept in the audit log (rule 10)
        require_role(actor, ("bureau",), "rate enterprises (亩均)")
        if not 1990 <= year <= today.year:
            raise ValidationFailed(f"year must lie between 1990 and this year ({today.year})", field="year")
    except DomainError as exc:
        raise exc.with_refusal(Refusal("rating_run", year, "rate", {"year": year})) from None
    prof = rules.profile(policy)
    await locks.entity(session, "rating_run", year)
    replaced = await _run_counts(session, year)
    day = date(year, 12, 31)
    rows = (await session.execute(_SUBJECTS, {"day": day, "year": year})).all()
    # Decimal arithmetic over every enterprise of the city: in a worker thread, not on the event loop.
    rated, columns = await asyncio.to_thread(_rate_rows, rows, prof)
    await session.execute(delete(rating_run).where(rating_run.c.year == year))  # its ratings cascade
    done = sum(1 for x in rated if x.cls is not None)
    await session.execute(insert(rating_run).values(year=year, policy=prof.as_json(), enterprises=len(rated),
                                                    rated=done, rated_by=actor.username))
    await session.execute(_INSERT, {"year": year, **columns})  # one statement for every enterprise
    counts = _counts(Counter(x.cls for x in rated), len(rated))
    await audit.record(session, actor, "rate", "rating_run", year, before=replaced,
                       after={"year": year, **counts, "policy": prof.as_json()})
    return await run_summary(session, year)


_RUNS = text("""
SELECT run.year, run.policy, run.enterprises, run.rated, run.rated_by, run.rated_at,
       count(*) FILTER (WHERE r.class = 'A') AS a, count(*) FILTER (WHERE r.class = 'B') AS b,
       count(*) FILTER (WHERE r.class = 'C') AS c, count(*) FILTER (WHERE r.class = 'D') AS d
  FROM rating_run run LEFT JOIN rating r ON r.year = run.year
 WHERE CAST(:year AS int) IS NULL OR run.year = :year
 GROUP BY run.year ORDER BY run.year DESC
""")


def _run_json(r: Any) -> dict[str, Any]:
    return {"year": r.year, "enterprises": r.enterprises, "rated": r.rated, "unrated": r.enterprises - r.rated,
            "classes": {"A": r.a, "B": r.b, "C": r.c, "D": r.d}, "policy": r.policy, "rated_by": r.rated_by,
            "rated_at": r.rated_at}


def _rate_rows(rows: Sequence[Any], prof: rules.Profile) -> tuple[list[rules.Rated], dict[str, list[Any]]]:
    """The pure rating (app/ratings/rules.py) of the gathered rows, and the insert's columns (one list each)."""
    subjects, land = [], {}
    for r in rows:
        m2 = Decimal(r.m2)
        land[r.enterprise_id] = (m2, r.district_code)
        figures = dict(zip(r.names or (), r.vals or (), strict=True))
        subjects.append(rules.Subject(r.enterprise_id, m2 / M2_PER_MU, r.district_code, figures))
    rated, _ = rules.rate(subjects, prof)
    columns: dict[str, list[Any]] = {k: [] for k in ("ids", "districts", "m2", "mu", "figures", "indicators",
                                                      "score", "rank", "size", "cls", "reason")}
    for s, x in zip(subjects, rated, strict=True):
        m2, district = land[s.enterprise_id]
        for key, value in (("ids", s.enterprise_id), ("districts", district), ("m2", m2),
                           ("mu", rules.rounded(s.land_mu)),
                           ("figures", _json({k: _num(v) for k, v in sorted(s.figures.items())})),
                           ("indicators", _json({k: _num(v) for k, v in x.indicators.items()})),
                           ("score", x.score), ("rank", x.rank), ("size", x.group_size), ("cls", x.cls),
                           ("reason", x.unrated_reason)):
            columns[key].append(value)
    return rated, columns


async def run_summary(session: AsyncSession, year: int) -> dict[str, Any]:
    """One year's run: counts per class and the policy numbers it was made with."""
    return _run_json((await session.execute(_RUNS, {"year": year})).one())


async def runs(session: AsyncSession) -> list[dict[str, Any]]:
    """Every rated year, latest first."""
    return [_run_json(r) for r in await session.execute(_RUNS, {"year": None})]


# ------------------------------------------------------------------------------------------------ reads
# An enterprise is in a reader's scope for a year when it held, on 31 Dec, a contract on land of the
# reader's district (district officer, evaluator) or one managed by the reader's organisation (org_manager).
# Only the conditions a request asks for are written into its statement, so each plans on its own indexes.
_SELECT = """
SELECT r.id, r.year, r.enterprise_id, en.name AS enterprise_name, en.uscc, en.industry_code, r.district_code,
       r.land_m2, r.land_mu, r.figures, r.indicators, r.score, r.rank, r.group_size, r.class, r.unrated_reason
  FROM rating r JOIN enterprise en ON en.id = r.enterprise_id
"""
_FILTERS = (("year", "r.year = :year"), ("class", "r.class = :class"), ("district", "r.district_code = :district"),
            ("enterprise_id", "r.enterprise_id = :enterprise_id"), ("listed", "r.class = ANY(:listed)"),
            # the holders of one parcel, first by its contracts (ix_contract_parcel_id), then held on 31 Dec
            ("parcel_id", "r.enterprise_id IN (SELECT pc.enterprise_id FROM contract pc WHERE pc.parcel_id = "
                          ":parcel_id)"))


def _where(params: dict[str, Any]) -> str:
    where = [sql for key, sql in _FILTERS if params.get(key) is not None]
    held = [sql for key, sql in (("scope_district", "hp.district_code = :scope_district"),
                                 ("scope_org", "hc.responsible_org_id = :scope_org"),
                                 ("parcel_id", "hc.parcel_id = :parcel_id")) if params.get(key) is not None]
    if held:
        land = (f" JOIN parcel hp ON hp.id = hc.parcel_id AND {current_sql('hp')}"
                if params.get("scope_district") is not None else "")
        where.append(f"""EXISTS (SELECT 1 FROM contract hc{land}
    WHERE hc.enterprise_id = r.enterprise_id AND {current_sql('hc')}
      AND {in_force_sql('hc', 'make_date(r.year, 12, 31)')} AND {' AND '.join(held)})""")  # noqa: S608 (fixed fragments)
    return (" WHERE " + " AND ".join(where)) if where else ""


COLUMNS = ("id", "year", "enterprise_id", "enterprise_name", "uscc", "industry_code", "district_code", "land_m2",
           "land_mu", "score", "rank", "group_size", "class", "unrated_reason", "rectification",
           *(f"indicator_{k}" for k in rules.INDICATORS), *(f"figure_{k}" for k in sorted(
               ("tax_paid", "output_value", "value_added", "rnd_spending", "jobs", "fixed_investment",
                "energy_use", "emissions"))))


def list_params(policy: Policy, scope: Scope, year: int | None = None, cls: str | None = None,
                district_code: str | None = None, enterprise_id: int | None = None, parcel_id: int | None = None,
                rectification: bool = False) -> dict[str, Any]:
    """Bind parameters of the ratings list (`rectification`: only the classes policy lists for it)."""
    return {"year": year, "class": cls, "district": district_code, "enterprise_id": enterprise_id,
            "parcel_id": parcel_id, "scope_district": scope.district_code, "scope_org": scope.organisation_id,
            "listed": list(rules.parse_classes(policy.rating_rectification_classes)) if rectification else None}


def as_json(row: Any, policy: Policy) -> dict[str, Any]:
    """One enterprise's rating (SPEC §5 list item)."""
    m = row._mapping
    return {"id": m["id"], "year": m["year"], "enterprise_id": m["enterprise_id"],
            "enterprise_name": m["enterprise_name"], "uscc": m["uscc"], "industry_code": m["industry_code"],
            "district_code": m["district_code"], "land_m2": float(m["land_m2"]), "land_mu": float(m["land_mu"]),
            "figures": m["figures"], "indicators": m["indicators"],
            "score": None if m["score"] is None else float(m["score"]), "rank": m["rank"],
            "group_size": m["group_size"], "class": m["class"], "unrated_reason": m["unrated_reason"],
            "rectification": m["class"] in rules.parse_classes(policy.rating_rectification_classes)}


def csv_row(item: dict[str, Any]) -> dict[str, Any]:
    """A list item flattened for CSV (indicator_… and figure_… columns)."""
    return {**item, **{f"indicator_{k}": v for k, v in item["indicators"].items()},
            **{f"figure_{k}": v for k, v in item["figures"].items()}}


async def list_ratings(session: AsyncSession, policy: Policy, params: dict[str, Any], limit: int | None,
                       offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """A page of ratings (latest year first, by district and rank) and their count; `limit` None: all."""
    where = _where(params)
    binds = {k: v for k, v in params.items() if v is not None}
    total = int(await session.scalar(text(f"SELECT count(*) FROM rating r{where}"), binds) or 0)  # noqa: S608
    page = text(_SELECT + where + " ORDER BY r.year DESC, r.district_code NULLS LAST, r.rank NULLS LAST, "
                "r.enterprise_id LIMIT :limit OFFSET :offset")
    rows = await session.execute(page, {**binds, "limit": limit, "offset": offset})
    return total, [as_json(r, policy) for r in rows]


_PARCELS = text(f"""
SELECT DISTINCT ON (c.parcel_id) c.parcel_id, r.class
  FROM rating r JOIN contract c ON c.enterprise_id = r.enterprise_id AND {current_sql('c')}
       AND {in_force_sql('c', 'make_date(r.year, 12, 31)')}
  JOIN parcel p ON p.id = c.parcel_id AND {current_sql('p')}
 WHERE r.year = :year AND r.class IS NOT NULL
   AND (CAST(:scope_district AS text) IS NULL OR p.district_code = :scope_district)
   AND (CAST(:scope_org AS bigint) IS NULL OR c.responsible_org_id = :scope_org)
 ORDER BY c.parcel_id, c.signed_on DESC
""")  # noqa: S608 (constant)


async def parcel_classes(session: AsyncSession, scope: Scope, year: int | None) -> dict[str, Any]:
    """The map layer: for `year` (default the latest rated), each parcel held on 31 Dec under a contract in
    force by a rated enterprise, with that enterprise's class."""
    if year is None:
        year = await session.scalar(select(rating_run.c.year).order_by(rating_run.c.year.desc()).limit(1))
    if year is None:
        return {"year": None, "classes": {}}
    rows = await session.execute(_PARCELS, {"year": year, "scope_district": scope.district_code,
                                            "scope_org": scope.organisation_id})
    return {"year": year, "classes": {str(r.parcel_id): r[1] for r in rows}}
