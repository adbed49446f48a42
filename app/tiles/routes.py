"""HTTP for vector tiles: `GET /tiles/{layer}/{z}/{x}/{y}.mvt`, read like the REST resources."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from starlette.responses import Response

from app.deps import ActorDep, app_database, app_state
from app.features.versions import etag_matches
from app.tiles.layers import LAYERS
from app.tiles.service import Tile, TileCache, current_etag, find_layer, read_tile

router = APIRouter(prefix="/tiles", tags=["tiles"])

MVT = "application/vnd.mapbox-vector-tile"
# Browsers keep tiles but revalidate every time: an edit shows on the next look (304 while unchanged).
NO_CACHE = {"Cache-Control": "no-cache"}

LayerName = Annotated[str, Path(description=f"One of: {', '.join(LAYERS)}")]
Zoom = Annotated[int, Path(description="Zoom, 0–22 (parcels are points below 12, polygons from 12)")]
Column = Annotated[int, Path(description="Tile column, 0 to 2^z − 1 (XYZ scheme, Web Mercator)")]
Row = Annotated[int, Path(description="Tile row, 0 to 2^z − 1, counted from the north")]


def tile_cache(request: Request) -> TileCache:
    """The app's cache of tile bytes (app/state.py)."""
    return app_state(request).tile_cache


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header takes gzip (`gzip`, `*`, not `gzip;q=0`)."""
    for part in (accept_encoding or "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _response(tile: Tile, gzip_ok: bool) -> Response:
    headers = {"ETag": tile.etag, **NO_CACHE, "Vary": "Accept-Encoding"}
    if tile.empty:
        return Response(status_code=204, headers=headers)
    if tile.gzipped and gzip_ok:
        return Response(tile.body, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
    return Response(tile.identity(), media_type=MVT, headers=headers)


@router.get("/{layer}/{z}/{x}/{y}.mvt", response_model=None, response_class=Response, summary="A vector tile",
            responses={200: {"description": "The tile (Mapbox Vector Tile 2.1; extent 4096, buffer 64; parcel "
                                            "points below z12 on a 512 grid)",
                             "content": {MVT: {"schema": {"type": "string", "format": "binary"}}}},
                       204: {"description": "No feature in this tile"},
                       304: {"description": "Unchanged since the ETag sent in If-None-Match"}})
async def get_tile(
    request: Request, actor: ActorDep, layer: LayerName, z: Zoom, x: Column, y: Row,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    """Current parcels, zones or districts of one tile (properties as the REST resources name them).

    The ETag is the layer's collection version and the tile: `If-None-Match` with it answers 304 while
    nothing in the layer changed. An empty tile answers 204."""
    found = find_layer(layer, z, x, y)
    async with app_database(request).reader() as conn:
        version, tag = await current_etag(conn, found, z, x, y)
        if etag_matches(if_none_match, tag):
            return Response(status_code=304, headers={"ETag": tag, **NO_CACHE, "Vary": "Accept-Encoding"})
        tile = await read_tile(conn, tile_cache(request), found, version, z, x, y)
    return _response(tile, accepts_gzip(request.headers.get("accept-encoding")))
