"""Slow or hostile clients cannot stall the server: readers that take one byte a second lose their stream
after the send timeout and their database connections go back to the pool; a full pool answers 503 with
Retry-After instead of a hang; a client trickling its request headers is closed after the header timeout;
every session carries an idle-in-transaction timeout. Against real `landcycle serve` processes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import time
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from shapely.geometry import box
from sqlalchemy import text

from app.auth.permissions import Actor
from app.db import Database, create_engine
from app.parcels.bulk import bulk_create
from app.parcels.service import ParcelDraft
from gis.geometry import as_multipolygon
from tests import builders
from tests.builders import CZ, basic
from tests.conftest import make_settings
from tests.servers import free_port, start_server, stop_server

PARCELS = 10_000
GETFEATURE = f"/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=landcycle:parcels&COUNT={PARCELS}"
BUREAU = basic("bureau")
# Backends of the app still working for someone, seen from a session of the test's own.
BUSY = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
            "application_name LIKE 'landcycle%' AND state IN ('active', 'idle in transaction') AND "
            "pid <> pg_backend_pid()")


@pytest.fixture(scope="module")
async def city_of_10000(engine) -> AsyncIterator[Database]:
    """The test city, committed, with 10,000 parcels on a grid in its community zone; emptied after."""
    db = Database(create_engine(make_settings(), statement_timeout_ms=0))
    async with db.session() as session:
        await builders.truncate(session)
    await builders.build_city(db)
    side = 100
    drafts = [ParcelDraft(code=f"SLOW-{i:05d}", land_use="industrial", geom=as_multipolygon(box(
        CZ[0] + 0.001 + (i % side) * 0.0004, CZ[1] + 0.001 + (i // side) * 0.0004,
        CZ[0] + 0.001 + (i % side) * 0.0004 + 0.0003, CZ[1] + 0.001 + (i // side) * 0.0004 + 0.0003)))
        for i in range(PARCELS)]
    async with db.session() as session:
        result = await bulk_create(session, Actor(1, "bureau", "bureau"), make_settings().policy, drafts)
        assert not result.refused
    try:
        yield db
    finally:
        async with db.session() as session:
            await builders.truncate(session)
        await db.dispose()


@contextlib.contextmanager
def serving(**env: str) -> Iterator[str]:
    """`landcycle serve` (the CLI: its real uvicorn configuration) with these settings; its base URL."""
    port = free_port()
    proc = start_server(port, LANDCYCLE_SECRET_KEY="slow-clients-test-key-for-the-suite-only-0123456789", **env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def guarded(city_of_10000) -> Iterator[str]:
    """A server with short deadlines: a send taken within 3 s, request headers within 2 s, 30 connections
    at once; and pool room for ten slow readers (two connections each for a large GetFeature), so what the
    slow-reader test measures is the event loop and the send timeout (the pool's bound is tested apart)."""
    with serving(LANDCYCLE_STREAM_SEND_TIMEOUT_SECONDS="3", LANDCYCLE_SERVE_HEADER_TIMEOUT_SECONDS="2",
                 LANDCYCLE_SERVE_LIMIT_CONCURRENCY="30", LANDCYCLE_DB_POOL_SIZE="25") as base:
        yield base


def slow_reader(base: str, path: str) -> socket.socket:
    """A client that sends its request and then reads next to nothing: a receive buffer of a few KiB."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # before connecting: the window it offers
    sock.connect((host, int(port)))
    auth = BUREAU["Authorization"]
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\r\n".encode())
    sock.setblocking(False)
    return sock


TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8  # tcpi_state (linux/tcp_states.h): reset by the server, or closed by it


def dropped_by_server(sock: socket.socket) -> bool:
    """The server reset or closed the connection (bytes it sent before may still wait to be read)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] in (TCP_CLOSE, TCP_CLOSE_WAIT)


def read_a_byte_a_second(socks: list[socket.socket], until: float) -> list[float]:
    """Read one byte a second from each socket until the server drops them all (or `until`); the seconds
    after which each was dropped."""
    started = time.monotonic()
    pending, dropped = list(socks), []
    while pending and time.monotonic() < until:
        for sock in list(pending):
            with contextlib.suppress(BlockingIOError, ConnectionError):
                sock.recv(1)
            if dropped_by_server(sock):
                pending.remove(sock)
                dropped.append(time.monotonic() - started)
        time.sleep(1)  # the client's pace, not a wait for an event
    return dropped


