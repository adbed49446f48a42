"""Resource bounds at the HTTP edge: request body size and body read timeout.

A client that sends more than the limit gets 413 before the body is read into memory; one that stops
sending its body mid-way gets 408 instead of pinning a worker. A route that learns from the headers who is
asking may lower the limit for its request (`lower_body_limit`) before it reads the body.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.datastructures import Headers, UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge
from app.responses import dumps

_LIMIT_KEY = "landcycle.body_limit"


def lower_body_limit(scope: Scope, max_bytes: int) -> None:
    """Hold this request's body to `max_bytes` (never above the path's limit), from the next chunk on."""
    state = scope.setdefault("state", {})
    state[_LIMIT_KEY] = min(max_bytes, state.get(_LIMIT_KEY, max_bytes))


MIB = 1 << 20


def upload_too_large(max_mb: int, size: int | None = None) -> PayloadTooLarge:
    """413 for an upload above a role's limit (SPEC §4: per-role upload limits)."""
    sent = f"{size:,} bytes" if size is not None else "larger"
    return PayloadTooLarge(f"the upload is {sent}; your role may send at most {max_mb} MiB",
                           field="file", max_mb=max_mb)


def hold_upload(scope: Scope, max_mb: int) -> None:
    """Before a byte of an upload is read: 413 when its declared length is above the role's `max_mb`, and
    the body held to that limit as it arrives (a client may declare nothing, or lie)."""
    declared = Headers(scope=scope).get("content-length", "")
    if declared.isdigit() and int(declared) > max_mb * MIB:
        raise upload_too_large(max_mb, int(declared))
    lower_body_limit(scope, max_mb * MIB)


async def save_upload(upload: UploadFile, target: Path, remaining: int, max_mb: int) -> int:
    """Copy one uploaded part to `target` a MiB at a time; 413 once the parts of one request pass
    `remaining` bytes. Returns the bytes still allowed for the request's other parts."""
    with target.open("wb") as out:
        while chunk := await upload.read(MIB):
            remaining -= len(chunk)
            if remaining < 0:
                raise upload_too_large(max_mb)
            out.write(chunk)
    return remaining


def _problem(status: int, code: str, title: str, detail: str, limit_bytes: int | None = None) -> bytes:
    body = {"type": f"urn:landcycle:problem:{code}", "title": title, "status": status, "detail": detail,
            "code": code}
    if limit_bytes is not None:
        body["limit_bytes"] = limit_bytes
    return dumps(body)


class BodyLimitMiddleware:
    """Refuse bodies above `max_bytes` (per path prefix overrides) and bodies that stall."""

    def __init__(self, app: ASGIApp, max_bytes: int, overrides: dict[str, int] | None = None,
                 timeout_seconds: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = overrides or {}
        self.timeout = timeout_seconds

    def _limit(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(scope, send, 413,
                               f"the request body is {int(declared):,} bytes; the limit is {limit:,}", limit)
            return
        received = 0
        rejected = False

        async def limited_receive() -> Message:
            # On a violation we answer at once and tell the app the client left; whatever the app then
            # tries to send is dropped (it may not even have started reading the body).
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                rejected = True
                await self._reject(scope, send, 408, f"the request body did not arrive within {self.timeout:g} s")
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                applies = min(limit, (scope.get("state") or {}).get(_LIMIT_KEY, limit))
                if received > applies:
                    rejected = True
                    await self._reject(scope, send, 413,
                                       f"the request body is larger than the limit of {applies:,} bytes", applies)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

    @staticmethod
    async def _reject(scope: Scope, send: Send, status: int, detail: str, limit_bytes: int | None = None) -> None:
        """problem+json, or on /wfs the OWS ExceptionReport a WFS client reads (OWS 1.1 §8)."""
        if scope["path"] == "/wfs":
            from app.wfs.ows import exception_report

            code = "OperationParsingFailed" if status == 413 else "NoApplicableCode"
            report = exception_report(code, detail, None, "2.0.0", status)
            body, media = bytes(report.body), report.media_type or "text/xml"
        else:
            code, title = ("PAYLOAD_TOO_LARGE", "Request body too large") if status == 413 else \
                ("REQUEST_TIMEOUT", "Request body too slow")
            body, media = _problem(status, code, title, detail, limit_bytes), "application/problem+json"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", media.encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

