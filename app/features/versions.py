"""Collection versions (bumped by triggers on every write, migration 0001) for ETags and cached counts.

`numberMatched` of an unchanged collection does not change: a count is remembered under the collection's
version and recomputed after any write (an exact count costs about 0.1 s per page at 100,000 rows). The
same version makes a collection response's ETag, so an unchanged collection is answered 304 without
touching its rows.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

import asyncpg
from sqlalchemy import ColumnElement, column, func, select, table

_VERSION_SQL = "SELECT coalesce((SELECT version FROM collection_version WHERE name = $1), 0)"


_COUNTERS = table("collection_version", column("name"), column("version"))


def version_column(name: str) -> ColumnElement[int]:
    """The same counter as a column, to read it in the statement that reads the rows (one snapshot)."""
    current = select(_COUNTERS.c.version).where(_COUNTERS.c.name == name).scalar_subquery()
    return func.coalesce(current, 0)


async def collection_version(conn: asyncpg.Connection, name: str) -> int:
    """The write counter of a table (0 before its first write)."""
    return int(await conn.fetchval(_VERSION_SQL, name))


def collection_etag(version: int, url: str) -> str:
    """A weak ETag for one representation of a collection: the data version and the request's URL."""
    return f'W/"{version}.{zlib.crc32(url.encode()):08x}"'


def etag_matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an If-None-Match header names `tag` (weak comparison, RFC 9110 §13.1.2)."""
    if not if_none_match:
        return False
    bare = tag.removeprefix("W/")
    return any(part.strip() == "*" or part.strip().removeprefix("W/") == bare for part in if_none_match.split(","))


class CountCache:
    """Exact counts by (version, query); a bounded LRU, per process."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, int] = OrderedDict()

    async def get(self, key: Hashable, count: Callable[[], Awaitable[int]]) -> int:
        """The remembered count of `key`, or `count()` remembered."""
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
            return found
        value = await count()
        self._items[key] = value
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return value
