"""Importing real files made in the test: GeoPackage, Shapefile (GBK), GeoJSON, CSV (WKT, lon/lat) in
several CRSs; geometry within 1 cm, attributes and tiers as the API derives them; all or nothing."""

from __future__ import annotations

import asyncio
import csv
import sqlite3
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from app.imports.report import write_report
from app.imports.service import ImportOptions, run_import
from tests.imports.files import BUREAU, Row, city_rows, frame, offset_m, square, write, zip_shapefile

pytestmark = pytest.mark.usefixtures("city")


async def stored(db: Any) -> dict[str, dict[str, Any]]:
    """Current parcels by code, with the geometry as shapely (EPSG:4490)."""
    async with db.session() as session:
        rows = (
            (
                await session.execute(
                    text("""
            SELECT code, land_use, plot_ratio::float8 AS plot_ratio, legacy_zone, status, tier, district_code,
                   plot_ratio_cap_source, plot_ratio_reference_id, ST_AsBinary(geom) AS wkb
              FROM parcel WHERE valid_to IS NULL ORDER BY code""")
                )
            )
            .mappings()
            .all()
        )
    return {r["code"]: {**r, "geom": shapely.from_wkb(bytes(r["wkb"]))} for r in rows}


def assert_imported(found: dict[str, dict[str, Any]], rows: list[Row]) -> None:
    """Every row stored with its attributes, its derived tier, and its geometry within 1 cm."""
    assert sorted(found) == sorted(r.code for r in rows)
    for r in rows:
        got = found[r.code]
        assert (got["land_use"], got["plot_ratio"], got["legacy_zone"], got["status"], got["tier"]) == (
            r.land_use,
            r.plot_ratio,
            r.legacy_zone,
            r.status,
            r.tier,
        ), r.code
        assert offset_m(got["geom"], 4490, r.geom, 4490) < 0.01, r.code


async def test_geopackage_in_gauss_kruger_is_imported_with_tiers(db, settings, tmp_path: Path):
    rows = city_rows("GK")
    path = write(frame(rows, 4549), tmp_path / "parcels.gpkg", layer="parcels")
    outcome = await run_import(db, settings, BUREAU, path, ImportOptions())
    assert outcome.status == "succeeded", outcome.refused
    assert (outcome.read, outcome.accepted, outcome.created, outcome.crs) == (5, 5, 5, "EPSG:4549")
    found = await stored(db)
    assert_imported(found, rows)
    assert found["GK-B1"]["district_code"] == "310115"


async def test_gbk_shapefile_with_cpg_zipped_in_wgs84_reads_chinese(db, settings, tmp_path: Path):
    rows = [
        Row("闵行-工业-001", "industrial", square(121.36, 31.06), "community", 1.8, None, "planned"),
        Row("浦东-研发-002", "rnd", square(121.56, 31.06), "base", 2.2, "104", "planned"),
    ]
    gdf = frame(rows, 4326, {"code": "地块编码", "land_use": "用地性质", "plot_ratio": "容积率"})
    gdf["用地性质"] = ["工业", "研发"]  # written as planners write them
    shp = write(gdf, tmp_path / "gbk.shp", encoding="GBK")
    assert (tmp_path / "gbk.cpg").read_text().strip().upper() == "GBK"
    assert "闵行".encode("gbk") in (tmp_path / "gbk.dbf").read_bytes()
    path = zip_shapefile(shp, tmp_path / "gbk.zip")
    options = ImportOptions(mapping={"code": "地块编码", "land_use": "用地性质", "plot_ratio": "容积率"})
    outcome = await run_import(db, settings, BUREAU, path, options)
    assert outcome.status == "succeeded", outcome.refused
    assert outcome.crs == "EPSG:4326"
    assert_imported(await stored(db), rows)


