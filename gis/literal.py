"""Geometry literals of query filters (CQL2 `S_*` functions): any geometry type, read from GeoJSON-shaped
objects (cql2-json, and cql2-text's WKT as the `cql2` parser gives it) or a BBOX, in the client's CRS and
axis order, checked with a reason and returned in storage coordinates (x/y lon/lat, EPSG:4490).

Nothing is repaired: an unclosed ring, a self-intersecting polygon or a coordinate off the CRS's domain
is refused (GeometryError), so PostGIS never sees a geometry it would raise on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import shapely
from shapely.geometry import (
    GeometryCollection,
    LinearRing,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
    box,
)
from shapely.geometry.base import BaseGeometry

from gis.crs import STORAGE_SRID, CrsRef, geographic
from gis.errors import GeometryError
from gis.geometry import to_storage

Position = tuple[float, float]
TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection")


class _Reader:
    """Reads one literal's positions (at most `max_vertices`), swapping y/x to x/y when `swap`."""

    def __init__(self, srid: int, swap: bool, max_vertices: int) -> None:
        self.srid, self.swap, self.left = srid, swap, max_vertices
        self.geographic = geographic(srid)

    def position(self, pos: Any) -> Position:
        if not isinstance(pos, list | tuple) or len(pos) not in (2, 3):
            raise GeometryError("a position is [x, y] or [x, y, z]")
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in pos):
            raise GeometryError("coordinates must be numbers")
        a, b = float(pos[0]), float(pos[1])
        if not (math.isfinite(a) and math.isfinite(b)):
            raise GeometryError("coordinates are not finite numbers (NaN or Infinity)")
        self.left -= 1
        if self.left < 0:
            raise GeometryError("the geometry has too many vertices")
        x, y = (b, a) if self.swap else (a, b)
        if self.geographic and not (-180 <= x <= 180 and -90 <= y <= 90):
            order = "latitude first" if self.swap else "longitude first"
            raise GeometryError(f"({a:g} {b:g}) is not a longitude/latitude in EPSG:{self.srid} ({order}, as the "
                                "filter-crs names it)")
        return (x, y)

    def positions(self, value: Any, least: int, what: str) -> list[Position]:
        if not isinstance(value, list) or len(value) < least:
            raise GeometryError(f"{what} needs at least {least} positions")
        return [self.position(p) for p in value]

    def ring(self, value: Any) -> LinearRing:
        points = self.positions(value, 4, "a polygon ring")
        if points[0] != points[-1]:
            raise GeometryError("a polygon ring is not closed (first and last positions differ)")
        return LinearRing(points)

    def polygon(self, rings: Any) -> Polygon:
        if not isinstance(rings, list) or not rings:
            raise GeometryError("a polygon needs an outer ring")
        return Polygon(self.ring(rings[0]), [self.ring(r) for r in rings[1:]])

    def parts(self, value: Any, what: str) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise GeometryError(f"{what} has no parts")
        return value

    def geometry(self, obj: Any, nested: bool = False) -> BaseGeometry:
        if not isinstance(obj, dict):
            raise GeometryError("a geometry literal is a GeoJSON geometry or a BBOX")
        kind = obj.get("type")
        if kind == "GeometryCollection":
            if nested:
                raise GeometryError("a GeometryCollection inside a GeometryCollection is not offered")
            members = self.parts(obj.get("geometries"), "the GeometryCollection")
            return GeometryCollection([self.geometry(m, nested=True) for m in members])
        if kind not in TYPES:
            raise GeometryError(f"unknown geometry type {str(kind)[:40]!r}; one of {', '.join(TYPES)}")
        coords = obj.get("coordinates")
        if kind == "Point":
            return Point(self.position(coords))
        if kind == "MultiPoint":
            return MultiPoint([self.position(p) for p in self.parts(coords, "the MultiPoint")])
        if kind == "LineString":
            return LineString(self.positions(coords, 2, "a line"))
        if kind == "MultiLineString":
            return MultiLineString([self.positions(c, 2, "a line") for c in self.parts(coords, "the MultiLineString")])
        if kind == "Polygon":
            return self.polygon(coords)
        return MultiPolygon([self.polygon(p) for p in self.parts(coords, "the MultiPolygon")])

    def bbox(self, values: Any) -> BaseGeometry:
        if not isinstance(values, list | tuple) or len(values) not in (4, 6):
            raise GeometryError("a BBOX has 4 numbers (or 6 with heights)")
        corners = [values[0], values[1], values[3], values[4]] if len(values) == 6 else list(values)
        (x0, y0), (x1, y1) = self.position(corners[:2]), self.position(corners[2:])
        if x0 > x1 or y0 > y1:
            raise GeometryError("a BBOX lists the lower corner first (min ≤ max on both axes)")
        envelope = box(x0, y0, x1, y1)
        if self.srid == STORAGE_SRID or x0 == x1 or y0 == y1:
            return envelope
        # Its edges curve in storage coordinates: 16 segments per edge before transforming (as gis.sql.envelope).
        return shapely.segmentize(envelope, max(x1 - x0, y1 - y0) / 16)


def _reason(geom: BaseGeometry) -> str | None:
    """Why PostGIS's predicates cannot take `geom` (polygons that are not valid), or None."""
    parts: Sequence[BaseGeometry] = geom.geoms if isinstance(geom, GeometryCollection) else [geom]
    for part in parts:
        if part.is_empty:
            return "empty geometry"
        if isinstance(part, Polygon | MultiPolygon) and not part.is_valid:
            return str(shapely.is_valid_reason(part))
    return None


def read_literal(obj: Any, srid: int, swap: bool, max_vertices: int = 10_000) -> BaseGeometry:
    """A geometry literal (GeoJSON geometry object, or `{"bbox": [...]}`) in EPSG:`srid`, y/x when `swap`,
    → the checked geometry in storage x/y coordinates; GeometryError with the reason otherwise."""
    reader = _Reader(srid, swap, max_vertices)
    geom = reader.bbox(obj["bbox"]) if isinstance(obj, dict) and "bbox" in obj else reader.geometry(obj)
    reason = _reason(geom)
    if reason:
        raise GeometryError(f"the geometry literal is refused: {reason}")
    if srid != STORAGE_SRID:
        geom = to_storage([geom], CrsRef(srid))[0]
        if not all(math.isfinite(v) for v in geom.bounds):
            raise GeometryError(f"the geometry literal lies outside the domain of EPSG:{srid}")
        reason = _reason(geom)
        if reason:
            raise GeometryError(f"the geometry literal is refused in storage coordinates: {reason}")
    return geom


def ewkt(geom: BaseGeometry) -> str:
    """A storage geometry as EWKT at full precision (what `ST_GeomFromEWKT` reads)."""
    return f"SRID={STORAGE_SRID};{shapely.to_wkt(geom, rounding_precision=-1, output_dimension=2)}"
