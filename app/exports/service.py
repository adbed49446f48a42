"""Exports: the one query of each resource (filters, bbox, as_of, like the REST lists) streamed from a
server-side cursor into a file a chunk at a time (flat memory at any size).

Every export carries `plot_ratio_reference_code` beside `plot_ratio_reference_id`: ids are this
database's, codes travel, so an export re-imported elsewhere finds its rule-3 reference parcels.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import Database
from app.errors import ValidationFailed
from app.parcels import query as parcels
from app.zones import query as zones
from gis.crs import CrsRef
from gis.io import LayerWriter
from gis.sql import in_crs
from models import District, Parcel

CHUNK_ROWS = 5000
# Shapefile field names have at most 10 characters; these short names are read back by the import.
SHAPEFILE_NAMES = {
    "plot_ratio_reference_id": "ref_id",
    "plot_ratio_reference_code": "ref_code",
    "legacy_zone": "legacy_zn",
    "district_code": "district",
    "planning_locked": "locked",
    "plot_ratio_cap": "ratio_cap",
    "plot_ratio_cap_source": "cap_source",
    "advanced_manufacturing": "adv_mfg",
}
_KIND_OF = {
    "string": "string",
    "decimal": "float",
    "double": "float",
    "long": "int",
    "int": "int",
    "boolean": "bool",
    "dateTime": "datetime",
}
_FILTER_TYPES = {"zone_id": int, "advanced_manufacturing": bool}


@dataclass(frozen=True)
class Export:
    """What to export: a kind, its query, the output CRS; a CSV with a byte-order mark (for Excel)."""

    kind: str
    crs: CrsRef
    parcel_query: parcels.ParcelQuery | None = None
    zone_query: zones.ZoneQuery | None = None
    bom: bool = False


def reference_code() -> ColumnElement[Any]:
    """The code of a parcel's rule-3 reference parcel (its latest version)."""
    ref = Parcel.__table__.alias("ref")
    table = parcels.parcel
    return (
        select(ref.c.code)
        .where(ref.c.id == table.c.plot_ratio_reference_id)
        .order_by(ref.c.version.desc())
        .limit(1)
        .scalar_subquery()
    )


def columns(export: Export) -> list[tuple[str, str, ColumnElement[Any]]]:
    """(name, field kind, column) of each exported attribute, id first."""
    if export.kind == "parcels":
        table = parcels.parcel
        out: list[tuple[str, str, ColumnElement[Any]]] = [("id", "int", table.c.id)]
        types = dict(parcels.PROPERTIES)
        for name, col in parcels.property_columns():
            out.append((name, _KIND_OF[types[name]], col))
            if name == "plot_ratio_reference_id":
                out.append(("plot_ratio_reference_code", "string", reference_code()))
        return out
    if export.kind == "zones":
        types = dict(zones.PROPERTIES)
        return [("id", "int", zones.zone.c.id)] + [
            (n, _KIND_OF[types[n]], c) for n, c in zones.property_columns()
        ]
    table = District.__table__
    return [(name, "string", table.c[name]) for name in ("code", "name_zh", "name_en")]


def statement(export: Export, geometry: Callable[[Any], ColumnElement[Any]]) -> Select[Any]:
    """SELECT the attributes and `geometry(geom)` labelled `geom`, ordered by key."""
    cols = [c.label(name) for name, _, c in columns(export)]
    if export.kind == "parcels":
        return parcels.select_rows(
            export.parcel_query or parcels.ParcelQuery(), *cols, geometry(parcels.parcel.c.geom).label("geom")
        )
    if export.kind == "zones":
        return zones.select_rows(
            export.zone_query or zones.ZoneQuery(), *cols, geometry(zones.zone.c.geom).label("geom")
        )
    table = District.__table__
    return select(*cols, geometry(table.c.geom).label("geom")).order_by(table.c.code)


def wkb_in(crs: CrsRef) -> Callable[[Any], ColumnElement[Any]]:
    """Geometry as WKB in the output CRS (full precision)."""
    return lambda geom: func.ST_AsBinary(in_crs(geom, crs))


def parse_where(kind: str, items: list[str]) -> dict[str, Any]:
    """`field=value` filters (CLI `--where`) → the REST list's filters of that kind."""
    allowed = parcels.FILTERS if kind == "parcels" else zones.FILTERS if kind == "zones" else ()
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or name not in allowed:
            raise ValidationFailed(
                f"--where takes field=value with a field of {kind}: "
                f"{', '.join(allowed) or '(none)'}; not {item!r}",
                field="where",
            )
        kind_of = _FILTER_TYPES.get(name, str)
        if kind_of is int:
            if not value.isdigit():
                raise ValidationFailed(f"--where {name}: {value!r} is not a number", field="where")
            out[name] = int(value)
        elif kind_of is bool:
            out[name] = value.lower() in ("true", "1", "yes", "t")
        else:
            out[name] = value
    return out


async def stream_chunks(conn: AsyncConnection, stmt: Select[Any]) -> AsyncGenerator[list[Any], None]:
    """Rows of a select through a server-side cursor, a chunk at a time."""
    result = await conn.stream(stmt.execution_options(yield_per=CHUNK_ROWS))
    try:
        async for part in result.partitions(CHUNK_ROWS):
            yield list(part)
    finally:
        await result.close()  # the server-side cursor, also when the consumer stops early


def file_fields(export: Export, path: Path) -> list[tuple[str, str, str]]:
    """(column in the select, field name in the file, field kind) for this file format."""
    shapefile = path.suffix.lower() in (".shp", ".zip")
    out = []
    for name, kind, _ in columns(export):
        if shapefile:
            # Shapefiles have no date-time fields and 10-character names.
            out.append((name, SHAPEFILE_NAMES.get(name, name), "string" if kind == "datetime" else kind))
        else:
            out.append((name, name, kind))
    return out


async def export_to_file(
    db: Database,
    export: Export,
    path: Path,
    layer: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the export to `path` (.gpkg, .shp, .zip, .geojson, .json, .csv); returns the row count."""
    fields = file_fields(export, path)
    writer = LayerWriter(path, layer or export.kind, export.crs.srid, [(f, k) for _, f, k in fields], bom=export.bom)
    written = 0
    try:
        async with db.connection() as conn:
            async for rows in stream_chunks(conn, statement(export, wkb_in(export.crs))):
                data: Mapping[str, list[Any]] = {
                    f: [_value(r._mapping[name], k) for r in rows] for name, f, k in fields
                }
                await asyncio.to_thread(writer.write, data, [r.geom for r in rows])
                written += len(rows)
                if progress is not None:
                    progress(written)
        await asyncio.to_thread(writer.close)
    except BaseException:
        writer.abort()
        raise
    return written


def _value(value: Any, kind: str) -> Any:
    if kind == "string" and value is not None and hasattr(value, "isoformat"):
        return value.isoformat()
    return value
