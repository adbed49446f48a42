"""`landcycle serve`'s HTTP protocol: uvicorn's (httptools) with two deadlines uvicorn has not.

- Headers: a connection whose request headers are not complete within `header_timeout` seconds of its
  opening (or of its previous response) is closed. A client trickling header bytes (slowloris) would
  otherwise hold a connection, and a place under `limit_concurrency`, for as long as it likes.
- Writes: a client that leaves the server's write buffer above its high-water mark (`pause_writing`)
  for `send_timeout` seconds is dropped, its unsent bytes with it. The app's streams bound each send the
  same way (app/streaming.py) and so release their database connections; this also covers what is
  already written when the app is done: a whole response in the buffer, or a close waiting to flush it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from functools import partial
from typing import Any, cast

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST, drops unsent bytes


class GuardedHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a header deadline and a write-stall deadline (see the module)."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None, *, header_timeout: float,
                 send_timeout: float) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = header_timeout
        self.send_timeout = send_timeout
        self._header_deadline: asyncio.TimerHandle | None = None
        self._write_deadline: asyncio.TimerHandle | None = None

    # The header deadline: armed while no request's headers are in, cleared when they are.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_headers()

    def on_headers_complete(self) -> None:
        self._clear_header_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_headers()

    def _arm_headers(self) -> None:
        self._clear_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_overdue)

    def _headers_overdue(self) -> None:
        self._header_deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered (a pipelined one started after the last response)
        if not self.transport.is_closing():
            self.logger.info("closed %s: no request headers within %g s", _peer(self.client), self.header_timeout)
            self.transport.close()

    # The write deadline: the client must read the buffer down within send_timeout.
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_deadline is None:
            self._write_deadline = self.loop.call_later(self.send_timeout, self._write_overdue)

    def resume_writing(self) -> None:
        self._clear_write_deadline()
        super().resume_writing()

    def _write_overdue(self) -> None:
        self._write_deadline = None
        self.logger.warning("dropped %s: it took no bytes for %g s", _peer(self.client), self.send_timeout)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._clear_header_deadline()
        self._clear_write_deadline()
        super().connection_lost(exc)

    def _clear_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _clear_write_deadline(self) -> None:
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "a client"


def protocol(*, header_timeout: float, send_timeout: float) -> type[asyncio.Protocol]:
    """The protocol for uvicorn's `http=`, with these deadlines (a partial: picklable for worker processes;
    uvicorn only calls it, server.py `create_protocol`)."""
    return cast("type[asyncio.Protocol]",
                partial(GuardedHttpProtocol, header_timeout=header_timeout, send_timeout=send_timeout))
