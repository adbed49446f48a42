"""gis.guard and the CSV cells: a file opens only as its suffix says, a zip is judged by its directory before
anything is inflated, names stay names, and formula-like text is neutralised with a quote the importer
takes off again."""

from __future__ import annotations

import itertools
import stat
import zipfile
from decimal import Decimal
from pathlib import Path

import pyogrio
import pytest
import shapely

from gis import guard, io
from gis.errors import VectorFileError
from gis.guard import ZipLimits, check_column, check_encoding, check_layer, check_zip, sniff


def test_gdal_knows_only_the_service_formats_and_no_vrt():
    io.read_table  # noqa: B018 (importing gis.io locks GDAL down)
    drivers = set(pyogrio.list_drivers())
    assert "OGR_VRT" not in drivers and "VRT" not in drivers and "WFS" not in drivers and "HTTP" not in drivers
    assert {"CSV", "GPKG", "GeoJSON", "ESRI Shapefile", "OpenFileGDB", "XLSX", "ODS"} <= drivers
    assert "network file systems removed" in guard.lock_down(())  # once per process: the same answer again


@pytest.mark.parametrize(
    ("driver", "head", "refused"),
    [
        ("CSV", b"code,wkt\nA,POINT (1 2)\n", None),
        ("CSV", b"\xef\xbb\xbf  <OGRVRTDataSource>", "XML or binary"),
        ("CSV", b"code\x00,wkt", "XML or binary"),
        ("GeoJSON", b'\xef\xbb\xbf\n {"type": "FeatureCollection"', None),
        ("GeoJSON", b"<OGRVRTDataSource>", "not GeoJSON"),
        ("GPKG", b"SQLite format 3\x00\x10\x00", None),
        ("GPKG", b"<OGRVRTDataSource>", "not a GeoPackage"),
        ("ESRI Shapefile", b"\x00\x00\x27\x0a" + b"\x00" * 20, None),
        ("ESRI Shapefile", b"<OGRVRTDataSource>", "not a Shapefile"),
        ("XLSX", b"PK\x03\x04rest", None),
        ("ODS", b"<?xml version='1.0'?>", "not an OpenDocument spreadsheet"),
    ],
)
def test_content_must_start_as_its_suffix_says(driver: str, head: bytes, refused: str | None):
    if refused is None:
        sniff(head, driver, "f")
    else:
        with pytest.raises(VectorFileError, match=refused):
            sniff(head, driver, "f")


def test_a_vrt_in_any_suffix_is_refused_before_gdal_opens_it(tmp_path: Path):
    body = '<OGRVRTDataSource><OGRVRTLayer name="p"><SrcDataSource>/etc/passwd</SrcDataSource></OGRVRTLayer>'
    for suffix in (".csv", ".geojson", ".gpkg", ".shp", ".xlsx", ".ods"):
        path = tmp_path / f"p{suffix}"
        path.write_text(body)
        with pytest.raises(VectorFileError, match=r"^cannot open p\.\w+: it (is not|holds XML)") as caught:
            io.read_table(path)
        assert "passwd" not in str(caught.value)
    with zipfile.ZipFile(tmp_path / "in.zip", "w") as archive:
        archive.writestr("d/p.csv", body)
    with pytest.raises(VectorFileError, match=r"cannot open in\.zip/d/p\.csv: it holds XML"):
        io.read_table(tmp_path / "in.zip")


def _zip(path: Path, *members: zipfile.ZipInfo | str, data: bytes = b"x") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            archive.writestr(member, data)
    return path


def test_a_zip_is_judged_by_its_directory(tmp_path: Path):
    link = zipfile.ZipInfo("d/p.shp")
    link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
    cases = {
        "link.zip": (_zip(tmp_path / "link.zip", link), "holds a symbolic link"),
        "up.zip": (_zip(tmp_path / "up.zip", "../../p.csv"), "leaves the archive"),
        "root.zip": (_zip(tmp_path / "root.zip", "/etc/p.csv"), "leaves the archive"),
        "drive.zip": (_zip(tmp_path / "drive.zip", "C:\\p.csv"), "leaves the archive"),
        "back.zip": (_zip(tmp_path / "back.zip", "d\\..\\..\\p.csv"), "leaves the archive"),
    }
    for name, (path, reason) in cases.items():
        with pytest.raises(VectorFileError, match=reason) as caught:
            check_zip(path, ZipLimits())
        assert str(caught.value).startswith(name) and "\n" not in str(caught.value)
    four = _zip(tmp_path / "four.zip", "a", "b", "c", "d")
    assert check_zip(four, ZipLimits(members=4)) == ["a", "b", "c", "d"]
    with pytest.raises(VectorFileError, match=r"holds 4 members; at most 3 are read"):
        check_zip(four, ZipLimits(members=3))
    zeros = _zip(tmp_path / "zeros.zip", "z.csv", data=b"\0" * (4 << 20))
    with pytest.raises(VectorFileError, match=r"compressed more than 100 to 1"):
        check_zip(zeros, ZipLimits())
    assert check_zip(zeros, ZipLimits(ratio=10_000)) == ["z.csv"]
    with pytest.raises(VectorFileError, match=r"would unpack to 4 MiB; at most 1 MiB"):
        check_zip(zeros, ZipLimits(uncompressed_bytes=1 << 20, ratio=10_000))
    small = _zip(tmp_path / "small.zip", "s.csv", data=b"\0" * 1000)  # under 1 MiB: no ratio judged
    assert check_zip(small, ZipLimits(ratio=2)) == ["s.csv"]
    (tmp_path / "not.zip").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(VectorFileError, match=r"not\.zip is not a readable zip archive"):
        check_zip(tmp_path / "not.zip", ZipLimits())


