"""The hot parcel reads (a page, one feature, the whole collection) as statements compiled once per shape.

The SQL is the one parcel query (`app/parcels/query.py`) with the GeoJSON encoder (`feature_text`);
only the compiling is remembered (app/prepared.py). The benchmark's raw-PostGIS baseline runs these very
statements through asyncpg, so the comparison is with the same SQL.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import BigInteger, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.expression import FromClause

from app.db import Database
from app.features.blocks import alternating, shared
from app.features.geojson import feature_text, prefetched, record_batches
from app.features.versions import CountCache, version_column
from app.parcels.query import ParcelQuery, count, parcel, property_columns, select_page, select_rows, where
from app.prepared import Compiled, StatementCache, compile_statement
from gis.crs import CrsRef

STATEMENTS = StatementCache()


def _statement(key: tuple[Any, ...], q: ParcelQuery, build: Any) -> Compiled:
    shape = q.shape()
    return compile_statement(build()) if shape is None else STATEMENTS.get((*key, shape), build)


def _encode(crs: CrsRef) -> Any:
    def encode(rows: FromClause) -> list[Any]:
        return [rows.c.id, feature_text(rows.c.id, rows.c.geom, crs, property_columns(rows))]

    return encode


def page_rows_statement(q: ParcelQuery, crs: CrsRef, *, keyset: bool) -> Compiled:
    """Rows `(id, feature)` of one page (streamed when large); values `page_values(...)`."""
    return _statement(("page", crs.srid, keyset), q, lambda: select_page(q, _encode(crs), keyset=keyset))


def page_statement(q: ParcelQuery, crs: CrsRef, *, keyset: bool) -> Compiled:
    """One row for a whole (small) page: `(collection version, returned, last id, features joined by
    commas)` — one value to receive instead of a row per feature, and the version the rows are of (one
    statement, one snapshot) for the ETag and the count cache; values `page_values(...)`."""
    def build() -> Any:
        rows = select_page(q, _encode(crs), keyset=keyset).subquery("features")
        joined = func.string_agg(rows.c.feature, aggregate_order_by(literal_column("','"), rows.c.id))
        return select(version_column("parcel"), func.count(), func.max(rows.c.id), joined)

    return _statement(("page-joined", crs.srid, keyset), q, build)


def count_statement(q: ParcelQuery) -> Compiled:
    """numberMatched; values `q.binds()`."""
    return _statement(("count",), q, lambda: count(q))


def feature_statement(q: ParcelQuery, crs: CrsRef) -> Compiled:
    """Rows `(version, feature)`; values `q.binds()`."""
    return _statement(("one", crs.srid), q,
                      lambda: select_rows(q, parcel.c.version,
                                          feature_text(parcel.c.id, parcel.c.geom, crs, property_columns())))


def all_statement(q: ParcelQuery, crs: CrsRef) -> Compiled:
    """Rows `(id, feature)` of every match in id order (the export stream); values `q.binds()`."""
    return _statement(("all", crs.srid), q, lambda: select_rows(
        q, parcel.c.id, feature_text(parcel.c.id, parcel.c.geom, crs, property_columns())))


def page_values(q: ParcelQuery, limit: int, offset: int, after: int | None) -> dict[str, Any]:
    """The values of `page_statement`: with `after`, the page starts after that id (offset only numbers)."""
    values = q.binds()
    values.update(limit=limit, offset=0 if after is not None else offset)
    if after is not None:
        values["after"] = after
    return values


@dataclass(frozen=True, slots=True)
class Page:
    """A page's features as one comma-joined text, how many, the id of the last (for `after`), and the
    version of the collection they were read at."""

    features: str
    returned: int
    last_id: int | None
    version: int


async def fetch_page(conn: asyncpg.Connection, q: ParcelQuery, crs: CrsRef, limit: int, offset: int,
                     after: int | None) -> Page:
    """One page (up to a few thousand features: it is received as one value)."""
    compiled = page_statement(q, crs, keyset=after is not None)
    args = compiled.args(page_values(q, limit, offset, after))
    version, returned, last_id, features = await conn.fetchrow(compiled.sql, *args)
    return Page(features or "", int(returned), last_id, int(version))


def known_total(limit: int, offset: int, after: int | None, returned: int) -> int | None:
    """numberMatched when the page itself tells it: a short page ends the matches (an empty one only at
    offset 0; with a client-made `after` cursor the offset is not trusted)."""
    if after is None and returned < limit and (returned > 0 or offset == 0):
        return offset + returned
    return None


async def count_matches(conn: asyncpg.Connection, q: ParcelQuery) -> int:
    """The exact number of matches."""
    compiled = count_statement(q)
    return int(await conn.fetchval(compiled.sql, *compiled.args(q.binds())))


async def fetch_feature(conn: asyncpg.Connection, q: ParcelQuery, crs: CrsRef) -> asyncpg.Record | None:
    """`(version, feature)` of the first match."""
    compiled = feature_statement(q, crs)
    return await conn.fetchrow(compiled.sql, *compiled.args(q.binds()))



async def cached_count(counts: CountCache, conn: asyncpg.Connection, version: int, q: ParcelQuery) -> int:
    """numberMatched, counted once per collection version and query (exact: every write bumps the version)."""
    shape = q.shape()
    if shape is None:
        return await count_matches(conn, q)
    key = ("parcel", version, shape, tuple(sorted(q.binds().items())))
    return await counts.get(key, lambda: count_matches(conn, q))


# The export: id blocks read by two connections in one snapshot, so PostgreSQL builds GeoJSON on two
# cores while the app sends (the feature SQL is the stream's floor: bench/RESULTS.md "REST API", profile-stream.svg).
_BLOCK_IDS = 4000
_READ_AHEAD = 2


def block_statement(q: ParcelQuery, crs: CrsRef) -> Compiled:
    """Rows `(id, feature)` with `lo < id <= hi`, in id order; values `q.binds()` + lo, hi."""
    def build() -> Any:
        stmt = select_rows(q, parcel.c.id, feature_text(parcel.c.id, parcel.c.geom, crs, property_columns()))
        return stmt.where(parcel.c.id > bindparam("lo", None, type_=BigInteger),
                          parcel.c.id <= bindparam("hi", None, type_=BigInteger))

    return _statement(("block", crs.srid), q, build)


def bounds_statement(q: ParcelQuery) -> Compiled:
    """`(min id, max id)` of the matches; values `q.binds()`."""
    return _statement(("bounds",), q, lambda: select(func.min(parcel.c.id), func.max(parcel.c.id))
                      .select_from(parcel).where(*where(q)))


Chunk = tuple[str, int, int | None]


async def export_chunks(db: Database, q: ParcelQuery, crs: CrsRef) -> AsyncGenerator[Chunk, None]:
    """Every match as `(features joined by commas, how many, last id)` chunks in id order. With a spare
    connection, two connections read alternate id blocks in one exported snapshot (app/features/blocks.py);
    without one (a busy pool, tests), one server-side cursor. Memory stays bounded either way."""
    async with db.reader() as first, db.spare_reader() as second:
        if second is None:
            compiled = all_statement(q, crs)
            batches = prefetched(record_batches(first, compiled.sql, compiled.args(q.binds()), 2000))
            async with aclosing(batches):  # its task ends before the connection goes back to the pool
                async for batch in batches:
                    yield ",".join([row[1] for row in batch]), len(batch), batch[-1][0]
            return
        async with first.transaction(isolation="repeatable_read", readonly=True), shared(first, second):
            bounds = bounds_statement(q)
            low, high = await first.fetchrow(bounds.sql, *bounds.args(q.binds()))
            if low is None:
                return

            async def read(conn: asyncpg.Connection, lo: int) -> Chunk:
                compiled = block_statement(q, crs)
                rows = await conn.fetch(compiled.sql, *compiled.args({**q.binds(), "lo": lo, "hi": lo + _BLOCK_IDS}))
                return ",".join([row[1] for row in rows]), len(rows), rows[-1][0] if rows else None

            chunks = alternating((first, second), list(range(low - 1, high, _BLOCK_IDS)), read, _READ_AHEAD)
            async with aclosing(chunks):  # its tasks end before the connections go back to the pool
                async for chunk in chunks:
                    if chunk[1]:
                        yield chunk
