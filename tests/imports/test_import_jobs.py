"""POST /api/v1/imports: a background job with status, counts and the refused-rows report."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app import locks
from app.imports import jobs, service
from app.imports.jobs import runner_of
from app.main import create_app
from tests.builders import basic, build_city
from tests.conftest import make_settings
from tests.imports.files import Row, city_rows, frame, square, write
from tests.waiting import wait_until


async def post_file(client, path: Path, user: str = "bureau", **form):
    with path.open("rb") as fh:
        return await client.post(
            "/api/v1/imports", files={"file": (path.name, fh.read())}, data=form, headers=basic(user)
        )


async def finished(client, app, response, user: str = "bureau") -> dict:
    assert response.status_code == 202, response.text
    await runner_of(app.state).drain()
    got = await client.get(response.headers["location"], headers=basic(user))
    assert got.status_code == 200, got.text
    return got.json()


async def test_import_job_runs_and_commits(client, app, city, tmp_path: Path):
    path = write(frame(city_rows("H"), 4549), tmp_path / "parcels.gpkg")
    response = await post_file(client, path)
    assert response.json()["status"] == "queued"
    job = await finished(client, app, response)
    assert job["status"] == "succeeded" and job["committed"] is True
    assert job["counts"] == {"read": 5, "accepted": 5, "refused": 0}
    listed = await client.get("/api/v1/parcels?tier=base", headers=basic("bureau"))
    assert listed.json()["numberMatched"] == 2
    jobs = await client.get("/api/v1/imports", headers=basic("bureau"))
    assert jobs.json()["items"][0]["id"] == job["id"]


async def test_refused_job_reports_rows_and_writes_nothing(client, app, city, tmp_path: Path):
    rows = [
        Row("J-1", "industrial", square(121.45, 31.15), "fragment"),
        Row("J-2", "industrial", square(121.4505, 31.1505), None),
    ]
    job = await finished(client, app, await post_file(client, write(frame(rows, 4490), tmp_path / "j.gpkg")))
    assert job["status"] == "refused" and job["committed"] is False
    assert job["counts"] == {"read": 2, "accepted": 1, "refused": 1}
    assert job["refused"][0]["row"] == 2 and job["refused"][0]["code"] == "PARCEL_OVERLAP"
    assert "row 1 (J-1)" in job["refused"][0]["reason"]
    report = await client.get(f"/api/v1/imports/{job['id']}/report", headers=basic("bureau"))
    assert report.headers["content-type"].startswith("text/csv")
    assert report.text.splitlines()[0] == "row,code,reason,feature_code"  # the CLI report's, without the geometry
    assert report.text.splitlines()[1].startswith("2,PARCEL_OVERLAP,")
    for_excel = await client.get(f"/api/v1/imports/{job['id']}/report?bom=true", headers=basic("bureau"))
    assert for_excel.content == "\ufeff".encode() + report.content  # the same rows after a byte-order mark
    as_json = await client.get(f"/api/v1/imports/{job['id']}/report?f=json&bom=true", headers=basic("bureau"))
    assert as_json.status_code == 422 and as_json.json()["field"] == "bom"
    listed = await client.get("/api/v1/parcels", headers=basic("bureau"))
    assert listed.json()["numberMatched"] == 0


async def test_skip_invalid_and_dry_run_over_http(client, app, city, tmp_path: Path):
    rows = [
        Row("K-1", "industrial", square(121.45, 31.15), "fragment"),
        Row("K-2", "industrial", square(121.4505, 31.1505), None),
    ]
    path = write(frame(rows, 4490), tmp_path / "k.gpkg")
    dry = await finished(client, app, await post_file(client, path, dry_run="true", skip_invalid="true"))
    assert (dry["status"], dry["committed"], dry["dry_run"]) == ("refused", False, True)
    job = await finished(client, app, await post_file(client, path, skip_invalid="true"))
    assert (job["status"], job["committed"], job["counts"]["refused"]) == ("succeeded", True, 1)
    listed = await client.get("/api/v1/parcels", headers=basic("bureau"))
    assert [f["properties"]["code"] for f in listed.json()["features"]] == ["K-1"]


async def test_shapefile_parts_with_options(client, app, city, tmp_path: Path):
    gdf = frame(city_rows("SP")[:2], 4326, {"code": "DKBM"})
    shp = write(gdf, tmp_path / "sp.shp", encoding="GBK")
    parts = [("file", (p.name, p.read_bytes())) for p in sorted(tmp_path.glob("sp.*"))]  # noqa: ASYNC240
    response = await client.post(
        "/api/v1/imports",
        files=parts,
        data={"map": ["code=DKBM"], "kind": "parcels"},
        headers=basic("bureau"),
    )
    job = await finished(client, app, response)
    assert job["status"] == "succeeded", job
    assert shp.exists()


async def test_a_spreadsheet_sheet_over_http(client, app, city, tmp_path: Path):
    import pandas as pd
    import pyogrio

    rows = city_rows("XH")[:2]
    table = pd.DataFrame({"地块编码": [r.code for r in rows], "land_use": [r.land_use for r in rows],
                          "wkt": [r.geom.wkt for r in rows]})
    path = tmp_path / "台账.xlsx"
    pyogrio.write_dataframe(table, path, layer="地块", driver="XLSX")
    job = await finished(client, app, await post_file(client, path, layer="地块", map="code=地块编码"))
    assert job["status"] == "succeeded", job
    assert job["counts"] == {"read": 2, "accepted": 2, "refused": 0}
    listed = await client.get("/api/v1/parcels?tier=base", headers=basic("bureau"))
    assert [f["properties"]["code"] for f in listed.json()["features"]] == ["XH-B1", "XH-B2"]


async def test_a_zipped_file_geodatabase_over_http(client, app, city, tmp_path: Path):
    import zipfile

    gdb = write(frame(city_rows("GH")[:2], 4549), tmp_path / "parcels.gdb", layer="地块", driver="OpenFileGDB")
    with zipfile.ZipFile(tmp_path / "parcels.gdb.zip", "w") as archive:
        for member in gdb.iterdir():
            archive.write(member, f"parcels.gdb/{member.name}")
    job = await finished(client, app, await post_file(client, tmp_path / "parcels.gdb.zip"))
    assert job["status"] == "succeeded", job
    assert job["counts"] == {"read": 2, "accepted": 2, "refused": 0}
    listed = await client.get("/api/v1/parcels?tier=base", headers=basic("bureau"))
    assert [f["properties"]["code"] for f in listed.json()["features"]] == ["GH-B1", "GH-B2"]


async def test_bad_file_fails_the_job_with_a_problem(client, app, city, tmp_path: Path):
    (tmp_path / "broken.gpkg").write_bytes(b"not a geopackage")
    job = await finished(client, app, await post_file(client, tmp_path / "broken.gpkg"))
    assert job["status"] == "failed"
    assert job["error"]["code"] == "VALIDATION_ERROR"
    # Refused before GDAL sees it, in one line without the server's temporary folder
    assert job["error"]["detail"] == "cannot open broken.gpkg: it is not a GeoPackage (an SQLite database)"


async def test_bad_requests_are_problems_not_500s(client, city, tmp_path: Path):
    path = write(frame(city_rows("Q")[:1], 4490), tmp_path / "q.gpkg")
    viewer = await post_file(client, path, user="viewer")
    assert viewer.status_code == 403 and viewer.json()["code"] == "FORBIDDEN_ROLE"
    officer = await post_file(client, path, user="officer.east", kind="zones")
    assert officer.status_code == 403
    crs = await post_file(client, path, crs="EPSG:9999")
    assert crs.status_code == 400 and crs.json()["code"] == "CRS_UNSUPPORTED"
    (tmp_path / "notes.txt").write_text("hello")
    wrong = await post_file(client, tmp_path / "notes.txt")
    assert wrong.status_code == 422 and wrong.headers["content-type"] == "application/problem+json"
    bad_map = await post_file(client, path, map="code")
    assert bad_map.status_code == 422
    missing = await client.post("/api/v1/imports", data={"kind": "parcels"}, headers=basic("bureau"))
    assert missing.status_code == 422
    unknown = await client.get("/api/v1/imports/999999", headers=basic("bureau"))
    assert unknown.status_code == 404
    anonymous = await client.get("/api/v1/imports")
    assert anonymous.status_code == 401


async def test_district_officer_imports_only_in_their_district(client, app, city, tmp_path: Path):
    rows = [
        Row("D-E", "industrial", square(121.56, 31.06), "base"),
        Row("D-W", "industrial", square(121.36, 31.06), "community"),
    ]
    job = await finished(
        client,
        app,
        await post_file(client, write(frame(rows, 4490), tmp_path / "d.gpkg"), user="officer.east"),
        user="officer.east",
    )
    assert [(r["row"], r["code"]) for r in job["refused"]] == [(2, "FORBIDDEN_DISTRICT")]
    others = await client.get(f"/api/v1/imports/{job['id']}", headers=basic("officer.west"))
    assert others.status_code == 404


async def test_a_job_whose_process_died_is_reported_failed(client, db, city):
    from models import ImportJob

    async with db.session() as session:
        job = ImportJob(kind="parcels", filename="lost.gpkg", options={}, dry_run=False, status="running",
                        committed=False, created_by="bureau")
        session.add(job)
        await session.flush()
        job_id = job.id
    listed = (await client.get("/api/v1/imports", headers=basic("bureau"))).json()["items"]
    assert [(j["id"], j["status"]) for j in listed] == [(job_id, "failed")]  # the list says so too
    got = (await client.get(f"/api/v1/imports/{job_id}", headers=basic("bureau"))).json()
    assert got["status"] == "failed" and got["error"]["code"] == "INTERRUPTED"


@pytest.fixture
async def live(live_db):
    """The app on a real Database (every session its own connection, commits real), with the city."""
    await build_city(live_db)
    app = create_app(make_settings(), live_db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield app, http, live_db


def _held(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Every import reads its file only once released (`release`), having said so (`started`): by then the
    job is running and its transaction holds the job's lock."""
    started, release = threading.Event(), threading.Event()
    real = service.load

    def held(*args, **kwargs):
        started.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "load", held)
    return started, release


