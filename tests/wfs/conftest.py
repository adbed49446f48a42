"""A real HTTP server (`landcycle serve`) on a free port over a committed test database, for the tests
that drive /wfs with clients nobody here wrote (GDAL, OWSLib, QGIS). Data is emptied afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.db import Database, create_engine
from tests import builders
from tests.builders import BZ, CZ, PASSWORD, square
from tests.conftest import TEST_URL, make_settings

PAGE = 10  # the live server's CountDefault: QGIS and GDAL must page to see every parcel


@dataclass
class LiveWfs:
    """A running server and what it serves."""

    url: str  # …/wfs
    base: str
    user: str = "bureau"
    password: str = PASSWORD
    parcels: list[dict[str, Any]] = field(default_factory=list)

    def rest(self, path: str, **params: Any) -> Any:
        """GET the REST API as the bureau user (the reference the clients are compared with)."""
        r = httpx.get(
            self.base + "/api/v1" + path, params=params, auth=(self.user, self.password), timeout=30
        )
        r.raise_for_status()
        return r.json()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, **env: str) -> subprocess.Popen[bytes]:
    """`landcycle serve` on the test database (DATABASE_URL = the test URL)."""
    exe = Path(sys.executable).parent / "landcycle"
    environ = {
        **os.environ,
        "DATABASE_URL": TEST_URL,
        "LANDCYCLE_SECRET_KEY": "live-test-key",
        "LANDCYCLE_LOG_JSON": "false",
        "LANDCYCLE_LOG_LEVEL": "warning",
        **env,
    }
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("server did not start in 30 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server this harness started (by its own handle)."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def _seed(live: LiveWfs) -> None:
    """31 parcels through the REST API: base (east), community (west), fragments, two offices."""
    spots = (
        [
            (BZ[0] + 0.004 + i * 0.003, BZ[1] + 0.004 + j * 0.003, "industrial")
            for i in range(4)
            for j in range(3)
        ]
        + [(CZ[0] + 0.004 + i * 0.003, CZ[1] + 0.004 + j * 0.003, "rnd") for i in range(4) for j in range(3)]
        + [(121.45 + i * 0.003, 31.2, "industrial") for i in range(5)]
        + [(121.36, 31.2, "office"), (121.37, 31.2, "office")]
    )
    with httpx.Client(base_url=live.base, auth=(live.user, live.password), timeout=30) as http:
        for n, (lon, lat, use) in enumerate(spots):
            body = builders.feature(
                square(lon, lat, 120),
                code=f"LIVE-{n:03d}",
                land_use=use,
                plot_ratio=round(1.0 + (n % 7) / 10, 2) if use != "office" else 4.0,
            )
            r = http.post("/api/v1/parcels", json=body)
            assert r.status_code == 201, r.text
            live.parcels.append(r.json())


@pytest.fixture(scope="module")
async def live_wfs(engine: Any) -> AsyncIterator[LiveWfs]:
    """The seeded city served for real on a free port, CountDefault = PAGE."""
    database = Database(create_engine(make_settings(), pool_size=2))
    async with database.session() as session:
        await builders.truncate(session)
    await builders.build_city(database)
    port = _free_port()
    proc = start_server(port, LANDCYCLE_MAX_LIMIT=str(PAGE))
    live = LiveWfs(url=f"http://127.0.0.1:{port}/wfs", base=f"http://127.0.0.1:{port}")
    try:
        _seed(live)
        yield live
    finally:
        stop_server(proc)
        async with database.session() as session:
            await builders.truncate(session)
        await database.dispose()
