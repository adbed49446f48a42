"""The plain GET of one feature answered before FastAPI's routing (bench/RESULTS.md "REST API": one feature
by id): REST's `GET /api/v1/parcels/{id}` and OGC API's `GET /ogc/collections/{cid}/items/{fid}`.

A feature's database work is one prepared statement; matching the path against every route of the app and
solving the route's dependencies cost more than that again. A fast path answers only the plain form of its
request — the path it knows, each of its few parameters at most once — with the very function its FastAPI
route calls, the same authentication and the same problem+json errors; any other form goes on to the route,
which stays the documented one. Nothing is cached but compiled statements.
"""

from __future__ import annotations

from typing import Generic, TypeVar
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.replicas import ReplicaFailed
from app.responses import domain_error_handler

Key = TypeVar("Key")


class PlainGetFastPath(Generic[Key]):
    """ASGI middleware: a GET below `prefix` whose rest `key_of` recognises, with only `params`, each once,
    is answered by `answer`; everything else goes on to the app."""

    params: frozenset[str] = frozenset()

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    def key_of(self, rest: str) -> Key | None:
        """What the path after `prefix` names, or None when it is not this fast path's form."""
        raise NotImplementedError

    async def answer(self, request: Request, key: Key, params: dict[str, str]) -> Response:
        """The response, exactly as the FastAPI route would give it."""
        raise NotImplementedError

    def _plain(self, scope: Scope) -> tuple[Key, dict[str, str]] | None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(self.prefix):
            return None
        key = self.key_of(scope["path"][len(self.prefix):])
        if key is None:
            return None
        params: dict[str, str] = {}
        if scope["query_string"]:
            for name, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
                if name not in self.params or name in params:
                    return None
                params[name] = value
        return key, params

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plain = self._plain(scope)
        if plain is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.answer(request, *plain)
        except ReplicaFailed:  # answered again on the primary (app/replicas.py)
            raise
        except Exception as exc:  # rendered exactly as the app's handlers render it
            response = await domain_error_handler(request, exc)
        await response(scope, receive, send)
