"""gis.io: text and boundary points into shapes, with a reason for what cannot be read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import shapely

from gis.errors import VectorFileError
from gis.io import LayerWriter, geometries_from_text, polygons_from_points, read_table


def test_wkt_and_ewkt_are_read_with_reasons_for_the_rest():
    geoms, reasons, srids = geometries_from_text(
        [
            "POLYGON((0 0,1 0,1 1,0 0))",
            "SRID=4549;POLYGON((0 0,1 0,1 1,0 0))",
            "garbage",
            None,
            "POLYGON((0 0,1 0,1 1))",
        ]
    )
    assert geoms[0].geom_type == "Polygon" and srids[1] == 4549
    assert reasons[2].startswith("cannot read the WKT") and geoms[2] is None
    assert geoms[3] is None and reasons[3] is None
    assert "cannot read the WKT" in reasons[4]


def test_boundary_points_make_rings_parts_and_holes():
    keys = ["a"] * 4 + ["b"] * 8 + ["c"] * 2
    xs = [0, 1, 1, 0, 0, 4, 4, 0, 1, 2, 2, 1, 5, 6]  # a: unit square; b: 4x4 with a hole; c: 2 points
    ys = [0, 0, 1, 1, 0, 0, 4, 4, 1, 1, 2, 2, 5, 5]
    rings = [0] * 4 + [0] * 4 + [1] * 4 + [0] * 2
    firsts, shapes, reasons = polygons_from_points(keys, xs, ys, rings=rings)
    assert firsts == [0, 4, 12]
    assert shapes[0].area == 1 and shapes[1].area == 15 and len(shapes[1].interiors) == 1
    assert shapes[2] is None and "at least 3" in reasons[2]


def test_writer_round_trips_and_unknown_formats_are_refused(tmp_path: Path):
    wkb = [shapely.to_wkb(shapely.box(121, 31, 121.1, 31.1))]
    with LayerWriter(tmp_path / "t.gpkg", "t", 4490, [("n", "int"), ("s", "string")]) as writer:
        writer.write({"n": [1], "s": ["甲"]}, wkb)
    table = read_table(tmp_path / "t.gpkg")
    assert table.frame["s"].tolist() == ["甲"] and "4490" in (table.crs or "")
    with sqlite3.connect(tmp_path / "t.gpkg") as gpkg:  # 1.2: read without warnings by older GDALs (QGIS LTR)
        assert gpkg.execute("PRAGMA user_version").fetchone() == (10200,)
    (tmp_path / "t.dwg").write_bytes(b"")
    with pytest.raises(VectorFileError, match=r"unknown format \.dwg; use one of \.csv, \.gdb, \.geojson"):
        read_table(tmp_path / "t.dwg")
    with pytest.raises(VectorFileError, match=r"unknown format \.xlsx"):  # spreadsheets are read, not written
        LayerWriter(tmp_path / "out.xlsx", "t", 4490, [("n", "int")])
    (tmp_path / "t.xlsx").write_bytes(b"")
    with pytest.raises(VectorFileError, match=r"cannot open t\.xlsx"):
        read_table(tmp_path / "t.xlsx")
    (tmp_path / "t.zip").write_bytes(b"no zip")
    with pytest.raises(VectorFileError, match="not a readable zip"):
        read_table(tmp_path / "t.zip")


def test_what_a_zip_or_a_folder_holds_decides_what_is_read(tmp_path: Path):
    import zipfile

    from gis.io import dataset_path

    gdb = tmp_path / "city.gdb"
    gdb.mkdir()
    (gdb / "a00000001.gdbtable").write_bytes(b"")
    assert dataset_path(gdb) == (str(gdb), "OpenFileGDB")
    for name, members, opened in (
        ("folder.zip", ["city.gdb/a00000001.gdbtable", "city.gdb/timestamps"], "/city.gdb"),
        ("content.zip", ["a00000001.gdbtable", "a00000001.gdbtablx"], ""),
    ):
        with zipfile.ZipFile(tmp_path / name, "w") as archive:
            for member in members:
                archive.writestr(member, b"")
        assert dataset_path(tmp_path / name) == (f"/vsizip/{(tmp_path / name).resolve()}{opened}", "OpenFileGDB")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.writestr("city.gdb/a00000001.gdbtable", b"")
        archive.writestr("table.xlsx", b"")
    with pytest.raises(VectorFileError, match=r"several datasets \(table\.xlsx, city\.gdb\)"):
        dataset_path(tmp_path / "two.zip")
    (tmp_path / "plain.gdb").write_bytes(b"")
    with pytest.raises(VectorFileError, match="a file geodatabase is a folder"):
        dataset_path(tmp_path / "plain.gdb")


def test_a_damaged_file_is_refused_in_gdal_words_without_gdal_paths(tmp_path: Path):
    import geopandas as gpd
    import pyogrio

    gdb = tmp_path / "damaged.gdb"
    frame = gpd.GeoDataFrame({"code": ["A"]}, geometry=[shapely.box(121, 31, 121.1, 31.1)], crs="EPSG:4490")
    pyogrio.write_dataframe(frame, gdb, layer="parcels", driver="OpenFileGDB")
    for table in gdb.glob("*.gdbtable"):
        table.write_bytes(table.read_bytes()[:40])
    with pytest.raises(VectorFileError) as caught:
        read_table(gdb)
    assert str(caught.value).startswith("cannot open damaged.gdb: ")
    assert "Error occurred in" not in str(caught.value) and str(tmp_path) not in str(caught.value)
