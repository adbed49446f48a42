"""Exports: GET /parcels/export in three formats with the list's filters, `landcycle export` files, and an
export re-imported into an empty database giving back the same parcels."""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path

import pyogrio
import shapely
from sqlalchemy import text

from app.exports.service import Export, export_to_file
from app.imports.service import ImportOptions, run_import
from app.parcels.query import ParcelQuery
from gis.crs import CrsRef
from tests.builders import basic
from tests.imports.files import BUREAU, Row, city_rows, frame, offset_m, square, write
from tests.imports.test_import_files import stored


async def load_city_parcels(db, settings, tmp_path: Path, prefix: str = "X") -> None:
    path = write(frame(city_rows(prefix), 4490), tmp_path / f"{prefix}.gpkg")
    outcome = await run_import(db, settings, BUREAU, path, ImportOptions())
    assert outcome.committed, outcome.refused


async def test_export_endpoint_does_not_clash_with_parcel_ids(client, db, settings, city, tmp_path: Path):
    await load_city_parcels(db, settings, tmp_path)
    response = await client.get("/api/v1/parcels/export?f=geojson&tier=base", headers=basic("bureau"))
    assert response.status_code == 200, response.text
    body = json.loads(response.content)
    assert sorted(f["properties"]["code"] for f in body["features"]) == ["X-B1", "X-B2"]
    assert body["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::4490"
    one = body["features"][0]["id"]
    assert (await client.get(f"/api/v1/parcels/{one}", headers=basic("bureau"))).status_code == 200


async def test_export_csv_geopackage_and_shapefile_with_crs_and_filters(client, db, settings, city, tmp_path: Path):
    await load_city_parcels(db, settings, tmp_path)
    response = await client.get(
        "/api/v1/parcels/export?f=csv&land_use=industrial&crs=EPSG:4549", headers=basic("bureau")
    )
    assert response.status_code == 200 and response.headers["content-crs"].endswith("/4549>")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(r["code"] for r in rows) == ["X-B1", "X-C1", "X-X1"]
    assert shapely.from_wkt(rows[0]["wkt"]).bounds[0] > 100_000  # metres, not degrees
    response = await client.get("/api/v1/parcels/export?f=gpkg&district_code=310112", headers=basic("bureau"))
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="parcels.gpkg"'
    (tmp_path / "out.gpkg").write_bytes(response.content)
    got = pyogrio.read_dataframe(tmp_path / "out.gpkg")
    assert sorted(got["code"]) == ["X-C1", "X-O1", "X-X1"]
    assert str(got.crs) == "EPSG:4490"
    response = await client.get("/api/v1/parcels/export?f=shp&tier=base&crs=EPSG:4549", headers=basic("bureau"))
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == 'attachment; filename="parcels.zip"'
    (tmp_path / "out.zip").write_bytes(response.content)
    got = pyogrio.read_dataframe(tmp_path / "out.zip")  # ArcGIS's format: 10-character names, .prj, UTF-8 .cpg
    assert sorted(got["code"]) == ["X-B1", "X-B2"] and {"ref_code", "legacy_zn"} <= set(got.columns)
    assert str(got.crs) == "EPSG:4549"


async def test_a_csv_file_has_the_same_columns_from_the_cli_and_over_http(client, db, settings, city, tmp_path: Path):
    await load_city_parcels(db, settings, tmp_path)
    response = await client.get("/api/v1/parcels/export?f=csv&crs=EPSG:4549", headers=basic("bureau"))
    over_http = list(csv.reader(io.StringIO(response.text)))
    export = Export(kind="parcels", crs=CrsRef(4549), parcel_query=ParcelQuery())
    await export_to_file(db, export, tmp_path / "cli.csv")
    from_cli = list(csv.reader(io.StringIO((tmp_path / "cli.csv").read_text(encoding="utf-8"))))
    assert from_cli[0] == over_http[0] and from_cli[0][-1] == "wkt" and from_cli[0][0] == "id"
    by_code = {row[1]: row for row in over_http[1:]}
    assert len(from_cli) == len(over_http) == 6  # the header and five parcels
    for row in from_cli[1:]:
        other = by_code[row[1]]
        assert row[:-1] == other[:-1]  # the same cells: numbers, true/false, times, empty for null
        assert shapely.from_wkt(row[-1]).equals_exact(shapely.from_wkt(other[-1]), 1e-6)


async def test_a_csv_for_excel_starts_with_a_byte_order_mark_and_imports_as_it_is(
    client, db, settings, city, tmp_path: Path
):
    rows = [Row("闵行-工业-甲", "industrial", square(121.45, 31.15), "fragment")]
    outcome = await run_import(db, settings, BUREAU, write(frame(rows, 4490), tmp_path / "cn.gpkg"), ImportOptions())
    assert outcome.committed, outcome.refused
    response = await client.get("/api/v1/parcels/export?f=csv&bom=true", headers=basic("bureau"))
    assert response.status_code == 200 and response.content.startswith(codecs.BOM_UTF8)
    export = Export(kind="parcels", crs=CrsRef(4490), parcel_query=ParcelQuery(), bom=True)
    await export_to_file(db, export, tmp_path / "excel.csv")
    from_cli = (tmp_path / "excel.csv").read_bytes()
    assert from_cli.startswith(codecs.BOM_UTF8) and from_cli.count(codecs.BOM_UTF8) == 1
    assert from_cli.split(b"\r\n")[0] == response.content.split(b"\r\n")[0]  # the same header, after the mark
    assert [r["code"] for r in csv.DictReader(io.StringIO(from_cli.decode("utf-8-sig")))] == ["闵行-工业-甲"]
    # Back into an empty database, the mark is no part of the first column's name.
    async with db.session() as session:
        await session.execute(text("DELETE FROM parcel"))
        await session.commit()
    outcome = await run_import(db, settings, BUREAU, tmp_path / "excel.csv", ImportOptions())
    assert outcome.committed, outcome.refused
    assert list(await stored(db)) == ["闵行-工业-甲"]
    # Only a CSV has one.
    for path in ("parcels", "zones", "districts"):
        refused = await client.get(f"/api/v1/{path}/export?f=gpkg&bom=true", headers=basic("bureau"))
        assert refused.status_code == 422 and refused.json()["field"] == "bom", refused.text


async def test_export_as_of_reads_history(client, db, settings, city, tmp_path: Path):
    async with db.session() as session:
        before = await session.scalar(text("SELECT now() - interval '1 second'"))
    await load_city_parcels(db, settings, tmp_path)
    earlier = await client.get(
        "/api/v1/parcels/export",
        params={"f": "geojson", "as_of": before.isoformat()},
        headers=basic("bureau"),
    )
    assert json.loads(earlier.content)["features"] == []


async def test_export_bad_parameters_are_problems(client, city):
    for query, status in (
        ("f=xlsx", 422),
        ("crs=EPSG:1234", 400),
        ("tier=gold", 422),
        ("as_of=yesterday", 422),
    ):
        response = await client.get(f"/api/v1/parcels/export?{query}", headers=basic("bureau"))
        assert response.status_code == status, (query, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get("/api/v1/parcels/export")).status_code == 401


async def test_an_export_reimported_into_an_empty_database_gives_the_same_parcels(
    db, settings, city, tmp_path: Path
):
    await load_city_parcels(db, settings, tmp_path)
    # A parcel above the default cap that holds by a reference parcel: its reference must survive the trip.
    high = frame([Row("X-HIGH", "industrial", square(121.452, 31.1585), "fragment", 3.0)], 4490)
    high["plot_ratio_reference_code"] = ["X-O1"]
    done = await run_import(db, settings, BUREAU, write(high, tmp_path / "high.gpkg"), ImportOptions())
    assert done.committed, done.refused
    before = await stored(db)
    assert before["X-HIGH"]["plot_ratio_cap_source"] == "reference"
    files = {}
    for kind, suffix in (
        ("districts", "gpkg"),
        ("zones", "gpkg"),
        ("parcels", "gpkg"),
        ("parcels", "zip"),
        ("parcels", "csv"),
        ("parcels", "geojson"),
    ):
        files[(kind, suffix)] = tmp_path / f"export-{kind}.{suffix}"
        count = await export_to_file(
            db, Export(kind=kind, crs=CrsRef(4490), parcel_query=ParcelQuery()), files[(kind, suffix)]
        )
        assert count > 0
    for suffix in ("gpkg", "zip", "csv", "geojson"):
        async with db.session() as session:
            for table in (
                "parcel",
                "zone",
                "district",
            ):  # DELETE: an export's cursor is open in this test transaction
                await session.execute(text(f"DELETE FROM {table}"))  # noqa: S608
        for kind in ("districts", "zones"):
            done = await run_import(db, settings, BUREAU, files[(kind, "gpkg")], ImportOptions(kind=kind))
            assert done.committed, done.refused
        again = await run_import(db, settings, BUREAU, files[("parcels", suffix)], ImportOptions())
        assert again.committed, (suffix, again.refused)
        after = await stored(db)
        assert sorted(after) == sorted(before), suffix
        for code, old in before.items():
            new = after[code]
            same = (
                "land_use",
                "plot_ratio",
                "legacy_zone",
                "status",
                "tier",
                "district_code",
                "plot_ratio_cap_source",
            )
            assert {k: new[k] for k in same} == {k: old[k] for k in same}, (suffix, code)
            assert offset_m(new["geom"], 4490, old["geom"], 4490) < 0.01, (suffix, code)
        async with db.session() as session:
            ref = await session.scalar(
                text("""SELECT r.code FROM parcel p JOIN parcel r ON r.id = p.plot_ratio_reference_id
                                               WHERE p.code = 'X-HIGH' AND p.valid_to IS NULL""")
            )
        assert ref == "X-O1", suffix


async def test_zones_and_districts_export_as_files_like_their_lists(client, city, tmp_path: Path):
    zones = (await client.get("/api/v1/zones", headers=basic("bureau"))).json()["features"]
    bases = sorted(z["properties"]["code"] for z in zones if z["properties"]["kind"] == "base")
    response = await client.get("/api/v1/zones/export?f=csv&kind=base", headers=basic("bureau"))
    assert response.status_code == 200 and response.headers["content-disposition"] == 'attachment; filename="zones.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(r["code"] for r in rows) == bases and {r["kind"] for r in rows} == {"base"}
    # The list's parameters, one place (app/zones/params.py): a window away from every zone exports none.
    far = await client.get("/api/v1/zones/export?f=csv&bbox=121.0,30.7,121.01,30.71", headers=basic("bureau"))
    listed = await client.get("/api/v1/zones?bbox=121.0,30.7,121.01,30.71", headers=basic("bureau"))
    assert far.text.strip().count("\n") == 0 and listed.json()["numberMatched"] == 0
    assert shapely.from_wkt(rows[0]["wkt"]).geom_type in ("Polygon", "MultiPolygon")
    response = await client.get("/api/v1/zones/export?f=gpkg", headers=basic("bureau"))
    (tmp_path / "zones.gpkg").write_bytes(response.content)
    got = pyogrio.read_dataframe(tmp_path / "zones.gpkg")
    assert sorted(got["code"]) == sorted(z["properties"]["code"] for z in zones)
    assert {"advanced_manufacturing", "far_cap", "far_min"} <= set(got.columns)

    districts = (await client.get("/api/v1/districts", headers=basic("viewer"))).json()["features"]
    response = await client.get("/api/v1/districts/export?f=shp&crs=EPSG:4549", headers=basic("viewer"))
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    (tmp_path / "districts.zip").write_bytes(response.content)
    got = pyogrio.read_dataframe(tmp_path / "districts.zip")
    assert sorted(got["code"]) == sorted(d["properties"]["code"] for d in districts)
    assert str(got.crs) == "EPSG:4549"
    assert set(got["name_zh"]) == {d["properties"]["name_zh"] for d in districts}

    for path, status in (("/api/v1/zones/export?f=xlsx", 422), ("/api/v1/zones/export?kind=gold", 422),
                         ("/api/v1/districts/export?crs=EPSG:1234", 400)):
        bad = await client.get(path, headers=basic("bureau"))
        assert bad.status_code == status and bad.headers["content-type"] == "application/problem+json", path
    assert (await client.get("/api/v1/districts/export")).status_code == 401
