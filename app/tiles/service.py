"""Tiles read through a cache: a tile is known by (layer, collection version, z, x, y).

Every write to a collection bumps its version (migration 0001's triggers), so a version names one state
of the layer: its tiles never go stale, the ETag is the version and z/x/y, and a revalidation costs one
read of the counter — no tile SQL. Tile bytes are kept gzip-compressed (the whole-city tile: 350 KB → 93 KB),
compressed once when read instead of by the gzip middleware on every response.
"""

from __future__ import annotations

import asyncio
import gzip
from collections import OrderedDict
from dataclasses import dataclass

import asyncpg

from app.errors import NotFound
from app.features.versions import collection_version
from app.tiles.layers import LAYERS, Layer
from gis.tiles import MAX_ZOOM, tile_exists

# Responses below this stay uncompressed (as GZipMiddleware's minimum); above COMPRESS_OFF_LOOP the
# compression runs in a thread (zlib releases the GIL), so one large tile does not stall other requests.
COMPRESS_FROM = 1024
COMPRESS_OFF_LOOP = 256 * 1024
SCHEMA = 3  # bump when the layers' properties change: browsers then drop the tiles they revalidate


@dataclass(frozen=True, slots=True)
class Tile:
    """A tile's body as stored (gzip when `gzipped`; empty for a tile without features) and its ETag."""

    body: bytes
    gzipped: bool
    etag: str

    @property
    def empty(self) -> bool:
        """No feature in the tile (answered 204)."""
        return not self.body

    def identity(self) -> bytes:
        """The uncompressed bytes."""
        return gzip.decompress(self.body) if self.gzipped else self.body


class TileCache:
    """An LRU of tile bodies bounded by their total size in bytes (per process)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[tuple[str, int, int, int, int], tuple[bytes, bool]] = OrderedDict()

    def get(self, key: tuple[str, int, int, int, int]) -> tuple[bytes, bool] | None:
        """The body of `key` and whether it is gzipped, or None."""
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: tuple[str, int, int, int, int], body: bytes, gzipped: bool) -> None:
        """Keep a body; the least recently used go when the total passes the bound (a body larger than the
        whole bound is not kept)."""
        if len(body) > self.max_bytes:
            return
        previous = self._items.pop(key, None)
        if previous is not None:
            self.size -= len(previous[0])
        self._items[key] = (body, gzipped)
        self.size += len(body)
        while self.size > self.max_bytes:
            _, (old, _) = self._items.popitem(last=False)
            self.size -= len(old)

    def __len__(self) -> int:
        return len(self._items)


def find_layer(name: str, z: int, x: int, y: int) -> Layer:
    """The layer of a tile URL; NOT_FOUND for an unknown layer or a tile outside the pyramid."""
    layer = LAYERS.get(name)
    if layer is None:
        raise NotFound(f"no tile layer of that name; the layers are {', '.join(LAYERS)}")
    if not tile_exists(z, x, y):
        raise NotFound(f"no tile {z}/{x}/{y}: zoom runs 0–{MAX_ZOOM}, x and y 0 to 2^zoom − 1", z=z, x=x, y=y)
    return layer


def tile_etag(layer: Layer, version: int, z: int, x: int, y: int) -> str:
    """A weak ETag: the layer, its collection version and the tile."""
    return f'W/"{layer.name}.{SCHEMA}.{version}.{z}.{x}.{y}"'


async def current_etag(conn: asyncpg.Connection, layer: Layer, z: int, x: int, y: int) -> tuple[int, str]:
    """The layer's collection version now and the tile's ETag at it (no tile SQL)."""
    version = await collection_version(conn, layer.collection)
    return version, tile_etag(layer, version, z, x, y)


async def read_tile(conn: asyncpg.Connection, cache: TileCache, layer: Layer, version: int, z: int, x: int,
                    y: int) -> Tile:
    """The tile at `version` from the cache, else built by PostGIS (then filed under the version its rows
    were read at, which a concurrent write may have moved on)."""
    found = cache.get((layer.name, version, z, x, y))
    if found is not None:
        return Tile(found[0], found[1], tile_etag(layer, version, z, x, y))
    compiled = layer.statement(z)
    # A statement of its own per tile, run to completion: PostgreSQL then plans it for this tile's values
    # and may aggregate in parallel (ST_AsMVT has a combine function), which a whole-city tile gains from.
    # asyncpg's cached statement would turn generic after five runs (a 10-row guess for every tile, no
    # parallel plan) and `fetchrow`'s row limit forbids parallel workers (bench/RESULTS.md, Vector tiles).
    statement = await conn.prepare(compiled.sql)
    row = (await statement.fetch(*compiled.args({"z": z, "x": x, "y": y})))[0]
    read_at, data = int(row[0]), bytes(row[1] or b"")
    body, gzipped = await _compress(data)
    cache.put((layer.name, read_at, z, x, y), body, gzipped)
    return Tile(body, gzipped, tile_etag(layer, read_at, z, x, y))


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, 1, mtime=0)  # level 1: 5 MB in 40 ms, within 10 % of level 5's size


async def _compress(data: bytes) -> tuple[bytes, bool]:
    if len(data) < COMPRESS_FROM:
        return data, False
    if len(data) < COMPRESS_OFF_LOOP:
        return _gzip(data), True
    return await asyncio.to_thread(_gzip, data), True
