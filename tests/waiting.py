"""The one bounded wait for state the tests cannot be told about: another process (a server starting, an
import's backend) or PostgreSQL's own activity views. Where an event exists, tests await it instead."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

INTERVAL_S = 0.05


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = INTERVAL_S) -> Any:
    """The first truthy value of `predicate()`, asked every `interval` seconds for at most `timeout` seconds;
    AssertionError naming `what` when it never comes. An `async def` predicate makes this awaitable (for
    async tests); a plain one blocks (for sync tests and the server harness). Exceptions pass through."""
    if inspect.iscoroutinefunction(predicate):
        return _wait_async(predicate, timeout, what, interval)  # a coroutine: the caller awaits it
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(interval)


async def _wait_async(predicate: Callable[[], Awaitable[Any]], limit_s: float, what: str, interval: float) -> Any:
    deadline = time.monotonic() + limit_s
    while True:
        value = await predicate()  # never cut short: a query cancelled mid-way would spoil its connection
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {limit_s:g} s for {what}")
        await asyncio.sleep(interval)
