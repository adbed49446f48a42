"""A bulk write locates parcels exactly as a single write does (SPEC §2: the zone covering ≥ 50 % decides
the tier, base wins ties; district likewise), also where zones and districts have long, ragged boundaries
that the bulk path cuts into pieces, and both agree with the rule written out plainly."""

from __future__ import annotations

import math
from typing import Any

import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, box
from sqlalchemy import text

from app.auth.permissions import Actor
from app.parcels import rules
from app.parcels.bulk import bulk_create
from app.parcels.classify import PIECE_VERTICES, locate_geometries, subdivided
from app.parcels.service import ParcelDraft
from models import District
from tests.builders import M_LAT, M_LON, zone

CENTRE = (121.80, 31.10)  # east of the builders' city: nothing else is here
BUREAU = Actor(id=1, username="bureau", role="bureau")

# The rule as SPEC §2 states it, one geometry against every whole zone and district.
PLAIN_RULE = """
WITH src AS (SELECT ST_GeomFromEWKB(:g) AS geom),
zone_share AS (
  SELECT z.id, z.kind, CASE WHEN ST_CoveredBy(s.geom, z.geom) THEN 1.0
                            ELSE ST_Area(ST_Intersection(s.geom, z.geom)::geography)
                                 / NULLIF(ST_Area(s.geom::geography), 0) END AS share
    FROM src s JOIN zone z ON z.valid_to IS NULL AND ST_Intersects(s.geom, z.geom))
SELECT (SELECT id FROM zone_share WHERE share >= :majority ORDER BY share DESC, (kind = 'base') DESC, id
         LIMIT 1) AS zone_id,
       (SELECT d.code FROM src s JOIN district d ON ST_Intersects(s.geom, d.geom)
         ORDER BY CASE WHEN ST_CoveredBy(s.geom, d.geom) THEN 'Infinity'::float8
                       ELSE ST_Area(ST_Intersection(s.geom, d.geom)::geography) END DESC, d.code
         LIMIT 1) AS district_code
"""


def ragged(radius_m: float, vertices: int, seed: int) -> Polygon:
    """A star-like polygon around CENTRE with a long boundary (many more vertices than a piece holds)."""
    points = []
    for i in range(vertices):
        angle = 2 * math.pi * i / vertices
        r = radius_m * (1 + 0.15 * math.sin(7 * angle + seed) + 0.05 * math.sin(53 * angle * seed))
        points.append((CENTRE[0] + r * math.cos(angle) * M_LON, CENTRE[1] + r * math.sin(angle) * M_LAT))
    polygon = Polygon(points)
    assert polygon.is_valid
    return polygon


def grid(side_m: float = 80.0, pitch_m: float = 100.0, half_extent_m: float = 1800.0) -> list[ParcelDraft]:
    """Squares with gaps (no overlaps) over the ragged area; every seventh one office land."""
    drafts = []
    steps = int(2 * half_extent_m / pitch_m)
    for i in range(steps):
        for j in range(steps):
            x = CENTRE[0] + (i * pitch_m - half_extent_m) * M_LON
            y = CENTRE[1] + (j * pitch_m - half_extent_m) * M_LAT
            n = i * steps + j
            drafts.append(ParcelDraft(code=f"G-{n:05d}", land_use="office" if n % 7 == 0 else "industrial",
                                      geom=MultiPolygon([box(x, y, x + side_m * M_LON, y + side_m * M_LAT)])))
    return drafts


