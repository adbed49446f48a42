"""Which file column feeds which field, and each row's values checked as the API checks a body.

Pure: columns are matched by name (case-insensitive, with a few documented aliases: the short names a
Shapefile export writes and the usual pinyin abbreviations), `--map field=column` overrides that, and
each row's values are normalised (numbers written as text, 是/否, Shanghai land-use codes) and validated
by the same pydantic schemas as `POST /parcels` and `POST /zones`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from app.errors import ValidationFailed
from app.parcels.schemas import ParcelPropertiesIn
from app.zones.schemas import ZonePropertiesIn


class DistrictPropertiesIn(BaseModel):
    """A district row: the 6-digit GB/T 2260 code and its names."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^\d{6}$")
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=64)


@dataclass(frozen=True)
class FieldSpec:
    """A field an import fills: its name, the column names that feed it, and its value type."""

    name: str
    type: str  # text | number | integer | boolean
    aliases: tuple[str, ...] = ()


FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "parcels": (
        FieldSpec("code", "text", ("dkbm", "parcel_code", "地块编码", "地块编号")),
        FieldSpec("land_use", "text", ("landuse", "yddm", "用地性质", "用地代码")),
        FieldSpec("plot_ratio", "number", ("far", "rjl", "容积率")),
        FieldSpec("plot_ratio_reference_id", "integer", ("ref_id",)),
        FieldSpec("plot_ratio_reference_code", "text", ("ref_code",)),
        FieldSpec("legacy_zone", "text", ("legacy_zn", "legacy_zon")),
        FieldSpec("status", "text", ()),
    ),
    "zones": (
        FieldSpec("code", "text", ()),
        FieldSpec("name", "text", ()),
        FieldSpec("kind", "text", ()),
        FieldSpec("advanced_manufacturing", "boolean", ("adv_mfg",)),
        FieldSpec("far_cap", "number", ()),
        FieldSpec("far_min", "number", ()),
    ),
    "districts": (
        FieldSpec("code", "text", ()),
        FieldSpec("name_zh", "text", ()),
        FieldSpec("name_en", "text", ()),
    ),
}
# Where a CSV keeps its geometry: WKT text, or one row per boundary point.
GEOMETRY_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("wkt", "text", ("geometry", "geom", "the_geom", "shape")),
    FieldSpec("x", "number", ("lon", "lng", "longitude", "经度")),
    FieldSpec("y", "number", ("lat", "latitude", "纬度")),
    FieldSpec("part", "integer", ()),
    FieldSpec("ring", "integer", ()),
)
SCHEMAS: dict[str, type[BaseModel]] = {
    "parcels": ParcelPropertiesIn,
    "zones": ZonePropertiesIn,
    "districts": DistrictPropertiesIn,
}
# Land-use words planners write (SPEC §1: Shanghai codes M1 and C65).
LAND_USE_WORDS = {
    "m1": "industrial",
    "工业": "industrial",
    "工业用地": "industrial",
    "c65": "rnd",
    "研发": "rnd",
    "科研设计": "rnd",
    "r&d": "rnd",
    "办公": "office",
    "商办": "office",
    "商业": "commercial",
    "其他": "other",
}
_TRUE = {"true", "t", "yes", "y", "1", "是", "on"}
_FALSE = {"false", "f", "no", "n", "0", "否", "off"}


def parse_map(pairs: Sequence[str]) -> dict[str, str]:
    """`field=column` pairs (CLI `--map`, form field `map`) → {field: column}."""
    out: dict[str, str] = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise ValidationFailed(f"--map takes field=column, not {pair!r}", field="map")
        out[field.strip()] = column.strip()
    return out


