"""SQL expressions for PostGIS that encode and filter geometry in any supported CRS (SQLAlchemy Core)."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, Text, bindparam, func, literal

from gis.crs import STORAGE_SRID, CrsRef
from gis.errors import GeometryError


def constant(value: str | int) -> ColumnElement[Any]:
    """Fixed text (markup, member names) or a fixed number (precision, options) written into the SQL as a
    literal, not sent as a parameter: statements compiled once per shape keep one text, and PostgreSQL
    never reads a parameter per row for it. Only for values the code itself spells; values from clients
    stay bound parameters."""
    return literal(value, Integer if isinstance(value, int) else Text, literal_execute=True)


def in_crs(geom: Any, crs: CrsRef) -> Any:
    """The geometry transformed from storage to `crs` (no-op for storage)."""
    return geom if crs.srid == STORAGE_SRID else func.ST_Transform(geom, constant(crs.srid))


def geojson(geom: Any, crs: CrsRef) -> ColumnElement[str]:
    """GeoJSON geometry text, x/y order, ~1 cm precision, no `crs` member (RFC 7946)."""
    return func.ST_AsGeoJSON(in_crs(geom, crs), constant(crs.decimals), constant(0))


def parse_bbox(text: str, name: str = "bbox") -> tuple[float, float, float, float]:
    """`minx,miny,maxx,maxy` (or the 6-number 3D form) → four finite numbers, min ≤ max."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (4, 6):
        raise GeometryError(f"{name} must be minx,miny,maxx,maxy")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise GeometryError(f"{name} must be four numbers") from None
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if not all(math.isfinite(v) for v in values):
        raise GeometryError(f"{name} must be finite numbers")
    x0, y0, x1, y1 = values
    if x0 > x1 or y0 > y1:
        raise GeometryError(f"{name}: min must not exceed max ({text})")
    return (x0, y0, x1, y1)


BBOX_PARAMS = ("bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1")


def bbox_values(bbox: tuple[float, float, float, float]) -> dict[str, float]:
    """The bound values of `envelope`, by parameter name (statements compiled once take them per call)."""
    return {name: float(v) for name, v in zip(BBOX_PARAMS, bbox, strict=True)}


def envelope(bbox: tuple[float, float, float, float], crs: CrsRef) -> Any:
    """A storage-CRS polygon for an x/y bbox given in `crs` (edges densified before transforming).

    The corners are named, typed parameters, so one compiled statement serves every bbox of a CRS."""
    x0, y0, x1, y1 = (bindparam(name, v, type_=Float, unique=True) for name, v in bbox_values(bbox).items())
    env = func.ST_MakeEnvelope(x0, y0, x1, y1, crs.srid)
    if crs.srid == STORAGE_SRID:
        return env
    # 16 segments per edge; a zero-width box still gets a positive step.
    step = func.coalesce(func.nullif((x1 - x0) / 16.0, 0.0), 1.0)
    return func.ST_Transform(func.ST_Segmentize(env, step), STORAGE_SRID)


def bbox_filter(geom: Any, bbox: tuple[float, float, float, float], crs: CrsRef) -> ColumnElement[bool]:
    """Rows whose geometry intersects the bbox (GiST-indexed)."""
    return func.ST_Intersects(geom, envelope(bbox, crs))