async def busy_backends(db: Database) -> int:
    """How many app backends are active or idle in a transaction, once they settle (polled, 10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        async with db.session() as session:
            busy = int(await session.scalar(BUSY) or 0)
        if busy == 0 or time.monotonic() > deadline:
            return busy
        await asyncio.sleep(0.1)


async def held_backends(db: Database, at_least: int) -> int:
    """App backends active or idle in a transaction, once there are `at_least` (polled, 10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        async with db.session() as session:
            busy = int(await session.scalar(BUSY) or 0)
        if busy >= at_least or time.monotonic() > deadline:
            return busy
        await asyncio.sleep(0.05)


# ------------------------------------------------------------------------------------------ slow readers
@pytest.mark.live
@pytest.mark.slow
async def test_ten_slow_readers_do_not_stall_other_clients_and_lose_their_streams(guarded, city_of_10000):
    async with httpx.AsyncClient(base_url=guarded, headers=BUREAU, timeout=10) as http:
        assert (await http.get("/api/v1/parcels?limit=10")).status_code == 200  # credentials cached
        socks = [slow_reader(guarded, GETFEATURE) for _ in range(10)]
        try:
            readers = asyncio.ensure_future(asyncio.to_thread(read_a_byte_a_second, socks, time.monotonic() + 20))
            latencies, held = [], 0
            while not readers.done():
                for path in ("/api/v1/parcels?limit=10", "/healthz"):
                    started = time.monotonic()
                    assert (await http.get(path)).status_code == 200
                    latencies.append(time.monotonic() - started)
                async with city_of_10000.session() as session:  # the streams' connections, in their snapshots
                    held = max(held, int(await session.scalar(BUSY) or 0))
            dropped = await readers
        finally:
            for sock in socks:
                sock.close()
    assert await busy_backends(city_of_10000) == 0
    assert held >= 10
    assert len(dropped) == 10, "a slow reader kept its stream"
    assert min(dropped) > 2 and max(dropped) < 15
    assert len(latencies) > 20 and statistics.quantiles(latencies, n=100)[98] < 1.0


# ------------------------------------------------------------------------------------------ a full pool
@pytest.mark.live
@pytest.mark.slow
async def test_a_request_that_finds_the_pool_full_gets_503_with_retry_after_not_a_hang(city_of_10000):
    # Pools of one read connection and two engine connections (pool 1 + overflow 1). A slow reader holds
    # the read connection; two zone lists waiting on a lock the test holds hold the engine's.
    with serving(LANDCYCLE_DB_POOL_SIZE="1", LANDCYCLE_DB_POOL_TIMEOUT_SECONDS="1",
                 LANDCYCLE_STREAM_SEND_TIMEOUT_SECONDS="30") as base:
        async with httpx.AsyncClient(base_url=base, headers=BUREAU, timeout=15) as http:
            for path in ("/api/v1/parcels?limit=1", "/api/v1/zones?limit=1"):  # credentials cached, pools open
                assert (await http.get(path)).status_code == 200
            lock = await asyncpg.connect(city_of_10000.engine.url.set(drivername="postgresql")
                                         .render_as_string(hide_password=False))
            reader = slow_reader(base, GETFEATURE)
            try:
                await lock.execute("BEGIN; LOCK TABLE zone IN ACCESS EXCLUSIVE MODE")
                waiting = [asyncio.ensure_future(http.get("/api/v1/zones?limit=1")) for _ in range(2)]
                assert await held_backends(city_of_10000, 3) >= 3
                answers = {}
                for path in ("/api/v1/parcels?limit=10", "/api/v1/zones?limit=10",
                             "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=landcycle:parcels&COUNT=1"):
                    started = time.monotonic()
                    answers[path] = await http.get(path)
                    assert time.monotonic() - started < 5, f"{path} waited past the pool timeout"
            finally:
                reader.close()
                await lock.close()  # the lock goes with it: the waiting zone lists are answered
            assert [(await w).status_code for w in waiting] == [200, 200]
            for path, r in answers.items():
                assert r.status_code == 503, (path, r.text)
                assert r.headers["retry-after"] == "5"
                if path.startswith("/wfs"):
                    assert "ExceptionReport" in r.text and "SERVICE_UNAVAILABLE" in r.text
                else:
                    assert r.headers["content-type"] == "application/problem+json"
                    assert r.json()["code"] == "SERVICE_UNAVAILABLE"
            # The slow reader gone, its connection is back in the pool.
            assert await busy_backends(city_of_10000) == 0
            for path in ("/api/v1/parcels?limit=10", "/api/v1/zones?limit=10"):
                assert (await http.get(path)).status_code == 200


# ------------------------------------------------------------------------------------------ slowloris
def trickle(socks: list[socket.socket], request: bytes, until: float) -> list[float | None]:
    """Send `request` on each socket one byte a second; the seconds after which the server closed each."""
    started = time.monotonic()
    closed: list[float | None] = [None] * len(socks)
    for byte in request:
        for k, sock in enumerate(socks):
            if closed[k] is None and dropped_by_server(sock):
                closed[k] = time.monotonic() - started
            elif closed[k] is None:
                with contextlib.suppress(ConnectionError):
                    sock.send(bytes([byte]))
        if all(c is not None for c in closed) or time.monotonic() > until:
            break
        time.sleep(1)  # the client's pace, not a wait for an event
    return closed


def closed_by_server(sock: socket.socket) -> bool:
    """The server closes this connection within 5 s, without a word."""
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionError:
        return True


@pytest.mark.live
@pytest.mark.slow
def test_a_client_trickling_its_headers_is_closed_after_the_header_timeout(guarded):
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: a-very-slow-client\r\n\r\n"
    host, port = guarded.removeprefix("http://").split(":")
    # 29 connections that say nothing fill the places (limit 30: the last is the asker's own) …
    idle = [socket.create_connection((host, int(port))) for _ in range(29)]
    try:
        assert httpx.get(f"{guarded}/healthz", timeout=5).status_code == 503
        assert all(closed_by_server(sock) for sock in idle)  # … until the header timeout ends them
    finally:
        for sock in idle:
            sock.close()
    assert httpx.get(f"{guarded}/healthz", timeout=5).status_code == 200
    # A first request trickled, and a second one on a kept-alive connection after a whole request.
    with socket.create_connection((host, int(port))) as fresh, socket.create_connection((host, int(port))) as kept:
        kept.sendall(request)
        assert kept.recv(65536).startswith(b"HTTP/1.1 200")
        closed = trickle([fresh, kept], request, time.monotonic() + 10)
    assert all(c is not None and 1.5 < c < 5 for c in closed), closed


# ------------------------------------------------------------------------------------------ sessions
async def test_every_session_has_an_idle_in_transaction_timeout(engine):
    settings = make_settings(db_idle_in_transaction_timeout_ms=12_345)
    show = "SELECT setting FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'"
    api = Database(create_engine(settings), settings)
    batch = Database(create_engine(settings, statement_timeout_ms=3_600_000), settings)
    try:
        async with api.session() as session:
            assert await session.scalar(text(show)) == "12345"
        async with api.reader() as conn:
            assert await conn.fetchval(show) == "12345"
        async with batch.session() as session:  # a batch job may wait between statements as long as one runs
            assert await session.scalar(text(show)) == "3600000"
    finally:
        await api.dispose()
        await batch.dispose()


async def test_a_session_left_idle_in_a_transaction_is_ended_by_the_server(engine):
    settings = make_settings(db_idle_in_transaction_timeout_ms=1000)
    db = Database(create_engine(settings), settings)
    watcher = Database(create_engine(make_settings()))
    try:
        async with db.reader() as conn:
            await conn.execute("BEGIN")
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            deadline = time.monotonic() + 10
            gone = False
            while not gone and time.monotonic() < deadline:
                async with watcher.session() as session:
                    gone = not await session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"),
                                                    {"p": pid})
                await asyncio.sleep(0.1)
            assert gone
    finally:
        await db.dispose()
        await watcher.dispose()