async def test_gb18030_shapefile_without_cpg_needs_its_encoding(db, settings, tmp_path: Path):
    rows = [Row("闵行-甲-1", "industrial", square(121.37, 31.07), "community", None, None, "planned")]
    shp = write(frame(rows, 4490), tmp_path / "nocpg.shp", encoding="GB18030")
    (tmp_path / "nocpg.cpg").unlink()
    outcome = await run_import(db, settings, BUREAU, shp, ImportOptions(encoding="GB18030"))
    assert outcome.status == "succeeded", outcome.refused
    assert list(await stored(db)) == ["闵行-甲-1"]


async def test_surveyed_heights_and_measures_are_left_out_without_a_warning(db, settings, tmp_path: Path):
    # Survey GeoPackages often carry Z (and M) values; the parcel keeps x and y, and the importing user
    # sees no library warning about the M values left out.
    rows = city_rows("ZM")[:2]
    flat = write(frame(rows, 4549), tmp_path / "flat.gpkg", layer="parcels")
    path = tmp_path / "survey.gpkg"
    ogr2ogr = ["ogr2ogr", "-nlt", "MULTIPOLYGONZM", "-dim", "XYZM", str(path), str(flat)]
    await asyncio.to_thread(subprocess.run, ogr2ogr, check=True)
    with sqlite3.connect(path) as gpkg:
        assert gpkg.execute("SELECT z, m FROM gpkg_geometry_columns").fetchall() == [(1, 1)]
    with warnings.catch_warnings(record=True) as seen:
        outcome = await run_import(db, settings, BUREAU, path, ImportOptions())
    assert outcome.status == "succeeded", outcome.refused
    assert_imported(await stored(db), rows)
    assert not [w for w in seen if "Measured" in str(w.message)], [str(w.message) for w in seen]


async def test_geojson_is_read_as_wgs84(db, settings, tmp_path: Path):
    rows = city_rows("GJ")[:3]
    path = write(frame(rows, 4326), tmp_path / "parcels.geojson", driver="GeoJSON")
    outcome = await run_import(db, settings, BUREAU, path, ImportOptions())
    assert outcome.status == "succeeded", outcome.refused
    assert_imported(await stored(db), rows)


async def test_csv_with_wkt_in_web_mercator_takes_the_crs_flag(db, settings, tmp_path: Path):
    rows = city_rows("WM")
    gdf = frame(rows, 3857)
    table = pd.DataFrame(gdf.drop(columns="geometry"))
    table["wkt"] = shapely.to_wkt(gdf.geometry.values, rounding_precision=-1)
    table.to_csv(tmp_path / "parcels.csv", index=False)
    outcome = await run_import(db, settings, BUREAU, tmp_path / "parcels.csv", ImportOptions(crs="EPSG:3857"))
    assert outcome.status == "succeeded", outcome.refused
    assert outcome.crs == "EPSG:3857"
    assert_imported(await stored(db), rows)


async def test_csv_of_boundary_points_in_lon_lat_makes_polygons(db, settings, tmp_path: Path):
    rows = city_rows("LL")[:3]
    points = []
    for r in rows:
        for x, y in list(r.geom.exterior.coords)[:-1]:  # each vertex once; the ring is closed on import
            points.append(
                {
                    "code": r.code,
                    "land_use": r.land_use,
                    "plot_ratio": r.plot_ratio,
                    "legacy_zone": r.legacy_zone,
                    "status": r.status,
                    "lon": repr(x),
                    "lat": repr(y),
                }
            )
    pd.DataFrame(points).to_csv(tmp_path / "points.csv", index=False, encoding="gb18030")
    outcome = await run_import(
        db, settings, BUREAU, tmp_path / "points.csv", ImportOptions(encoding="GB18030")
    )
    assert outcome.status == "succeeded", outcome.refused
    assert outcome.read == 3
    assert_imported(await stored(db), rows)