async def ragged_city(session: Any) -> dict[str, int]:
    """Two districts sharing a ragged boundary (one inside the other's hole) and four zones: a ragged
    advanced-manufacturing base, a community box with its own cap, and a base box drawn exactly on it
    (a tie the base must win)."""
    inner = ragged(1200, 720, seed=1)
    outer = box(CENTRE[0] - 1600 * M_LON, CENTRE[1] - 1600 * M_LAT, CENTRE[0] + 1600 * M_LON,
                CENTRE[1] + 1600 * M_LAT).difference(inner)  # the grid reaches beyond it: no district there
    session.add(District(code="310101", name_zh="黄浦区", name_en="Huangpu",
                         geom=from_shape(MultiPolygon([inner]), srid=4490)))
    session.add(District(code="310104", name_zh="徐汇区", name_en="Xuhui",
                         geom=from_shape(MultiPolygon([outer]), srid=4490)))
    await session.flush()
    east = (CENTRE[0] + 300 * M_LON, CENTRE[1] - 1500 * M_LAT, CENTRE[0] + 1500 * M_LON, CENTRE[1] + 1500 * M_LAT)
    ids = {
        "ragged": await zone(session, "RG", "base", True, (0, 0, 1, 1)),
        "community": await zone(session, "EC", "community", False, east, far_cap=1.5),
        "base_on_community": await zone(session, "EB", "base", False, east),
    }
    await session.execute(text("UPDATE zone SET geom = ST_GeomFromEWKB(:g) WHERE id = :id"),
                          {"g": shapely.to_wkb(shapely.set_srid(MultiPolygon([ragged(900, 540, seed=2)]), 4490),
                                               include_srid=True), "id": ids["ragged"]})
    return ids


async def test_bulk_and_single_writes_locate_alike_on_ragged_boundaries(db, settings, city):
    drafts = grid()
    async with db.session() as session:
        ids = await ragged_city(session)
        pieces = await subdivided(session)
        counts = dict((await session.execute(text(
            f"SELECT 'zone', count(*) FROM ({pieces.zones}) z UNION ALL "  # noqa: S608 (constants)
            f"SELECT 'district', count(*) FROM ({pieces.districts}) d"))).all())
        result = await bulk_create(session, BUREAU, settings.policy, drafts)
        assert not result.refused and len(result.ids) == len(drafts)
        stored = {row.code: row for row in await session.execute(text(
            "SELECT code, district_code, tier, zone_id, planning_locked FROM parcel WHERE valid_to IS NULL "
            "AND code LIKE 'G-%'"))}
        single = await locate_geometries(session, {d.code: _ewkb(d.geom) for d in drafts},
                                         settings.policy.tier_majority_share)
        plain = {}
        for d in drafts:
            row = (await session.execute(text(PLAIN_RULE), {"g": _ewkb(d.geom),
                                                            "majority": settings.policy.tier_majority_share})).one()
            plain[d.code] = (row.district_code, row.zone_id)
        # The bulk path brings each parcel's measures computed beforehand: SPEC §2's area and the tile shapes.
        measured = await session.scalar(text(
            "SELECT count(*) FROM parcel WHERE valid_to IS NULL AND code LIKE 'G-%' "
            "AND area_m2 = ST_Area(geom::geography) AND ST_OrderingEquals(tile_geom, ST_Transform(geom, 3857)) "
            "AND ST_OrderingEquals(tile_point, ST_Transform(ST_PointOnSurface(geom), 3857))"))
    assert measured == len(drafts)
    # The ragged boundaries really were cut, so the bulk path met pieces, not whole geometries.
    assert counts["zone"] >= 5 + 540 // PIECE_VERTICES and counts["district"] >= 4 + 2 * 720 // PIECE_VERTICES
    outcomes = set()
    for d in drafts:
        loc = single[d.code]
        cls = rules.classify(d.land_use, loc.zone)
        got = stored[d.code]
        assert (got.district_code, got.zone_id) == (loc.district_code, cls.zone_id) == plain[d.code], d.code
        assert (got.tier, got.planning_locked) == (cls.tier, cls.planning_locked), d.code
        outcomes.add((got.district_code, got.tier, got.zone_id))
    # Every case was met: both districts and none, the ragged base, the tie the base won, fragments.
    assert {o[0] for o in outcomes} == {"310101", "310104", None}
    assert {o[2] for o in outcomes if o[1] == "base"} == {ids["ragged"], ids["base_on_community"]}
    assert ids["community"] not in {o[2] for o in outcomes}
    assert "fragment" in {o[1] for o in outcomes}


def _ewkb(geom: MultiPolygon) -> bytes:
    return bytes(shapely.to_wkb(shapely.set_srid(geom, 4490), include_srid=True))
