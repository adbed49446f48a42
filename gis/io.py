"""Vector files in and out with pyogrio: GeoPackage, Shapefile (plain or zipped), GeoJSON and CSV; and,
for reading only, Esri file geodatabases (a `.gdb` folder, or zipped) and spreadsheets (Excel .xlsx,
OpenDocument .ods; one table per sheet).

Knows nothing of the application. Reading gives a layer's attribute columns, its 2D shapely geometries
and the CRS it declares; the rows of a table (CSV or a sheet) carry geometry as WKT text or as boundary
points (one row per vertex), which `geometries_from_text` and `polygons_from_points` turn into shapes with
a reason for every row they cannot read. Writing goes a chunk at a time (`LayerWriter`), so a file of any
size is written with flat memory. Text encodings: a Shapefile's `.cpg` is honoured by GDAL; `encoding`
overrides it (GBK, GB18030).
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry import MultiPolygon, Polygon

from gis import guard
from gis.errors import VectorFileError, first_line
from gis.guard import ZipLimits

WRITABLE = {
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".zip": "ESRI Shapefile",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".csv": "CSV",
}
READABLE = {**WRITABLE, ".gdb": "OpenFileGDB", ".xlsx": "XLSX", ".ods": "ODS"}
TABULAR = frozenset({"CSV", "XLSX", "ODS"})  # rows without a geometry column: WKT or points in columns
# A sheet is read as text, as a CSV is (a code typed as a number stays its digits), and its first row is
# always its header: GDAL would otherwise guess, and call the columns Field1… when every cell is text.
# GDAL reads these as configuration, for the whole process; they concern these two drivers alone.
_SHEETS = {"OGR_XLSX_FIELD_TYPES": "STRING", "OGR_XLSX_HEADERS": "FORCE",
           "OGR_ODS_FIELD_TYPES": "STRING", "OGR_ODS_HEADERS": "FORCE"}
pyogrio.set_gdal_config_options(_SHEETS)
# GDAL knows only these drivers in a process that imports this module, and reaches no network (gis.guard).
guard.lock_down({*READABLE.values(), "MEM", "Memory"})
_DATA_IN_ZIP = (".shp", ".gpkg", ".geojson", ".json", ".csv", ".xlsx", ".ods")
_ZIPPED = frozenset({"XLSX", "ODS"})  # formats that are zip archives themselves
FIELD_KINDS = ("string", "float", "int", "bool", "datetime")
# GeoPackage 1.2, as GDAL wrote it up to 3.10: GDAL 3.11+ writes 1.4, which the GDAL under QGIS 3.28 LTR
# (Debian 12's) reads with a warning that it "may only be partially supported". Nothing here needs 1.3/1.4.
_GPKG_OPTIONS = {"VERSION": "1.2"}
CSV_GEOMETRY = "wkt"  # a CSV written here has its attributes, then the geometry as WKT in this last column
# A CSV may start with a UTF-8 byte-order mark: without it Excel on a Chinese Windows reads the file as GBK
# and garbles every Chinese name; GDAL, QGIS, pandas and the importer read it either way.
BOM = "\ufeff"


@dataclass
class Table:
    """One layer as read: attribute columns, geometries (None for CSV, whose geometry is text) and the
    CRS the file declares (None when it declares none)."""

    layer: str
    frame: pd.DataFrame
    geoms: np.ndarray | None
    crs: str | None
    driver: str

    @property
    def columns(self) -> list[str]:
        """Attribute column names, in file order."""
        return [str(c) for c in self.frame.columns]

    def __len__(self) -> int:
        return len(self.frame)


def driver_of(path: Path | str, formats: Mapping[str, str] = READABLE) -> str:
    """The GDAL driver for a file name (by suffix) among `formats` (those read, by default), or
    VectorFileError naming the formats offered."""
    suffix = Path(path).suffix.lower()
    if suffix not in formats:
        raise VectorFileError(
            f"{Path(path).name}: unknown format {suffix or '(no suffix)'}; use one of "
            f"{', '.join(sorted(formats))}"
        )
    return formats[suffix]


def dataset_path(path: Path | str, limits: ZipLimits = ZipLimits()) -> tuple[str, str]:
    """What GDAL opens and with which driver: the file itself, an Esri file geodatabase (a `.gdb` folder),
    or the one dataset (Shapefile folder, geodatabase) inside a .zip. The suffix alone decides the driver;
    the content must start as that format does and a zip (a sheet too) pass `limits` (gis.guard); the
    path carries the driver's prefix where it has one, so that GDAL tries no other driver."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".gdb" and p.is_dir():
        return str(p), "OpenFileGDB"
    if not p.is_file():
        raise VectorFileError(f"{p}: no such file")
    if suffix == ".gdb":
        raise VectorFileError(f"{p.name} is a file, but a file geodatabase is a folder: give the folder, or zip it")
    driver = driver_of(p)
    if suffix != ".zip":
        guard.sniff_file(p, driver)
        if driver in _ZIPPED:
            guard.check_zip(p, limits)
        return guard.with_prefix(str(p), driver), driver
    names = [n for n in guard.check_zip(p, limits) if not n.endswith("/")]
    # A file geodatabase: the folder of its .gdbtable files (the .gdb folder zipped, or only its content).
    geodatabases = sorted({str(Path(n).parent) for n in names if n.lower().endswith(".gdbtable")})
    data = [n for n in names if Path(n).suffix.lower() in _DATA_IN_ZIP]
    inside = f"/vsizip/{p.resolve()}"
    if len(geodatabases) == 1 and not data:
        folder = geodatabases[0]
        return inside + ("" if folder == "." else f"/{folder}"), "OpenFileGDB"
    data += geodatabases
    if not data:
        raise VectorFileError(
            f"{p.name} holds no Shapefile, GeoPackage, GeoJSON, CSV, spreadsheet or file geodatabase"
        )
    if len(data) == 1:
        member = data[0]
        driver = driver_of(member)
        if driver != "OpenFileGDB":
            _check_member(p, member, driver, limits)
        return guard.with_prefix(f"{inside}/{member}", driver), driver
    folders = {str(Path(n).parent) for n in data}
    if all(n.lower().endswith(".shp") for n in data) and len(folders) == 1:
        for member in data:
            _check_member(p, member, "ESRI Shapefile", limits)
        folder = folders.pop()
        return inside + ("" if folder == "." else f"/{folder}"), "ESRI Shapefile"
    raise VectorFileError(f"{p.name} holds several datasets ({', '.join(data[:5])}); zip one at a time")


