"""The measurements: one client (aiohttp, no compression) against each server, and the raw-PostGIS
baseline running Landcycle's own SQL through asyncpg in this process.

Every function returns a plain dict: `seconds` for a whole-collection case, `rps`/`p50_ms`/`p99_ms` for a
load case, and the counts it saw so the runner can check all servers returned the same rows.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import asyncpg
import orjson

from app.features.geojson import collection_head, collection_tail, record_batches
from app.parcels.query import ParcelQuery
from app.parcels.reads import (
    count_matches,
    export_chunks,
    fetch_feature,
    fetch_page,
    known_total,
    page_rows_statement,
    page_values,
)
from app.parcels.routes import STREAM_ABOVE
from gis.crs import STORAGE

HEADERS = {"Accept-Encoding": "identity", "Accept": "application/geo+json, application/json"}
TIMEOUT = aiohttp.ClientTimeout(total=900)


def session(concurrency: int) -> aiohttp.ClientSession:
    """A keep-alive client session for `concurrency` parallel requests, compression off for all servers."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, force_close=False)
    return aiohttp.ClientSession(connector=connector, headers=HEADERS, timeout=TIMEOUT, auto_decompress=False)


# ------------------------------------------------------------------------------------------------ HTTP
_FEATURE = re.compile(rb'"Feature"')


async def http_stream(http: aiohttp.ClientSession, url: str, validate: bool = False) -> dict[str, Any]:
    """One GET of a whole collection, read to the end in 1 MB pieces; with `validate`, the Features are
    counted on the fly (`"Feature"` tokens; a 16-byte overlap covers tokens cut between pieces)."""
    started = time.perf_counter()
    size = features = 0
    tail = b""
    async with http.get(url) as response:
        response.raise_for_status()
        async for chunk in response.content.iter_chunked(1 << 20):
            size += len(chunk)
            if validate:
                window = tail + chunk
                features += len(_FEATURE.findall(window)) - len(_FEATURE.findall(tail))
                tail = window[-16:]
    result: dict[str, Any] = {"seconds": time.perf_counter() - started, "bytes": size}
    if validate:
        result["features"] = features
    return result


_LINK = re.compile(rb'\{[^{}]*"rel"\s*:\s*"next"[^{}]*\}')
_RETURNED = re.compile(rb'"numberReturned"\s*:\s*(\d+)')


def _next_link(raw: bytes) -> str | None:
    """The `next` link of a page, found without parsing the features (link objects are flat; the raw
    baseline does not parse its pages either, so neither does the client)."""
    found = _LINK.search(raw)
    return str(orjson.loads(found.group(0))["href"]) if found else None


def _returned(raw: bytes) -> int:
    found = _RETURNED.search(raw)
    return int(found.group(1)) if found else len(orjson.loads(raw)["features"])


async def http_pages(http: aiohttp.ClientSession, url: str, time_limit: float) -> dict[str, Any]:
    """Follow `next` links from `url` to the last page (or until `time_limit` seconds have passed)."""
    started = time.perf_counter()
    pages = features = size = 0
    next_url: str | None = url
    while next_url:
        async with http.get(next_url) as response:
            response.raise_for_status()
            raw = await response.read()
        size += len(raw)
        returned = _returned(raw)
        pages += 1
        features += returned
        next_url = _next_link(raw) if returned else None
        if time.perf_counter() - started > time_limit:
            break
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "pages": pages, "features": features, "bytes": size, "complete": next_url is None}


async def _load(call: Callable[[int], Awaitable[None]], jobs: int, concurrency: int,
                duration: float) -> dict[str, Any]:
    """Run `call(i)` for i = 0… from `concurrency` workers until `duration` seconds pass."""
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal counter, errors
        while time.perf_counter() < deadline:
            i = counter
            counter += 1
            t0 = time.perf_counter()
            try:
                await call(i % jobs)
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(n - 1, int(p * n))] * 1000 if n else float("nan")

    return {"requests": n, "errors": errors, "seconds": elapsed, "rps": n / elapsed if elapsed else 0.0,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99)}


async def http_load(http: aiohttp.ClientSession, urls: list[str], concurrency: int,
                    duration: float) -> dict[str, Any]:
    """GET the urls round-robin from `concurrency` workers for `duration` seconds."""

    async def call(i: int) -> None:
        async with http.get(urls[i]) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")

    return await _load(call, len(urls), concurrency, duration)