def resolve_columns(
    kind: str, columns: Sequence[str], overrides: Mapping[str, str], geometry_columns: bool = False
) -> dict[str, str]:
    """{field: column} for every field the file can fill; refuses unknown fields and missing columns."""
    specs = FIELDS[kind] + (GEOMETRY_FIELDS if geometry_columns else ())
    names = {s.name for s in specs}
    for field, column in overrides.items():
        if field not in names:
            raise ValidationFailed(
                f"--map {field}=…: {field} is not a field of {kind}; fields: {', '.join(sorted(names))}",
                field="map",
            )
        if column not in columns:
            raise ValidationFailed(
                f"--map {field}={column}: the file has no column {column!r}; its columns: "
                f"{', '.join(columns)}",
                field="map",
            )
    lower: dict[str, str] = {}
    for column in columns:
        lower.setdefault(column.strip().lower(), column)
    found: dict[str, str] = {}
    for spec in specs:
        if spec.name in overrides:
            found[spec.name] = overrides[spec.name]
            continue
        for candidate in (spec.name, *spec.aliases):
            if candidate.lower() in lower:
                found[spec.name] = lower[candidate.lower()]
                break
    return found


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(value != value)  # pandas NA / NaT
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # legacy zone 104 read from a numeric column as 104.0
    return str(value).strip()


def normalise(spec: FieldSpec, value: Any) -> Any:
    """One cell as the schema expects it (None when empty); raises ValueError when it cannot be."""
    if value.__class__ is str and spec.type == "text":  # the common case first
        text = value.strip()
        if spec.name == "land_use":
            return LAND_USE_WORDS.get(text.lower(), text) or None
        return text or None
    if _missing(value):
        return None
    if spec.type == "text":
        text = _text(value)
        return LAND_USE_WORDS.get(text.lower(), text) if spec.name == "land_use" else text
    if spec.type == "boolean":
        if isinstance(value, bool):
            return value
        word = _text(value).lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ValueError(f"{spec.name}: {value!r} is not yes/no")
    if spec.type == "integer":
        number = float(value)
        if not number.is_integer():
            raise ValueError(f"{spec.name}: {value!r} is not a whole number")
        return int(number)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{spec.name}: {value!r} is not a number") from None


_ASK = object()  # a cell the column pass leaves to `normalise`


def normalise_column(spec: FieldSpec, values: Sequence[Any]) -> tuple[list[Any], dict[int, str]]:
    """A whole column through `normalise`: its values, and why each cell that cannot be read is not.

    The cells a file usually holds (text in a text field, numbers in a number field) are done in one pass
    with exactly `normalise`'s result; any other cell (a number in a text field, text in a number field,
    NaN in an integer field …) is handed to `normalise` itself, so both always agree."""
    out: list[Any]
    if spec.type == "text":
        out = [v.strip() or None if v.__class__ is str else _ASK for v in values]
        if spec.name == "land_use":
            words = LAND_USE_WORDS
            out = [v if v is None or v is _ASK else words.get(v.lower(), v) for v in out]
    elif spec.type == "number":
        out = [(None if v != v else v) if v.__class__ is float else float(v) if v.__class__ is int else _ASK
               for v in values]
    elif spec.type == "integer":
        out = [(None if v != v else int(v) if v.is_integer() else _ASK) if v.__class__ is float
               else int(float(v)) if v.__class__ is int else _ASK for v in values]
    else:
        out = [v if v.__class__ is bool else _ASK for v in values]
    errors: dict[int, str] = {}
    for i in [i for i, v in enumerate(out) if v is _ASK] if _ASK in out else ():
        if values[i] is None:  # an empty cell is None whatever the field
            out[i] = None
        else:
            try:
                out[i] = normalise(spec, values[i])
            except ValueError as exc:
                out[i] = None
                errors[i] = str(exc)
    return out, errors


@cache
def _many(kind: str) -> TypeAdapter[list[BaseModel]]:
    return TypeAdapter(list[SCHEMAS[kind]])  # type: ignore[valid-type]


@cache
def _keys(kind: str) -> TypeAdapter[list[Any]]:
    """The kind's key field (its code, the first field) on its own, as the schema declares it."""
    key = SCHEMAS[kind].model_fields[FIELDS[kind][0].name]
    return TypeAdapter(list[Annotated[key.annotation, key]])  # type: ignore[name-defined]