def _check_member(archive_path: Path, member: str, driver: str, limits: ZipLimits) -> None:
    """A zip member read by GDAL starts as its suffix says; a sheet in the zip (itself a zip) passes `limits`."""
    name = f"{archive_path.name}/{member}"
    with zipfile.ZipFile(archive_path) as archive:
        guard.sniff_member(archive, member, driver, name)
        if driver in _ZIPPED:
            with archive.open(member) as inner:
                guard.check_zip(inner, limits, name)


def _opened_by(
    source: str, layer: str | None, driver: str, path: Path | str, encoding: str | None = None
) -> dict[str, Any]:
    """The layer's description, once GDAL opened the file with `driver` and no other (gis.guard)."""
    info: dict[str, Any] = pyogrio.read_info(source, layer=layer, encoding=encoding)
    if info.get("driver") != driver:
        raise VectorFileError(f"cannot open {Path(path).name}: its content is not what its suffix says")
    return info


def _quiet_measures() -> None:
    """Reading keeps x and y only (`force_2d`); pyogrio's warning that it leaves a layer's M values out would
    reach the importing user as a Python warning naming a library's file. The filter is added where missing
    (never removed, so no thread's reading undoes another's), after any filter the operator set."""
    warnings.filterwarnings("ignore", r"Measured \(M\) geometry types", UserWarning, "pyogrio", append=True)


def list_layers(path: Path | str, limits: ZipLimits = ZipLimits()) -> list[str]:
    """The layers of a file (a Shapefile folder or GeoPackage may hold several)."""
    _quiet_measures()
    try:
        return [str(row[0]) for row in pyogrio.list_layers(dataset_path(path, limits)[0])]
    except pyogrio.errors.DataSourceError as exc:
        raise VectorFileError(f"cannot open {Path(path).name}: {_gdal_reason(exc, path)}") from None


def choose_layer(path: Path | str, layer: str | None = None, limits: ZipLimits = ZipLimits()) -> str:
    """`layer` if the file has it, else its only layer; VectorFileError naming the layers otherwise."""
    if layer is not None:
        guard.check_layer(layer)
    layers = list_layers(path, limits)
    if layer is None:
        if len(layers) != 1:
            raise VectorFileError(f"{Path(path).name} holds the layers {', '.join(layers)}: choose one")
        return layers[0]
    if layer not in layers:
        raise VectorFileError(f"{Path(path).name} has no layer {layer!r}; it holds {', '.join(layers)}")
    return layer


