"""Reading alternate blocks on two connections (app/features/blocks.py): results come back in
block order whatever order the connections finish in, read-ahead is bounded, an error reaches the consumer,
and closing the stream stops the readers (no database: the "connections" are labels)."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from app.features.blocks import alternating
from app.wfs.getfeature import _blocks


async def test_blocks_come_back_in_order_whichever_connection_is_faster():
    async def read(conn, block):
        await asyncio.sleep(0.002 if conn == "slow" else 0)
        return (conn, block)

    got = [item async for item in alternating(("slow", "fast"), list(range(7)), read)]
    assert got == [("slow" if i % 2 == 0 else "fast", i) for i in range(7)]


async def test_each_connection_reads_at_most_ahead_blocks_in_front_of_the_consumer():
    started: list[int] = []

    async def read(conn, block):
        started.append(block)
        return block

    chunks = alternating(("a", "b"), list(range(20)), read, ahead=2)
    async with aclosing(chunks):
        assert await anext(chunks) == 0
        await asyncio.sleep(0.01)  # let both readers run as far as they may
        assert len(started) <= 2 * (2 + 1) + 1  # per connection: `ahead` queued + one being read


async def test_an_error_in_a_reader_is_raised_to_the_consumer():
    async def read(conn, block):
        if block == 3:
            raise ValueError("block 3")
        return block

    got = []
    with pytest.raises(ValueError, match="block 3"):
        async for item in alternating(("a", "b"), list(range(6)), read):
            got.append(item)
    assert got == [0, 1, 2]


async def test_closing_the_stream_cancels_the_readers():
    cancelled = []

    async def read(conn, block):
        try:
            await asyncio.sleep(10 if block > 1 else 0)
        except asyncio.CancelledError:
            cancelled.append(block)
            raise
        return block

    chunks = alternating(("a", "b"), list(range(6)), read)
    async with aclosing(chunks):
        assert await anext(chunks) == 0
    assert sorted(cancelled) == [2, 3]


def test_key_blocks_cover_the_page_from_its_first_to_its_last_key():
    # (key, position) rows of a page of 7 keys with blocks of 3: positions 1, 4, 7 (the last).
    assert _blocks([(10, 1), (14, 4), (30, 7)], 3) == [(10, 14), (14, 30), (30, 31)]
    # the last key inside a block: it only closes the last block
    assert _blocks([(10, 1), (14, 4), (29, 6)], 3) == [(10, 14), (14, 30)]
