"""Overlaps in a bulk write (SPEC §2): when nothing else is wrong, the database's overlap guard is the one
check; when it refuses, every overlapping row is still reported with the row or parcel it overlaps, all or
nothing and --skip-invalid alike, with the batch's own tolerance."""

from __future__ import annotations

from dataclasses import replace

import asyncpg
import pytest
from shapely.geometry import MultiPolygon, box
from sqlalchemy import text

from app.auth.permissions import Actor
from app.parcels import bulk
from app.parcels.bulk import bulk_create
from app.parcels.service import ParcelDraft
from tests.builders import M_LAT, M_LON

BUREAU = Actor(id=1, username="bureau", role="bureau")


def square(code: str, lon: float, lat: float, side_m: float = 100.0, land_use: str = "industrial") -> ParcelDraft:
    """A square parcel draft, south-west corner at lon/lat."""
    geom = MultiPolygon([box(lon, lat, lon + side_m * M_LON, lat + side_m * M_LAT)])
    return ParcelDraft(code=code, land_use=land_use, geom=geom)


async def current(session) -> dict[str, int]:
    rows = await session.execute(text("SELECT code, id FROM parcel WHERE valid_to IS NULL"))
    return dict(rows.all())


async def test_overlaps_alone_are_listed_row_by_row_and_nothing_is_written(db, settings, city):
    async with db.session() as session:
        existing = await bulk_create(session, BUREAU, settings.policy, [square("P-1", 121.45, 31.15)])
        drafts = [
            square("A-1", 121.46, 31.15),
            square("A-2", 121.46 + 50 * M_LON, 31.15),  # half on A-1
            square("A-3", 121.45 + 60 * M_LON, 31.15 + 60 * M_LAT),  # a corner on P-1
            square("A-4", 121.47, 31.15),
            square("O-5", 121.46, 31.15, land_use="office"),  # office land may lie on industrial land
        ]
        result = await bulk_create(session, BUREAU, settings.policy, drafts, row_numbers=[2, 3, 4, 5, 6])
        assert [(r.row, r.code) for r in result.refused] == [(1, "PARCEL_OVERLAP"), (2, "PARCEL_OVERLAP")]
        assert result.refused[0].reason.startswith("overlaps row 2 (A-1) by ")
        assert result.refused[1].reason.startswith(f"overlaps parcel {existing.ids[0]} (P-1) by ")
        assert (result.accepted, result.ids) == (3, [])
        assert list(await current(session)) == ["P-1"]


async def test_skip_invalid_writes_the_rows_that_do_not_overlap(db, settings, city):
    async with db.session() as session:
        drafts = [square("B-1", 121.46, 31.15), square("B-2", 121.46 + 50 * M_LON, 31.15),
                  square("B-3", 121.47, 31.15)]
        result = await bulk_create(session, BUREAU, settings.policy, drafts, all_or_nothing=False)
        assert [(r.row, r.code) for r in result.refused] == [(1, "PARCEL_OVERLAP")]
        assert result.accepted == 2 and len(result.ids) == 2
        assert sorted(await current(session)) == ["B-1", "B-3"]


async def test_the_guard_measures_with_the_batch_tolerance(db, settings, city):
    # 5 m × 100 m ≈ 500 m² of overlap: refused at the default 1 m², allowed at 1,000 m²
    drafts = [square("T-1", 121.46, 31.15), square("T-2", 121.46 + 95 * M_LON, 31.15)]
    async with db.session() as session:
        strict = await bulk_create(session, BUREAU, settings.policy, drafts)
        assert [r.code for r in strict.refused] == ["PARCEL_OVERLAP"]
        lenient = await bulk_create(session, BUREAU, replace(settings.policy, overlap_tolerance_m2=1000.0), drafts)
        assert not lenient.refused and sorted(await current(session)) == ["T-1", "T-2"]
        tolerance = await session.scalar(text("SELECT current_setting('landcycle.overlap_tolerance_m2')"))
        assert float(tolerance) == settings.policy.overlap_tolerance_m2  # the connection's own again


async def test_a_role_that_may_not_create_tables_in_its_schema_still_writes_in_bulk(db, settings, city):
    # Every staging table is temporary: a schema where the role may not create tables (here: pg_catalog first
    # on the search path) stops nothing.
    async with db.session() as session:
        await session.execute(text("SET LOCAL search_path = pg_catalog, public"))
        drafts = [square("T-1", 121.46, 31.15), square("T-2", 121.46, 31.15 + 150 * M_LAT, land_use="office"),
                  square("T-3", 121.46 + 20 * M_LON, 31.15 + 20 * M_LAT)]
        result = await bulk_create(session, BUREAU, settings.policy, drafts)
        assert [(r.row, r.code) for r in result.refused] == [(2, "PARCEL_OVERLAP")]
        result = await bulk_create(session, BUREAU, settings.policy, drafts[:2])
        assert not result.refused and len(result.ids) == 2
        measured = await session.scalar(text(
            "SELECT count(*) FROM parcel WHERE code IN ('T-1', 'T-2') AND area_m2 = ST_Area(geom::geography)"))
        assert measured == 2 and await session.scalar(text("SELECT area_m2 FROM parcel WHERE code = 'T-1'")) > 9_000


@pytest.mark.parametrize("second_connection", [True, False])
async def test_a_big_batch_is_measured_alike_with_or_without_a_second_connection(db, settings, city, monkeypatch,
                                                                                  second_connection):
    # A big batch is measured on a second connection meanwhile; where none may be had (a full server), the
    # insert measures it in its own transaction. The numbers are SPEC §2's either way.
    async def refuse(*args: object, **kwargs: object) -> None:
        raise asyncpg.TooManyConnectionsError("sorry, too many clients already")

    monkeypatch.setattr(bulk, "APART_ROWS", 2)
    if not second_connection:
        monkeypatch.setattr(bulk.asyncpg, "connect", refuse)
    drafts = [square(f"T-{n}", 121.46 + n * 150 * M_LON, 31.15) for n in range(3)]
    async with db.session() as session:
        refused = await bulk_create(session, BUREAU, settings.policy, [*drafts, drafts[0]])  # a code twice
        assert [r.code for r in refused.refused] == ["VALIDATION_ERROR", "VALIDATION_ERROR"]
        result = await bulk_create(session, BUREAU, settings.policy, drafts)
        assert not result.refused and len(result.ids) == 3
        measured = await session.scalar(text(
            "SELECT count(*) FROM parcel WHERE code LIKE 'T-%' AND area_m2 = ST_Area(geom::geography) "
            "AND ST_OrderingEquals(tile_geom, ST_Transform(geom, 3857)) "
            "AND ST_OrderingEquals(tile_point, ST_Transform(ST_PointOnSurface(geom), 3857))"))
        assert measured == 3