@contextmanager
def _reading(path: Path | str, encoding: str | None) -> Iterator[None]:
    """Turn what pyogrio raises while reading a file into a VectorFileError a user can act on."""
    _quiet_measures()
    if encoding is not None:
        guard.check_encoding(encoding)
    try:
        yield
    except UnicodeDecodeError:
        raise VectorFileError(
            f"the text in {Path(path).name} is not UTF-8: name its encoding (e.g. GB18030 or GBK)"
        ) from None
    except LookupError:
        raise VectorFileError(f"unknown text encoding {encoding!r}") from None
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError) as exc:
        raise VectorFileError(f"cannot read {Path(path).name}: {_gdal_reason(exc, path)}") from None


def field_names(
    path: Path | str, layer: str, encoding: str | None = None, limits: ZipLimits = ZipLimits()
) -> list[str]:
    """The attribute fields of a layer, without reading its features."""
    source, driver = dataset_path(path, limits)
    with _reading(path, encoding):
        info = _opened_by(source, guard.check_layer(layer), driver, path, encoding)
        return [str(f) for f in info["fields"]]


def read_table(
    path: Path | str,
    layer: str | None = None,
    encoding: str | None = None,
    columns: Sequence[str] | None = None,
    limits: ZipLimits = ZipLimits(),
) -> Table:
    """Read one layer (the only one, or `layer`), only `columns` when given; a table (CSV, a sheet) is read
    as text columns without geometry, a CSV's cells without the quote `csv_cell` puts before text a
    spreadsheet would take for a formula."""
    source, driver = dataset_path(path, limits)
    layer = choose_layer(path, layer, limits)
    tabular = driver in TABULAR
    with _reading(path, encoding):
        _opened_by(source, layer, driver, path, encoding)
        read = pyogrio.read_dataframe(
            source,
            layer=layer,
            encoding=encoding,
            read_geometry=not tabular,
            force_2d=True,
            columns=None if columns is None else list(columns),
        )
    if tabular:
        frame = pd.DataFrame(read).reset_index(drop=True)
        if driver == "CSV":
            _unquote_formulas(frame)
        return Table(layer, frame, None, None, driver)
    frame = pd.DataFrame(read.drop(columns=read.geometry.name)).reset_index(drop=True)
    geoms = np.asarray(read.geometry.values, dtype=object)
    crs = read.crs.to_wkt() if read.crs is not None else None
    return Table(layer, frame, geoms, crs, driver)


def geometries_from_text(values: Sequence[Any]) -> tuple[np.ndarray, list[str | None], list[int | None]]:
    """WKT or EWKT (`SRID=4549;POLYGON …`) per row → geometry (None when empty or unreadable), the reason
    a non-empty text could not be read, and the SRID an EWKT prefix names."""
    texts: list[str | None] = []
    srids: list[int | None] = []
    for value in values:
        text = None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()
        srid = None
        if text and text[:5].upper() == "SRID=" and ";" in text:
            head, text = text.split(";", 1)
            try:
                srid = int(head[5:])
            except ValueError:
                srid = -1
        texts.append(text or None)
        srids.append(srid)
    arr = np.asarray(texts, dtype=object)
    geoms = shapely.from_wkt(arr, on_invalid="ignore") if len(arr) else np.asarray([], dtype=object)
    reasons: list[str | None] = [None] * len(arr)
    for i, text in enumerate(texts):
        if srids[i] == -1:
            reasons[i] = "the EWKT SRID prefix is not a number"
            geoms[i] = None
        elif text is not None and geoms[i] is None:
            try:
                shapely.from_wkt(text)
                reasons[i] = "cannot read the WKT geometry"
            except Exception as exc:  # GEOS says what is wrong (unclosed ring, bad token…)
                reasons[i] = f"cannot read the WKT geometry: {first_line(exc)}"
    geoms = shapely.force_2d(geoms) if len(geoms) else geoms
    return np.asarray(geoms, dtype=object), reasons, srids


