"""Mapbox Vector Tiles from PostGIS: the XYZ tile pyramid in Web Mercator and the MVT expressions.

Tiles follow the XYZ scheme MapLibre and every web map use (OSGeo TMS with y counted from the north,
EPSG:3857, 2^z × 2^z tiles at zoom z). Geometry is clipped to the tile plus a buffer of `BUFFER` units so
lines and fills join across tile edges, and snapped to the tile's `EXTENT` × `EXTENT` grid by
`ST_AsMVTGeom` (Mapbox Vector Tile Specification 2.1, §4.3).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Float, Integer, Text, bindparam, func, literal

from gis.crs import STORAGE_SRID, WEB_MERCATOR_SRID

EXTENT = 4096  # grid units per tile side
BUFFER = 64  # grid units kept beyond each edge
MAX_ZOOM = 22
# Half the side of the Web Mercator square (π × 6,378,137 m): the pyramid's z = 0 tile.
HALF_WORLD = 20037508.342789244


def _const(value: Any, type_: Any) -> Any:
    """A constant written into the SQL text (not a parameter), so the planner folds what depends on it."""
    return literal(value, type_, literal_execute=True)


def tile_exists(z: int, x: int, y: int) -> bool:
    """Whether z/x/y names a tile of the pyramid (0 ≤ z ≤ MAX_ZOOM, 0 ≤ x, y < 2^z)."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def tile_params() -> tuple[Any, Any, Any]:
    """The named, typed parameters `z`, `x`, `y` (one compiled statement serves every tile)."""
    return (bindparam("z", None, type_=Integer), bindparam("x", None, type_=Integer),
            bindparam("y", None, type_=Integer))


def tile_envelope(*, buffered: bool = False) -> Any:
    """The tile's square in Web Mercator; `buffered`: grown by the buffer on every side (what a tile shows)."""
    z, x, y = tile_params()
    world = func.ST_MakeEnvelope(*(_const(v, Float) for v in (-HALF_WORLD, -HALF_WORLD, HALF_WORLD, HALF_WORLD)),
                                 _const(WEB_MERCATOR_SRID, Integer))
    return func.ST_TileEnvelope(z, x, y, world, _const(BUFFER / EXTENT if buffered else 0.0, Float))


def storage_envelope() -> Any:
    """The buffered tile in the storage CRS, to find rows with the storage geometry's GiST index. Web
    Mercator's axes are lon/lat lines, so the corners alone give the exact rectangle."""
    return func.ST_Transform(tile_envelope(buffered=True), _const(STORAGE_SRID, Integer))


def to_web_mercator(geom: Any) -> Any:
    """A storage geometry in Web Mercator."""
    return func.ST_Transform(geom, _const(WEB_MERCATOR_SRID, Integer))


def mvt_geometry(geom: Any, extent: int = EXTENT, buffer: int = BUFFER) -> Any:
    """A Web Mercator geometry in tile coordinates: clipped to tile + buffer, snapped to the `extent` grid;
    NULL when nothing of it is left (outside the tile, or collapsed below a grid unit). ST_AsMVT skips NULLs."""
    return func.ST_AsMVTGeom(geom, tile_envelope(), _const(extent, Integer), _const(buffer, Integer),
                             _const(True, Boolean))


def mvt(rows: Any, layer: str, feature_id: str | None, extent: int = EXTENT) -> Any:
    """ST_AsMVT over a subquery of rows (`geom` in tile coordinates of an `extent` grid, other columns become
    properties; `feature_id` names the integer column used as the MVT feature id, then not a property)."""
    args = [rows.table_valued(), _const(layer, Text), _const(extent, Integer), _const("geom", Text)]
    if feature_id is not None:
        args.append(_const(feature_id, Text))
    return func.ST_AsMVT(*args)
