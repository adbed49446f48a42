"""`GET /ogc/collections/{cid}/items/{fid}` without FastAPI's routing and parameter machinery, as REST's
`GET /api/v1/parcels/{id}` (bench/RESULTS.md "REST API": one feature by id; app/features/fast_path.py).

The OGC router is mounted after the REST ones, so route matching alone cost as much as the feature's
statement. This fast path answers the plain form — one featureId, at most the `f` and `crs` parameters,
once each — with the very function the FastAPI route calls (`item_response`) and the same authentication
(`get_actor`); any other form (HEAD, other parameters) goes on to the route.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from app.deps import get_actor
from app.features.fast_path import PlainGetFastPath
from app.ogc.routes import item_response


class OgcFeatureFastPath(PlainGetFastPath[tuple[str, str]]):
    """ASGI middleware: the plain GET of one feature of an OGC API collection, answered directly."""

    params = frozenset({"f", "crs"})

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, "/ogc/collections/")

    def key_of(self, rest: str) -> tuple[str, str] | None:
        parts = rest.split("/")
        if len(parts) != 3 or parts[1] != "items" or not parts[0] or not parts[2]:
            return None
        return parts[0], parts[2]

    async def answer(self, request: Request, key: tuple[str, str], params: dict[str, str]) -> Response:
        actor = await get_actor(request)
        return await item_response(request, actor, key[0], key[1], request.headers.get("if-none-match"))
