"""Who may send a body is settled before it is read: POST /api/v1/imports and POST /wfs answer 401 (403,
413, 429) from the headers alone; the upload limit is the caller's role's; import jobs at once are bounded;
a long import holds the overlap guard's locks only for the grid cells its rows touch (SPEC §2, §4)."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.imports import service
from app.imports.jobs import runner_of
from app.imports.source import ImportOptions
from app.main import create_app
from models import ImportJob
from tests.builders import basic, build_city, feature, square
from tests.conftest import TEST_URL, make_settings
from tests.imports.files import BUREAU, Row, frame, write
from tests.imports.files import square as box_square
from tests.servers import free_port, start_server, stop_server
from tests.waiting import wait_until

MB = 1024 * 1024
BOUNDARY = "landcycle-test-boundary"


async def asgi_post(app: Any, path: str, headers: dict[str, str], *, declared: int | None = 500 * MB,
                    chunk: int = MB, chunks: int = 8, start: bytes = b"") -> tuple[int, dict[str, str], bytes, int]:
    """POST to the app at the ASGI level with a body that never ends (`start`, then `chunks` chunks, then the
    client leaves); (status, headers, body, body bytes the app pulled)."""
    pulled = 0
    calls = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled, calls
        calls += 1
        if calls > chunks:
            return {"type": "http.disconnect"}
        piece = (start if calls == 1 else b"") + b"x" * chunk
        pulled += len(piece)
        return {"type": "http.request", "body": piece, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    all_headers = dict(headers)
    if declared is not None:
        all_headers["content-length"] = str(declared)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80), "state": {},
    }
    await asyncio.wait_for(app(scope, receive, send), 30)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body, pulled


MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
FILE_PART = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.gpkg\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n").encode()


# ------------------------------------------------------------------------------- authenticate first
async def test_an_import_upload_without_credentials_is_refused_unread(app, city):
    status, headers, body, pulled = await asgi_post(app, "/api/v1/imports", MULTIPART)
    assert status == 401 and b"UNAUTHENTICATED" in body
    assert headers["www-authenticate"].startswith("Basic")
    assert pulled == 0


async def test_an_import_upload_with_a_wrong_password_is_refused_unread(app, city):
    status, _, _, pulled = await asgi_post(app, "/api/v1/imports", {**MULTIPART, **basic("bureau", "wrong")})
    assert (status, pulled) == (401, 0)


async def test_a_role_that_may_not_import_is_refused_unread(app, city):
    status, _, body, pulled = await asgi_post(app, "/api/v1/imports", {**MULTIPART, **basic("viewer")})
    assert (status, pulled) == (403, 0) and b"FORBIDDEN_ROLE" in body


async def test_a_wfs_post_without_credentials_is_refused_unread(app, city):
    # 8 MB: under the edge's limit for /wfs (a larger declared body is 413 there, unread too)
    status, headers, body, pulled = await asgi_post(app, "/wfs", {"content-type": "text/xml"}, declared=8 * MB)
    assert status == 401 and b"ExceptionReport" in body and headers["www-authenticate"].startswith("Basic")
    assert pulled == 0


async def test_a_live_server_answers_401_to_headers_alone(engine):
    """A real `landcycle serve`: the client sends only the headers of a 500 MB upload, and gets its answer."""
    port = free_port()
    proc = start_server(port, LANDCYCLE_SECRET_KEY=secrets.token_urlsafe(48))
    try:
        for path, ctype, size in (("/api/v1/imports", MULTIPART["content-type"], 500 * MB),
                                  ("/wfs", "text/xml", 8 * MB)):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
                              f"Content-Length: {size}\r\n\r\n").encode())
                answer = b""
                while b"\r\n\r\n" not in answer:
                    piece = sock.recv(65536)
                    assert piece, f"{path}: the server closed without answering"
                    answer += piece
                assert answer.startswith(b"HTTP/1.1 401"), (path, answer[:200])
    finally:
        stop_server(proc)


# ------------------------------------------------------------------------------- upload limit per role
async def test_a_district_officer_upload_above_their_limit_is_413_before_it_is_read(app, city, settings):
    declared = (settings.import_max_mb_district + 1) * MB
    assert declared < settings.import_max_mb * MB  # the bureau could send it
    status, _, body, pulled = await asgi_post(
        app, "/api/v1/imports", {**MULTIPART, **basic("officer.east")}, declared=declared)
    assert (status, pulled) == (413, 0)
    assert b"PAYLOAD_TOO_LARGE" in body and f"{settings.import_max_mb_district} MiB".encode() in body


async def test_an_upload_without_a_declared_length_is_cut_at_the_role_limit(app, city):
    app.state.settings = make_settings(import_max_mb_district=2)
    status, _, body, pulled = await asgi_post(
        app, "/api/v1/imports", {**MULTIPART, **basic("officer.east")}, declared=None, chunks=50, start=FILE_PART)
    assert status == 413 and b"PAYLOAD_TOO_LARGE" in body
    assert pulled <= 3 * MB  # stopped at the limit, not at the end of what the client would send


async def test_the_bureau_may_send_more_than_a_district_officer(client, app, city, tmp_path: Path):
    app.state.settings = make_settings(import_max_mb_district=1)
    path = tmp_path / "big.geojson"
    ring = [[121.56, 31.06], [121.561, 31.06], [121.561, 31.061], [121.56, 31.061], [121.56, 31.06]]
    pad = "x" * (2 * MB)  # an ignored column makes the file 2 MiB
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
                    f'{{"code": "BIG-1", "land_use": "industrial", "note": "{pad}"}}, '
                    f'"geometry": {{"type": "Polygon", "coordinates": [{ring}]}}}}]}}')
    files = {"file": (path.name, path.read_bytes())}
    officer = await client.post("/api/v1/imports", files=files, headers=basic("officer.east"))
    assert officer.status_code == 413 and officer.json()["max_mb"] == 1
    bureau = await client.post("/api/v1/imports", files=files, headers=basic("bureau"))
    assert bureau.status_code == 202, bureau.text
    await runner_of(app.state).drain()


# ------------------------------------------------------------------------------- jobs at once
async def _open_job(db: Any, user: str, status: str = "queued") -> int:
    async with db.session() as session:
        job = ImportJob(kind="parcels", filename="x.gpkg", options={}, dry_run=False, status=status,
                        committed=False, created_by=user)
        session.add(job)
        await session.flush()
        return int(job.id)


async def test_a_user_with_open_jobs_at_the_limit_gets_429_before_the_upload(app, db, city):
    app.state.settings = make_settings(import_jobs_per_user=2, import_jobs_total=10)
    for _ in range(2):
        await _open_job(db, "bureau")
    status, headers, body, pulled = await asgi_post(app, "/api/v1/imports", {**MULTIPART, **basic("bureau")})
    assert (status, pulled) == (429, 0)
    assert b"TOO_MANY_REQUESTS" in body and int(headers["retry-after"]) > 0
    other, _, _, _ = await asgi_post(app, "/api/v1/imports", {**MULTIPART, **basic("officer.east")}, chunks=0)
    assert other != 429  # another user is not held to the bureau's jobs


async def test_all_users_together_are_held_to_the_total(client, app, db, city, tmp_path: Path):
    app.state.settings = make_settings(import_jobs_per_user=2, import_jobs_total=2)
    await _open_job(db, "officer.east")
    await _open_job(db, "officer.west")
    path = write(frame([Row("T-1", "industrial", box_square(121.56, 31.06), "base")], 4490), tmp_path / "t.gpkg")
    response = await client.post("/api/v1/imports", files={"file": (path.name, path.read_bytes())},
                                 headers=basic("bureau"))
    assert response.status_code == 429 and response.headers["retry-after"]
    assert response.json()["limit"] == 2 and response.json()["open"] == 2


async def test_a_job_whose_process_died_does_not_count(client, app, db, city, tmp_path: Path):
    app.state.settings = make_settings(import_jobs_per_user=1)
    lost = await _open_job(db, "bureau", status="running")  # nobody holds its lock: its process is gone
    path = write(frame([Row("L-1", "industrial", box_square(121.56, 31.06), "base")], 4490), tmp_path / "l.gpkg")
    response = await client.post("/api/v1/imports", files={"file": (path.name, path.read_bytes())},
                                 headers=basic("bureau"))
    assert response.status_code == 202, response.text
    await runner_of(app.state).drain()
    assert (await client.get(f"/api/v1/imports/{lost}", headers=basic("bureau"))).json()["status"] == "failed"


@pytest.fixture
async def live(live_db):
    await build_city(live_db)
    app = create_app(make_settings(import_jobs_per_user=1), live_db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield app, http, live_db


@pytest.mark.live
async def test_requests_at_the_same_moment_cannot_both_pass_the_per_user_bound(live, tmp_path: Path, monkeypatch):
    app, client, _ = live
    release = threading.Event()
    real = service.load

    def held(*args: Any, **kwargs: Any) -> Any:
        release.wait(20)  # the admitted job stays open while the others ask
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "load", held)
    paths = [write(frame([Row(f"S-{i}", "industrial", box_square(121.56 + i * 0.01, 31.06), "base")], 4490),
                   tmp_path / f"s{i}.gpkg") for i in range(3)]
    try:
        answers = await asyncio.gather(*(
            client.post("/api/v1/imports", files={"file": (p.name, p.read_bytes())}, headers=basic("bureau"))
            for p in paths))
        assert sorted(r.status_code for r in answers) == [202, 429, 429]
    finally:
        release.set()
    await runner_of(app.state).drain()


# ------------------------------------------------------------------------------- narrower overlap locks
async def test_a_parcel_across_a_cell_border_takes_every_cell_it_touches(db):
    async with db.session() as session:
        cells = (await session.execute(text(
            "SELECT array_agg(c ORDER BY c) FROM parcel_overlap_cells("
            "ST_MakeEnvelope(121.499, 31.099, 121.501, 31.101, 4490)) AS c"))).scalar_one()
        inside = (await session.execute(text(
            "SELECT array_agg(c) FROM parcel_overlap_cells(ST_MakeEnvelope(121.51, 31.01, 121.52, 31.02, 4490)) c"
        ))).scalar_one()
    assert len(cells) == 4  # a corner of four cells: lon 121.5 and lat 31.1 are borders of the 0.1° grid
    assert len(inside) == 1 and inside[0] in cells


async def _waiting_on_advisory_lock(conn: Any, limit_s: float = 20.0) -> None:
    """Once a writer waits for an overlap cell's lock (class 10); AssertionError after `limit_s`."""

    async def waiting() -> int:
        return await conn.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                      "AND classid = 10 AND NOT granted"))

    await wait_until(waiting, limit_s, "the write in the import's cell to wait for its lock")


