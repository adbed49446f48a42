"""Faults: the database restarts under a running server; the server is killed mid-write."""

import asyncio
import contextlib
import os
import signal
import subprocess
import threading

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from app import migrate
from app.auth.permissions import Actor
from app.db import Database, create_engine
from app.parcels.bulk import bulk_create
from app.parcels.service import ParcelDraft
from app.settings import Settings
from gis.geometry import as_multipolygon
from tests import pgcluster
from tests.builders import CZ, basic, build_city
from tests.servers import free_port, start_server
from tests.waiting import wait_until

FAULTS_KEY = "faults-test-key-for-the-suite-only-0123456789"

pytestmark = [pytest.mark.live, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster():
    made = pgcluster.create()
    if made is None:
        pytest.skip("PostgreSQL with PostGIS binaries is not installed here")
    migrate.upgrade(Settings(database_url=made.url).async_database_url)
    yield made
    pgcluster.destroy(made)


def _serve(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    return start_server(port, database_url=url, LANDCYCLE_SECRET_KEY=FAULTS_KEY, LANDCYCLE_DB_POOL_SIZE="4"), \
        f"http://127.0.0.1:{port}"


async def _seed(url: str, parcels: int) -> int:
    """Reset the database to the test city with `parcels` parcels in its community zone; its id."""
    settings = Settings(database_url=url, secret_key=FAULTS_KEY)
    db = Database(create_engine(settings, statement_timeout_ms=0))
    try:
        async with db.session() as session:
            await session.execute(text("TRUNCATE parcel, zone, district, app_user RESTART IDENTITY CASCADE"))
        city = await build_city(db)
        drafts = []
        side = int(parcels ** 0.5) + 1
        for i in range(parcels):
            x = CZ[0] + 0.001 + (i % side) * 0.0005
            y = CZ[1] + 0.001 + (i // side) * 0.0005
            from shapely.geometry import box

            drafts.append(ParcelDraft(code=f"K-{i}", land_use="industrial",
                                      geom=as_multipolygon(box(x, y, x + 0.0003, y + 0.0003))))
        async with db.session() as session:
            result = await bulk_create(session, Actor(1, "bureau", "bureau"), settings.policy, drafts)
            assert not result.refused
        return city.community_zone_id
    finally:
        await db.dispose()


def test_requests_fail_cleanly_while_the_database_is_down_and_succeed_after(cluster):
    asyncio.run(_seed(cluster.url, 10))
    proc, base = _serve(cluster.url)
    try:
        auth = basic("bureau")
        assert httpx.get(f"{base}/api/v1/parcels?limit=1", headers=auth, timeout=10).status_code == 200
        cluster.stop()
        down = httpx.get(f"{base}/api/v1/parcels?limit=1", headers=auth, timeout=30)
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert down.json()["code"] == "SERVICE_UNAVAILABLE"
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 503
        cluster.start()
        statuses = [httpx.get(f"{base}/api/v1/parcels?limit=1", headers=auth, timeout=30).status_code
                    for _ in range(3)]
        assert statuses == [200, 200, 200]  # the pools reconnect: the first request after the restart succeeds
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
        assert proc.poll() is None  # never restarted
    finally:
        proc.kill()
        proc.wait()


def _hold_parcel_table(url: str, locked: threading.Event, release: threading.Event) -> None:
    """In a transaction of its own: `parcel` locked in SHARE mode (reads pass, writes wait) until `release`."""

    async def hold() -> None:
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE parcel IN SHARE MODE")
                locked.set()
                await asyncio.to_thread(release.wait, 120)
        finally:
            await conn.close()

    asyncio.run(hold())


def test_killing_the_server_mid_write_leaves_no_partial_state(cluster):
    zone_id = asyncio.run(_seed(cluster.url, 4000))
    proc, base = _serve(cluster.url)
    x0, y0 = CZ[0] + 0.04, CZ[1] + 0.04
    smaller = {"type": "Polygon", "coordinates": [[[x0, y0], [CZ[2], y0], [CZ[2], CZ[3]], [x0, CZ[3]], [x0, y0]]]}

    def shrink() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.patch(f"{base}/api/v1/zones/{zone_id}", json={"geometry": smaller}, headers=basic("bureau"),
                        timeout=60)

    # Our own transaction holds `parcel` in SHARE mode: the zone edit writes the zone's new version, then
    # waits for the table to reclassify its parcels. Kill -9 then: mid-write, and provably not committed.
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_parcel_table, args=(cluster.url, locked, release))
    holder.start()
    writer = threading.Thread(target=shrink)
    try:
        assert locked.wait(30), "the test's lock on parcel was not granted"
        writer.start()
        waiting = ("SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND relation = 'parcel'::regclass "
                   "AND NOT granted")

        def blocked() -> bool:
            out = subprocess.run(
                ["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-d",
                 "landcycle", "-c", waiting],
                capture_output=True, text=True, check=False)
            return out.stdout.strip() not in ("", "0")

        wait_until(blocked, 30, "the zone edit to wait for the parcel table")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        release.set()  # the backend goes on, finds its client gone and rolls back
        holder.join()
        if writer.is_alive():
            writer.join()
        proc.wait()

    async def state() -> tuple[int, int, set[str], set[int]]:
        db = Database(create_engine(Settings(database_url=cluster.url, secret_key=FAULTS_KEY)))
        try:
            async def settled() -> bool:  # the backend notices its client died and rolls back
                async with db.session() as s:
                    return not await s.scalar(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'landcycle' "
                        "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"))

            await wait_until(settled, 10, "the dead server's transaction to roll back", interval=0.1)
            async with db.session() as s:
                zone_versions = await s.scalar(text("SELECT count(*) FROM zone WHERE id = :z"), {"z": zone_id})
                current = await s.scalar(text("SELECT count(*) FROM zone WHERE id = :z AND valid_to IS NULL"),
                                         {"z": zone_id})
                tiers = set(await s.scalars(text("SELECT DISTINCT tier FROM parcel WHERE valid_to IS NULL")))
                per_parcel = set(await s.scalars(text(
                    "SELECT count(*) FROM parcel WHERE valid_to IS NULL GROUP BY id")))
                return zone_versions, current, tiers, per_parcel
        finally:
            await db.dispose()

    zone_versions, current, tiers, per_parcel = asyncio.run(state())
    assert current == 1 and per_parcel == {1}
    # All or nothing, and here nothing: neither the zone's new version nor any reclassification landed.
    assert (zone_versions, tiers) == (1, {"community"})
