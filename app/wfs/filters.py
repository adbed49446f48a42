"""Filter Encoding 2.0 / 1.1 / 1.0 → SQLAlchemy clauses over the registry's whitelist.

Every property a filter names is looked up in `FeatureType.props` (unknown names are refused with
InvalidParameterValue); every literal becomes a bound parameter of the property's type. Nothing a client
sends is spliced into SQL text (CVE-2023-25157, CVE-2024-36401 were the opposite).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import shapely
from lxml import etree
from sqlalchemy import ColumnElement, Text, and_, cast, false, func, literal, not_, or_, true

from app.wfs.model import crs_param, default_crs
from app.wfs.ows import WfsError
from app.wfs.registry import GEOMETRY, PREFIX, FeatureType, Prop, parse_resource_id
from app.wfs.xmlsafe import children, local, text
from gis.crs import STORAGE_SRID, CrsRef
from gis.gml import GmlError, read_geometry, srs_name
from gis.sql import envelope

COMPARISONS = {
    "PropertyIsEqualTo": "eq",
    "PropertyIsNotEqualTo": "ne",
    "PropertyIsLessThan": "lt",
    "PropertyIsGreaterThan": "gt",
    "PropertyIsLessThanOrEqualTo": "le",
    "PropertyIsGreaterThanOrEqualTo": "ge",
}
SPATIAL = {
    "BBOX": "ST_Intersects",
    "Intersects": "ST_Intersects",
    "Within": "ST_Within",
    "Contains": "ST_Contains",
    "Disjoint": "ST_Disjoint",
}
LOGICAL = ("And", "Or", "Not")
GEOMETRY_OPERANDS = (
    "Envelope",
    "Point",
    "LineString",
    "Polygon",
    "MultiPoint",
    "MultiLineString",
    "MultiCurve",
    "MultiPolygon",
    "MultiSurface",
)
MAX_IDS = 10_000
# Filter complexity is bounded, so one request cannot build an unbounded statement (XML depth: xmlsafe).
MAX_PREDICATES = 200
PREDICATES = frozenset(
    {*COMPARISONS, *SPATIAL, *LOGICAL, "PropertyIsLike", "PropertyIsNull", "PropertyIsNil", "PropertyIsBetween",
     "BBOX"}
)


ID_ELEMENTS = frozenset({"ResourceId", "FeatureId", "GmlObjectId"})


def check_id_count(root: etree._Element, cap: int) -> None:
    """Refuse a request document naming more than `cap` resource ids, wherever they stand (a Filter's
    top, inside Or/Not, several Queries or Transaction actions): each becomes a key in one IN list."""
    named = sum(1 for el in root.iter() if isinstance(el.tag, str) and local(el.tag) in ID_ELEMENTS)
    if named > cap:
        raise WfsError("InvalidParameterValue",
                       f"the request names {named:,} resource ids; at most {cap:,} are accepted", "resourceId")


def _bad(message: str) -> WfsError:
    return WfsError("InvalidParameterValue", message, "filter")


def property_of(ftype: FeatureType, path: str, allow_geometry: bool = False) -> Prop | None:
    """A ValueReference/PropertyName → the whitelisted property (None for the geometry)."""
    name = path.strip()
    if name.startswith("@"):
        raise _bad(f"property {path[:80]!r} is not supported")
    steps = [s for s in name.split("/") if s]
    if len(steps) == 2 and steps[0].split(":")[-1] == ftype.name:
        steps = steps[1:]
    if len(steps) != 1:
        raise _bad(f"property path {path[:80]!r} is not supported; name a property of {ftype.qname}")
    step = steps[0]
    if ":" in step:
        prefix, _, step = step.partition(":")
        if prefix != PREFIX:
            raise _bad(f"unknown property {path[:80]!r}")
    if step == GEOMETRY or step in ("geom", "the_geom"):
        if allow_geometry:
            return None
        raise _bad(f"{path[:80]!r} is the geometry; use a spatial operator")
    prop = ftype.prop(step)
    if prop is None:
        raise _bad(
            f"unknown property {path[:80]!r} of {ftype.qname}; known: "
            f"{', '.join(p.name for p in ftype.props)}, {GEOMETRY}"
        )
    return prop


def typed(prop: Prop, value: str) -> Any:
    """A literal as the property's Python type (bound as a parameter of that type)."""
    raw = value.strip()
    try:
        if prop.xsd in ("long", "int"):
            return int(raw)
        if prop.xsd in ("decimal", "double"):
            number = Decimal(raw)
            if not number.is_finite():
                raise InvalidOperation
            return number
        if prop.xsd == "boolean":
            if raw.lower() in ("true", "1"):
                return True
            if raw.lower() in ("false", "0"):
                return False
            raise ValueError
        if prop.xsd == "dateTime":
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if prop.xsd == "date":
            return date.fromisoformat(raw[:10])
    except (ValueError, InvalidOperation):
        raise _bad(f"{raw[:40]!r} is not a valid {prop.xsd} for {prop.name}") from None
    return value