def polygons_from_points(
    keys: Sequence[Any],
    xs: Sequence[Any],
    ys: Sequence[Any],
    parts: Sequence[Any] | None = None,
    rings: Sequence[Any] | None = None,
) -> tuple[list[int], np.ndarray, list[str | None]]:
    """Boundary points, one row per vertex, grouped by key in file order: the rows of one key (and
    part, ring) form a ring, the first ring of a part its shell; a ring is closed when its last point
    does not repeat the first. Returns, per key in order of first appearance, the index of its first
    row, the Polygon or MultiPolygon (None when it cannot be built) and the reason it could not."""
    n = len(keys)
    frame = pd.DataFrame(
        {
            "key": list(keys),
            "x": pd.to_numeric(pd.Series(list(xs), dtype=object), errors="coerce"),
            "y": pd.to_numeric(pd.Series(list(ys), dtype=object), errors="coerce"),
            "part": list(parts) if parts is not None else [0] * n,
            "ring": list(rings) if rings is not None else [0] * n,
            "row": np.arange(n),
        }
    )
    firsts: list[int] = []
    shapes: list[Polygon | MultiPolygon | None] = []
    reasons: list[str | None] = []
    for _, rows in frame.groupby("key", sort=False, dropna=False):
        firsts.append(int(rows["row"].iloc[0]))
        if rows["x"].isna().any() or rows["y"].isna().any():
            bad = int(rows.loc[rows["x"].isna() | rows["y"].isna(), "row"].iloc[0])
            shapes.append(None)
            reasons.append(f"row {bad + 1}: coordinates are not numbers")
            continue
        polygons: list[Polygon] = []
        reason = None
        for _, part in rows.groupby("part", sort=False, dropna=False):
            ring_coords = []
            for _, ring in part.groupby("ring", sort=False, dropna=False):
                coords = list(zip(ring["x"].tolist(), ring["y"].tolist(), strict=True))
                if len(coords) > 1 and coords[0] == coords[-1]:
                    coords = coords[:-1]
                if len(coords) < 3:
                    reason = f"a ring has {len(coords)} distinct points; a polygon ring needs at least 3"
                    break
                ring_coords.append([*coords, coords[0]])
            if reason:
                break
            polygons.append(Polygon(ring_coords[0], ring_coords[1:]))
        if reason:
            shapes.append(None)
            reasons.append(reason)
        else:
            shapes.append(polygons[0] if len(polygons) == 1 else MultiPolygon(polygons))
            reasons.append(None)
    return firsts, np.asarray(shapes, dtype=object), reasons


