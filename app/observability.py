"""Structured logs (one JSON object per line) and the request-id middleware."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.context import request_id

access = logging.getLogger("landcycle.access")


class JsonFormatter(logging.Formatter):
    """Log records as JSON lines with the request id; tracebacks stay in the log, never in responses."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        for key in ("method", "path", "status", "ms", "user"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = describe(record.exc_info[1])
        return json.dumps(entry, ensure_ascii=False)


_CREDENTIALS = re.compile(r"(\w+://)[^/\s:@]+(:[^/\s@]*)?@")


def describe(exc: BaseException) -> str:
    """One line about an exception: type, message (credentials in URLs masked) and where it was raised —
    no stack trace, no secrets."""
    message = _CREDENTIALS.sub(r"\1***@", str(exc).splitlines()[0] if str(exc) else "")[:300]
    tb = exc.__traceback__
    where = ""
    while tb is not None:
        if "/site-packages/" not in tb.tb_frame.f_code.co_filename:
            where = f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 2)[-2:][0]}/" \
                    f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
        tb = tb.tb_next
    return f"{type(exc).__name__}: {message}{where}"


def configure_logging(level: str, as_json: bool) -> None:
    """Root logging: JSON lines to stderr (or plain text when LANDCYCLE_LOG_JSON=false)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.access").disabled = True


class RequestIdMiddleware:
    """Give every request an id (or take X-Request-Id), echo it, and log one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming[:64] if incoming and incoming.replace("-", "").isalnum() else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access.isEnabledFor(logging.INFO):
                state = scope.get("state") or {}
                actor = state.get("actor")
                access.info("request", extra={
                    "method": scope["method"], "path": scope["path"], "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "user": getattr(actor, "username", None),
                })
            request_id.reset(token)
