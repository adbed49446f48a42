"""A file read for an import: its features' checked attributes and storage geometries, and the reason
for every feature refused before the rules (unreadable geometry, bad attribute values).

Synchronous (pyogrio, shapely, pyproj): the service runs `load()` in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from app.errors import CrsUnsupported, ValidationFailed
from app.imports import fields
from app.kinds import KINDS
from app.policy import Policy
from gis import guard, io
from gis.crs import STORAGE, STORAGE_SRID, CrsRef, from_definition, parse_crs, supported_names
from gis.errors import CrsError, VectorFileError
from gis.geometry import problems, to_storage
from gis.guard import ZipLimits

_EVERYWHERE = (-np.inf, -np.inf, np.inf, np.inf)


@dataclass(frozen=True)
class ImportOptions:
    """What the user asked for (CLI flags, form fields of POST /imports). The names in it are checked
    when it is made: a layer, an encoding and the mapped columns are names, never a path, URL or GDAL
    virtual file (gis.guard), so a request naming one is refused before its file is stored."""

    kind: str = "parcels"
    layer: str | None = None
    land_use: str | None = None
    crs: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    dry_run: bool = False
    skip_invalid: bool = False

    def __post_init__(self) -> None:
        checks = [("layer", guard.check_layer, self.layer), ("encoding", guard.check_encoding, self.encoding)]
        checks += [("map", guard.check_column, column) for column in self.mapping.values()]
        for name, check, value in checks:
            if value is not None:
                try:
                    check(value)
                except VectorFileError as exc:
                    raise ValidationFailed(str(exc), field=name) from None


@dataclass
class Source:
    """One entry per feature of the file (a CSV of boundary points: one per parcel)."""

    layer: str
    crs: CrsRef
    rows: list[int]  # the file's data row (1-based) of each feature, as reports name it
    values: list[dict[str, Any] | None]
    geoms: np.ndarray  # storage CRS MultiPolygons (for features not refused)
    original: np.ndarray  # as read, in the file's CRS (for the report)
    refused: dict[int, tuple[str, str]]  # feature → (SPEC code, reason)
    keys: list[str | None]  # each feature's code, for the report
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


def load(path: Path, options: ImportOptions, policy: Policy, limits: ZipLimits = ZipLimits()) -> Source:
    """Read, map and check a file; whole-file problems raise a DomainError with what to do. A file is
    opened only as its suffix says and a zip only within `limits` (gis.guard)."""
    if options.kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", field="kind")
    try:
        return _load(path, options, policy, limits)
    except VectorFileError as exc:
        raise ValidationFailed(str(exc), field="file") from None
    except CrsError as exc:
        raise CrsUnsupported(str(exc)) from None


def _load(path: Path, options: ImportOptions, policy: Policy, limits: ZipLimits) -> Source:
    layer = options.layer
    if layer is None:
        layers = io.list_layers(path, limits)
        if len(layers) > 1 and options.kind in layers:
            layer = options.kind
    layer = io.choose_layer(path, layer, limits)
    names = io.field_names(path, layer, options.encoding, limits)
    driver = io.dataset_path(path, limits)[1]
    tabular = driver in io.TABULAR  # a CSV or a sheet: geometry in columns
    mapping = fields.resolve_columns(options.kind, names, options.mapping, geometry_columns=tabular)
    _require(options, mapping, names)
    # Only the columns that feed a field are read (an export's derived columns are not).
    table = io.read_table(path, layer, options.encoding, columns=sorted(set(mapping.values())), limits=limits)
    notes: list[str] = []
    columns: dict[str, list[Any]] = {c: table.frame[c].tolist() for c in table.columns}
    n = len(table)
    rows = list(range(1, n + 1))
    read_reasons: list[str | None] = [None] * n
    declared = table.crs
    if not tabular:
        original = np.asarray(table.geoms, dtype=object)
    elif "wkt" in mapping:
        original, read_reasons, srids = io.geometries_from_text(columns[mapping["wkt"]])
        named = {s for s in srids if s is not None}
        if len(named) > 1:
            raise ValidationFailed(
                f"the EWKT in the file names several SRIDs ({sorted(named)}); one file, one CRS"
            )
        if named:
            declared = f"EPSG:{named.pop()}"
    elif "x" in mapping and "y" in mapping:
        firsts, original, read_reasons = io.polygons_from_points(
            columns[mapping["code"]],
            columns[mapping["x"]],
            columns[mapping["y"]],
            columns[mapping["part"]] if "part" in mapping else None,
            columns[mapping["ring"]] if "ring" in mapping else None,
        )
        columns = {c: [values[i] for i in firsts] for c, values in columns.items()}
        rows = [i + 1 for i in firsts]
        n = len(firsts)
        notes.append(f"{len(table):,} boundary points make {n:,} polygons (one per {mapping['code']})")
    else:
        raise ValidationFailed(
            f"the {'CSV' if driver == 'CSV' else 'sheet'} has neither a WKT column "
            "(wkt, geometry, geom…) nor lon/lat (x/y) columns; "
            "name them with --map wkt=COLUMN or --map x=COLUMN --map y=COLUMN",
            field="file",
        )
    crs = _crs(options, declared, original, notes)
    defaults = {"land_use": _land_use(options.land_use)} if options.kind == "parcels" else None
    values, reasons = fields.validate_rows(options.kind, columns, mapping, n, defaults)
    code = fields.FIELDS[options.kind][0]  # every kind's first field is its code
    keys = fields.normalise_column(code, columns.get(mapping.get("code", ""), [None] * n))[0]
    refused: dict[int, tuple[str, str]] = {}
    for i in range(n):
        if read_reasons[i]:
            refused[i] = ("GEOMETRY_INVALID", str(read_reasons[i]))
        elif original[i] is None:
            refused[i] = ("GEOMETRY_INVALID", "no geometry")
        elif reasons[i]:
            refused[i] = ("VALIDATION_ERROR", str(reasons[i]))
    geoms = _storage(original, crs, refused)
    return Source(
        layer=table.layer,
        crs=crs,
        rows=rows,
        values=values,
        geoms=geoms,
        original=original,
        refused=refused,
        keys=keys,
        notes=notes,
    )


def _require(options: ImportOptions, mapping: dict[str, str], columns: list[str]) -> None:
    schema = fields.SCHEMAS[options.kind]
    for spec in fields.FIELDS[options.kind]:
        info = schema.model_fields.get(spec.name)
        if info is None or not info.is_required() or spec.name in mapping:
            continue
        if spec.name == "land_use" and options.land_use:
            continue
        hint = " or give --land-use" if spec.name == "land_use" else ""
        names = ", ".join((spec.name, *spec.aliases))
        raise ValidationFailed(
            f"the file has no column for {spec.name} (looked for {names}); map one with "
            f"--map {spec.name}=COLUMN{hint}. Its columns: {', '.join(columns)}",
            field=spec.name,
        )


def _land_use(value: str | None) -> str | None:
    if value is None:
        return None
    word = fields.LAND_USE_WORDS.get(value.strip().lower(), value.strip())
    if word not in ("industrial", "rnd", "office", "commercial", "other"):
        raise ValidationFailed(
            f"--land-use must be industrial, rnd, office, commercial or other, not {value!r}",
            field="land_use",
        )
    return word


def _crs(options: ImportOptions, declared: str | None, geoms: np.ndarray, notes: list[str]) -> CrsRef:
    """--crs wins; else the file's own; else storage lon/lat, unless the numbers cannot be degrees."""
    from_file = from_definition(declared) if declared else None
    if options.crs:
        crs = CrsRef(parse_crs(options.crs).srid)
        if from_file is not None and from_file.srid != crs.srid:
            notes.append(f"the file declares EPSG:{from_file.srid}; read as EPSG:{crs.srid} as --crs says")
        return crs
    if from_file is not None:
        return from_file
    present = geoms[~shapely.is_missing(geoms)] if len(geoms) else geoms
    if len(present):
        x0, y0, x1, y1 = shapely.total_bounds(present)
        if min(x0, y0) < -360 or max(x1, y1) > 360:
            raise ValidationFailed(
                "the file names no CRS and its coordinates are not degrees; name it with "
                f"--crs (one of {supported_names()})",
                field="crs",
            )
    notes.append(f"the file names no CRS: read as EPSG:{STORAGE_SRID} (CGCS2000 lon/lat)")
    return STORAGE


def _storage(original: np.ndarray, crs: CrsRef, refused: dict[int, tuple[str, str]]) -> np.ndarray:
    """Storage MultiPolygons; a geometry already invalid as drawn is refused with its own reason."""
    geoms = np.asarray(original, dtype=object).copy()
    todo = np.asarray([i for i in range(len(geoms)) if i not in refused], dtype=int)
    if not len(todo):
        return geoms
    if crs.srid != STORAGE.srid:
        # The file's own coordinates first: the reason should speak of what the user drew.
        for i, reason in zip(todo.tolist(), problems(geoms[todo], _EVERYWHERE), strict=True):
            if reason:
                refused[i] = ("GEOMETRY_INVALID", reason)
        todo = np.asarray([i for i in todo.tolist() if i not in refused], dtype=int)
        if len(todo):
            geoms[todo] = to_storage(geoms[todo], crs)
    polygons = todo[shapely.get_type_id(geoms[todo]) == 3] if len(todo) else todo
    if len(polygons):
        geoms[polygons] = shapely.multipolygons(geoms[polygons], indices=np.arange(len(polygons)))
    return geoms
