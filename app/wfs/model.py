"""What a WFS request asks for, whichever encoding (KVP or XML) it came in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement

from app.wfs.ows import WfsError, invalid
from app.wfs.registry import FeatureType
from gis.crs import STORAGE_SRID, CrsRef, crs_urn, parse_crs
from gis.errors import CrsError

VERSIONS = ("2.0.0", "1.1.0", "1.0.0")
GET_FEATURE_BY_ID = "urn:ogc:def:query:OGC-WFS::GetFeatureById"

GML32 = "application/gml+xml; version=3.2"
GML311 = "text/xml; subtype=gml/3.1.1"
GML2 = "text/xml; subtype=gml/2.1.2"
JSON = "application/json"
_FORMATS = {
    GML32: (
        "application/gml+xml;version=3.2",
        "text/xml;subtype=gml/3.2",
        "text/xml;subtype=gml/3.2.1",
        "application/gml+xml;version=3.2.1",
        "gml32",
        "application/gml+xml",
    ),
    GML311: (
        "text/xml;subtype=gml/3.1.1",
        "application/gml+xml;version=3.1",
        "gml3",
        "text/xml;subtype=gml/3.1",
    ),
    GML2: ("text/xml;subtype=gml/2.1.2", "gml2", "text/xml;subtype=gml/2"),
    JSON: ("application/json", "json", "geojson", "application/geo+json", "application/vnd.geo+json"),
}
DEFAULT_FORMAT = {"2.0.0": GML32, "1.1.0": GML311, "1.0.0": GML2}
# "text/xml" alone means the version's own GML (WFS 1.1 §9.2, 2.0 §11.2.4.2).
OUTPUT_FORMATS = {"2.0.0": (GML32, GML311, JSON), "1.1.0": (GML311, GML32, JSON), "1.0.0": (GML2, JSON)}


def result_type(value: str | None) -> str:
    """A client's resultType → `results` (the default) or `hits` (InvalidParameterValue otherwise)."""
    kind = (value or "results").strip().lower()
    if kind not in ("results", "hits"):
        raise invalid("resultType", "resultType must be results or hits")
    return kind


def output_format(value: str | None, version: str) -> str:
    """A client's outputFormat → one of ours (InvalidParameterValue otherwise)."""
    if value is None or not value.strip():
        return DEFAULT_FORMAT[version]
    norm = "".join(value.split()).lower().replace("gmlxml", "gml+xml").replace("geojson", "geojson")
    norm = norm.replace("application/gml xml", "application/gml+xml")
    if norm in ("text/xml", "xml", "gml"):
        return DEFAULT_FORMAT[version]
    for fmt, names in _FORMATS.items():
        if norm in names or norm == "".join(fmt.split()).lower():
            return fmt
    raise WfsError(
        "InvalidParameterValue",
        f"outputFormat {value[:80]!r} is not offered; use one of {', '.join(OUTPUT_FORMATS[version])}",
        "outputFormat",
    )


def default_crs(version: str) -> CrsRef:
    """The CRS meant when a request names none: the DefaultCRS URN (lat/lon) for 1.1/2.0, `EPSG:4490`
    (lon/lat) for 1.0 (WFS 1.1 §9.2, 2.0 §7.9.2.4.4)."""
    return parse_crs(crs_urn(STORAGE_SRID) if version != "1.0.0" else f"EPSG:{STORAGE_SRID}")


def crs_param(value: str | None, version: str, locator: str = "srsName") -> CrsRef:
    """srsName → CrsRef; InvalidParameterValue for a CRS we do not offer.

    WFS 1.0.0 and GML 2 know no axis-order rule: coordinates are x/y (lon/lat) whatever the name, and
    QGIS 3.22 indeed writes lon/lat under `urn:ogc:def:crs:EPSG::4490` in its 1.0.0 Transactions."""
    if value is None or not value.strip():
        return default_crs(version)
    try:
        crs = parse_crs(value.strip())
    except CrsError as exc:
        raise WfsError("InvalidParameterValue", f"CRS_UNSUPPORTED: {exc}", locator) from None
    return CrsRef(crs.srid) if version == "1.0.0" else crs


@dataclass
class Query:
    """One wfs:Query: a type, its restrictions and what to show."""

    ftype: FeatureType
    clauses: list[ColumnElement[bool]] = field(default_factory=list)
    property_names: list[str] | None = None
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    srs: CrsRef | None = None
    srs_text: str | None = None
    # KVP BBOX as x/y corners in a CRS (axes already put in x/y order): kept apart from `clauses` so the
    # statements of a bbox request are compiled once per CRS, not per box (QGIS asks box after box).
    bbox: tuple[tuple[float, float, float, float], CrsRef] | None = None


@dataclass
class GetFeature:
    """A GetFeature request."""

    version: str
    query: Query
    result_type: str = "results"
    output_format: str = GML32
    start: int = 0
    count: int | None = None
    by_id: Any = None  # GetFeatureById: answer the bare feature, NotFound when absent
    kvp: bool = True
