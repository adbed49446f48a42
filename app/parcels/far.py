"""Rule 3's facts from the database, gathered once for every write path: a parcel write (REST, WFS-T, the
page, and rule 9's approval through it), a bulk write (import, demo) and a plot-ratio request submission
all call `far_cap`. The decision itself is `app.parcels.rules.check_far_facts` (pure)."""

from __future__ import annotations

from dataclasses import replace

from shapely.geometry import MultiPolygon
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.parcels import rules
from app.parcels.rules import Cap, FarFacts, Reference, ZoneFacts
from app.policy import Policy
from gis.crs import STORAGE_SRID
from models.base import current_sql

_USES = ", ".join(f"'{use}'" for use in rules.REFERENCE_USES)
_G = "ST_GeomFromWKB(:g, :srid)"  # the geometry of the parcel asking
_FACTS = f"""id, code, land_use, plot_ratio::float8 AS plot_ratio, zone_id,
            ST_Distance(geom::geography, {_G}::geography) AS distance_m"""
_OTHERS = f"{current_sql()} AND land_use IN ({_USES}) AND id <> :self AND CAST(:ref AS bigint) IS NULL"
# One statement for the candidates of a ratio above the base cap: the named parcel, else the nearest
# qualifying office/commercial parcel (same zone, or within the distance, ratio ≥ requested), else the
# nearest office/commercial parcel at all, so that a refusal can say what is missing.
_CANDIDATES = text(f"""
    WITH named AS (
        SELECT 'named' AS pick, {_FACTS} FROM parcel WHERE id = CAST(:ref AS bigint) AND {current_sql()}),
    qualifying AS (
        SELECT 'nearest' AS pick, {_FACTS} FROM parcel
         WHERE {_OTHERS} AND plot_ratio >= :req
           AND ((CAST(:zone AS bigint) IS NOT NULL AND zone_id = CAST(:zone AS bigint))
                OR ST_DWithin(geom::geography, {_G}::geography, :dist))
         ORDER BY distance_m, id LIMIT 1),
    any_reference AS (
        SELECT 'nearest' AS pick, {_FACTS} FROM parcel
         WHERE {_OTHERS} AND NOT EXISTS (SELECT FROM qualifying)
         ORDER BY geom <-> {_G}, id LIMIT 1)
    SELECT * FROM named UNION ALL SELECT * FROM qualifying UNION ALL SELECT * FROM any_reference
""")  # noqa: S608 (constant fragments)


async def far_facts(session: AsyncSession, policy: Policy, *, land_use: str, requested: float | None,
                    zone: ZoneFacts | None, geom: MultiPolygon, reference_id: int | None = None,
                    exclude_id: int | None = None, reference_field: str = "plot_ratio_reference_id") -> FarFacts:
    """Rule 3's facts of a parcel with `land_use` and `geom` in `zone` asking for `requested`: reference
    parcels are looked up (one query) only when the ratio is above the base cap; `exclude_id` is the parcel
    itself, never its own reference."""
    facts = FarFacts(land_use, requested, zone, reference_id, reference_field=reference_field)
    if not rules.reference_needed(land_use, requested, zone, policy):
        return facts
    zone_id = zone.id if zone else None
    rows = await session.execute(_CANDIDATES, {
        "g": geom.wkb, "srid": STORAGE_SRID, "ref": reference_id, "self": exclude_id or 0, "req": requested,
        "zone": zone_id, "dist": policy.far_reference_distance_m})
    found = {row.pick: Reference(row.id, row.code, row.land_use, row.plot_ratio, row.distance_m,
                                 zone_id is not None and row.zone_id == zone_id) for row in rows}
    return replace(facts, reference=found.get("named"), nearest=found.get("nearest"))


async def far_cap(session: AsyncSession, policy: Policy, *, land_use: str, requested: float | None,
                  zone: ZoneFacts | None, geom: MultiPolygon, reference_id: int | None = None,
                  exclude_id: int | None = None, adopt_nearest_reference: bool = False,
                  reference_field: str = "plot_ratio_reference_id") -> Cap:
    """Rule 3 for one write: the facts (`far_facts`), then the pure check (`rules.check_far_facts`; a
    plot-ratio request adopts the nearest qualifying reference, a parcel write has it named)."""
    facts = await far_facts(session, policy, land_use=land_use, requested=requested, zone=zone, geom=geom,
                            reference_id=reference_id, exclude_id=exclude_id, reference_field=reference_field)
    return rules.check_far_facts(facts, policy, adopt_nearest_reference=adopt_nearest_reference)
