"""The hot parcel reads (a page, one feature, the whole collection) as statements compiled once per shape.

The SQL is the one parcel query (`app/parcels/query.py`) with the GeoJSON encoder (`feature_text`);
only the compiling is remembered (app/prepared.py). The benchmark's raw-PostGIS baseline runs these very
statements through asyncpg, so the comparison is with the same SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy.sql.expression import FromClause

from app.features.geojson import feature_text
from app.features.versions import CountCache
from app.parcels.query import ParcelQuery, count, parcel, property_columns, select_page, select_rows
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


def page_statement(q: ParcelQuery, crs: CrsRef, *, keyset: bool) -> Compiled:
    """Rows `(id, feature)` of one page; values `q.binds()` + limit, offset (+ after when `keyset`)."""
    return _statement(("page", crs.srid, keyset), q, lambda: select_page(q, _encode(crs), keyset=keyset))


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


async def fetch_page(conn: asyncpg.Connection, q: ParcelQuery, crs: CrsRef, limit: int, offset: int,
                     after: int | None) -> Sequence[asyncpg.Record]:
    """One page of `(id, feature)` rows."""
    compiled = page_statement(q, crs, keyset=after is not None)
    return await conn.fetch(compiled.sql, *compiled.args(page_values(q, limit, offset, after)))


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
