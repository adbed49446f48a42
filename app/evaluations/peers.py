"""Peer statistics for the bottom line (rules 4 and 6), set-based in PostgreSQL over all contracts at once.

A contract contributes to its peer groups, on a day D, the efficiency values of its latest completed
result up to D, if it is in force on D. Each result therefore holds from its date until the contract's
next result, expiry or end (`ended_on`), whichever comes first. Turning those spans into +value/−value
events and running a window sum over them gives every peer group's sum and count on every asked day in
one statement, for one contract at signing or for every due evaluation of a year.

Results being recorded in the same call are events too ("staged"), so a batch sees exactly what
recording the results one by one in date order would see; the caller removes each contract's own value
(a contract is never its own peer).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.indicators import EFFICIENCY
from app.evaluations.bottom_line import PeerGroup, PeerSums, bottom_line, exact
from app.policy import Policy
from models.base import current_sql


@dataclass(frozen=True, slots=True)
class Point:
    """A day and peer group asked for: an industry, and a district (None: city-wide)."""

    day: date
    industry_code: str
    district_code: str | None


@dataclass
class Staged:
    """Results being recorded in this call: evaluation ids, their contracts, dates and efficiency values."""

    evaluation_ids: list[int] = field(default_factory=list)
    contract_ids: list[int] = field(default_factory=list)
    days: list[date] = field(default_factory=list)
    output_per_mu: list[float | None] = field(default_factory=list)
    tax_per_mu: list[float | None] = field(default_factory=list)


# Peer groups are numbered for the sort: industry i (1-based position in :industries) and district d
# (position in :districts) make group i * 1000 + d; the city-wide group of industry i is i * 1000.
_SPANS = f"""
WITH staged AS (
    SELECT * FROM unnest(CAST(:s_ids AS bigint[]), CAST(:s_contracts AS bigint[]), CAST(:s_days AS date[]),
                         CAST(:s_out AS numeric[]), CAST(:s_tax AS numeric[])) AS s(id, contract_id, evaluated_on, o, t)
), points AS MATERIALIZED (
    SELECT DISTINCT d, g FROM unnest(CAST(:p_days AS date[]), CAST(:p_groups AS int[])) AS q(d, g)
), contracts AS MATERIALIZED (
    -- every contract of the asked industries, with what decides its force and its peer groups
    SELECT c.id, c.signed_on, c.expires_on, c.ended_on,
           array_position(CAST(:industries AS text[]), en.industry_code::text) AS i,
           coalesce(array_position(CAST(:districts AS text[]), p.district_code::text), 999) AS d
      FROM contract c
      JOIN enterprise en ON en.id = c.enterprise_id
      LEFT JOIN parcel p ON p.id = c.parcel_id AND {current_sql('p')}
     WHERE {current_sql('c')} AND en.industry_code = ANY(CAST(:industries AS text[]))
), results AS (
    SELECT e.id, e.contract_id, e.evaluated_on, 0 AS staged,
           (e.measurements ->> 'output_per_mu')::numeric AS o, (e.measurements ->> 'tax_per_mu')::numeric AS t
      FROM evaluation e
     WHERE e.evaluated_on IS NOT NULL AND e.evaluated_on <= :max_day
    UNION ALL
    SELECT s.id, s.contract_id, s.evaluated_on, 1, s.o, s.t FROM staged s
), spans AS (
    SELECT r.o, r.t, r.evaluated_on AS start_on, c.i * 1000 + c.d AS g,
           -- LEAST ignores NULLs: the next result, the expiry or the end of force, whichever first
           LEAST(lead(r.evaluated_on) OVER (PARTITION BY r.contract_id
                                            ORDER BY r.evaluated_on, r.staged, r.id),
                 c.expires_on, c.ended_on) AS end_on
      FROM results r JOIN contracts c ON c.id = r.contract_id
     WHERE r.evaluated_on >= c.signed_on
)"""  # noqa: S608

# Many days (the demo's history): running sums of +value/−value events over each group's days.
_SUMS_RUNNING = text(_SPANS + """, events AS (
    SELECT g, start_on AS on_, o, t, (o IS NOT NULL)::int AS no, (t IS NOT NULL)::int AS nt
      FROM spans WHERE end_on IS NULL OR end_on > start_on
    UNION ALL
    SELECT g, end_on, -o, -t, -(o IS NOT NULL)::int, -(t IS NOT NULL)::int
      FROM spans WHERE end_on > start_on AND end_on <= :max_day
), daily AS (
    -- the net change of each district group per day
    SELECT g, on_, sum(o) AS o, sum(t) AS t, sum(no) AS no, sum(nt) AS nt FROM events GROUP BY g, on_
), keyed AS (
    SELECT g, on_, o, t, no, nt, 0 AS q FROM daily WHERE g IN (SELECT g FROM points)
    UNION ALL
    SELECT g / 1000 * 1000, on_, sum(o), sum(t), sum(no), sum(nt), 0 FROM daily GROUP BY g / 1000, on_
    UNION ALL
    SELECT g, d, NULL, NULL, 0, 0, 1 FROM points
), running AS (
    SELECT g, on_, q, sum(o) OVER w AS so, sum(no) OVER w AS n_o, sum(t) OVER w AS st, sum(nt) OVER w AS n_t
      FROM keyed
    WINDOW w AS (PARTITION BY g ORDER BY on_, q ROWS UNBOUNDED PRECEDING)
)
SELECT DISTINCT on_ AS d, g, so, n_o, st, n_t FROM running WHERE q = 1
""")  # noqa: S608 (constant text)

# A few days (one result, a year's record): the spans in force on each day, summed directly — a span
# counts on day D when it starts on or before D and ends after D, exactly when the running sum above
# (its start event counted on its day, its end event on its end day, both before the point) holds it.
_SUMS_ON_DAYS = text(_SPANS + """, alive AS (
    SELECT q.d, q.g, s.o, s.t FROM points q
      JOIN spans s ON s.g = q.g AND s.start_on <= q.d AND (s.end_on IS NULL OR s.end_on > q.d)
     WHERE q.g % 1000 <> 0
    UNION ALL
    SELECT q.d, q.g, s.o, s.t FROM points q
      JOIN spans s ON s.g / 1000 = q.g / 1000 AND s.start_on <= q.d AND (s.end_on IS NULL OR s.end_on > q.d)
     WHERE q.g % 1000 = 0
)
SELECT d, g, sum(o) AS so, count(o) AS n_o, sum(t) AS st, count(t) AS n_t FROM alive GROUP BY d, g
""")  # noqa: S608 (constant text)
# Up to this many distinct days the direct sums are cheaper than the running ones (each day joins every
# span once; the running sums sort every event once).
FEW_DAYS = 4


async def peer_sums(session: AsyncSession, points: Iterable[Point], staged: Staged | None = None
                    ) -> dict[Point, dict[str, PeerSums]]:
    """The sums and counts of each efficiency indicator over each asked peer group on its day (the
    staged results included, nobody excluded)."""
    wanted = set(points)
    if not wanted:
        return {}
    staged = staged or Staged()
    industries = sorted({p.industry_code for p in wanted})
    districts = sorted({p.district_code for p in wanted if p.district_code})
    group = {p: (industries.index(p.industry_code) + 1) * 1000
             + (districts.index(p.district_code) + 1 if p.district_code else 0) for p in wanted}
    point_of = {(p.day, g): p for p, g in group.items()}
    # One sort of all events; enough memory keeps it off the disk (SET LOCAL: this transaction only).
    await session.execute(text("SET LOCAL work_mem = '128MB'"))
    few = len({p.day for p in wanted}) <= FEW_DAYS
    result = await session.execute(_SUMS_ON_DAYS if few else _SUMS_RUNNING, {
        "s_ids": staged.evaluation_ids, "s_contracts": staged.contract_ids, "s_days": staged.days,
        "s_out": _exact(staged.output_per_mu), "s_tax": _exact(staged.tax_per_mu),
        "p_days": [p.day for p in group], "p_groups": list(group.values()),
        "industries": industries, "districts": districts, "max_day": max(p.day for p in wanted),
    })
    out: dict[Point, dict[str, PeerSums]] = {}
    for r in result:
        out[point_of[(r.d, r.g)]] = {"output_per_mu": PeerSums(r.so or Decimal(0), int(r.n_o or 0)),
                                     "tax_per_mu": PeerSums(r.st or Decimal(0), int(r.n_t or 0))}
    for p in wanted - out.keys():  # a group with nobody in force that day (the direct sums have no row)
        out[p] = {code: PeerSums() for code in EFFICIENCY}
    return out


def _exact(values: Sequence[float | None]) -> list[Decimal | None]:
    """Staged values as the decimals they were written as (the sums are numeric: rules 4 and 6 exact)."""
    return [None if v is None else exact(v) for v in values]


def groups_for(sums: dict[Point, dict[str, PeerSums]], day: date, industry_code: str,
               district_code: str | None, policy: Policy, own: dict[str, float | None] | None = None
               ) -> dict[str, PeerGroup]:
    """Rule 4's peer group of each efficiency indicator, without the contract's own staged value."""
    empty = {code: PeerSums() for code in EFFICIENCY}
    district = sums.get(Point(day, industry_code, district_code), empty) if district_code else empty
    city = sums.get(Point(day, industry_code, None), empty)
    own = own or {}
    return {code: bottom_line(code, industry_code, district_code, day, district[code].without(own.get(code)),
                              city[code].without(own.get(code)), policy)
            for code in EFFICIENCY}


def points_for(day: date, industry_code: str, district_code: str | None) -> Sequence[Point]:
    """The two peer groups a contract is compared with: its district's and the city's."""
    city = Point(day, industry_code, None)
    return (Point(day, industry_code, district_code), city) if district_code else (city,)


async def bottom_lines(session: AsyncSession, policy: Policy, industry_code: str, district_code: str | None,
                       day: date) -> dict[str, PeerGroup]:
    """Rule 4 at signing: the bottom line of each efficiency indicator for a new contract."""
    sums = await peer_sums(session, points_for(day, industry_code, district_code))
    return groups_for(sums, day, industry_code, district_code, policy)