async def _cancel_while_held(live, monkeypatch, tmp_path: Path, prefix: str) -> dict:
    app, client, _ = live
    started, release = _held(monkeypatch)
    response = await post_file(client, write(frame(city_rows(prefix), 4490), tmp_path / f"{prefix}.gpkg"))
    location = response.headers["location"]
    try:
        assert await asyncio.to_thread(started.wait, 10), "the import never began reading its file"
        assert (await client.get(location, headers=basic("bureau"))).json()["status"] == "running"
        cancelled = await client.delete(location, headers=basic("bureau"))
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert cancelled.json()["error"] == {"code": "CANCELLED", "detail": "cancelled by bureau; nothing was written"}
    finally:
        release.set()
    await runner_of(app.state).drain()
    job = (await client.get(location, headers=basic("bureau"))).json()
    assert job["status"] == "cancelled" and job["committed"] is False
    assert (await client.get("/api/v1/parcels", headers=basic("bureau"))).json()["numberMatched"] == 0
    return job


@pytest.mark.live
async def test_a_running_job_is_cancelled_and_writes_nothing(live, tmp_path: Path, monkeypatch):
    job = await _cancel_while_held(live, monkeypatch, tmp_path, "CX")
    again = await live[1].delete(f"/api/v1/imports/{job['id']}", headers=basic("bureau"))
    assert again.status_code == 409 and again.json()["code"] == "INVALID_TRANSITION"
    async with live[2].session() as session:  # who cancelled what is in the audit log
        audited = (await session.execute(text(
            "SELECT actor, outcome, detail->>'was' FROM audit_log WHERE action = 'cancel' AND entity = 'import_job' "
            "AND entity_id = :id"), {"id": str(job["id"])})).all()
    assert [tuple(r) for r in audited] == [("bureau", "done", "running")]