class Translator:
    """Translates one filter element for one feature type, with the request's default CRS."""

    def __init__(self, ftype: FeatureType, version: str) -> None:
        self.ftype = ftype
        self.version = version
        self.default = default_crs(version)

    def filter(self, el: etree._Element) -> ColumnElement[bool]:
        """A fes:Filter / ogc:Filter element (at most MAX_PREDICATES predicates: a bounded query)."""
        predicates = sum(1 for node in el.iter() if isinstance(node.tag, str) and local(node.tag) in PREDICATES)
        if predicates > MAX_PREDICATES:
            raise _bad(f"the filter has {predicates} predicates; at most {MAX_PREDICATES} are accepted")
        kids = children(el)
        if local(el.tag) != "Filter":
            return self.predicate(el)
        if not kids:
            raise _bad("empty Filter")
        ids = [k for k in kids if local(k.tag) in ("ResourceId", "FeatureId", "GmlObjectId")]
        if ids:
            if len(ids) != len(kids):
                raise _bad("resource ids cannot be mixed with other predicates at the top of a Filter")
            return self.ids(ids)
        if len(kids) != 1:
            raise _bad("a Filter holds exactly one predicate (combine with And/Or)")
        return self.predicate(kids[0])

    def ids(self, elements: list[etree._Element]) -> ColumnElement[bool]:
        """ResourceId rid= / FeatureId fid= / GmlObjectId gml:id= → key IN (…) for this type."""
        if len(elements) > MAX_IDS:
            raise _bad(f"more than {MAX_IDS} resource ids")
        keys = []
        for el in elements:
            rid = el.get("rid") or el.get("fid") or el.get("{http://www.opengis.net/gml}id") or el.get("id")
            if not rid:
                raise _bad(f"{local(el.tag)} without an identifier")
            ftype, key = parse_resource_id(rid, "filter")
            if ftype is self.ftype:
                keys.append(key)
        return self.ftype.key.in_(keys) if keys else false()

    def predicate(self, el: etree._Element) -> ColumnElement[bool]:
        """Any predicate element."""
        name = local(el.tag)
        kids = children(el)
        if name in ("And", "Or"):
            if len(kids) < 2:
                raise _bad(f"{name} needs at least two operands")
            parts = [self.predicate(k) for k in kids]
            return and_(*parts) if name == "And" else or_(*parts)
        if name == "Not":
            if len(kids) != 1:
                raise _bad("Not needs exactly one operand")
            return not_(self.predicate(kids[0]))
        if name in COMPARISONS:
            return self.compare(el, COMPARISONS[name])
        if name == "PropertyIsLike":
            return self.like(el)
        if name in ("PropertyIsNull", "PropertyIsNil"):
            prop = self.operand_property(el)
            return prop.column.is_(None)
        if name == "PropertyIsBetween":
            return self.between(el)
        if name in SPATIAL:
            return self.spatial(el, SPATIAL[name])
        if name in ("ResourceId", "FeatureId", "GmlObjectId"):
            return self.ids([el])
        raise WfsError(
            "InvalidParameterValue",
            f"filter operator {name[:60]!r} is not implemented (see Filter_Capabilities)",
            "filter",
        )

    def operand_property(self, el: etree._Element) -> Prop:
        for k in children(el):
            if local(k.tag) in ("ValueReference", "PropertyName"):
                prop = property_of(self.ftype, text(k))
                assert prop is not None
                return prop
        raise _bad(f"{local(el.tag)} needs a ValueReference")

    def compare(self, el: etree._Element, op: str) -> ColumnElement[bool]:
        kids = children(el)
        refs = [k for k in kids if local(k.tag) in ("ValueReference", "PropertyName")]
        lits = [k for k in kids if local(k.tag) == "Literal"]
        if len(refs) != 1 or len(lits) != 1 or len(kids) != 2:
            raise _bad(f"{local(el.tag)} compares one ValueReference with one Literal")
        prop = property_of(self.ftype, text(refs[0]))
        assert prop is not None
        swapped = kids.index(refs[0]) == 1
        value = typed(prop, lits[0].text or "")
        col: Any = prop.column
        if prop.xsd == "string" and el.get("matchCase", "true").lower() == "false":
            col, value = func.lower(col), str(value).lower()
        if swapped:
            op = {"lt": "gt", "gt": "lt", "le": "ge", "ge": "le"}.get(op, op)
        bound = literal(value, type_=prop.column.type) if prop.xsd != "string" else literal(value)
        return {
            "eq": lambda: col == bound,
            "ne": lambda: col != bound,
            "lt": lambda: col < bound,
            "gt": lambda: col > bound,
            "le": lambda: col <= bound,
            "ge": lambda: col >= bound,
        }[op]()

    def like(self, el: etree._Element) -> ColumnElement[bool]:
        prop = self.operand_property(el)
        lit = next((k for k in children(el) if local(k.tag) == "Literal"), None)
        if lit is None:
            raise _bad("PropertyIsLike needs a Literal pattern")
        wild = el.get("wildCard", "*")
        single = el.get("singleChar", "?")
        escape = el.get("escapeChar") or el.get("escape") or "\\"
        if not (len(wild) == len(single) == len(escape) == 1):
            raise _bad("wildCard, singleChar and escapeChar must be single characters")
        pattern = like_pattern(lit.text or "", wild, single, escape)
        col = cast(prop.column, Text) if prop.xsd != "string" else prop.column
        if el.get("matchCase", "true").lower() == "false":
            return col.ilike(literal(pattern), escape="\\")
        return col.like(literal(pattern), escape="\\")

    def between(self, el: etree._Element) -> ColumnElement[bool]:
        prop = self.operand_property(el)
        bounds = {}
        for k in children(el):
            if local(k.tag) in ("LowerBoundary", "UpperBoundary"):
                lit = next((c for c in children(k) if local(c.tag) == "Literal"), None)
                if lit is None:
                    raise _bad(f"{local(k.tag)} needs a Literal")
                bounds[local(k.tag)] = typed(prop, lit.text or "")
        if len(bounds) != 2:
            raise _bad("PropertyIsBetween needs LowerBoundary and UpperBoundary")
        return prop.column.between(
            literal(bounds["LowerBoundary"], type_=prop.column.type),
            literal(bounds["UpperBoundary"], type_=prop.column.type),
        )

    def spatial(self, el: etree._Element, function: str) -> ColumnElement[bool]:
        operands = []
        for k in children(el):
            if local(k.tag) in ("ValueReference", "PropertyName"):
                property_of(self.ftype, text(k), allow_geometry=True)
                if property_of(self.ftype, text(k), allow_geometry=True) is not None:
                    raise _bad(f"{text(k)[:60]!r} is not a geometry property")
            elif local(k.tag) in GEOMETRY_OPERANDS:
                operands.append(k)
            else:
                raise _bad(f"{local(k.tag)[:60]!r} is not a supported geometry operand")
        if len(operands) != 1:
            raise _bad(f"{local(el.tag)} needs exactly one geometry operand")
        shape = self.geometry(operands[0])
        return getattr(func, function)(self.ftype.geom, shape)

    def geometry(self, el: etree._Element) -> Any:
        """A GML operand → a storage-CRS SQL geometry (axis order from its srsName)."""
        crs = crs_param(srs_name(el), self.version, "filter") if srs_name(el) else self.default
        try:
            geom = read_geometry(el)
        except GmlError as exc:
            raise _bad(f"geometry operand: {exc}") from None
        if crs.swaps_axes:
            geom = shapely.transform(geom, lambda c: c[:, ::-1].copy())
        if local(el.tag) == "Envelope" or local(el.tag) == "Box":
            return envelope(geom.bounds, CrsRef(crs.srid))
        wkb = shapely.to_wkb(geom)
        shape = func.ST_GeomFromWKB(literal(wkb), crs.srid)
        return shape if crs.srid == STORAGE_SRID else func.ST_Transform(shape, STORAGE_SRID)