@pytest.mark.live
async def test_a_long_import_in_one_district_does_not_hold_up_a_rest_edit_in_another(live_db, tmp_path: Path):
    await build_city(live_db)
    settings = make_settings()
    app = create_app(settings, live_db)
    inserted, release = asyncio.Event(), asyncio.Event()

    async def before_commit(session: Any, outcome: Any) -> None:
        inserted.set()  # its rows are inserted, the guard's locks held, the transaction open
        await asyncio.wait_for(release.wait(), 30)

    rows = [Row(f"EAST-{i}", "industrial", box_square(121.62 + i * 0.002, 31.02), None) for i in range(3)]
    path = write(frame(rows, 4490), tmp_path / "east.gpkg")
    imported = asyncio.create_task(service.run_import(live_db, settings, BUREAU, path, ImportOptions(),
                                                      before_commit=before_commit))
    engine = create_async_engine(TEST_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        await asyncio.wait_for(inserted.wait(), 30)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            west = feature(square(121.36, 31.02), code="WEST-1", land_use="industrial")
            done = await asyncio.wait_for(
                client.post("/api/v1/parcels", json=west, headers=basic("officer.west")), 15)
            assert done.status_code == 201, done.text  # written while the import in the east is still open
            # In the import's own cell a write waits for it, and then sees its rows: the overlap is refused.
            over = feature(square(121.6205, 31.0205), code="EAST-OVER", land_use="industrial")
            waiting = asyncio.create_task(client.post("/api/v1/parcels", json=over, headers=basic("bureau")))
            async with engine.connect() as watch:
                await _waiting_on_advisory_lock(watch)
            assert not waiting.done()
            release.set()
            outcome = await asyncio.wait_for(imported, 30)
            assert outcome.committed and outcome.accepted == 3
            refused = await asyncio.wait_for(waiting, 15)
            assert refused.status_code == 409 and refused.json()["code"] == "PARCEL_OVERLAP", refused.text
    finally:
        release.set()
        if not imported.done():
            imported.cancel()
        await engine.dispose()
