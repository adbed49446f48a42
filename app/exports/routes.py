"""GET /parcels/export?f=gpkg|geojson|csv|shp: the current (or as_of) filtered parcels as a file, streamed;
and the zones and districts the same way (`/zones/export`, `/districts/export`).

Registered before the resources' own routes so `/parcels/export` is never read as `/parcels/{parcel_id}`.
GeoJSON and CSV stream straight from PostgreSQL (GeoJSON: the REST resources, built by PostgreSQL on two
connections in one snapshot: bench/RESULTS.md "REST API"); a GeoPackage is a SQLite file that cannot be
written front to back, and a zipped Shapefile is four files in an archive, so these are written a chunk at a
time to a temporary file and then streamed. Zones and districts (a few hundred) stream as CSV; in the other
formats, GeoJSON included, they are written to a file first.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from sqlalchemy import func
from starlette.background import BackgroundTask
from starlette.responses import Response

from app.db import Database
from app.deps import ActorDep, CountsDep, DatabaseDep, SettingsDep
from app.exports.service import Export, columns, export_to_file, statement, stream_chunks
from app.features.geojson import stream_chunks as stream_collection_chunks
from app.features.paging import public_url
from app.features.params import Bom, csv_bom, header_crs
from app.features.versions import CountCache, collection_etag, collection_version, etag_matches
from app.parcels.params import ParcelQueryDep
from app.parcels.query import ParcelQuery
from app.parcels.reads import cached_count, export_chunks
from app.settings import Settings
from app.streaming import BoundedFile, BoundedStream
from app.zones.params import ZoneQueryDep
from app.zones.query import ZoneQuery
from gis.crs import STORAGE_SRID, CrsRef, crs_urn
from gis.io import CSV_GEOMETRY, csv_text
from gis.sql import in_crs

router = APIRouter()
MEDIA = {
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "shp": "application/zip",
}
SUFFIX = {"gpkg": ".gpkg", "geojson": ".geojson", "csv": ".csv", "shp": ".zip"}
Format = Annotated[Literal["gpkg", "geojson", "csv", "shp"], Query(description="File format (shp: a zipped Shapefile)")]
OutCrs = Annotated[str | None, Query(description=f"Output CRS, e.g. EPSG:4549 (default EPSG:{STORAGE_SRID})")]
FILES: dict[int | str, dict[str, Any]] = {200: {"content": {m: {} for m in MEDIA.values()}}}  # OpenAPI


def _export_route(resource: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """GET /{resource}/export, documented as a file in any of the formats."""
    return router.get(f"/{resource}/export", response_model=None, summary=f"Export {resource} as a file",
                      tags=[resource], responses=FILES)


def _export(kind: str, f: str, crs: str | None, bom: bool, parcel_query: ParcelQuery | None = None,
            zone_query: ZoneQuery | None = None) -> Export:
    """What to export: the kind, the output CRS (`crs`, default storage), the BOM (CSV only) and the query."""
    out_crs = header_crs(crs)
    return Export(kind=kind, crs=out_crs, parcel_query=parcel_query, zone_query=zone_query, bom=csv_bom(f, bom))


@_export_route("parcels")
async def export_parcels(
    request: Request,
    db: DatabaseDep,
    actor: ActorDep,
    settings: SettingsDep,
    counts: CountsDep,
    query: ParcelQueryDep,
    f: Format = "gpkg",
    crs: OutCrs = None,
    bom: Bom = False,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    """Every parcel the REST list would match (no paging): GeoJSON is the REST resources in one stream (the
    whole city for QGIS or a dashboard, built by PostgreSQL on two connections, flat memory, with an ETag);
    GeoPackage, CSV (geometry as WKT) and zipped Shapefile (10-character field names) are files for
    re-import, with `plot_ratio_reference_code`."""
    export = _export("parcels", f, crs, bom, parcel_query=query)
    if f == "geojson":
        return await _geojson(request, db, settings, counts, query, export.crs, _headers(export, f), if_none_match)
    return await _send_file(db, settings, export, f)


@_export_route("zones")
async def export_zones(
    db: DatabaseDep,
    actor: ActorDep,
    settings: SettingsDep,
    query: ZoneQueryDep,
    f: Format = "gpkg",
    crs: OutCrs = None,
    bom: Bom = False,
) -> Response:
    """Every zone the zone list would match (no paging), as a file for re-import (`--kind zones`)."""
    return await _send_file(db, settings, _export("zones", f, crs, bom, zone_query=query), f)


@_export_route("districts")
async def export_districts(
    db: DatabaseDep, actor: ActorDep, settings: SettingsDep, f: Format = "gpkg", crs: OutCrs = None, bom: Bom = False
) -> Response:
    """The municipality's districts, as a file for re-import (`--kind districts`)."""
    return await _send_file(db, settings, _export("districts", f, crs, bom), f)


def _headers(export: Export, f: str) -> dict[str, str]:
    return {"Content-Crs": f"<{export.crs.uri}>",
            "Content-Disposition": f'attachment; filename="{export.kind}{SUFFIX[f]}"'}


async def _send_file(db: Database, settings: Settings, export: Export, f: str) -> Response:
    """CSV streamed; the other formats written to a temporary file a chunk at a time, then sent (the file
    goes afterwards)."""
    headers = _headers(export, f)
    if f == "csv":
        return BoundedStream(_csv(db, export), media_type=MEDIA["csv"], headers=headers,
                             send_timeout=settings.stream_send_timeout_seconds)
    folder = Path(tempfile.mkdtemp(prefix="landcycle-export-"))
    path = folder / f"{export.kind}{SUFFIX[f]}"
    try:
        await export_to_file(db, export, path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return BoundedFile(path, media_type=MEDIA[f], headers=headers, send_timeout=settings.stream_send_timeout_seconds,
                       background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


async def _geojson(request: Request, db: Database, settings: Settings, counts: CountCache, query: ParcelQuery,
                   crs: CrsRef, headers: dict[str, str], if_none_match: str | None) -> Response:
    async with db.reader() as conn:
        version = await collection_version(conn, "parcel")
        headers = {**headers, "ETag": collection_etag(version, str(request.url)), "Cache-Control": "no-cache"}
        if etag_matches(if_none_match, headers["ETag"]):
            return Response(status_code=304, headers=headers)
        matched = await cached_count(counts, conn, version, query)
    self_link = [{"href": str(public_url(request, settings)), "rel": "self", "type": MEDIA["geojson"]}]
    # A `crs` member (a foreign member to RFC 7946 readers; GDAL reads it) so the file re-imports in its CRS.
    extra = {"name": "parcels", "crs": {"type": "name", "properties": {"name": crs_urn(crs.srid)}}}
    chunks = stream_collection_chunks(export_chunks(db, query, crs), matched, lambda _n, _k: self_link,
                                      head_extra=extra)
    return BoundedStream(chunks, media_type=MEDIA["geojson"], headers=headers,
                         send_timeout=settings.stream_send_timeout_seconds)


async def _csv(db: Database, export: Export) -> AsyncIterator[bytes]:
    """CSV rows with the geometry as WKT (full precision) in the output CRS, a chunk at a time."""
    names = [name for name, _, _ in columns(export)]
    yield csv_text([[*names, CSV_GEOMETRY]], bom=export.bom).encode()
    async with db.connection() as conn:
        chunks = stream_chunks(conn, statement(export, lambda g: func.ST_AsText(in_crs(g, export.crs))))
        async with aclosing(chunks):  # its cursor closed before the connection goes back to the pool
            async for rows in chunks:
                yield csv_text([*(r._mapping[n] for n in names), r._mapping["geom"]] for r in rows).encode()

