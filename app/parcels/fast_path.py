"""`GET /api/v1/parcels/{id}` without FastAPI's routing and parameter machinery (bench/RESULTS.md
"REST API": one feature by id).

One feature by id is the service's most frequent request (map clicks, QGIS identify). Its database work
is one prepared statement (~0.2 ms); FastAPI's route matching, dependency solving and parameter
validation cost more than that again (profile in bench/RESULTS.md). This ASGI middleware answers the
plain form of the request — a decimal id in range, at most the `crs` and `as_of` parameters — with the
very function the FastAPI route calls (`feature_response`), the same authentication and the same
problem+json errors; any other form goes on to the FastAPI route, which stays the documented one.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.deps import app_database, authenticate
from app.parcels.routes import feature_response
from app.responses import domain_error_handler

_PARAMS = frozenset({"crs", "as_of"})
_MAX_ID = 2**62


class ParcelFeatureFastPath:
    """ASGI middleware: the plain GET of one parcel, answered directly."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/") + "/parcels/"

    def _plain(self, scope: Scope) -> tuple[int, dict[str, str]] | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        path: str = scope["path"]
        if not path.startswith(self.prefix):
            return None
        digits = path[len(self.prefix):]
        if not (digits.isdigit() and digits.isascii() and len(digits) <= 19):
            return None
        parcel_id = int(digits)
        if not 1 <= parcel_id <= _MAX_ID:
            return None
        params: dict[str, str] = {}
        if scope["query_string"]:
            for key, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
                if key not in _PARAMS or key in params:
                    return None
                params[key] = value
        return parcel_id, params

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plain = self._plain(scope)
        if plain is None:
            await self.app(scope, receive, send)
            return
        parcel_id, params = plain
        request = Request(scope, receive)
        try:
            actor = await authenticate(request, request.headers.get("authorization"))
            request.state.actor = actor
            response = await feature_response(app_database(request), parcel_id, params.get("crs"),
                                              params.get("as_of"), request.headers.get("if-none-match"))
        except Exception as exc:  # rendered exactly as the app's handlers render it
            response = await domain_error_handler(request, exc)
        await response(scope, receive, send)
