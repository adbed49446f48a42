"""The query parameters of /ogc, read and checked (OGC 17-069r4 §7.15, 18-058r1 §6.3, 19-079r2 §7–8).

OGC API answers a parameter it does not know, or a value it cannot use, with 400 (/req/core/query-param-
unknown, /req/core/query-param-invalid), not the REST API's 422: `InvalidParameter` is VALIDATION_ERROR at
400. Property filters (`?land_use=industrial`) name the collection's whitelist only (app/wfs/registry.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from app.calendar import CITY_TZ
from app.errors import CrsUnsupported, DomainError, ValidationFailed
from app.features.params import as_of_param, bbox_param
from app.ogc.collections import CRS84, CRS_URIS, HTML, Collection
from app.wfs.registry import GEOMETRY, Prop
from gis.crs import STORAGE_SRID, CrsRef, parse_crs, transformer
from gis.errors import CrsError, GeometryError


class InvalidParameter(ValidationFailed):
    """A query parameter OGC API cannot use: 400 (17-069r4 /req/core/query-param-invalid)."""

    status = 400


def invalid(detail: str, name: str) -> InvalidParameter:
    """A 400 naming the parameter."""
    return InvalidParameter(detail, field=name)


def as_bad_request(exc: DomainError | CrsError | GeometryError, name: str) -> DomainError:
    """A parameter's value error as the 400 OGC API answers (CRS_UNSUPPORTED is 400 already)."""
    if isinstance(exc, CrsError):
        return CrsUnsupported(str(exc), field=name)
    if isinstance(exc, DomainError) and exc.status != 422:
        return exc
    detail = exc.detail if isinstance(exc, DomainError) else str(exc)
    return InvalidParameter(detail, field=name)


# ------------------------------------------------------------------------------------------------ formats
def wants_html(f: str | None, accept: str | None, names: Iterable[str] = ("json",)) -> bool:
    """`f=html` (or `f=json`/`f=geojson`), else the Accept header: HTML when a browser prefers it."""
    if f is not None:
        value = f.strip().lower()
        if value == "html":
            return True
        if value in names:
            return False
        raise invalid(f"f must be one of html, {', '.join(names)}; not {f[:20]!r}", "f")
    if not accept:
        return False
    best_html, best_json = 0.0, 0.0
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            key, _, val = p.strip().partition("=")
            if key == "q":
                try:
                    q = float(val)
                except ValueError:
                    q = 0.0
        media = media.strip().lower()
        if media in (HTML, "application/xhtml+xml"):
            best_html = max(best_html, q)
        elif media in ("application/json", "application/geo+json", "application/schema+json",
                       "application/vnd.oai.openapi+json") or media.endswith("+json"):
            best_json = max(best_json, q)
    return best_html > best_json


# ------------------------------------------------------------------------------------------------ CRS
@dataclass(frozen=True, slots=True)
class Crs:
    """A CRS named by its URI (18-058r1 /req/crs/crs-uri): `ref` in the axis order the URI means (CRS84
    lon/lat; EPSG URIs the EPSG order), `uri` as the client named it (Content-Crs)."""

    ref: CrsRef
    uri: str

    @property
    def sql(self) -> CrsRef:
        """The CRS the SQL transforms to: storage itself when PROJ maps storage to this CRS as the identity
        (CGCS2000 → WGS 84 is PROJ's ballpark no-op, SPEC §2: within centimetres), so CRS84 output and
        bboxes cost no ST_Transform; the axis order stays the URI's."""
        if self.ref.srid != STORAGE_SRID and _identity_from_storage(self.ref.srid):
            return CrsRef(STORAGE_SRID, self.ref.authority_axes)
        return self.ref

    @property
    def flips(self) -> bool:
        """Coordinates written y/x (lat/lon, northing/easting), as the CRS's EPSG definition orders them."""
        return self.ref.swaps_axes


DEFAULT_CRS = Crs(CrsRef(parse_crs(CRS84).srid), CRS84)


@cache
def _identity_from_storage(srid: int) -> bool:
    """Whether PROJ transforms storage coordinates to `srid` unchanged (checked across the service area)."""
    t = transformer(STORAGE_SRID, srid)
    probes = ((120.8, 30.6), (121.5, 31.2), (122.2, 31.9))
    return all(t.transform(x, y) == (x, y) for x, y in probes)


