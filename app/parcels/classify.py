"""Where geometry puts a parcel (SPEC §2): the majority zone and the district, set-based in PostGIS.

`locate()` takes any SQL source of `(key, geom)` rows, so one new geometry (REST, WFS-T), the parcels a
zone edit touches, and 100,000 staged import rows are located by the same statement. What the location
means for tier, lock and cap is decided in Python by `app.parcels.rules`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.parcels.rules import ZoneFacts

# {source} is one of the constant SQL snippets below, never client text.
_LOCATE = """
WITH src AS ({source}),
zone_share AS (
  SELECT s.key, z.id, z.code, z.kind, z.advanced_manufacturing, z.far_cap, z.far_min,
         CASE WHEN ST_CoveredBy(s.geom, z.geom) THEN 1.0
              ELSE ST_Area(ST_Intersection(s.geom, z.geom)::geography)
                   / NULLIF(ST_Area(s.geom::geography), 0) END AS share
    FROM src s JOIN zone z ON z.valid_to IS NULL AND ST_Intersects(s.geom, z.geom)
),
best_zone AS (
  SELECT DISTINCT ON (key) * FROM zone_share WHERE share >= :majority
   ORDER BY key, share DESC, (kind = 'base') DESC, id
),
best_district AS (
  SELECT DISTINCT ON (s.key) s.key, d.code
    FROM src s JOIN district d ON ST_Intersects(s.geom, d.geom)
   ORDER BY s.key,
            CASE WHEN ST_CoveredBy(s.geom, d.geom) THEN 'Infinity'::float8
                 ELSE ST_Area(ST_Intersection(s.geom, d.geom)::geography) END DESC,
            d.code
)
SELECT s.key, bd.code AS district_code, bz.id AS zone_id, bz.code AS zone_code, bz.kind,
       bz.advanced_manufacturing, bz.far_cap::float8 AS far_cap, bz.far_min::float8 AS far_min
  FROM src s
  LEFT JOIN best_zone bz ON bz.key = s.key
  LEFT JOIN best_district bd ON bd.key = s.key
"""

# Sources: candidate geometries given as EWKB, or current parcels by id, or a staging table.
FROM_WKB = ("SELECT k AS key, ST_GeomFromEWKB(g) AS geom "
            "FROM unnest(CAST(:keys AS text[]), CAST(:wkbs AS bytea[])) AS t(k, g)")
FROM_PARCELS = "SELECT id::text AS key, geom FROM parcel WHERE valid_to IS NULL AND id = ANY(CAST(:ids AS bigint[]))"


@dataclass(frozen=True, slots=True)
class Location:
    """The district and majority zone of one geometry."""

    district_code: str | None
    zone: ZoneFacts | None


async def locate(session: AsyncSession, source: str, params: Mapping[str, Any], majority: float) -> dict[str, Location]:
    """Locate every `(key, geom)` row of `source` (one of the constants above)."""
    rows = await session.execute(text(_LOCATE.format(source=source)), {**params, "majority": majority})
    out: dict[str, Location] = {}
    for row in rows:
        zone = None
        if row.zone_id is not None:
            zone = ZoneFacts(id=row.zone_id, code=row.zone_code, kind=row.kind,
                             advanced_manufacturing=row.advanced_manufacturing,
                             far_cap=row.far_cap, far_min=row.far_min)
        out[row.key] = Location(district_code=row.district_code, zone=zone)
    return out


async def locate_geometries(session: AsyncSession, geoms: Mapping[str, bytes], majority: float) -> dict[str, Location]:
    """Locate candidate geometries given as EWKB by key."""
    keys = list(geoms)
    return await locate(session, FROM_WKB, {"keys": keys, "wkbs": [geoms[k] for k in keys]}, majority)


async def locate_parcels(session: AsyncSession, ids: list[int], majority: float) -> dict[int, Location]:
    """Locate current parcels by id (after a zone edit)."""
    found = await locate(session, FROM_PARCELS, {"ids": ids}, majority)
    return {int(key): loc for key, loc in found.items()}