async def test_self_intersection_and_overlap_refuse_the_whole_file(db, settings, tmp_path: Path):
    bowtie = shapely.Polygon([(121.45, 31.17), (121.451, 31.171), (121.451, 31.17), (121.45, 31.171)])
    rows = [
        Row("OK-1", "industrial", square(121.45, 31.15), "fragment"),
        Row("BAD-2", "industrial", bowtie, None),
        Row("OV-3", "industrial", square(121.46, 31.15), "fragment"),
        Row("OV-4", "industrial", square(121.4605, 31.1505), None),
    ]
    path = write(frame(rows, 4490), tmp_path / "bad.gpkg")
    outcome = await run_import(db, settings, BUREAU, path, ImportOptions())
    assert outcome.status == "refused" and not outcome.committed
    assert [(r.row, r.code) for r in outcome.refused] == [(2, "GEOMETRY_INVALID"), (4, "PARCEL_OVERLAP")]
    assert "Self-intersection" in outcome.refused[0].reason
    assert "row 3 (OV-3)" in outcome.refused[1].reason
    assert await stored(db) == {}
    report = write_report(tmp_path / "bad.refused.csv", outcome)
    lines = list(csv.reader(report.read_text().splitlines()))
    assert lines[0] == ["row", "code", "reason", "feature_code", "wkt"]
    assert [line[:2] + line[3:4] for line in lines[1:]] == [["2", "GEOMETRY_INVALID", "BAD-2"],
                                                            ["4", "PARCEL_OVERLAP", "OV-4"]]
    drawn = shapely.get_coordinates(shapely.from_wkt(lines[1][4])).tolist()  # as drawn, to look at beside the file
    assert drawn == shapely.get_coordinates(bowtie).tolist()
    async with db.session() as session:
        audited = (
            await session.execute(
                text(
                    "SELECT outcome, detail->>'refused' FROM audit_log WHERE action = 'import' "
                    "ORDER BY id DESC LIMIT 1"
                )
            )
        ).one()
    assert audited == ("refused", "2")


async def test_skip_invalid_commits_the_accepted_rows(db, settings, tmp_path: Path):
    rows = [
        Row("S-1", "industrial", square(121.45, 31.15), "fragment"),
        Row("S-2", "industrial", square(121.4505, 31.1505), None),
        Row("S-3", "industrial", square(121.47, 31.15), "fragment", plot_ratio=9.0),
    ]
    path = write(frame(rows, 4490), tmp_path / "some.gpkg")
    outcome = await run_import(db, settings, BUREAU, path, ImportOptions(skip_invalid=True))
    assert outcome.committed and outcome.created == 1
    assert [(r.row, r.code) for r in outcome.refused] == [(2, "PARCEL_OVERLAP"), (3, "FAR_CAP_EXCEEDED")]
    assert list(await stored(db)) == ["S-1"]
    report = write_report(tmp_path / "some.refused.gpkg", outcome)
    import pyogrio

    refused = pyogrio.read_dataframe(report)
    assert list(refused["row"]) == [2, 3] and list(refused["feature_code"]) == ["S-2", "S-3"]


async def test_dry_run_writes_nothing(db, settings, tmp_path: Path):
    path = write(frame(city_rows("DR"), 4549), tmp_path / "dry.gpkg")
    async with db.session() as session:
        audit_before = await session.scalar(text("SELECT count(*) FROM audit_log"))
    outcome = await run_import(db, settings, BUREAU, path, ImportOptions(dry_run=True))
    assert outcome.status == "succeeded" and outcome.accepted == 5 and not outcome.committed
    assert await stored(db) == {}
    async with db.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM audit_log")) == audit_before


async def test_reference_parcel_named_by_code_in_the_same_file(db, settings, tmp_path: Path):
    office = Row("REF-O", "office", square(121.45, 31.16), None, 3.5, None, "operating")
    high = Row("REF-I", "industrial", square(121.452, 31.16), "fragment", 2.8)
    gdf = frame([high, office], 4490)
    gdf["plot_ratio_reference_code"] = ["REF-O", None]
    path = write(gdf, tmp_path / "ref.gpkg")
    outcome = await run_import(db, settings, BUREAU, path, ImportOptions())
    assert outcome.status == "succeeded", outcome.refused
    found = await stored(db)
    assert found["REF-I"]["plot_ratio_cap_source"] == "reference"
    async with db.session() as session:
        ref_id = await session.scalar(text("SELECT id FROM parcel WHERE code = 'REF-O'"))
    assert found["REF-I"]["plot_ratio_reference_id"] == ref_id


