"""`GET /api/v1/parcels/export?f=geojson`: every matching parcel in one streamed FeatureCollection.

SPEC §5 caps a list page at 10,000; clients that want the whole city in one response (QGIS, dashboards)
take this stream instead: features built as text by PostgreSQL, read through a server-side cursor and
sent a chunk at a time, so memory stays flat at any size (issue 6). Other formats (`gpkg`, `csv`) belong
to the import/export slice, which reconciles this module with its own.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response, StreamingResponse

from app.deps import ActorDep, CountsDep, DatabaseDep, SettingsDep
from app.features.geojson import stream_chunks
from app.features.paging import public_url
from app.features.params import as_of_param, bbox_param, header_crs
from app.features.versions import collection_etag, collection_version, etag_matches
from app.parcels.query import ParcelQuery
from app.parcels.reads import cached_count, export_chunks
from app.parcels.schemas import LandUse, LegacyZone, Status, Tier

router = APIRouter(prefix="/parcels", tags=["parcels"])

GEOJSON = "application/geo+json"


@router.get("/export", response_model=None, summary="All matching parcels in one stream",
            responses={200: {"content": {GEOJSON: {}}}, 304: {"description": "unchanged"}})
async def export_parcels(
    request: Request, db: DatabaseDep, actor: ActorDep, settings: SettingsDep, counts: CountsDep,
    f: Annotated[Literal["geojson"], Query(description="Output format")] = "geojson",
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in bbox-crs (x/y order)")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs")] = None,
    crs: Annotated[str | None, Query(description="Output CRS, e.g. EPSG:4549 (default EPSG:4490)")] = None,
    as_of: Annotated[str | None, Query(description="A date or date-time: rule 10")] = None,
    tier: Tier | None = None,
    land_use: LandUse | None = None,
    district_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    zone_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    status: Status | None = None,
    legacy_zone: LegacyZone | None = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    """Every matching parcel as one GeoJSON FeatureCollection, in id order, without a page limit."""
    out_crs = header_crs(crs)
    query = ParcelQuery(
        filters={"tier": tier, "land_use": land_use, "district_code": district_code, "zone_id": zone_id,
                 "status": status, "legacy_zone": legacy_zone},
        bbox=bbox_param(bbox), bbox_crs=header_crs(bbox_crs), as_of=as_of_param(as_of),
    )
    async with db.reader() as conn:
        version = await collection_version(conn, "parcel")
        headers = {"Content-Crs": f"<{out_crs.uri}>", "ETag": collection_etag(version, str(request.url)),
                   "Cache-Control": "no-cache"}
        if etag_matches(if_none_match, headers["ETag"]):
            return Response(status_code=304, headers=headers)
        matched = await cached_count(counts, conn, version, query)
    self_link = str(public_url(request, settings))

    def links(returned: int, last_id: int | None) -> list[dict[str, Any]]:
        return [{"href": self_link, "rel": "self", "type": GEOJSON}]

    return StreamingResponse(stream_chunks(export_chunks(db, query, out_crs), matched, links),
                             media_type=GEOJSON, headers=headers)