def validate_rows(
    kind: str,
    frame_columns: Mapping[str, Sequence[Any]],
    mapping: Mapping[str, str],
    n: int,
    defaults: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any] | None], list[str | None]]:
    """Per row: the validated values (None when refused) and the reason it was refused, exactly as the
    schema validating each row would give them (its first error).

    Cells are read a column at a time. The key (each row's own code) is checked as one list against its
    field's declaration; the other fields repeat from row to row (100,000 parcels hold a few hundred
    combinations of land use, ratio, zone and status), so each distinct combination is validated once by
    the whole schema, with a valid key standing in (no schema checks its key against other fields)."""
    specs = [s for s in FIELDS[kind] if s.name in mapping]
    schema = SCHEMAS[kind]
    key = FIELDS[kind][0].name
    reasons: list[str | None] = [None] * n
    checked_columns: dict[str, list[Any]] = {}  # the fields the schema checks
    extra: dict[str, list[Any]] = {}  # fields it does not know (the reference by code): passed through
    for spec in specs:
        column, errors = normalise_column(spec, frame_columns[mapping[spec.name]])
        for i, reason in errors.items():
            reasons[i] = reasons[i] or reason
        (checked_columns if spec.name in schema.model_fields else extra)[spec.name] = column
    keys = checked_columns.pop(key, [None] * n)
    todo = [i for i in range(n) if reasons[i] is None]
    stand_in = _check_keys(kind, key, keys, todo, reasons)
    todo = [i for i in todo if reasons[i] is None]
    if not todo:
        return [None] * n, reasons
    fill = {k: v for k, v in (defaults or {}).items() if v is not None}
    names = list(checked_columns)
    combos = list(zip(*checked_columns.values(), strict=True)) if names else [()] * n
    distinct = list(dict.fromkeys(combos[i] for i in todo))
    rows: list[dict[str, Any]] = []
    for cells in distinct:
        row = {name: value for name, value in zip(names, cells, strict=True) if value is not None}
        for name, value in fill.items():
            row.setdefault(name, value)
        rows.append({key: stand_in, **row})
    checked = _validate(kind, rows)
    refused: dict[tuple[Any, ...], str] = {}
    if isinstance(checked, dict):  # some combinations refused: validate the others again
        refused = {distinct[position]: reason for position, reason in checked.items()}
        kept = [p for p, combo in enumerate(distinct) if combo not in refused]
        checked = _validate(kind, [rows[p] for p in kept])
        assert isinstance(checked, list)
        distinct = [distinct[p] for p in kept]
    models = dict(zip(distinct, checked, strict=True))
    extras = list(extra.items())
    values: list[dict[str, Any] | None] = [None] * n
    for i in todo:
        combo = combos[i]
        if combo in refused:
            reasons[i] = refused[combo]
            continue
        value = {**models[combo].__dict__, key: keys[i]}
        for name, column in extras:
            value[name] = column[i]
        values[i] = value
    return values, reasons


def _check_keys(kind: str, key: str, keys: list[Any], todo: list[int], reasons: list[str | None]) -> Any:
    """Refuse the rows of `todo` whose key is missing or invalid (the reason the schema gives); a valid key
    (the stand-in for validating the other fields), or None when there is none."""
    present = [i for i in todo if keys[i] is not None]
    for i in todo:
        if keys[i] is None:
            reasons[i] = f"{key}: Field required"
    try:
        _keys(kind).validate_python([keys[i] for i in present])
    except ValidationError as exc:
        for err in exc.errors():
            loc = err.get("loc", ())
            position = loc[0] if loc and isinstance(loc[0], int) else 0
            i = present[position]
            reasons[i] = reasons[i] or f"{key}: {err.get('msg', 'invalid')}"
    valid = [i for i in present if reasons[i] is None]
    return keys[valid[0]] if valid else None


def _validate(kind: str, rows: list[dict[str, Any]]) -> list[BaseModel] | dict[int, str]:
    """The models, or the first error of each refused row by position."""
    try:
        return _many(kind).validate_python(rows)
    except ValidationError as exc:
        found: dict[int, str] = {}
        for err in exc.errors():
            loc = err.get("loc", ())
            position = loc[0] if loc and isinstance(loc[0], int) else 0
            where = ".".join(str(p) for p in loc[1:]) or "row"
            found.setdefault(position, f"{where}: {err.get('msg', 'invalid')}")
        return found
