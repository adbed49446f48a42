"""Real `landcycle serve` processes for tests whose clients talk HTTP (WFS clients, faults, fuzzing, browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.db import Database, create_engine
from tests import builders
from tests.conftest import TEST_URL, make_settings
from tests.waiting import wait_until


def free_port(ports: range | None = None) -> int:
    """A TCP port nobody listens on right now: any, or the first free one of `ports` (a suite's own range)."""
    for port in ports or (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}" if ports else "no free port")


def start_server(port: int, database_url: str = TEST_URL, **env: str) -> subprocess.Popen[bytes]:
    """`landcycle serve` on `database_url` (default: the test database), ready when /healthz answers."""
    exe = Path(sys.executable).parent / "landcycle"
    environ = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LANDCYCLE_SECRET_KEY": "live-test-key-for-the-suite-only-0123456789ab",
        "LANDCYCLE_LOG_JSON": "false",
        "LANDCYCLE_LOG_LEVEL": "warning",
        **env,
    }
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port)], env=environ, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 30, "the server to answer /healthz", interval=0.2)
    except AssertionError:
        proc.terminate()
        raise RuntimeError("server did not start in 30 s") from None
    return proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server this harness started (by its own handle)."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@asynccontextmanager
async def served_city(ports: range | None = None, **env: str) -> AsyncIterator[str]:
    """The test city (tests/builders.build_city) committed to the test database and served by a real
    `landcycle serve` (settings `env`) on a free port (of `ports`): yields its base URL. The data tables are
    emptied before and after."""
    database = Database(create_engine(make_settings(), pool_size=2))
    try:
        async with database.session() as session:
            await builders.truncate(session)
        await builders.build_city(database)
        port = free_port(ports)
        proc = start_server(port, **env)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            stop_server(proc)
            async with database.session() as session:
                await builders.truncate(session)
    finally:
        await database.dispose()


@dataclass
class LiveCity:
    """A served city: the endpoint under test (`url`), the server's base URL, the user the clients log in
    as, and the parcels seeded (their REST bodies, in id order)."""

    url: str
    base: str
    user: str = "bureau"
    password: str = builders.PASSWORD
    parcels: list[dict[str, Any]] = field(default_factory=list)

    def rest(self, path: str, **params: Any) -> Any:
        """GET the REST API as `user` (the reference the clients are held to)."""
        r = httpx.get(self.base + "/api/v1" + path, params=params, auth=(self.user, self.password), timeout=30)
        r.raise_for_status()
        return r.json()


# 31 parcels for the real clients (lon, lat, land use): twelve in the base zone (east), twelve in the
# community (west), five fragments, two offices.
CITY_PARCELS = (
    [(builders.BZ[0] + 0.004 + i * 0.003, builders.BZ[1] + 0.004 + j * 0.003, "industrial")
     for i in range(4) for j in range(3)]
    + [(builders.CZ[0] + 0.004 + i * 0.003, builders.CZ[1] + 0.004 + j * 0.003, "rnd")
       for i in range(4) for j in range(3)]
    + [(121.45 + i * 0.003, 31.2, "industrial") for i in range(5)]
    + [(121.36, 31.2, "office"), (121.37, 31.2, "office")]
)


def seed_parcels(base: str, prefix: str = "LIVE", user: str = "bureau") -> list[dict[str, Any]]:
    """CITY_PARCELS written through the REST API of a live server (codes `<prefix>-000` …, plot ratios
    1.0–1.6, offices 4.0): their REST bodies, in id order."""
    out = []
    with httpx.Client(base_url=base, auth=(user, builders.PASSWORD), timeout=30) as http:
        for n, (lon, lat, use) in enumerate(CITY_PARCELS):
            body = builders.feature(builders.square(lon, lat, 120), code=f"{prefix}-{n:03d}", land_use=use,
                                    plot_ratio=round(1.0 + (n % 7) / 10, 2) if use != "office" else 4.0)
            r = http.post("/api/v1/parcels", json=body)
            assert r.status_code == 201, r.text
            out.append(r.json())
    return out
