"""The latest delivered figures of one year for a set of contracts, in one set-based statement.

For each (subject, figure, year) the value of the highest batch id wins (a later delivery corrects an
earlier one). A contract's own value (delivered by contract code) wins over its enterprise's; an
enterprise's value is apportioned to the contract by land (figures.share): the contract's parcel area over
the area of the enterprise's contracts in force on the last day of that year — the year the figures
describe — counting the contract itself even when its force ended within the year (it held its land for
part of the year the figures cover). Areas are the parcels' current `area_m2` (SPEC §2, on the ellipsoid) to
0.01 m², as a parcel shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.query import in_force_sql
from app.measurements import figures as catalogue
from app.measurements.measured import Delivered, Provenance
from models.base import current_sql

_LATEST = text(f"""
WITH target AS MATERIALIZED (
    SELECT c.id, c.enterprise_id, round(p.area_m2::numeric, 2) AS area_m2
      FROM unnest(CAST(:ids AS bigint[])) AS t(id)
      JOIN contract c ON c.id = t.id AND {current_sql('c')}
      LEFT JOIN parcel p ON p.id = c.parcel_id AND {current_sql('p')}
), held AS MATERIALIZED (
    -- the land of each enterprise's contracts in force on the last day of the year
    SELECT c.enterprise_id, array_agg(c.id) AS ids, sum(round(p.area_m2::numeric, 2)) AS area_m2
      FROM contract c JOIN parcel p ON p.id = c.parcel_id AND {current_sql('p')}
     WHERE {current_sql('c')} AND c.enterprise_id IN (SELECT enterprise_id FROM target)
       AND {in_force_sql('c', ':end')}
     GROUP BY c.enterprise_id
), own AS (
    SELECT DISTINCT ON (m.contract_id, m.figure) m.contract_id, m.figure, m.value, m.source, m.batch_id
      FROM measurement m
     WHERE m.year = :year AND m.contract_id IN (SELECT id FROM target)
     ORDER BY m.contract_id, m.figure, m.batch_id DESC
), theirs AS (
    SELECT DISTINCT ON (m.enterprise_id, m.figure) m.enterprise_id, m.figure, m.value, m.source, m.batch_id
      FROM measurement m
     WHERE m.year = :year AND m.enterprise_id IN (SELECT enterprise_id FROM target)
     ORDER BY m.enterprise_id, m.figure, m.batch_id DESC
), both_ AS (
    SELECT o.contract_id, o.figure, o.value, o.source, o.batch_id, true AS own FROM own o
    UNION ALL
    SELECT t.id, e.figure, e.value, e.source, e.batch_id, false FROM target t
      JOIN theirs e ON e.enterprise_id = t.enterprise_id
), chosen AS (
    SELECT DISTINCT ON (contract_id, figure) * FROM both_ ORDER BY contract_id, figure, own DESC
)
SELECT t.id, t.area_m2,
       coalesce(h.area_m2, 0) + CASE WHEN t.id = ANY(coalesce(h.ids, '{{}}')) THEN 0
                                     ELSE coalesce(t.area_m2, 0) END AS held_m2,
       f.figure, f.value, f.source, f.batch_id, f.own
  FROM target t
  LEFT JOIN held h ON h.enterprise_id = t.enterprise_id
  LEFT JOIN chosen f ON f.contract_id = t.id
""")  # noqa: S608


async def latest(session: AsyncSession, contract_ids: Sequence[int], year: int) -> dict[int, Delivered]:
    """Per contract (current, existing), the figures of `year` it is measured by: its own, else its share
    of its enterprise's; `land_mu` of its parcel. Contracts with nothing delivered have empty figures."""
    if not contract_ids:
        return {}
    rows = await session.execute(_LATEST, {"ids": list(dict.fromkeys(contract_ids)), "year": year,
                                           "end": date(year, 12, 31)})
    out: dict[int, Delivered] = {}
    # Per contract: its figures, their provenance, its enterprise's figures (before the share), and its
    # share of its enterprise's land. The rows are unpacked as tuples (165,000 at 100,000 contracts).
    state: dict[int, tuple[dict[str, Decimal], dict[str, Provenance], dict[str, Decimal], Decimal]] = {}
    one = Decimal(1)
    for cid, area, held, figure, value, source, batch_id, own in rows:
        s = state.get(cid)
        if s is None:
            area, held = area or Decimal(0), held or Decimal(0)
            d = out[cid] = Delivered(cid, year, land_mu=catalogue.land_mu(area) if area else None)
            s = state[cid] = (d.figures, d.provenance, {}, area / held if area and held else Decimal(0))
        if figure is None:
            continue
        if own:
            s[0][figure] = value
            s[1][figure] = Provenance(source, batch_id, year, "contract", one)
        else:
            s[2][figure] = value
            s[1][figure] = Provenance(source, batch_id, year, "enterprise", s[3])
    for figures, _, theirs, fraction in state.values():
        figures.update(catalogue.share(theirs, fraction))
    return out