async def test_bad_attribute_values_are_refused_with_the_field(db, settings, tmp_path: Path):
    gdf = frame(city_rows("AV")[:2], 4490)
    gdf["land_use"] = ["industrial", "farm"]
    outcome = await run_import(db, settings, BUREAU, write(gdf, tmp_path / "av.gpkg"), ImportOptions())
    assert [(r.row, r.code) for r in outcome.refused] == [(2, "VALIDATION_ERROR")]
    assert outcome.refused[0].reason.startswith("land_use")


@pytest.mark.parametrize(
    ("options", "code", "words"),
    [
        (ImportOptions(mapping={"code": "nope"}), "VALIDATION_ERROR", "no column 'nope'"),
        (ImportOptions(mapping={"colour": "code"}), "VALIDATION_ERROR", "not a field of parcels"),
        (ImportOptions(crs="EPSG:2000"), "CRS_UNSUPPORTED", "not offered"),
        (ImportOptions(layer="zones"), "VALIDATION_ERROR", "no layer 'zones'"),
    ],
)
async def test_whole_file_problems_are_domain_errors(db, settings, tmp_path: Path, options, code, words):
    from app.errors import DomainError

    path = write(frame(city_rows("E")[:1], 4490), tmp_path / "e.gpkg", layer="parcels")
    with pytest.raises(DomainError) as caught:
        await run_import(db, settings, BUREAU, path, options)
    assert caught.value.code == code and words in caught.value.detail


async def test_a_file_in_a_crs_not_offered_is_refused(db, settings, tmp_path: Path):
    from app.errors import DomainError

    path = write(frame(city_rows("U")[:1], 32651), tmp_path / "utm.gpkg")
    with pytest.raises(DomainError) as caught:
        await run_import(db, settings, BUREAU, path, ImportOptions())
    assert caught.value.code == "CRS_UNSUPPORTED"


