"""Files for import tests, made in the test: parcels of the builders' city written in any CRS and format."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from app.auth.permissions import Actor
from tests.builders import BZ, CZ, M_LAT, M_LON

BUREAU = Actor(id=0, username="bureau", role="bureau")


@dataclass(frozen=True)
class Row:
    """One parcel of a test file, with the tier the import should derive."""

    code: str
    land_use: str
    geom: BaseGeometry  # EPSG:4490
    tier: str | None
    plot_ratio: float | None = None
    legacy_zone: str | None = None
    status: str = "planned"


def square(lon: float, lat: float, side_m: float = 100.0) -> Polygon:
    """A square of `side_m` metres with its south-west corner at lon/lat (EPSG:4490)."""
    return box(lon, lat, lon + side_m * M_LON, lat + side_m * M_LAT)


def city_rows(prefix: str = "F") -> list[Row]:
    """Two base parcels, a community parcel, a fragment and an office reference parcel."""
    return [
        Row(f"{prefix}-B1", "industrial", square(BZ[0] + 0.01, BZ[1] + 0.01), "base", 1.5, "104", "planned"),
        Row(f"{prefix}-B2", "rnd", square(BZ[0] + 0.02, BZ[1] + 0.01, 150), "base", 2.5, None, "planned"),
        Row(
            f"{prefix}-C1",
            "industrial",
            square(CZ[0] + 0.01, CZ[1] + 0.01),
            "community",
            1.2,
            "195",
            "planned",  # industrial land enters the life cycle planned (SPEC §4); the office row is operating
        ),
        Row(f"{prefix}-X1", "industrial", square(121.45, 31.15), "fragment", None, "198", "planned"),
        Row(f"{prefix}-O1", "office", square(121.45, 31.16), None, 3.5, None, "operating"),
    ]


def frame(rows: Sequence[Row], srid: int, columns: dict[str, str] | None = None) -> gpd.GeoDataFrame:
    """The rows as a GeoDataFrame in `srid`; `columns` renames fields (field → column)."""
    names = columns or {}
    data: dict[str, Any] = {
        names.get("code", "code"): [r.code for r in rows],
        names.get("land_use", "land_use"): [r.land_use for r in rows],
        names.get("plot_ratio", "plot_ratio"): [r.plot_ratio for r in rows],
        names.get("legacy_zone", "legacy_zone"): [r.legacy_zone for r in rows],
        names.get("status", "status"): [r.status for r in rows],
    }
    gdf = gpd.GeoDataFrame(data, geometry=[r.geom for r in rows], crs="EPSG:4490")
    return gdf.to_crs(f"EPSG:{srid}") if srid != 4490 else gdf


def write(gdf: gpd.GeoDataFrame, path: Path, **kwargs: Any) -> Path:
    """Write with pyogrio (GeoPackage, Shapefile, GeoJSON by suffix)."""
    pyogrio.write_dataframe(gdf, path, **kwargs)
    return path


def zip_shapefile(shp: Path, target: Path, drop: Sequence[str] = ()) -> Path:
    """Zip a Shapefile's parts (leaving out the suffixes in `drop`, e.g. .cpg)."""
    with zipfile.ZipFile(target, "w") as archive:
        for part in sorted(shp.parent.glob(shp.stem + ".*")):
            if part.suffix.lower() not in drop and part != target:
                archive.write(part, f"data/{part.name}")
    return target


def to_metres(geom: BaseGeometry, srid: int) -> BaseGeometry:
    """A geometry in `srid` expressed in EPSG:4549 metres, to measure offsets."""
    tr = Transformer.from_crs(srid, 4549, always_xy=True)
    return shapely.transform(geom, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))


def offset_m(a: BaseGeometry, a_srid: int, b: BaseGeometry, b_srid: int) -> float:
    """Hausdorff distance in metres between two geometries given in any CRS."""
    return float(shapely.hausdorff_distance(to_metres(a, a_srid), to_metres(b, b_srid)))
