"""Argon2 beside the event loop (SPEC §4, passwords): a bounded pool of threads whose full queue answers
503 with Retry-After at once."""

from __future__ import annotations

import asyncio
import threading

import pytest

from app.auth.security import HashPool, hash_password
from app.errors import ServiceUnavailable


def blocking(gate: threading.Event) -> str:
    gate.wait(10)
    return "done"


@pytest.fixture
async def full_pool():
    """A pool of one thread and one queue place, both taken by jobs held at a gate: (pool, gate, the running
    job, the waiting job). The gate opens and the pool closes at the end."""
    pool = HashPool(workers=1, queue=1)
    gate = threading.Event()
    try:
        yield pool, gate, pool.submit(blocking, gate), pool.submit(blocking, gate)
    finally:
        gate.set()
        pool.close()


async def test_jobs_beyond_the_queue_are_refused_at_once_with_retry_after(full_pool):
    pool, gate, running, waiting = full_pool
    with pytest.raises(ServiceUnavailable) as refused:
        pool.submit(blocking, gate)
    assert refused.value.numbers["retry_after"] >= 1
    gate.set()
    assert await running == await waiting == "done"
    assert pool.in_flight == 0
    assert await pool.submit(str.upper, "again") == "AGAIN"


async def test_a_waiter_that_leaves_frees_its_slot_only_when_the_job_ends(full_pool):
    pool, gate, running, waiting = full_pool
    waiting.cancel()  # the client left while its job waited for a thread: the job is dropped
    await asyncio.sleep(0)
    assert pool.in_flight == 1
    running.cancel()  # already hashing: the thread goes on, and so does its slot
    await asyncio.sleep(0)
    assert pool.in_flight == 1
    pool.submit(blocking, gate)  # the dropped job's slot is free again
    with pytest.raises(ServiceUnavailable):
        pool.submit(blocking, gate)


async def test_the_event_loop_goes_on_while_argon2_hashes():
    pool = HashPool(workers=2, queue=8)
    try:
        jobs = asyncio.gather(*(pool.hash("a-long-password") for _ in range(4)))
        ticks = 0
        while not jobs.done():
            await asyncio.sleep(0.005)
            ticks += 1
        hashes = await jobs
        assert all(h.startswith("$argon2id$") for h in hashes)
        assert ticks >= 3  # the loop ran between and during the hashes
        assert await pool.verify(hashes[0], "a-long-password")
        assert not await pool.verify(None, "a-long-password")
    finally:
        pool.close()


def test_a_closed_pool_refuses_with_503():
    pool = HashPool(workers=1, queue=1)
    pool.close()

    async def attempt() -> None:
        await pool.submit(hash_password, "x")

    with pytest.raises(ServiceUnavailable):
        asyncio.run(attempt())
    assert pool.in_flight == 0