class LayerWriter:
    """Writes one layer a chunk at a time: GeoPackage, Shapefile, zipped Shapefile (.zip), GeoJSON or
    CSV (the fields, then the geometry as full-precision WKT in a last column `wkt`, as the service's
    HTTP exports write it; with `bom`, after a UTF-8 byte-order mark). `fields` are (name, kind) with kind
    one of FIELD_KINDS; geometries are WKB in the CRS `srid`. Call `close()` (or use it as a context
    manager) to finish the file."""

    def __init__(
        self,
        path: Path | str,
        layer: str,
        srid: int,
        fields: Sequence[tuple[str, str]],
        geometry_type: str = "MultiPolygon",
        bom: bool = False,
    ) -> None:
        self.path = Path(path)
        self.driver = driver_of(self.path, WRITABLE)
        if bom and self.driver != "CSV":
            raise VectorFileError(f"{self.path.name}: a byte-order mark is for a CSV file only")
        self.bom = bom
        self.layer = layer
        self.srid = srid
        self.fields = list(fields)
        self.geometry_type = geometry_type
        self.rows = 0
        self._tmp: Path | None = None
        self._target = self.path
        if self.path.suffix.lower() == ".zip":
            self._tmp = Path(tempfile.mkdtemp(prefix="landcycle-shp-"))
            self._target = self._tmp / f"{layer}.shp"
        elif self.path.exists():
            self.path.unlink()

    def write(self, columns: Mapping[str, Sequence[Any]], wkb: Sequence[bytes | None]) -> None:
        """Append rows: one sequence per field, and the geometries as WKB (None for none)."""
        if self.driver == "CSV":
            self._write_csv(columns, wkb)
            return
        data = {name: _column(columns[name], kind) for name, kind in self.fields}
        geometry = gpd.GeoSeries.from_wkb(list(wkb), crs=f"EPSG:{self.srid}")
        frame = gpd.GeoDataFrame(data, geometry=geometry)
        options: dict[str, Any] = {"encoding": "UTF-8"} if self.driver == "ESRI Shapefile" else {}
        if self.driver == "GPKG" and self.rows == 0:
            options["dataset_options"] = _GPKG_OPTIONS
        pyogrio.write_dataframe(
            frame,
            self._target,
            layer=self.layer,
            driver=self.driver,
            geometry_type=self.geometry_type,
            append=self.rows > 0,
            **options,
        )
        self.rows += len(frame)

    def _write_csv(self, columns: Mapping[str, Sequence[Any]], wkb: Sequence[bytes | None]) -> None:
        # Written here rather than by GDAL, whose CSV puts the geometry first as `WKT`: one CSV shape for
        # the CLI, the HTTP export and the refused-rows report.
        names = [name for name, _ in self.fields]
        shapes = shapely.from_wkb(np.asarray(list(wkb), dtype=object))
        texts = shapely.to_wkt(shapes, rounding_precision=-1) if len(shapes) else []
        rows = [[*(columns[name][n] for name in names), text] for n, text in enumerate(texts)]
        first = not self.rows
        with self.path.open("w" if first else "a", newline="", encoding="utf-8") as out:
            out.write(csv_text([[*names, CSV_GEOMETRY], *rows] if first else rows, bom=first and self.bom))
        self.rows += len(texts)

    def close(self) -> Path:
        """Finish the file (an empty layer when nothing was written; the .zip built); returns its path."""
        if self.rows == 0:
            self.write({name: [] for name, _ in self.fields}, [])
            self.rows = 0
        if self._tmp is not None:
            with zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED) as archive:
                for member in sorted(self._tmp.iterdir()):
                    archive.write(member, member.name)
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        return self.path

    def abort(self) -> None:
        """Drop what was written (after a failure)."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        elif self.driver == "ESRI Shapefile":
            for suffix in (".shx", ".dbf", ".prj", ".cpg"):
                self.path.with_suffix(suffix).unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> LayerWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def csv_text(rows: Iterable[Sequence[Any]], *, bom: bool = False) -> str:
    """Rows as CSV (RFC 4180 line ends, each value by `csv_cell`), after a byte-order mark when `bom`: the
    one CSV writer of the service (exports, refused-rows reports, the reports' tables)."""
    out = io.StringIO()
    if bom:
        out.write(BOM)
    csv.writer(out).writerows([csv_cell(value) for value in row] for row in rows)
    return out.getvalue()


# OWASP, CSV injection: a spreadsheet takes a cell starting with one of these for a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTED_START = frozenset((*FORMULA_START, "'"))
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: empty for null, true/false, ISO 8601 for dates and times, a list's items
    separated by spaces; numbers as they are; text a spreadsheet would take for a formula (OWASP: starting
    with =, +, -, @, tab or CR, a number such as -12.5 excepted) after a single quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, list | tuple):
        return neutral(" ".join(str(v) for v in value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return neutral(value if isinstance(value, str) else str(value))


def _formula_like(text: str) -> bool:
    """Text a spreadsheet would take for a formula, or such text after quotes: the quote `neutral` adds is
    then told from one the text had, so that `unquoted(neutral(t)) == t` for every text."""
    rest = text.lstrip("'")
    return bool(rest) and rest[0] in FORMULA_START and _NUMBER.fullmatch(rest) is None


def neutral(text: str) -> str:
    """`text` with a single quote before it when a spreadsheet would take it for a formula."""
    return "'" + text if text and text[0] in _QUOTED_START and _formula_like(text) else text


def unquoted(text: str) -> str:
    """A cell of a CSV without the quote `neutral` put before it (the inverse of `neutral`)."""
    return text[1:] if text.startswith("'") and _formula_like(text[1:]) else text


def _unquote_formulas(frame: pd.DataFrame) -> None:
    """Every text cell of a CSV read back as it was before `csv_cell` quoted it (in place)."""
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object and not pd.api.types.is_string_dtype(column.dtype):
            continue
        quoted = column.str.startswith("'", na=False).to_numpy(dtype=bool)
        if quoted.any():
            frame.loc[quoted, name] = [unquoted(v) for v in column[quoted]]


def _column(values: Sequence[Any], kind: str) -> Any:
    """A pandas column of the given kind whose nulls GDAL writes as nulls."""
    if kind == "string":
        return pd.array([None if v is None else str(v) for v in values], dtype=object)
    if kind == "float":
        return pd.array([None if v is None else float(v) for v in values], dtype="Float64")
    if kind == "int":
        return pd.array([None if v is None else int(v) for v in values], dtype="Int64")
    if kind == "bool":
        return pd.array([None if v is None else bool(v) for v in values], dtype="boolean")
    if kind == "datetime":
        return pd.to_datetime(pd.Series(list(values), dtype=object), utc=True)
    raise ValueError(f"unknown field kind {kind!r}")


def _gdal_reason(exc: BaseException, path: Path | str) -> str:
    """GDAL's reason without the file's full path (a server's temporary folder, for an upload), without
    its hint to prefix the path with a driver name (which a user of this service cannot do) and without
    the places in GDAL's own source it may add."""
    reason = str(exc).strip().split("\n")[0].split("; It might help", 1)[0]
    reason = re.sub(r"(?:^|;\s*)Error occurred in \S+(?: at line \d+)?", "", reason).strip("; .")
    reason = re.sub(r"'[^']*" + re.escape(Path(path).name) + r"[^']*'\s*", "", reason)
    return reason[:300] or "damaged, or not what its suffix says"
