"""Reads on a real streaming standby (docs/DEPLOYMENT.md): a primary and a `pg_basebackup -R` hot standby on
loopback, two `landcycle serve` workers with DATABASE_REPLICA_URLS. Reads are served by the standby, an edit
is visible to its author at once on either worker (REST and WFS), a tile cached by the other worker follows
the edit, and stopping the standby mid-run fails no request."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import httpx
import pytest

from app import migrate
from app.db import Database, create_engine
from app.settings import Settings
from tests import builders, pgcluster
from tests.servers import free_port, start_server, stop_server
from tests.waiting import wait_until

pytestmark = [pytest.mark.live, pytest.mark.slow]

KEY = "replica-test-key-for-the-suite-only-0123456789"
AUTH = ("bureau", builders.PASSWORD)


@pytest.fixture(scope="module")
def clusters():
    primary = pgcluster.create(replication=True)
    if primary is None:
        pytest.skip("PostgreSQL with PostGIS binaries is not installed here")
    try:
        migrate.upgrade(Settings(database_url=primary.url).async_database_url)
        asyncio.run(_seed(primary.url))
        standby = pgcluster.add_standby(primary)
        try:
            yield primary, standby
        finally:
            pgcluster.destroy(standby)
    finally:
        pgcluster.destroy(primary)


async def _seed(url: str) -> None:
    db = Database(create_engine(Settings(database_url=url, secret_key=KEY), pool_size=2))
    try:
        await builders.build_city(db)
    finally:
        await db.dispose()


def _healthy(base: str) -> bool:
    replicas = httpx.get(base + "/healthz", timeout=5).json().get("replicas", [])
    return bool(replicas) and all(r["healthy"] for r in replicas)


def _wfs(base: str, **params: str) -> httpx.Response:
    query = {"service": "WFS", "version": "2.0.0", "request": "GetFeature", "typenames": "landcycle:parcels",
             "outputFormat": "application/json", **params}
    return httpx.get(base + "/wfs", params=query, auth=AUTH, timeout=30)


def _tile(lon: float, lat: float, z: int) -> str:
    n = 2 ** z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return f"/tiles/parcels/{z}/{int((lon + 180) / 360 * n)}/{int(y)}.mvt"


def test_reads_on_the_standby_writes_visible_to_their_author_and_a_standby_stopped_mid_run(clusters):
    primary, standby = clusters
    node = f"127.0.0.1:{standby.port}"
    env = {"DATABASE_REPLICA_URLS": standby.url, "LANDCYCLE_SECRET_KEY": KEY, "LANDCYCLE_DB_POOL_SIZE": "4",
           "LANDCYCLE_REPLICA_CHECK_SECONDS": "0.3"}
    servers = [start_server(free_port(), database_url=primary.url, **env) for _ in range(2)]
    try:
        a, b = (f"http://127.0.0.1:{s.args[-1]}" for s in servers)
        for base in (a, b):
            wait_until(lambda base=base: _healthy(base), 20, "the standby to be healthy", interval=0.2)

        # A parcel written on worker A; reads of another user (not its author) come from the standby.
        body = builders.feature(builders.square(builders.BZ[0] + 0.004, builders.BZ[1] + 0.004, 120),
                                code="R-1", land_use="industrial", plot_ratio=1.2)
        created = httpx.post(a + "/api/v1/parcels", json=body, auth=AUTH, timeout=30)
        assert created.status_code == 201, created.text
        pid = created.json()["id"]
        # The author reads its write at once, on the other worker too (REST and WFS).
        for base in (a, b):
            got = httpx.get(f"{base}/api/v1/parcels/{pid}", auth=AUTH, timeout=30)
            assert got.status_code == 200, got.text
        replayed = f"SELECT count(*) FROM parcel WHERE id = {int(pid)}"  # noqa: S608 — an int
        wait_until(lambda: standby.query(replayed) == "1", 10, "the standby to replay the write")
        time.sleep(1.0)  # the workers' next checks see the standby past the write
        listing = httpx.get(a + "/api/v1/parcels", auth=("officer.east", builders.PASSWORD), timeout=30)
        assert listing.status_code == 200, listing.text
        assert listing.headers["landcycle-node"] == node
        wfs = _wfs(b, resourceId=f"parcels.{pid}")
        assert wfs.status_code == 200, wfs.text
        assert wfs.headers["landcycle-node"] == node

        # A tile cached by worker B follows an edit made on worker A.
        tile = _tile(builders.BZ[0] + 0.005, builders.BZ[1] + 0.005, 14)
        before = httpx.get(b + tile, auth=AUTH, timeout=30)
        assert before.status_code == 200, before.text
        for n in range(5):  # several edits, each read back at once by its author on the other worker
            ratio = round(1.3 + n / 10, 2)
            etag = httpx.get(f"{a}/api/v1/parcels/{pid}", auth=AUTH, timeout=30).headers["etag"]
            edit = httpx.patch(f"{a}/api/v1/parcels/{pid}", json={"properties": {"plot_ratio": ratio}},
                               headers={"If-Match": etag}, auth=AUTH, timeout=30)
            assert edit.status_code == 200, edit.text
            # Revalidating the version before the edit, on the other worker: the new one, never a stale 304.
            seen = httpx.get(f"{b}/api/v1/parcels/{pid}", auth=AUTH, timeout=30, headers={"If-None-Match": etag})
            assert seen.status_code == 200 and seen.headers["etag"] != etag
            assert seen.json()["properties"]["plot_ratio"] == ratio, seen.headers.get("landcycle-node")
            wfs = _wfs(b, resourceId=f"parcels.{pid}")
            assert wfs.json()["features"][0]["properties"]["plot_ratio"] == ratio
        after = httpx.get(b + tile, auth=AUTH, timeout=30, headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]

        # The standby stops while two clients read on both workers: no request fails.
        failures: list[str] = []
        answered = [0]
        stop = threading.Event()

        wfs_page = "/wfs?service=WFS&version=2.0.0&request=GetFeature&typenames=landcycle:parcels&count=20"

        def read(base: str) -> None:
            with httpx.Client(base_url=base, auth=("officer.east", builders.PASSWORD), timeout=30) as http:
                while not stop.is_set():
                    for path in ("/api/v1/parcels?limit=50", f"/api/v1/parcels/{pid}", tile, wfs_page):
                        try:
                            r = http.get(path)
                        except httpx.HTTPError as exc:  # a response cut off counts as failed too
                            failures.append(f"{path}: {type(exc).__name__} {exc}")
                            continue
                        answered[0] += 1
                        if r.status_code not in (200, 204):
                            failures.append(f"{path}: {r.status_code} {r.text[:200]}")

        readers = [threading.Thread(target=read, args=(base,)) for base in (a, b, a, b)]
        for t in readers:
            t.start()
        time.sleep(1.5)
        served = sum(httpx.get(base + "/healthz", timeout=5).json()["replicas"][0]["reads"] for base in (a, b))
        assert served > 20  # the standby was serving the readers when it stopped
        standby.stop()
        time.sleep(2.0)
        stop.set()
        for t in readers:
            t.join(timeout=60)
        assert not failures, failures[:5]
        assert answered[0] > 40
        replicas = httpx.get(a + "/healthz", timeout=5).json()["replicas"]
        assert replicas[0]["healthy"] is False
        fallback = httpx.get(a + "/api/v1/parcels", auth=AUTH, timeout=30)
        assert fallback.status_code == 200 and fallback.headers["landcycle-node"] == "primary"
    finally:
        for s in servers:
            stop_server(s)
