"""Bounded streams (app/streaming.py) at the ASGI level: a send nobody takes ends the stream after the send
timeout, and whatever way a stream ends its body is closed at once (what it holds is released)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask

from app.streaming import BoundedFile, BoundedStream

SCOPE = {"type": "http", "method": "GET", "path": "/stream", "headers": [], "asgi": {"spec_version": "2.3"}}


class Body:
    """A body that counts what it produced and notes when it was closed."""

    def __init__(self, chunks: int = 1000) -> None:
        self.produced = 0
        self.closed = False
        self.chunks = chunks

    async def stream(self) -> AsyncIterator[bytes]:
        try:
            for _ in range(self.chunks):
                self.produced += 1
                yield b"x" * 1024
        finally:
            self.closed = True


async def stays() -> dict[str, Any]:
    """receive() of a client that stays connected."""
    await asyncio.Event().wait()
    return {"type": "http.disconnect"}


async def test_a_send_nobody_takes_ends_the_stream_after_the_send_timeout_and_closes_its_body():
    body, sent = Body(), []

    async def send(message: dict[str, Any]) -> None:
        if len(sent) == 3:  # the client's window is full: this send never completes
            await asyncio.Event().wait()
        sent.append(message)

    await asyncio.wait_for(BoundedStream(body.stream(), send_timeout=0.2)(SCOPE, stays, send), 5)
    assert body.closed
    assert body.produced <= 4  # nothing read ahead beyond the chunk that could not be sent
    assert not any(m.get("more_body") is False for m in sent)  # the response was not completed


async def test_a_client_that_leaves_ends_the_stream_and_closes_its_body():
    body, left = Body(), asyncio.Event()

    async def receive() -> dict[str, Any]:
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and body.produced == 5:
            left.set()
        await asyncio.sleep(0)

    await asyncio.wait_for(BoundedStream(body.stream(), send_timeout=5)(SCOPE, receive, send), 5)
    assert body.closed and body.produced < 10


async def test_a_stream_sends_its_first_chunk_then_the_rest_and_closes_the_rest():
    body, sent = Body(chunks=3), []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await BoundedStream(body.stream(), first=b"head", send_timeout=5)(SCOPE, stays, send)
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert payload == b"head" + b"x" * 3 * 1024 and sent[-1]["more_body"] is False
    assert body.closed


async def test_a_file_nobody_takes_still_has_its_temporary_file_removed(tmp_path: Path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"x" * 1_000_000)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if len(sent) == 2:
            await asyncio.Event().wait()
        sent.append(message)

    response = BoundedFile(path, send_timeout=0.2, background=BackgroundTask(path.unlink))
    await asyncio.wait_for(response(SCOPE, stays, send), 5)
    assert not path.exists()