def crs_param(value: str | None, name: str) -> Crs:
    """`crs` or `bbox-crs`: one of the collection's CRS URIs (18-058r1 /req/crs/fc-crs-valid-value);
    absent: CRS84 (/req/crs/fc-crs-default-value). Anything else is 400 CRS_UNSUPPORTED."""
    if value is None:
        return DEFAULT_CRS
    text = value.strip().strip("<>").strip()
    if text == CRS84:
        return DEFAULT_CRS
    if text in CRS_URIS:
        return Crs(CrsRef(parse_crs(text).srid, authority_axes=True), text)
    try:
        parse_crs(text)
    except CrsError as exc:
        raise CrsUnsupported(f"{name}: {exc}", field=name) from None
    raise CrsUnsupported(f"{name} names a CRS by its URI, one of {', '.join(CRS_URIS)}; not {text[:80]!r}",
                         field=name)


# ------------------------------------------------------------------------------------------------ time
@dataclass(frozen=True, slots=True)
class Temporal:
    """`datetime` (17-069r4 §7.15.4): an instant (rule 10's as_of) or an interval with open ends (None)."""

    at: datetime | None = None
    interval: bool = False
    start: datetime | None = None
    end: datetime | None = None


NOW = Temporal()


def _moment(text: str, end: bool) -> datetime:
    """A date-time (Shanghai when it names no offset) or a date: its first instant, or its last for `end`."""
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise invalid(f"datetime: {text[:40]!r} is not a date (YYYY-MM-DD)", "datetime") from None
        if end:
            return datetime.combine(day + timedelta(days=1), time.min, CITY_TZ) - timedelta(microseconds=1)
        return datetime.combine(day, time.min, CITY_TZ)
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"datetime: {text[:40]!r} is not an RFC 3339 date-time", "datetime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CITY_TZ)


def datetime_param(value: str | None) -> Temporal:
    """`2024-05-01T00:00:00Z` (as_of), `a/b`, `../b`, `a/..`, `/b`, `a/` (intervals, ends included)."""
    if value is None or not value.strip():
        return NOW
    text = value.strip()
    if "/" not in text:
        try:
            return Temporal(at=as_of_param(text))
        except ValidationFailed as exc:
            raise invalid(exc.detail.replace("as_of", "datetime"), "datetime") from None
    first, _, last = text.partition("/")
    if "/" in last:
        raise invalid("datetime is an instant or one interval start/end", "datetime")
    start = None if first.strip() in ("", "..") else _moment(first.strip(), end=False)
    end = None if last.strip() in ("", "..") else _moment(last.strip(), end=True)
    if start is not None and end is not None and start > end:
        raise invalid("datetime: the interval ends before it starts", "datetime")
    return Temporal(interval=True, start=start, end=end)


# ------------------------------------------------------------------------------------------------ values
def _integer(text: str) -> int:
    value = int(text)
    if abs(value) > 2**62:
        raise ValueError(text)
    return value


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise ValueError(text)
    return lowered == "true"


