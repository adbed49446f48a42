"""Where geometry puts a parcel (SPEC §2): the majority zone and the district, set-based in PostGIS.

`locate()` takes any SQL source of `(key, geom)` rows, so one new geometry (REST, WFS-T), the parcels a
zone edit touches, and 100,000 staged import rows are located by the same statement. What the location
means for tier, lock and cap is decided in Python by `app.parcels.rules`.

The statement meets zones and districts through *pieces*. A single write uses each whole geometry as its
one piece (`WHOLE`), which is the plain rule: the share of the parcel a zone covers, 1 when the zone covers
all of it. A bulk write first cuts zones and districts with `ST_Subdivide` (`subdivided()`): most parcels
then lie inside one small piece, which the index finds and a cheap test on a few dozen vertices settles
(a piece is cut from its zone, so a piece covering the parcel means the zone covers it: share 1). Only a
parcel that no single piece covers gets the exact computation against the whole zone, the same expression
as a single write, so both paths give the same tier, zone and district (tests/imports/test_bulk_locate.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.parcels.rules import ZoneFacts
from models.base import current_sql

# {source}, {zone_pieces}, {district_pieces}, {share_places} and {current_zone} are constants, never client text.
_LOCATE = """
WITH src AS NOT MATERIALIZED ({source}),
zone_pair AS MATERIALIZED (
  -- 2: one piece of the zone covers the row; 1: a piece touches it; 0: only the boxes meet
  SELECT s.key, p.zone_id,
         CASE WHEN ST_Covers(p.geom, s.geom) THEN 2 WHEN ST_Intersects(p.geom, s.geom) THEN 1 ELSE 0 END AS hit
    FROM ({zone_pieces}) p JOIN src s ON p.geom && s.geom
),
zone_hit AS (SELECT key, zone_id, max(hit) AS hit FROM zone_pair GROUP BY key, zone_id),
zone_share AS (
  SELECT h.key, z.id, z.code, z.kind, z.advanced_manufacturing, z.far_cap, z.far_min, 1.0::float8 AS share
    FROM zone_hit h JOIN zone z ON z.id = h.zone_id AND {current_zone}
   WHERE h.hit = 2
  UNION ALL
  SELECT h.key, z.id, z.code, z.kind, z.advanced_manufacturing, z.far_cap, z.far_min,
         CASE WHEN ST_Covers(z.geom, s.geom) THEN 1.0
              ELSE ST_Area(ST_Intersection(s.geom, z.geom)::geography)
                   / NULLIF(ST_Area(s.geom::geography), 0) END
    FROM zone_hit h JOIN zone z ON z.id = h.zone_id AND {current_zone} JOIN src s ON s.key = h.key
   WHERE h.hit = 1
),
best_zone AS (
  -- shares compared at SHARE_PLACES decimals (float noise of the areas aside): an exact 50/50 split is
  -- a tie, which `base` wins, and a half share meets the majority
  SELECT DISTINCT ON (key) * FROM (
    SELECT zs.*, round(zs.share::numeric, {share_places}) AS share_r FROM zone_share zs) r
   WHERE share_r >= :majority
   ORDER BY key, share_r DESC, (kind = 'base') DESC, id
),
district_pair AS MATERIALIZED (
  SELECT s.key, p.code,
         CASE WHEN ST_Covers(p.geom, s.geom) THEN 2 WHEN ST_Intersects(p.geom, s.geom) THEN 1 ELSE 0 END AS hit
    FROM ({district_pieces}) p JOIN src s ON p.geom && s.geom
),
district_hit AS (SELECT key, code, max(hit) AS hit FROM district_pair GROUP BY key, code),
district_area AS (
  SELECT key, code, 'Infinity'::float8 AS m2 FROM district_hit WHERE hit = 2
  UNION ALL
  SELECT h.key, d.code, CASE WHEN ST_Covers(d.geom, s.geom) THEN 'Infinity'::float8
                             ELSE ST_Area(ST_Intersection(s.geom, d.geom)::geography) END
    FROM district_hit h JOIN district d ON d.code = h.code JOIN src s ON s.key = h.key
   WHERE h.hit = 1
),
best_district AS (
  SELECT DISTINCT ON (key) key, code FROM district_area ORDER BY key, m2 DESC, code
)
-- one row per location with the keys found there (a few hundred rows, not one per parcel)
SELECT bd.code AS district_code, bz.id AS zone_id, bz.code AS zone_code, bz.kind,
       bz.advanced_manufacturing, bz.far_cap::float8 AS far_cap, bz.far_min::float8 AS far_min,
       array_agg(s.key) AS keys
  FROM src s
  LEFT JOIN best_zone bz ON bz.key = s.key
  LEFT JOIN best_district bd ON bd.key = s.key
 GROUP BY bd.code, bz.id, bz.code, bz.kind, bz.advanced_manufacturing, bz.far_cap, bz.far_min
