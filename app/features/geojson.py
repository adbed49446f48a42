"""GeoJSON Features and FeatureCollections built as text by PostGIS and streamed (STYLE habit 4).

Per-feature Python work is what makes peer servers slow (bench/RESULTS.md "REST API": tipg and pygeoapi
spend 17–20 s of CPU per 100,000-feature stream, Landcycle 0.3 s): here each row
arrives as finished JSON text and is only joined and sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import ColumnElement, Select, Text, cast, func, literal_column
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db import Database
from app.responses import dumps
from gis.crs import CrsRef
from gis.sql import geojson

T = TypeVar("T")
_CHUNK_ROWS = 500
_STREAM_ROWS = 2000  # ~2 MB of GeoJSON per chunk: few sends, flat memory


_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def properties_parts(properties: Sequence[tuple[str, ColumnElement[Any]]]) -> list[Any]:
    """The members of a properties object as pieces for `concat`: compact JSON, each value through
    `to_json` (numbers bare, text escaped, timestamps ISO 8601), SQL NULL as `null`. Cheaper for
    PostgreSQL than `json_build_object` (which looks up each argument's type on every row) and ~10 %
    smaller (no blanks around colons)."""
    parts: list[Any] = []
    for i, (name, column) in enumerate(properties):
        if not _NAME.match(name):  # names become SQL literals: identifiers only
            raise ValueError(f"not a property name: {name!r}")
        parts.append(literal_column(f"""'{"," if i else ""}"{name}":'"""))
        parts.append(func.coalesce(cast(func.to_json(column), Text), literal_column("'null'")))
    return parts


def feature_text(id_column: Any, geom: Any, crs: CrsRef,
                 properties: Sequence[tuple[str, ColumnElement[Any]]]) -> ColumnElement[str]:
    """One Feature as JSON text, assembled by PostgreSQL."""
    return func.concat(
        literal_column("""'{"type":"Feature","id":'"""),
        func.to_json(id_column),
        literal_column("""',"geometry":'"""),
        geojson(geom, crs),
        literal_column("""',"properties":{'"""),
        *properties_parts(properties),
        literal_column("""'}}'"""),
    ).label("feature")


async def fetch_texts(session: AsyncSession, stmt: Select[Any]) -> list[str]:
    """All rows of a one-text-column select (small pages)."""
    return list((await session.scalars(stmt)).all())


def collection_head(number_matched: int | None, extra: dict[str, Any] | None = None) -> bytes:
    """`{"type":"FeatureCollection",…,"features":[` — members known before the rows."""
    head: dict[str, Any] = {"type": "FeatureCollection"}
    if number_matched is not None:
        head["numberMatched"] = number_matched
    if extra:
        head.update(extra)
    return dumps(head)[:-1] + b',"features":['


def collection_tail(number_returned: int, links: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> bytes:
    """`],"numberReturned":…,"links":[…]}` — members known after the rows."""
    tail: dict[str, Any] = {"numberReturned": number_returned, "links": links}
    if extra:
        tail.update(extra)
    return b"]," + dumps(tail)[1:]


def collection_bytes(features: list[str], number_matched: int | None, links: list[dict[str, Any]],
                     head_extra: dict[str, Any] | None = None) -> bytes:
    """A whole (small) FeatureCollection."""
    return (collection_head(number_matched, head_extra) + ",".join(features).encode()
            + collection_tail(len(features), links))


async def stream_rows(conn: AsyncConnection, stmt: Select[Any]) -> AsyncIterator[list[str]]:
    """Rows of a one-text-column select through a server-side cursor, a chunk at a time."""
    result = await conn.stream(stmt.execution_options(yield_per=_CHUNK_ROWS))
    async for chunk in result.scalars().partitions(_CHUNK_ROWS):
        yield list(chunk)


async def stream_collection(db: Database, stmt: Select[Any], number_matched: int | None,
                            links_for: Any, head_extra: dict[str, Any] | None = None) -> AsyncIterator[bytes]:
    """A FeatureCollection as a byte stream with flat memory; `links_for(returned)` makes the links."""
    yield collection_head(number_matched, head_extra)
    returned = 0
    async with db.connection() as conn:
        async for chunk in stream_rows(conn, stmt):
            text = ",".join(chunk)
            yield (b"," if returned else b"") + text.encode()
            returned += len(chunk)
    yield collection_tail(returned, links_for(returned))


def collection_text(features: str, returned: int, number_matched: int | None,
                    links: list[dict[str, Any]]) -> bytes:
    """A whole (small) FeatureCollection from features already joined by commas (in SQL)."""
    return collection_head(number_matched) + features.encode() + collection_tail(returned, links)


async def record_batches(conn: asyncpg.Connection, sql: str, args: Sequence[Any],
                         rows: int = _CHUNK_ROWS) -> AsyncGenerator[list[asyncpg.Record], None]:
    """The rows of a query through a server-side cursor, `rows` at a time (flat memory at any size)."""
    if conn.is_in_transaction():
        cursor = await conn.cursor(sql, *args)
        while batch := await cursor.fetch(rows):
            yield batch
        return
    async with conn.transaction(readonly=True):
        cursor = await conn.cursor(sql, *args)
        while batch := await cursor.fetch(rows):
            yield batch


async def prefetched(batches: AsyncGenerator[T, None], depth: int = 2) -> AsyncGenerator[T, None]:
    """`batches`, read ahead by up to `depth` items in a task of their own: PostgreSQL builds the next
    chunk while this one is sent (the two run on different cores), and memory stays bounded."""
    queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue(maxsize=depth)

    async def produce() -> None:
        try:
            async for item in batches:
                await queue.put((True, item))
            await queue.put((False, None))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # handed to the consumer, raised there
            await queue.put((False, exc))

    task = asyncio.create_task(produce())
    try:
        while True:
            more, item = await queue.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await batches.aclose()


async def stream_records(db: Database, sql: str, args: Sequence[Any], number_matched: int | None,
                         links_for: Callable[[int, int | None], list[dict[str, Any]]],
                         head_extra: dict[str, Any] | None = None) -> AsyncIterator[bytes]:
    """A FeatureCollection from rows `(id, feature text)` on the read path, as a byte stream with flat
    memory; `links_for(returned, last_id)` makes the links once the rows are out."""
    yield collection_head(number_matched, head_extra)
    returned = 0
    last_id: int | None = None
    async with db.reader() as conn:
        batches = prefetched(record_batches(conn, sql, args, _STREAM_ROWS))
        async with contextlib.aclosing(batches):  # its task ends before the connection goes back to the pool
            async for batch in batches:
                text = ",".join([row[1] for row in batch])
                yield (b"," if returned else b"") + text.encode()
                returned += len(batch)
                last_id = batch[-1][0]
    yield collection_tail(returned, links_for(returned, last_id))


async def stream_chunks(chunks: AsyncGenerator[tuple[str, int, int | None], None], number_matched: int | None,
                        links_for: Callable[[int, int | None], list[dict[str, Any]]],
                        head_extra: dict[str, Any] | None = None) -> AsyncIterator[bytes]:
    """A FeatureCollection from chunks `(features joined by commas, how many, last id)`, as a byte stream."""
    yield collection_head(number_matched, head_extra)
    returned = 0
    last_id: int | None = None
    async with contextlib.aclosing(chunks):  # ended (its connections released) however this one ends
        async for text, count, last in chunks:
            yield (b"," if returned else b"") + text.encode()
            returned += count
            last_id = last
    yield collection_tail(returned, links_for(returned, last_id))
