"""Streamed responses a slow or silent reader cannot hold open.

A stream holds a database connection (and its snapshot's transaction) until its last byte is out. The
server writes a chunk into the socket's buffer and waits, before the next one, until the client has read
the buffer down (uvicorn's flow control: `transport.pause_writing` → `FlowControl.drain`). That wait has no
end of its own: a client reading one byte a second would hold the connection for hours. Here every send
must be taken within `stream_send_timeout_seconds`, or the stream is abandoned: its iterator is closed
(connections go back to the pool, transactions end) and the response ends unfinished, which the server
answers by closing the connection (`landcycle serve` drops a client that stalls its writes for as long
itself, app/serving.py). Read-ahead stays bounded meanwhile (app/features/geojson.py `prefetched`,
app/features/blocks.py `alternating`: a few chunks per stream), so a stalled reader costs a few chunks of
memory for that long. However a stream ends (done, client gone, stalled), its iterator is closed then, not
when it is garbage-collected.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.responses import FileResponse, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

log = logging.getLogger("landcycle.streaming")


class SendStalled(Exception):
    """The client took none of a chunk within the send timeout."""


def bounded_send(send: Send, seconds: float) -> Send:
    """`send` that raises SendStalled when one message is not taken within `seconds`."""

    async def send_within(message: Message) -> None:
        try:
            async with asyncio.timeout(seconds):
                await send(message)
        except TimeoutError:
            raise SendStalled(f"no byte taken for {seconds:g} s") from None

    return send_within


async def _close(iterator: object) -> None:
    """Close an async generator (run its `finally` and `async with` exits now, not when collected)."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


async def _chained(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await _close(rest)


class BoundedStream(StreamingResponse):
    """A StreamingResponse whose every send is bounded by `send_timeout` seconds and whose body iterator
    is closed however the response ends (done, client gone, stalled): what it holds is released then.
    `first` is a chunk already taken from `content` (read before the response starts, so errors in it are
    still answered as errors)."""

    def __init__(self, content: AsyncIterator[bytes], *, send_timeout: float, first: bytes | None = None,
                 status_code: int = 200, headers: Mapping[str, str] | None = None,
                 media_type: str | None = None) -> None:
        super().__init__(content if first is None else _chained(first, content), status_code=status_code,
                         headers=headers, media_type=media_type)
        self.send_timeout = send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Not Starlette's task group, which cancels the body mid-read when the client leaves and keeps
        # cancelling its cleanup (a snapshot's ROLLBACK, the read-ahead tasks): here a departure is noticed
        # between chunks, and the body is closed afterwards, uncancelled.
        gone = asyncio.Event()
        watcher = asyncio.create_task(_departure(receive, gone))
        send_within = bounded_send(send, self.send_timeout)
        try:
            await send_within({"type": "http.response.start", "status": self.status_code,
                               "headers": self.raw_headers})
            async for chunk in self.body_iterator:
                if gone.is_set():
                    break
                body = chunk if isinstance(chunk, bytes | memoryview) else chunk.encode(self.charset)
                await send_within({"type": "http.response.body", "body": body, "more_body": True})
            else:
                await send_within({"type": "http.response.body", "body": b"", "more_body": False})
        except SendStalled as stalled:
            log.warning("stream abandoned: %s %s: %s", scope.get("method"), scope.get("path"), stalled)
        except OSError:  # the client left (servers of ASGI spec 2.4 say so on send)
            pass
        finally:
            watcher.cancel()
            await _close(self.body_iterator)
        if self.background is not None:
            await self.background()


async def _departure(receive: Receive, gone: asyncio.Event) -> None:
    """Set `gone` when the client disconnects (the request's body, if any, is already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


class BoundedFile(FileResponse):
    """A FileResponse whose every send is bounded by `send_timeout` seconds; its background task (removing
    a temporary file) runs however the response ends."""

    def __init__(self, path: str | os.PathLike[str], *, send_timeout: float, **options: Any) -> None:
        super().__init__(path, **options)
        self.send_timeout = send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, bounded_send(send, self.send_timeout))
        except SendStalled as stalled:
            if self.background is not None:
                await self.background()
            log.warning("file abandoned: %s %s: %s", scope.get("method"), scope.get("path"), stalled)
