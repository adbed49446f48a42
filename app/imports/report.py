"""The refused-rows report of an import: a GeoPackage (the rows' geometries as drawn, in the file's CRS,
to look at beside the source) or a CSV, each row with its file row number, SPEC code and reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import shapely

from app.imports.service import ImportOutcome
from gis.crs import STORAGE_SRID
from gis.io import LayerWriter

FIELDS = (("row", "int"), ("code", "string"), ("reason", "string"), ("feature_code", "string"))


def default_path(source: Path) -> Path:
    """`parcels.gpkg` → `parcels.refused.gpkg` in the current directory."""
    return Path.cwd() / f"{source.stem}.refused.gpkg"


def write_report(path: Path, outcome: ImportOutcome) -> Path:
    """Write the refused rows (.gpkg or .csv); returns the path."""
    source = outcome.source
    srid = source.crs.srid if source is not None else STORAGE_SRID
    by_row = {} if source is None else {row: i for i, row in enumerate(source.rows)}
    geoms = []
    for refusal in outcome.refused:
        i = by_row.get(refusal.row)
        geom = None if source is None or i is None else source.original[i]
        geoms.append(None if geom is None else shapely.to_wkb(geom))
    columns: dict[str, list[Any]] = {
        "row": [r.row for r in outcome.refused],
        "code": [r.code for r in outcome.refused],
        "reason": [r.reason for r in outcome.refused],
        "feature_code": [r.key for r in outcome.refused],
    }
    with LayerWriter(path, "refused", srid, FIELDS, geometry_type="Unknown") as writer:
        writer.write(columns, geoms)
    return path