def like_pattern(pattern: str, wild: str, single: str, escape: str) -> str:
    """An FES Like pattern → a SQL LIKE pattern with `\\` as escape (SQL's own %, _ and \\ escaped)."""
    out = []
    chars = iter(pattern)
    for ch in chars:
        if ch == escape:
            nxt = next(chars, "")
            out.append(re.sub(r"([%_\\])", r"\\\1", nxt))
        elif ch == wild:
            out.append("%")
        elif ch == single:
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def kvp_bbox(
    bbox: tuple[float, float, float, float], crs: CrsRef
) -> tuple[tuple[float, float, float, float], CrsRef]:
    """KVP BBOX in `crs` as named (lat/lon when the name says so) → x/y corners and the CRS they are in."""
    x0, y0, x1, y1 = bbox
    if crs.swaps_axes:
        x0, y0, x1, y1 = y0, x0, y1, x1
    return (x0, y0, x1, y1), CrsRef(crs.srid)


def bbox_clause(
    ftype: FeatureType, bbox: tuple[float, float, float, float], crs: CrsRef
) -> ColumnElement[bool]:
    """x/y corners in `crs` → intersects, GiST-indexed; the corners are named parameters (`bbox_values`)."""
    return func.ST_Intersects(ftype.geom, envelope(bbox, crs))


ALWAYS = true()
