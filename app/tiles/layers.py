"""The tile layers: which rows (the resources' own current-row query), which properties, which geometry.

Properties carry the REST resources' names (SPEC §5). Parcels below `POINT_ZOOM_BELOW` are points on their
surface — a parcel is smaller than a pixel there, its polygon would collapse anyway — with the properties
a whole-city map styles and filters by; from `POINT_ZOOM_BELOW` up they are polygons with every property
listed here. Each statement also reads the layer's collection version and the snapshot it read in, so a
cached tile is filed under the version it shows and can later be checked against the writes it did not see
(app/tiles/service.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Integer, Select, Text, func, select
from sqlalchemy.dialects.postgresql import distinct_on

from app.features.versions import version_column
from app.parcels.query import ParcelQuery, parcel
from app.parcels.query import where as parcel_where
from app.prepared import Compiled, StatementCache
from app.zones.query import ZoneQuery, zone
from app.zones.query import where as zone_where
from gis.tiles import EXTENT, mvt, mvt_geometry, storage_envelope, to_web_mercator
from models import District

POINT_ZOOM_BELOW = 12
# A point tile's grid: one unit per CSS pixel of MapLibre's 512-pixel tiles. Below z 12 parcels are
# thinned to one per pixel (the lowest id; a pixel shows one colour anyway): the whole-city z 8 tile
# carries ~13,000 points instead of ~100,000, which the browser decodes and draws in a fraction of the time.
POINT_EXTENT = 512
POINT_BUFFER = 8

# Parcels as points (z < 12): what a whole-city map colours by; the parcel id is the MVT feature id. Every
# property costs the whole-city tile (100,000 points) 10–15 ms, a per-parcel one (`id`, `code`) 70 ms and
# 2 MB; with every property it took 0.55 s and 8 MB. The polygons from z 12 carry them all (`id` too, for
# clients that read properties only), as does the REST feature.
PARCEL_POINT_PROPERTIES = ("land_use", "legacy_zone", "status", "tier", "planning_locked")
PARCEL_PROPERTIES = ("id", "code", "land_use", "plot_ratio", "legacy_zone", "status", "district_code", "tier",
                     "zone_id", "planning_locked", "plot_ratio_cap")
ZONE_PROPERTIES = ("id", "code", "name", "kind", "advanced_manufacturing", "far_cap", "far_min", "district_code")
DISTRICT_PROPERTIES = ("code", "name_zh", "name_en")
# Decimal columns travel as MVT doubles (numbers a style expression can compare), not as text.
_DECIMALS = ("plot_ratio", "plot_ratio_cap", "far_cap", "far_min")

district = District.__table__
STATEMENTS = StatementCache(size=16)


@dataclass(frozen=True, slots=True)
class Layer:
    """A tile layer: its URL and MVT name, the collection whose version keys its ETags and cache."""

    name: str
    collection: str
    build: Callable[[bool], Select[Any]]

    def statement(self, z: int) -> Compiled:
        """`(collection version, tile bytes, snapshot)` of tile z/x/y; values `z`, `x`, `y`."""
        points = z < POINT_ZOOM_BELOW and self.name == "parcels"
        return STATEMENTS.get((self.name, points), lambda: self.build(points))


def _columns(table: Any, names: tuple[str, ...]) -> list[Any]:
    return [table.c[name].cast(Float).label(name) if name in _DECIMALS else table.c[name] for name in names]


def _tile(layer: str, collection: str, rows: Select[Any], feature_id: str | None,
          extent: int = EXTENT) -> Select[Any]:
    tile = rows.subquery("tile")
    return select(version_column(collection), mvt(tile, layer, feature_id, extent),
                  func.pg_current_snapshot().cast(Text)).select_from(tile)


def _parcels(points: bool) -> Select[Any]:
    # Found through the current-geometry index with the tile's rectangle in the storage CRS; drawn from the
    # stored Web Mercator columns (migration 0005): no transform per row or per worker.
    found = parcel.c.geom.op("&&")(storage_envelope())
    if not points:
        rows = (select(parcel.c.id.label("feature_id"), *_columns(parcel, PARCEL_PROPERTIES),
                       mvt_geometry(parcel.c.tile_geom).label("geom"))
                .where(*parcel_where(ParcelQuery()), found))
        return _tile("parcels", "parcel", rows, "feature_id")
    located = (select(parcel.c.id.label("feature_id"), *_columns(parcel, PARCEL_POINT_PROPERTIES),
                      mvt_geometry(parcel.c.tile_point, POINT_EXTENT, POINT_BUFFER).label("pixel"))
               .where(*parcel_where(ParcelQuery()), found).subquery("located"))
    one_per_pixel = (select(located.c.feature_id, *(located.c[name] for name in PARCEL_POINT_PROPERTIES),
                            located.c.pixel.label("geom"))
                     .ext(distinct_on(located.c.pixel)).order_by(located.c.pixel, located.c.feature_id))
    return _tile("parcels", "parcel", one_per_pixel, "feature_id", POINT_EXTENT)


def _zones(points: bool) -> Select[Any]:
    rows = (select(zone.c.id.label("feature_id"), *_columns(zone, ZONE_PROPERTIES),
                   mvt_geometry(to_web_mercator(zone.c.geom)).label("geom"))
            .where(*zone_where(ZoneQuery()), zone.c.geom.op("&&")(storage_envelope())))
    return _tile("zones", "zone", rows, "feature_id")


def _districts(points: bool) -> Select[Any]:
    rows = (select(district.c.code.cast(Integer).label("feature_id"), *_columns(district, DISTRICT_PROPERTIES),
                   mvt_geometry(to_web_mercator(district.c.geom)).label("geom"))
            .where(district.c.geom.op("&&")(storage_envelope())))
    return _tile("districts", "district", rows, "feature_id")


LAYERS = {layer.name: layer for layer in (
    Layer("parcels", "parcel", _parcels),
    Layer("zones", "zone", _zones),
    Layer("districts", "district", _districts),
)}
