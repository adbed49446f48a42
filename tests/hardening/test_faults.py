"""Faults: the database restarts under a running server; the server is killed mid-write."""

import asyncio
import contextlib
import os
import signal
import subprocess
import time

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
        assert statuses[-1] == 200 and 500 not in statuses
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
        assert proc.poll() is None  # never restarted
    finally:
        proc.kill()
        proc.wait()


def test_killing_the_server_mid_write_leaves_no_partial_state(cluster):
    zone_id = asyncio.run(_seed(cluster.url, 4000))
    proc, base = _serve(cluster.url)
    x0, y0 = CZ[0] + 0.04, CZ[1] + 0.04
    smaller = {"type": "Polygon", "coordinates": [[[x0, y0], [CZ[2], y0], [CZ[2], CZ[3]], [x0, CZ[3]], [x0, y0]]]}

    def shrink() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.patch(f"{base}/api/v1/zones/{zone_id}", json={"geometry": smaller}, headers=basic("bureau"),
                        timeout=60)

    import threading

    writer = threading.Thread(target=shrink)
    writer.start()
    # Kill -9 while the zone edit's transaction holds the zone's advisory lock (class 2): it has
    # begun writing and cannot have committed (the lock is released at commit).
    held = f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 2 AND objid = {int(zone_id)}"  # noqa: S608
    deadline = time.monotonic() + 30
    killed = False
    while time.monotonic() < deadline and not killed:
        out = subprocess.run(
            ["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-d", "landcycle",
             "-c", held],
            capture_output=True, text=True, check=False)
        if out.stdout.strip() not in ("", "0"):
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
        else:
            time.sleep(0.01)
    if not killed:
        proc.kill()
    writer.join()
    proc.wait()
    assert killed, "the write never reached the database"

    async def state() -> tuple[int, int, set[str], set[int]]:
        db = Database(create_engine(Settings(database_url=cluster.url, secret_key=FAULTS_KEY)))
        try:
            for _ in range(100):  # the backend notices its client died and rolls back
                async with db.session() as s:
                    busy = await s.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                               "'landcycle' AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"))
                if not busy:
                    break
                await asyncio.sleep(0.1)
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
    # All or nothing: either the zone edit and every reclassification landed, or none of it did.
    assert (zone_versions, tiers) in ((1, {"community"}), (2, {"community", "fragment"}))
