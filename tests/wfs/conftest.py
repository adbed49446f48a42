"""A real HTTP server (`landcycle serve`) on a free port over a committed test database, for the tests
that drive /wfs with clients nobody here wrote (GDAL, OWSLib, QGIS). Data is emptied afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from app.db import Database, create_engine
from tests import builders
from tests.builders import BZ, CZ, PASSWORD, square
from tests.conftest import make_settings
from tests.servers import free_port as _free_port
from tests.servers import start_server, stop_server

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