def test_a_password_protected_member_is_refused(tmp_path: Path):
    path = _zip(tmp_path / "locked.zip", "p.csv")
    raw = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # general purpose flag: encrypted
        at = raw.index(signature)
        raw[at + offset] |= 0x1
    path.write_bytes(bytes(raw))
    with pytest.raises(VectorFileError, match="encrypted member"):
        check_zip(path, ZipLimits())


@pytest.mark.parametrize(
    "value", ["/vsicurl/http://x/y", "a/b", "..\\x", "http://example.com", "a\nb", " ", "/etc/passwd"]
)
def test_a_layer_name_is_never_a_path_or_url(value: str):
    with pytest.raises(VectorFileError, match="is not a layer name") as caught:
        check_layer(value)
    assert "\n" not in str(caught.value)


def test_names_that_are_names_pass():
    assert check_layer("地块") == "地块" and check_layer("parcels 2026") == "parcels 2026"
    assert check_column("面积/m2") == "面积/m2"  # a slash in a column's name is common in sheets
    assert check_encoding("GB18030") == "GB18030" and check_encoding("cp936") == "cp936"
    for column in ("/vsizip//etc/x.zip", "http://evil.example/c", "a\tb"):
        with pytest.raises(VectorFileError, match="is not a column name"):
            check_column(column)
    for encoding in ("../../etc", "no-such-codec", "/vsicurl/http://x", "UTF-8\nX"):
        with pytest.raises(VectorFileError, match="unknown text encoding"):
            check_encoding(encoding)


def test_formula_like_text_gets_a_quote_and_numbers_stay_numbers():
    cells = ["=1+1", "+86 21 5555", "-A1", "@SUM(A1)", "\tx", "\rx", "'=x", "plain", "'plain", "-12.5", "+3",
             "1e-5", "POLYGON ((-1 2, 3 4))", ""]
    assert [io.csv_cell(c) for c in cells] == [
        "'=1+1", "'+86 21 5555", "'-A1", "'@SUM(A1)", "'\tx", "'\rx", "''=x", "plain", "'plain", "-12.5", "+3",
        "1e-5", "POLYGON ((-1 2, 3 4))", "",
    ]
    assert io.csv_cell(-12.5) == -12.5 and io.csv_cell(-3) == -3 and io.csv_cell(Decimal("-1.50")) == Decimal("-1.50")
    assert io.csv_cell(True) == "true" and io.csv_cell(None) == "" and io.csv_cell(["=a", "b"]) == "'=a b"
    assert io.csv_text([["=x", -1.5, "-1.5"]]) == "'=x,-1.5,-1.5\r\n"


def test_the_quote_comes_off_exactly_as_it_went_on():
    for n in range(6):
        for letters in itertools.product("'=-+@\t1a.", repeat=n):
            cell = "".join(letters)
            assert io.unquoted(io.neutral(cell)) == cell, repr(cell)


def test_a_csv_written_here_reads_back_as_it_was(tmp_path: Path):
    codes = ["=HYPERLINK(\"http://e\")", "-A1", "'=x", "'kept", "-12.5", "A-1"]
    wkb = [shapely.to_wkb(shapely.box(121, 31, 121.1, 31.1))] * len(codes)
    with io.LayerWriter(tmp_path / "t.csv", "t", 4490, [("code", "string"), ("n", "float")]) as writer:
        writer.write({"code": codes, "n": [-1.5] * len(codes)}, wkb)
    assert "'=HYPERLINK" in (tmp_path / "t.csv").read_text()
    table = io.read_table(tmp_path / "t.csv")
    assert table.frame["code"].tolist() == codes and table.frame["n"].tolist() == ["-1.5"] * len(codes)


def test_a_geopackage_cannot_read_a_server_file_through_a_virtual_table(tmp_path: Path):
    import sqlite3

    secret = tmp_path / "secret.csv"
    secret.write_text("code\nSECRET-in-a-virtual-table\n")
    gpkg = tmp_path / "v.gpkg"
    with io.LayerWriter(gpkg, "p", 4490, [("code", "string")]) as writer:
        writer.write({"code": ["A"]}, [shapely.to_wkb(shapely.box(121, 31, 121.1, 31.1))])
    with sqlite3.connect(gpkg) as db:  # a table GDAL's SQLite module would fill from any file it names
        db.execute("PRAGMA writable_schema=ON")
        db.execute("INSERT INTO sqlite_master(type, name, tbl_name, rootpage, sql) VALUES ('table', 'vt', 'vt', 0, ?)",
                   (f"CREATE VIRTUAL TABLE vt USING VirtualOGR('{secret}')",))
        db.execute("INSERT INTO gpkg_contents(table_name, data_type, identifier) VALUES ('vt', 'attributes', 'vt')")
    with pytest.raises(VectorFileError) as caught:
        io.read_table(gpkg, layer="vt")
    assert "SECRET" not in str(caught.value) and "\n" not in str(caught.value)
