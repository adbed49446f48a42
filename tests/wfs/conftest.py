"""A real HTTP server (`landcycle serve`) on a free port over a committed test database, for the tests
that drive /wfs with clients nobody here wrote (GDAL, OWSLib, QGIS). Data is emptied afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.servers import LiveCity, seed_parcels, served_city

PAGE = 10  # the live server's CountDefault: QGIS and GDAL must page to see every parcel
LiveWfs = LiveCity  # url: …/wfs


@pytest.fixture(scope="module")
async def live_wfs(engine: Any) -> AsyncIterator[LiveWfs]:
    """The seeded city (31 parcels written through REST) served for real on a free port, CountDefault = PAGE."""
    async with served_city(LANDCYCLE_MAX_LIMIT=str(PAGE)) as base:
        yield LiveWfs(url=f"{base}/wfs", base=base, parcels=seed_parcels(base))
