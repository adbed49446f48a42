"""Tiles read through a cache: a tile is known by (layer, collection version, z, x, y).

Every write to a collection bumps its version (migration 0001's triggers), so a version names one state
of the layer: its tiles never go stale, the ETag is the version and z/x/y, and a revalidation costs one
read of the counter — no tile SQL. Tile bytes are kept gzip-compressed (the whole-city tile: 350 KB → 93 KB),
compressed once when read instead of by the gzip middleware on every response.

A write invalidates exactly the tiles it touches: a tile cached at an older version is kept for the new one
when no write its snapshot did not see (`tile_change`, migration 0012: one row per writing statement, the
extent of the rows it changed) reaches the tile with its buffer — one indexed query on the node that serves
the read, instead of the tile's SQL. The answer comes from the database, so every worker behind a load
balancer (and every standby, which replays `tile_change` with the rows) agrees on it: no message to miss.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections import OrderedDict
from dataclasses import dataclass

import asyncpg

from app.errors import NotFound
from app.features.versions import collection_version
from app.tiles.layers import LAYERS, Layer
from gis.tiles import BUFFER, EXTENT, MAX_ZOOM, tile_exists

assert BUFFER / EXTENT == 0.015625  # the margin written in _CHANGED_SQL

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


# A cached tile is carried to a newer version only while `tile_change` still holds every write since it was
# built (the trigger prunes rows older than a day).
CARRY_SECONDS = 12 * 3600


@dataclass(slots=True)
class _Entry:
    version: int
    body: bytes
    gzipped: bool
    snapshot: str | None  # pg_current_snapshot() of the read that built it
    made: float


class TileCache:
    """An LRU of tile bodies bounded by their total size in bytes (per process): one entry per tile, filed
    under the version (and snapshot) it was built at."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[tuple[str, int, int, int], _Entry] = OrderedDict()
        self.carried = 0  # tiles kept across a write that did not touch them

    def get(self, key: tuple[str, int, int, int, int]) -> tuple[bytes, bool] | None:
        """The body of `key` (layer, version, z, x, y) and whether it is gzipped, or None."""
        layer, version, z, x, y = key
        found = self._items.get((layer, z, x, y))
        if found is None or found.version != version:
            return None
        self._items.move_to_end((layer, z, x, y))
        return found.body, found.gzipped

    def older(self, layer: str, version: int, z: int, x: int, y: int) -> _Entry | None:
        """The tile cached at a version before `version`, young enough to be checked for changes since."""
        found = self._items.get((layer, z, x, y))
        if found is None or found.version >= version or found.snapshot is None:
            return None
        if time.monotonic() - found.made > CARRY_SECONDS:
            return None
        return found

    def carry(self, entry: _Entry, version: int) -> None:
        """No write since `entry` was built touched it: it stands for `version` too."""
        entry.version = version
        self.carried += 1

    def put(self, key: tuple[str, int, int, int, int], body: bytes, gzipped: bool,
            snapshot: str | None = None) -> None:
        """Keep a body; the least recently used go when the total passes the bound (a body larger than the
        whole bound is not kept)."""
        if len(body) > self.max_bytes:
            return
        layer, version, z, x, y = key
        previous = self._items.pop((layer, z, x, y), None)
        if previous is not None:
            self.size -= len(previous.body)
        self._items[(layer, z, x, y)] = _Entry(version, body, gzipped, snapshot, time.monotonic())
        self.size += len(body)
        while self.size > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self.size -= len(old.body)

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


# Whether a write the snapshot did not see (or the reading transaction's own) reached the buffered tile
# (margin: BUFFER / EXTENT of the tile's side, as the tile statements read).
_CHANGED_SQL = """
SELECT EXISTS (
  SELECT 1 FROM tile_change
  WHERE collection = $1 AND xid >= pg_snapshot_xmin($2::text::pg_snapshot)
    AND (NOT pg_visible_in_snapshot(xid, $2::text::pg_snapshot) OR xid = pg_current_xact_id_if_assigned())
    AND (bbox IS NULL OR bbox && ST_Transform(ST_TileEnvelope($3, $4, $5, margin => 0.015625), 4490)))
"""


async def untouched(conn: asyncpg.Connection, layer: Layer, snapshot: str, z: int, x: int, y: int) -> bool:
    """Whether no write since `snapshot` changed a row inside tile z/x/y (with its buffer)."""
    return not await conn.fetchval(_CHANGED_SQL, layer.collection, snapshot, z, x, y)


async def read_tile(conn: asyncpg.Connection, cache: TileCache, layer: Layer, version: int, z: int, x: int,
                    y: int) -> Tile:
    """The tile at `version` from the cache (or cached at an older version that no write since has touched),
    else built by PostGIS (then filed under the version its rows were read at, which a concurrent write may
    have moved on)."""
    found = cache.get((layer.name, version, z, x, y))
    if found is not None:
        return Tile(found[0], found[1], tile_etag(layer, version, z, x, y))
    older = cache.older(layer.name, version, z, x, y)
    if older is not None and older.snapshot is not None and await untouched(conn, layer, older.snapshot, z, x, y):
        cache.carry(older, version)
        return Tile(older.body, older.gzipped, tile_etag(layer, version, z, x, y))
    compiled = layer.statement(z)
    # A statement of its own per tile, run to completion: PostgreSQL then plans it for this tile's values
    # and may aggregate in parallel (ST_AsMVT has a combine function), which a whole-city tile gains from.
    # asyncpg's cached statement would turn generic after five runs (a 10-row guess for every tile, no
    # parallel plan) and `fetchrow`'s row limit forbids parallel workers (bench/RESULTS.md, Vector tiles).
    statement = await conn.prepare(compiled.sql)
    row = (await statement.fetch(*compiled.args({"z": z, "x": x, "y": y})))[0]
    read_at, data = int(row[0]), bytes(row[1] or b"")
    body, gzipped = await _compress(data)
    cache.put((layer.name, read_at, z, x, y), body, gzipped, row[2])
    return Tile(body, gzipped, tile_etag(layer, read_at, z, x, y))


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, 1, mtime=0)  # level 1: 5 MB in 40 ms, within 10 % of level 5's size


async def _compress(data: bytes) -> tuple[bytes, bool]:
    if len(data) < COMPRESS_FROM:
        return data, False
    if len(data) < COMPRESS_OFF_LOOP:
        return _gzip(data), True
    return await asyncio.to_thread(_gzip, data), True
