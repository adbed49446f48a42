"""One large result read by two connections in one snapshot (the REST export and WFS GetFeature).

On one connection PostgreSQL builds feature text on one core while the app waits; a large ordered result is
therefore cut into blocks of keys that two connections read alternately. Both see one snapshot (the first
exports it, the second imports it), so the blocks agree with each other and with a count taken before.
The consumer gets the blocks in order, each connection at most `ahead` blocks in front: memory stays flat.
Measured in bench/RESULTS.md "REST API" (notes of 2026-11-28) and "WFS" (GetFeature on two connections).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

import asyncpg

B = TypeVar("B")
R = TypeVar("R")
_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$")


@asynccontextmanager
async def snapshot(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """A read-only REPEATABLE READ transaction, so every statement in it sees one snapshot. Inside a
    transaction that is already open (a test's outer transaction, which sees its own rows) a savepoint of
    it instead, so a failing statement leaves that transaction usable."""
    nested = conn.is_in_transaction()
    async with conn.transaction() if nested else conn.transaction(isolation="repeatable_read", readonly=True):
        yield


@asynccontextmanager
async def shared(first: asyncpg.Connection, second: asyncpg.Connection) -> AsyncIterator[None]:
    """`second` in a read-only REPEATABLE READ transaction on the snapshot of `first`'s open transaction."""
    snapshot_id = await first.fetchval("SELECT pg_export_snapshot()")
    if not _SNAPSHOT_ID.match(snapshot_id or ""):  # written into SQL below: only the server's own form
        raise RuntimeError(f"unexpected snapshot id {snapshot_id!r}")
    async with second.transaction(isolation="repeatable_read", readonly=True):
        await second.execute(f"SET TRANSACTION SNAPSHOT '{snapshot_id}'")
        yield


class _Failed(Generic[R]):
    def __init__(self, error: BaseException) -> None:
        self.error = error


async def alternating(conns: Sequence[asyncpg.Connection], blocks: Sequence[B],
                      read: Callable[[asyncpg.Connection, B], Awaitable[R]], ahead: int = 2) -> AsyncGenerator[R, None]:
    """`read(conn, block)` of every block, in the order of `blocks`: block i is read on conns[i % n] in a
    task of that connection, which runs at most `ahead` results in front of the consumer. An error in a
    task is raised here; closing the iterator cancels the tasks."""
    n = len(conns)
    queues: list[asyncio.Queue[R | _Failed[R]]] = [asyncio.Queue(maxsize=ahead) for _ in conns]

    async def run(k: int) -> None:
        try:
            for block in blocks[k::n]:
                await queues[k].put(await read(conns[k], block))
        except Exception as exc:  # handed to the consumer, raised there
            await queues[k].put(_Failed(exc))

    tasks = [asyncio.create_task(run(k)) for k in range(n)]
    try:
        for i in range(len(blocks)):
            item = await queues[i % n].get()
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