async def http_count(http: aiohttp.ClientSession, url: str) -> int:
    """How many features one response holds (1 for a single Feature)."""
    async with http.get(url) as response:
        response.raise_for_status()
        body = orjson.loads(await response.read())
    return len(body["features"]) if "features" in body else int(body.get("type") == "Feature")


# ------------------------------------------------------------------------------------------------- raw
class Raw:
    """The raw-PostGIS baseline: Landcycle's statements (app/parcels/reads.py) on a plain asyncpg pool,
    the rows joined into the same bytes a server would send, no HTTP."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.pool: asyncpg.Pool | None = None

    async def open(self, size: int) -> None:
        """A pool of `size` connections."""
        self.pool = await asyncpg.create_pool(self._url, min_size=size, max_size=size,
                                              server_settings={"jit": "off"})

    async def close(self) -> None:
        """Close the pool."""
        if self.pool:
            await self.pool.close()

    def _pool(self) -> asyncpg.Pool:
        assert self.pool is not None
        return self.pool

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[asyncpg.Connection]:
        """Database.reader() on the raw pool (so Landcycle's read functions run unchanged)."""
        async with self._pool().acquire() as conn:
            yield conn

    @asynccontextmanager
    async def spare_reader(self) -> AsyncIterator[asyncpg.Connection | None]:
        """Database.spare_reader() on the raw pool."""
        async with self._pool().acquire() as conn:
            yield conn

    async def stream(self) -> dict[str, Any]:
        """Every current parcel as one FeatureCollection: the export's statements and reading (id blocks
        on two connections in one snapshot), the chunks joined into bytes."""
        started = time.perf_counter()
        q = ParcelQuery()
        async with self._pool().acquire() as conn:
            size = len(collection_head(await count_matches(conn, q)))
        returned = 0
        async for text, count, _ in export_chunks(self, q, STORAGE):  # type: ignore[arg-type]
            size += len(text.encode()) + 1
            returned += count
        size += len(collection_tail(returned, []))
        return {"seconds": time.perf_counter() - started, "bytes": size, "features": returned}

    async def pages(self, limit: int) -> dict[str, Any]:
        """Every current parcel a page at a time, keyset (`id > last`), the count once — the statements
        Landcycle runs: one joined row per page up to 1,000, rows through a cursor above."""
        started = time.perf_counter()
        q = ParcelQuery()
        pages = features = size = 0
        after: int | None = None
        async with self._pool().acquire() as conn:
            matched = await count_matches(conn, q)
            while True:
                if limit <= STREAM_ABOVE:
                    page = await fetch_page(conn, q, STORAGE, limit, features, after)
                    size += len(page.features.encode())
                    returned, last = page.returned, page.last_id
                else:
                    compiled = page_rows_statement(q, STORAGE, keyset=after is not None)
                    returned, last = 0, None
                    args = compiled.args(page_values(q, limit, features, after))
                    async for batch in record_batches(conn, compiled.sql, args, 2000):
                        size += len(",".join([row[1] for row in batch]).encode())
                        returned += len(batch)
                        last = batch[-1][0]
                pages += 1
                features += returned
                if returned < limit or features >= matched:
                    break
                after = last
        return {"seconds": time.perf_counter() - started, "pages": pages, "features": features, "bytes": size,
                "complete": True}

    async def bbox_load(self, boxes: list[tuple[float, float, float, float]], concurrency: int,
                        duration: float) -> dict[str, Any]:
        """A bbox page of up to 1,000 features per call, counted only when the page does not tell the count
        (Landcycle's statements and logic, without the collection-version read it makes for its ETag)."""

        async def call(i: int) -> None:
            q = ParcelQuery(bbox=boxes[i])
            async with self._pool().acquire() as conn:
                page = await fetch_page(conn, q, STORAGE, 1000, 0, None)
                if known_total(1000, 0, None, page.returned) is None:
                    await count_matches(conn, q)
            page.features.encode()

        return await _load(call, len(boxes), concurrency, duration)

    async def bbox_count(self, box: tuple[float, float, float, float]) -> int:
        """Features of one bbox page."""
        async with self._pool().acquire() as conn:
            return (await fetch_page(conn, ParcelQuery(bbox=box), STORAGE, 1000, 0, None)).returned

    async def id_load(self, ids: list[int], concurrency: int, duration: float) -> dict[str, Any]:
        """One feature by id per call."""

        async def call(i: int) -> None:
            async with self._pool().acquire() as conn:
                row = await fetch_feature(conn, ParcelQuery(ids=[ids[i]]), STORAGE)
            if row is None:
                raise RuntimeError("missing")
            row[1].encode()

        return await _load(call, len(ids), concurrency, duration)
