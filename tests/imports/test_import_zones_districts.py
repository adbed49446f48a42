"""Zones and districts come in by file too, through the same write paths and rules as the API."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import MultiPolygon, box
from sqlalchemy import text

from app.errors import ForbiddenRole
from app.imports.service import ImportOptions, run_import
from tests.builders import BZ, M_LAT, M_LON
from tests.imports.files import BUREAU, Row, city_rows, frame, write


def zones_file(tmp_path: Path, rows: list[dict], srid: int = 4490) -> Path:
    gdf = gpd.GeoDataFrame(
        [{k: v for k, v in r.items() if k != "bounds"} for r in rows],
        geometry=[MultiPolygon([box(*r["bounds"])]) for r in rows],
        crs="EPSG:4490",
    )
    return write(gdf.to_crs(srid), tmp_path / "zones.gpkg", layer="zones")


async def import_parcels(db, settings, tmp_path: Path, *rows: Row) -> None:
    """The parcels a test starts from, imported by the bureau from a GeoPackage (committed)."""
    assert (
        await run_import(db, settings, BUREAU, write(frame(list(rows), 4490), tmp_path / "p.gpkg"), ImportOptions())
    ).committed


async def test_zones_import_derives_tiers_of_existing_parcels(db, settings, city, tmp_path: Path):
    fragment = city_rows("Z")[3]  # a fragment at 121.45, 31.15
    await import_parcels(db, settings, tmp_path, fragment)
    path = zones_file(
        tmp_path,
        [
            {
                "code": "NZ-1",
                "name": "新社区",
                "kind": "community",
                "advanced_manufacturing": "否",
                "far_cap": 1.8,
                "bounds": (121.44, 31.14, 121.47, 31.17),
            },
            {
                "code": "NZ-2",
                "name": "Bad",
                "kind": "park",
                "advanced_manufacturing": "no",
                "far_cap": None,
                "bounds": (121.30, 31.20, 121.31, 31.21),
            },
        ],
        srid=4549,
    )
    refused = await run_import(db, settings, BUREAU, path, ImportOptions(kind="zones"))
    assert [(r.row, r.code) for r in refused.refused] == [(2, "VALIDATION_ERROR")]
    assert not refused.committed
    done = await run_import(db, settings, BUREAU, path, ImportOptions(kind="zones", skip_invalid=True))
    assert done.committed and done.created == 1
    async with db.session() as session:
        tier, district, name = (
            await session.execute(
                text("""
            SELECT p.tier, z.district_code, z.name FROM parcel p JOIN zone z ON z.id = p.zone_id
             WHERE p.code = 'Z-X1' AND p.valid_to IS NULL""")
            )
        ).one()
    assert (tier, district, name) == ("community", "310112", "新社区")


async def test_zone_import_respects_the_planning_lock(db, settings, city, tmp_path: Path):
    # 60 % inside the advanced-manufacturing base BZ: base tier, planning-locked.
    side = 100 * M_LON
    straddling = Row(
        "L-1", "industrial", box(BZ[0] - 0.4 * side, 31.07, BZ[0] + 0.6 * side, 31.07 + 100 * M_LAT), "base"
    )
    await import_parcels(db, settings, tmp_path, straddling)
    # A community covering it whole would take it out of its base zone (rule 1).
    path = zones_file(
        tmp_path,
        [
            {
                "code": "LZ",
                "name": "Over",
                "kind": "community",
                "advanced_manufacturing": False,
                "bounds": (BZ[0] - 0.01, 31.06, BZ[0] + 0.01, 31.08),
            }
        ],
    )
    outcome = await run_import(db, settings, BUREAU, path, ImportOptions(kind="zones"))
    assert [(r.row, r.code) for r in outcome.refused] == [(1, "LOCKUP_PLANNING")]
    assert not outcome.committed


async def test_districts_import_replaces_by_code_and_relocates_parcels(db, settings, city, tmp_path: Path):
    parcel = city_rows("DI")[3]  # in the west district 310112 today
    await import_parcels(db, settings, tmp_path, parcel)
    gdf = gpd.GeoDataFrame(
        {"code": ["310112", "310118"], "name_zh": ["闵行区", "青浦区"], "name_en": ["Minhang", "Qingpu"]},
        geometry=[
            MultiPolygon([box(121.3, 30.95, 121.44, 31.25)]),
            MultiPolygon([box(121.44, 31.10, 121.5, 31.25)]),
        ],
        crs="EPSG:4490",
    )
    outcome = await run_import(
        db, settings, BUREAU, write(gdf, tmp_path / "d.gpkg"), ImportOptions(kind="districts")
    )
    assert outcome.committed and outcome.created == 2
    async with db.session() as session:
        got = await session.scalar(
            text("SELECT district_code FROM parcel WHERE code = 'DI-X1' AND valid_to IS NULL")
        )
        names = (await session.execute(text("SELECT name_zh FROM district WHERE code = '310118'"))).scalar()
    assert (got, names) == ("310118", "青浦区")


async def test_only_the_bureau_imports_zones(db, settings, city, tmp_path: Path):
    from app.auth.permissions import Actor

    officer = Actor(id=9, username="officer.east", role="district_officer", district_code="310115")
    path = zones_file(
        tmp_path, [{"code": "Q", "name": "Q", "kind": "base", "bounds": (121.3, 31.2, 121.31, 31.21)}]
    )
    with pytest.raises(ForbiddenRole):
        await run_import(db, settings, officer, path, ImportOptions(kind="zones"))
