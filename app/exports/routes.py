"""GET /parcels/export?f=gpkg|geojson|csv: the current (or as_of) filtered parcels as a file, streamed.

Registered before the parcel routes so `/parcels/export` is never read as `/parcels/{parcel_id}`.
GeoJSON and CSV stream straight from a server-side cursor; a GeoPackage is a SQLite file that cannot be
written front to back, so it is written a chunk at a time to a temporary file and then streamed.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import func
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response, StreamingResponse

from app.db import Database
from app.deps import ActorDep, DatabaseDep, SettingsDep
from app.exports.service import Export, columns, export_to_file, statement, stream_chunks
from app.features.geojson import feature_text, stream_collection
from app.features.params import header_crs
from app.parcels.params import ParcelQueryDep
from app.parcels.query import parcel, select_rows
from gis.crs import CrsRef, crs_urn
from gis.sql import in_crs

router = APIRouter(prefix="/parcels", tags=["parcels"])
MEDIA = {
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
}


@router.get(
    "/export",
    response_model=None,
    summary="Export parcels as a file",
    responses={200: {"content": {m: {} for m in MEDIA.values()}}},
)
async def export_parcels(
    db: DatabaseDep,
    actor: ActorDep,
    settings: SettingsDep,
    query: ParcelQueryDep,
    f: Annotated[Literal["gpkg", "geojson", "csv"], Query(description="File format")] = "gpkg",
    crs: Annotated[str | None, Query(description="Output CRS, e.g. EPSG:4549 (default EPSG:4490)")] = None,
) -> Response:
    """Every parcel the REST list would match (no paging), as GeoPackage, GeoJSON or CSV (geometry as WKT)."""
    out_crs = header_crs(crs)
    export = Export(kind="parcels", crs=out_crs, parcel_query=query)
    headers = {
        "Content-Crs": f"<{out_crs.uri}>",
        "Content-Disposition": f'attachment; filename="parcels.{f}"',
    }
    if f == "geojson":
        props = [(name, col) for name, _, col in columns(export) if name != "id"]
        stmt = select_rows(query, feature_text(parcel.c.id, parcel.c.geom, out_crs, props))
        extra = {"name": "parcels", "crs": {"type": "name", "properties": {"name": crs_urn(out_crs.srid)}}}
        return StreamingResponse(
            stream_collection(db, stmt, None, lambda _: [], head_extra=extra),
            media_type=MEDIA["geojson"],
            headers=headers,
        )
    if f == "csv":
        return StreamingResponse(_csv(db, export, out_crs), media_type=MEDIA["csv"], headers=headers)
    folder = Path(tempfile.mkdtemp(prefix="landcycle-export-"))
    path = folder / "parcels.gpkg"
    try:
        await export_to_file(db, export, path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=MEDIA["gpkg"],
        headers=headers,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


async def _csv(db: Database, export: Export, crs: CrsRef) -> AsyncIterator[bytes]:
    """CSV rows with the geometry as WKT (full precision) in the output CRS, a chunk at a time."""
    names = [name for name, _, _ in columns(export)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*names, "wkt"])
    yield out.getvalue().encode()
    async with db.connection() as conn:
        async for rows in stream_chunks(conn, statement(export, lambda g: func.ST_AsText(in_crs(g, crs)))):
            out.seek(0)
            out.truncate()
            for r in rows:
                m = r._mapping
                writer.writerow([_cell(m[n]) for n in names] + [m["geom"]])
            yield out.getvalue().encode()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