def _sheet(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    """A workbook as a spreadsheet program leaves it: one table per sheet, written by GDAL's own driver."""
    import pyogrio

    driver = {".xlsx": "XLSX", ".ods": "ODS"}[path.suffix]
    for n, (name, table) in enumerate(sheets.items()):
        pyogrio.write_dataframe(table, path, layer=name, driver=driver, append=n > 0)
    return path


async def test_excel_workbook_with_ewkt_in_gauss_kruger_on_the_sheet_named(db, settings, tmp_path: Path):
    # Planners' spreadsheets: Chinese headers (地块编码, 用地性质, 容积率 are known names), land uses as
    # planners write them, a ratio typed as a number, a code typed as digits (Excel stores a number: it must
    # come back as the same digits), the CRS named by EWKT, and a second sheet of notes --layer passes over.
    rows = [*city_rows("XL")[:4], Row("310115000042", "industrial", square(121.46, 31.15), "fragment", 1.6)]
    gdf = frame(rows, 4549)
    table = pd.DataFrame({
        "地块编码": [r.code for r in rows],
        "用地性质": ["工业" if r.land_use == "industrial" else "研发" for r in rows],
        "容积率": [r.plot_ratio for r in rows],
        "legacy_zone": [r.legacy_zone for r in rows],
        "status": [r.status for r in rows],
        "wkt": ["SRID=4549;" + w for w in shapely.to_wkt(gdf.geometry.values, rounding_precision=-1)],
    })
    table["地块编码"] = table["地块编码"].astype(object)
    table.loc[4, "地块编码"] = 310115000042  # a number cell
    notes = pd.DataFrame({"说明": ["闵行区 2026 年工业用地台账"]})
    path = _sheet(tmp_path / "台账.xlsx", {"说明": notes, "地块": table})
    outcome = await run_import(db, settings, BUREAU, path, ImportOptions(layer="地块"))  # the headers are known names
    assert outcome.status == "succeeded", outcome.refused
    assert (outcome.read, outcome.created, outcome.crs, outcome.layer) == (5, 5, "EPSG:4549", "地块")
    assert_imported(await stored(db), rows)


async def test_opendocument_sheet_of_boundary_points_with_text_cells_only(db, settings, tmp_path: Path):
    # Every cell text (the header row cannot be told from the data by its types): the first row is the header.
    rows = city_rows("OD")[:3]
    points = [
        {"code": r.code, "land_use": r.land_use, "plot_ratio": "" if r.plot_ratio is None else str(r.plot_ratio),
         "legacy_zone": r.legacy_zone or "", "status": r.status, "经度": repr(x), "纬度": repr(y)}
        for r in rows
        for x, y in list(r.geom.exterior.coords)[:-1]
    ]
    path = _sheet(tmp_path / "points.ods", {"points": pd.DataFrame(points)})
    outcome = await run_import(db, settings, BUREAU, path, ImportOptions())
    assert outcome.status == "succeeded", outcome.refused
    assert outcome.read == 3
    assert_imported(await stored(db), rows)


async def test_a_workbook_of_several_sheets_needs_the_sheet_named(db, settings, tmp_path: Path):
    from app.errors import DomainError

    one = pd.DataFrame({"code": ["A"], "wkt": [square(121.45, 31.15).wkt]})
    path = _sheet(tmp_path / "two.xlsx", {"north": one, "south": one})
    with pytest.raises(DomainError) as caught:
        await run_import(db, settings, BUREAU, path, ImportOptions(land_use="industrial"))
    assert caught.value.code == "VALIDATION_ERROR"
    assert "north, south: choose one" in caught.value.detail
    no_geometry = _sheet(tmp_path / "bare.xlsx", {"rows": pd.DataFrame({"code": ["A"], "land_use": ["工业"]})})
    with pytest.raises(DomainError) as caught:
        await run_import(db, settings, BUREAU, no_geometry, ImportOptions())
    assert "the sheet has neither a WKT column" in caught.value.detail


async def test_a_column_of_numbers_in_a_sheet_keeps_its_digits(db, settings, tmp_path: Path):
    # Parcel codes typed as numbers fill a numeric column: they are read as the digits shown, not as 3.1e11.
    table = pd.DataFrame({"dkbm": [310115000042, 310115000043], "rjl": [1.6, 2],
                          "wkt": [square(121.45, 31.15).wkt, square(121.46, 31.15).wkt]})
    path = _sheet(tmp_path / "numbers.xlsx", {"Sheet1": table})
    outcome = await run_import(db, settings, BUREAU, path, ImportOptions(land_use="M1"))
    assert outcome.status == "succeeded", outcome.refused
    found = await stored(db)
    assert {c: found[c]["plot_ratio"] for c in found} == {"310115000042": 1.6, "310115000043": 2.0}


async def test_esri_file_geodatabase_folder_and_zipped(db, settings, tmp_path: Path):
    # A bureau's ArcGIS data: a .gdb folder of several feature classes in CGCS2000 Gauss-Krüger; the one named
    # like the kind is taken. Zipped (the folder, or only its content) it reads the same.
    import zipfile

    rows = city_rows("GD")
    gdb = write(frame(rows, 4549), tmp_path / "一张图.gdb", layer="parcels", driver="OpenFileGDB")
    write(frame(rows[:1], 4549), gdb, layer="roads", driver="OpenFileGDB")
    with zipfile.ZipFile(tmp_path / "content.zip", "w") as archive:
        for member in gdb.iterdir():
            archive.write(member, member.name)
    dry = await run_import(db, settings, BUREAU, tmp_path / "content.zip", ImportOptions(dry_run=True))
    assert (dry.status, dry.layer, dry.accepted, dry.crs) == ("succeeded", "parcels", 5, "EPSG:4549"), dry.refused
    outcome = await run_import(db, settings, BUREAU, gdb, ImportOptions())
    assert outcome.status == "succeeded", outcome.refused
    assert_imported(await stored(db), rows)
