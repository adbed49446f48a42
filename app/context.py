"""Per-request context (request id) visible to services and logs without threading it through calls."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