@pytest.mark.live
async def test_a_job_of_another_server_process_is_stopped_by_ending_its_connection(live, tmp_path: Path,
                                                                                   monkeypatch):
    # Several workers: the DELETE reaches a process that does not run the job; the job's connection (the
    # one holding its lock) is ended, and the import stops there.
    monkeypatch.setattr(jobs.JobRunner, "cancel", lambda self, job_id: False)
    importing = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'landcycle import'"
    ended: list[int] = []
    real = locks.end_holders

    async def importing_now() -> int:
        async with live[2].session() as other:
            return await other.scalar(text(importing))

    async def end(session, kind, entity_id):
        ended.append(await importing_now())
        done = await real(session, kind, entity_id)

        async def none_left() -> bool:
            return not await importing_now()

        await wait_until(none_left, 5, "the import's connection to end")  # PostgreSQL ends it on its own time
        ended.append(0)
        return done

    monkeypatch.setattr(locks, "end_holders", end)
    await _cancel_while_held(live, monkeypatch, tmp_path, "CY")
    assert ended == [1, 0]  # the import's connection was there, and was ended


@pytest.mark.live
async def test_a_cancelled_job_never_commits_even_when_nothing_stops_it(live, tmp_path: Path, monkeypatch):
    # Neither the task nor its connection is reached: the import runs to its end and rolls back there.
    monkeypatch.setattr(jobs.JobRunner, "cancel", lambda self, job_id: False)

    async def unreachable(session, kind, entity_id):
        return False  # as for a role without the right to end other connections

    monkeypatch.setattr(locks, "end_holders", unreachable)
    await _cancel_while_held(live, monkeypatch, tmp_path, "CZ")


async def test_only_its_creator_the_bureau_or_an_admin_may_cancel_a_job(client, app, city, tmp_path: Path):
    path = write(frame(city_rows("CW")[1:2], 4490), tmp_path / "cw.gpkg")
    job = await finished(client, app, await post_file(client, path, user="officer.east"), user="officer.east")
    assert (await client.delete(f"/api/v1/imports/{job['id']}", headers=basic("officer.west"))).status_code == 404
    ended = await client.delete(f"/api/v1/imports/{job['id']}", headers=basic("officer.east"))
    assert (ended.status_code, ended.json()["code"]) == (409, "INVALID_TRANSITION")
    assert "has ended (succeeded)" in ended.json()["detail"]
