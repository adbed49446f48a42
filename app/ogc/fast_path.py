"""`GET /ogc/collections/{cid}/items/{fid}` without FastAPI's routing and parameter machinery, as
app/parcels/fast_path.py does for `GET /api/v1/parcels/{id}` (bench/RESULTS.md "REST API": one feature by id).

The feature's database work is one prepared statement; matching the path against every route of the app
(the OGC router is mounted after the REST ones) and solving the route's dependencies cost more than that
again. This ASGI middleware answers the plain form of the request — one featureId, at most the `f` and
`crs` parameters, once each — with the very function the FastAPI route calls (`item_response`), the same
authentication (`get_actor`) and the same problem+json errors; any other form goes on to the FastAPI
route, which stays the documented one. Nothing is cached but the compiled statement (app/ogc/items.py).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.deps import get_actor
from app.ogc.routes import item_response
from app.responses import domain_error_handler

_PREFIX = "/ogc/collections/"
_PARAMS = frozenset({"f", "crs"})


class OgcFeatureFastPath:
    """ASGI middleware: the plain GET of one feature of an OGC API collection, answered directly."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @staticmethod
    def _plain(scope: Scope) -> tuple[str, str] | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        path: str = scope["path"]
        if not path.startswith(_PREFIX):
            return None
        parts = path[len(_PREFIX):].split("/")
        if len(parts) != 3 or parts[1] != "items" or not parts[0] or not parts[2]:
            return None
        if scope["query_string"]:
            seen: set[str] = set()
            for key, _ in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
                if key not in _PARAMS or key in seen:
                    return None
                seen.add(key)
        return parts[0], parts[2]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plain = self._plain(scope)
        if plain is None:
            await self.app(scope, receive, send)
            return
        cid, fid = plain
        request = Request(scope, receive)
        try:
            actor = await get_actor(request)
            response = await item_response(request, actor, cid, fid, request.headers.get("if-none-match"))
        except Exception as exc:  # rendered exactly as the app's handlers render it
            response = await domain_error_handler(request, exc)
        await response(scope, receive, send)