def _decimal(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(text)
    return value


def _double(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


_PARSERS: dict[str, Callable[[str], Any]] = {
    "long": _integer, "int": _integer, "decimal": _decimal, "double": _double, "boolean": _boolean,
    "date": date.fromisoformat, "dateTime": lambda t: _moment(t, end=False),
}


def prop_value(prop: Prop, text: str) -> Any:
    """A property filter's value as the property's type (400 when it is not one)."""
    if len(text) > 200:
        raise invalid(f"{prop.name}: the value is longer than 200 characters", prop.name)
    parse = _PARSERS.get(prop.xsd)
    if parse is None:
        return text
    try:
        return parse(text.strip())
    except (ValueError, InvalidOperation, ArithmeticError):
        raise invalid(f"{prop.name} takes a {prop.xsd} value, not {text[:40]!r}", prop.name) from None


# ------------------------------------------------------------------------------------------------ items
ITEMS_PARAMS = frozenset({"f", "limit", "offset", "after", "bbox", "bbox-crs", "datetime", "crs", "sortby",
                          "properties", "filter", "filter-lang", "filter-crs"})
FILTER_LANGS = ("cql2-text", "cql2-json")
# Part 3 drafts' names, which clients still send: GDAL's OAPIF driver (3.6–3.12) pushes a -where as
# `filter-lang=cql-text` when the API definition offers it; its text is CQL2-text's comparisons and logic.
DRAFT_FILTER_LANGS = {"cql-text": "cql2-text", "cql-json": "cql2-json"}


@dataclass(frozen=True)
class Items:
    """What an items request asks for, checked against the collection's whitelist."""

    limit: int | None = None
    offset: int = 0
    after: Any = None
    bbox: tuple[float, float, float, float] | None = None  # x/y order in `bbox_crs.sql`
    bbox_crs: Crs = DEFAULT_CRS
    temporal: Temporal = NOW
    crs: Crs = DEFAULT_CRS
    sort: tuple[tuple[Prop, bool], ...] = ()  # (property, descending)
    properties: tuple[Prop, ...] | None = None
    equals: tuple[tuple[Prop, Any], ...] = ()
    filter: str | None = None
    filter_lang: str = "cql2-text"
    filter_crs: str | None = None
    html: bool = False


def single(items: Iterable[tuple[str, str]], allowed: Iterable[str]) -> dict[str, str]:
    """The query as one value per name; a name not `allowed` or given twice is 400."""
    known = set(allowed)
    out: dict[str, str] = {}
    for name, value in items:
        if name not in known:
            raise invalid(f"unknown query parameter {name[:40]!r}; this resource takes "
                          f"{', '.join(sorted(known))}", name[:40])
        if name in out:
            raise invalid(f"{name} is given more than once", name)
        out[name] = value
    return out


def _int_param(value: str | None, name: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        raise invalid(f"{name} must be an integer, not {value[:20]!r}", name) from None
    if number < low or number > high:
        raise invalid(f"{name} must be between {low} and {high}", name)
    return number


def _names(c: Collection, value: str, name: str) -> list[str]:
    out = [n.strip() for n in value.split(",") if n.strip()]
    for n in out:
        bare = n.lstrip("+-")
        if c.prop(bare) is None:
            raise invalid(f"{name}: {collection_props(c)} are this collection's properties, not {bare[:40]!r}", name)
    return out


def collection_props(c: Collection) -> str:
    """The whitelist, for messages."""
    return ", ".join(p.name for p in c.ftype.props)


def items_params(c: Collection, query: Iterable[tuple[str, str]], accept: str | None, max_bbox: float) -> Items:
    """Read an items request's query (17-069r4 §7.15.2–7.15.5, 18-058r1 §6.3, 19-079r2 §8)."""
    values = single(query, ITEMS_PARAMS | {p.name for p in c.ftype.props})
    html = wants_html(values.get("f"), accept, ("json", "geojson"))
    limit = _int_param(values.get("limit"), "limit", 1, 10**9)
    offset = _int_param(values.get("offset"), "offset", 0, 10**9) or 0
    after: Any = None
    if "after" in values:
        after = c.feature_id(values["after"].strip())
        if after is None:
            raise invalid("after is the featureId a next link names", "after")
    crs = crs_param(values.get("crs"), "crs")
    bbox_crs = crs_param(values.get("bbox-crs"), "bbox-crs")
    bbox = None
    if "bbox" in values:
        try:
            bbox = bbox_param(values["bbox"], bbox_crs.sql, max_bbox)
        except (DomainError, GeometryError) as exc:
            raise as_bad_request(exc, "bbox") from None
        # 17-069r4 §7.15.3: axis 1, axis 2 of the bbox CRS (lat/lon for EPSG:4326's URI); kept as x/y.
        if bbox is not None and bbox_crs.flips:
            bbox = (bbox[1], bbox[0], bbox[3], bbox[2])
    temporal = datetime_param(values.get("datetime"))
    sort = tuple((_prop(c, n.lstrip("+-")), n.startswith("-")) for n in _names(c, values.get("sortby", ""), "sortby"))
    properties = None
    if "properties" in values:
        properties = tuple(p for p in c.props() if p.name in set(_names(c, values["properties"], "properties")))
    equals = tuple((p, prop_value(p, values[p.name])) for p in c.ftype.props if p.name in values)
    lang = values.get("filter-lang", "cql2-text").strip().lower()
    lang = DRAFT_FILTER_LANGS.get(lang, lang)
    if lang not in FILTER_LANGS:
        raise invalid(f"filter-lang must be one of {', '.join(FILTER_LANGS)}", "filter-lang")
    text = values.get("filter")
    if "filter-crs" in values:
        crs_param(values["filter-crs"], "filter-crs")  # one of the listed URIs, as for crs
    return Items(limit=limit, offset=offset, after=after, bbox=bbox, bbox_crs=bbox_crs, temporal=temporal, crs=crs,
                 sort=sort, properties=properties, equals=equals, filter=text if text and text.strip() else None,
                 filter_lang=lang, filter_crs=values.get("filter-crs"), html=html)


def _prop(c: Collection, name: str) -> Prop:
    prop = c.prop(name)
    assert prop is not None  # _names checked it
    if prop.name == GEOMETRY:
        raise invalid("sortby takes properties, not the geometry", "sortby")
    return prop
