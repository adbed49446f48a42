"""`GET /api/v1/parcels/{id}` without FastAPI's routing and parameter machinery (bench/RESULTS.md
"REST API": one feature by id).

One feature by id is the service's most frequent request (map clicks, QGIS identify). Its database work
is one prepared statement (~0.2 ms); FastAPI's route matching, dependency solving and parameter
validation cost more than that again (profile in bench/RESULTS.md). This fast path (app/features/fast_path.py)
answers the plain form of the request — a decimal id in range, at most the `crs` and `as_of` parameters —
with the very function the FastAPI route calls (`feature_response`) and the same authentication.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from app.deps import app_database, authenticate
from app.features.fast_path import PlainGetFastPath
from app.parcels.routes import feature_response

_MAX_ID = 2**62


class ParcelFeatureFastPath(PlainGetFastPath[int]):
    """ASGI middleware: the plain GET of one parcel, answered directly."""

    params = frozenset({"crs", "as_of"})

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        super().__init__(app, prefix.rstrip("/") + "/parcels/")

    def key_of(self, rest: str) -> int | None:
        if not (rest.isdigit() and rest.isascii() and len(rest) <= 19):
            return None
        parcel_id = int(rest)
        return parcel_id if 1 <= parcel_id <= _MAX_ID else None

    async def answer(self, request: Request, key: int, params: dict[str, str]) -> Response:
        actor = await authenticate(request, request.headers.get("authorization"))
        request.state.actor = actor
        return await feature_response(app_database(request), key, params.get("crs"), params.get("as_of"),
                                      request.headers.get("if-none-match"))