"""

# Sources: candidate geometries given as EWKB, or current parcels by id, or a staging table.
FROM_WKB = ("SELECT k AS key, ST_GeomFromEWKB(g) AS geom "
            "FROM unnest(CAST(:keys AS text[]), CAST(:wkbs AS bytea[])) AS t(k, g)")
FROM_PARCELS = (f"SELECT id AS key, geom FROM parcel WHERE {current_sql()} "  # noqa: S608
                "AND id = ANY(CAST(:ids AS bigint[]))")

ZONE_PIECES = "locate_zone_piece"
DISTRICT_PIECES = "locate_district_piece"
# SPEC §2 tie-break, robust to float noise: a zone's share of a parcel is rounded to 6 decimals (a millionth
# of the parcel's area, 0.01 m² of a hectare) before it is compared with the majority and with other zones.
# Two halves of a parcel measured on the ellipsoid each come out a little under 0.5 (2e-10 for a 1 km
# parcel, 2e-8 for 10 km: the split point is not on the geodesic edge), so an exact comparison would
# make a 50/50 split a fragment; at 6 decimals it is a tie, which `base` wins.
SHARE_PLACES = 6
PIECE_VERTICES = 64  # ST_Subdivide's limit: a piece is cheap to test, and most parcels fit inside one


@dataclass(frozen=True, slots=True)
class Pieces:
    """Where `locate` finds zones (`zone_id, geom`) and districts (`code, geom`) to meet rows with."""

    zones: str
    districts: str


# Each whole geometry as its own piece (one write: nothing to prepare).
WHOLE = Pieces(zones=f"SELECT id AS zone_id, geom FROM zone WHERE {current_sql()}",  # noqa: S608
               districts="SELECT code, geom FROM district")


@dataclass(frozen=True, slots=True)
class Location:
    """The district and majority zone of one geometry."""

    district_code: str | None
    zone: ZoneFacts | None


NOWHERE = Location(district_code=None, zone=None)  # outside every district and zone


async def subdivided(session: AsyncSession) -> Pieces:
    """Current zones and districts cut into small indexed pieces, in temporary tables private to this
    transaction (built for one bulk write; `drop_pieces` removes them, commit does too)."""
    await drop_pieces(session)
    for table, key, source in ((ZONE_PIECES, "id AS zone_id", f"zone WHERE {current_sql()}"),
                               (DISTRICT_PIECES, "code", "district")):
        pieces = f"SELECT {key}, ST_Subdivide(geom, {PIECE_VERTICES}) AS geom FROM {source}"  # noqa: S608
        await session.execute(text(f"CREATE TEMP TABLE {table} ON COMMIT DROP AS {pieces}"))
        await session.execute(text(f"CREATE INDEX ON {table} USING gist (geom)"))
        await session.execute(text(f"ANALYZE {table}"))
    return Pieces(zones=f"SELECT zone_id, geom FROM {ZONE_PIECES}",  # noqa: S608 (constant)
                  districts=f"SELECT code, geom FROM {DISTRICT_PIECES}")  # noqa: S608 (constant)


async def drop_pieces(session: AsyncSession) -> None:
    """Drop the pieces of `subdivided()` (if any)."""
    await session.execute(text(f"DROP TABLE IF EXISTS {ZONE_PIECES}, {DISTRICT_PIECES}"))


async def locate(session: AsyncSession, source: str, params: Mapping[str, Any], majority: float,
                 pieces: Pieces = WHOLE) -> dict[Any, Location]:
    """Locate every `(key, geom)` row of `source` (one of the constants above), by its key (text or
    integer, as the source has it)."""
    sql = _LOCATE.format(source=source, zone_pieces=pieces.zones, district_pieces=pieces.districts,
                         share_places=SHARE_PLACES, current_zone=current_sql("z"))
    rows = await session.execute(text(sql), {**params, "majority": majority})
    out: dict[Any, Location] = {}
    for row in rows:
        zone = None
        if row.zone_id is not None:
            zone = ZoneFacts(id=row.zone_id, code=row.zone_code, kind=row.kind,
                             advanced_manufacturing=row.advanced_manufacturing, far_cap=row.far_cap,
                             far_min=row.far_min)
        out.update(dict.fromkeys(row.keys, Location(district_code=row.district_code, zone=zone)))
    return out


async def locate_geometries(session: AsyncSession, geoms: Mapping[str, bytes], majority: float) -> dict[str, Location]:
    """Locate candidate geometries given as EWKB by key."""
    keys = list(geoms)
    return await locate(session, FROM_WKB, {"keys": keys, "wkbs": [geoms[k] for k in keys]}, majority)


async def locate_parcels(session: AsyncSession, ids: list[int], majority: float) -> dict[int, Location]:
    """Locate current parcels by id (after a zone edit)."""
    return await locate(session, FROM_PARCELS, {"ids": ids}, majority)
