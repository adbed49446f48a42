"""Geometry at the edge (SPEC §2): parse, check with a reason, transform to storage, never auto-fix.

One checker, `problems()`, is vectorised over shapely arrays so a 100,000-row import and a single REST
POST go through the same code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
import shapely.wkb
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from gis.crs import STORAGE_SRID, CrsRef, transformer
from gis.errors import GeometryError

Extent = tuple[float, float, float, float]
_POLYGONAL = {"Polygon", "MultiPolygon"}


def problems(geoms: Sequence[BaseGeometry | None] | np.ndarray, extent: Extent) -> list[str | None]:
    """For each geometry (already in storage CRS) the reason it is refused, or None when it is fine."""
    arr = np.asarray(geoms, dtype=object)
    out: list[str | None] = [None] * len(arr)
    if not len(arr):
        return out
    missing = shapely.is_missing(arr)
    safe = arr.copy()
    safe[missing] = None
    types = shapely.get_type_id(safe)
    empty = shapely.is_empty(safe) | missing
    # Non-finite coordinates: count per geometry of non-finite ordinates.
    coords, index = shapely.get_coordinates(safe, return_index=True)
    bad_coord = np.zeros(len(arr), dtype=bool)
    if len(coords):
        nonfinite = ~np.isfinite(coords).all(axis=1)
        bad_coord[np.unique(index[nonfinite])] = True
    polygonal = np.isin(types, (3, 6))
    check = ~empty & polygonal & ~bad_coord
    reasons = np.full(len(arr), None, dtype=object)
    if check.any():
        reasons[check] = shapely.is_valid_reason(safe[check])
    minx, miny, maxx, maxy = extent
    bounds = shapely.bounds(safe)
    with np.errstate(invalid="ignore"):  # NaN bounds of empty geometries compare False
        outside = (bounds[:, 0] < minx) | (bounds[:, 1] < miny) | (bounds[:, 2] > maxx) | (bounds[:, 3] > maxy)
    # Only the geometries with something to say go through the reasons below, one by one.
    suspect = empty | ~polygonal | bad_coord | (reasons != "Valid Geometry") | outside
    for i in np.flatnonzero(suspect).tolist():
        if empty[i]:
            out[i] = "empty geometry"
        elif not polygonal[i]:
            out[i] = f"not a polygon or multipolygon: {safe[i].geom_type}"
        elif bad_coord[i]:
            out[i] = "coordinates are not finite numbers (NaN or Infinity)"
        elif reasons[i] != "Valid Geometry":
            out[i] = str(reasons[i])
        else:
            x0, y0, x1, y1 = bounds[i]
            if x0 < minx or y0 < miny or x1 > maxx or y1 > maxy:
                out[i] = (f"outside the service extent lon {minx}–{maxx}, lat {miny}–{maxy} "
                          f"(geometry spans lon {x0:.5f}–{x1:.5f}, lat {y0:.5f}–{y1:.5f})")
    return out


def to_storage(geoms: np.ndarray | Sequence[BaseGeometry], crs: CrsRef) -> np.ndarray:
    """Transform x/y geometries from `crs` into storage lon/lat; shapely arrays in and out."""
    arr = np.asarray(geoms, dtype=object)
    if crs.srid == STORAGE_SRID:
        return arr
    tr = transformer(crs.srid, STORAGE_SRID)

    def _xy(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(arr, _xy)


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """Polygon → one-part MultiPolygon; MultiPolygon unchanged (storage type, SPEC §2)."""
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    if isinstance(geom, MultiPolygon):
        return geom
    raise GeometryError(f"not a polygon or multipolygon: {geom.geom_type}")


def storage_ewkb(geom: BaseGeometry) -> bytes:
    """A storage-CRS geometry as EWKB carrying the storage SRID (what `ST_GeomFromEWKB` reads in SQL)."""
    return bytes(shapely.wkb.dumps(geom, srid=STORAGE_SRID, include_srid=True))


def check_one(geom: BaseGeometry, crs: CrsRef, extent: Extent) -> MultiPolygon:
    """One client geometry in `crs` (x/y order) → checked storage MultiPolygon, or GeometryError."""
    if geom.geom_type not in _POLYGONAL:
        raise GeometryError(f"not a polygon or multipolygon: {geom.geom_type}")
    # The client's own coordinates first: its reason should speak of what it sent.
    if crs.srid != STORAGE_SRID:
        reason = problems([geom], (-math.inf, -math.inf, math.inf, math.inf))[0]
        if reason:
            raise GeometryError(reason)
    stored = to_storage([geom], crs)[0]
    reason = problems([stored], extent)[0]
    if reason:
        raise GeometryError(reason)
    return as_multipolygon(stored)


def from_geojson(obj: Any, crs: CrsRef, extent: Extent) -> MultiPolygon:
    """A GeoJSON geometry object (x/y in `crs`) → checked storage MultiPolygon, or GeometryError."""
    if not isinstance(obj, dict):
        raise GeometryError("geometry must be a GeoJSON object")
    kind = obj.get("type")
    coords = obj.get("coordinates")
    if kind not in _POLYGONAL:
        raise GeometryError(f"not a polygon or multipolygon: {kind!r}")
    if not isinstance(coords, list) or not coords:
        raise GeometryError("empty geometry")
    polygons = [coords] if kind == "Polygon" else coords
    parts = []
    for p, rings in enumerate(polygons):
        if not isinstance(rings, list) or not rings:
            raise GeometryError(f"polygon {p} has no rings")
        parts.append(Polygon(_ring(rings[0], p, 0), [_ring(r, p, i) for i, r in enumerate(rings[1:], 1)]))
    geom = parts[0] if kind == "Polygon" else MultiPolygon(parts)
    return check_one(geom, crs, extent)


def _ring(ring: Any, polygon: int, index: int) -> list[tuple[float, float]]:
    """Positions of one ring, refusing what shapely would silently repair (unclosed, too short)."""
    where = f"ring {index} of polygon {polygon}"
    if not isinstance(ring, list) or len(ring) < 4:
        raise GeometryError(f"{where} has fewer than 4 positions")
    points = [_position(pos, where) for pos in ring]
    if points[0] != points[-1]:
        raise GeometryError(f"{where} is not closed (first and last positions differ)")
    return points


def _position(pos: Any, where: str) -> tuple[float, float]:
    if not isinstance(pos, list | tuple) or len(pos) not in (2, 3):
        raise GeometryError(f"{where}: a position must be [x, y] or [x, y, z]")
    try:
        x, y = float(pos[0]), float(pos[1])
    except (TypeError, ValueError):
        raise GeometryError(f"{where}: coordinates must be numbers") from None
    if isinstance(pos[0], bool) or isinstance(pos[1], bool):
        raise GeometryError(f"{where}: coordinates must be numbers")
    if not (math.isfinite(x) and math.isfinite(y)):
        raise GeometryError("coordinates are not finite numbers (NaN or Infinity)")
    return (x, y)


def swap_xy(geoms: Iterable[BaseGeometry]) -> np.ndarray:
    """Swap axes (lat/lon → lon/lat) of each geometry, for clients that send y/x."""
    return shapely.transform(np.asarray(list(geoms), dtype=object), lambda c: c[:, ::-1].copy())
