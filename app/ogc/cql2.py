"""CQL2 filters (OGC 21-065r2) for OGC API – Features Part 3 (19-079r2): parsed by the `cql2` package,
compiled here into a bounded SQLAlchemy expression over the collection's whitelist.

The parser gives a cql2-json tree; `app.ogc.cql2_compile` walks it and emits only what it knows: a property
is a key of the registry's `FeatureType.props` (app/wfs/registry.py, the same whitelist WFS filters on) or
the geometry; an operator or function is one of the classes below; every literal is a bound parameter of
the property's type. Anything else is a 400 naming the token and what is offered (/req/filter/filter-param).

The parser recurses: a deep or long filter would exhaust its stack (a crash, not an exception), so the
text is measured before it is parsed (`_measure_text`), with limits well inside a 2 MB thread stack.
"""

from __future__ import annotations

import json
import re
from typing import Any

import cql2
from sqlalchemy import ColumnElement

from app.ogc.cql2_compile import MAX_DEPTH, Compiler, bad
from app.ogc.params import DEFAULT_CRS, crs_param
from app.wfs.registry import GEOMETRY, FeatureType, Prop

_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
_PART3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
# The classes implemented (17-069r4 §7.4 /conformance). basic-spatial-operators is the draft name of
# basic-spatial-functions, which QGIS before 3.44 looks for (its OAPIF provider sends S_INTERSECTS only then).
# Accent-insensitive comparison is not offered (no unaccent in the database): ACCENTI is a 400.
CQL2_CLASSES: tuple[str, ...] = (
    f"{_PART3}queryables",
    f"{_PART3}queryables-query-parameters",
    f"{_PART3}filter",
    f"{_PART3}features-filter",
    f"{_CQL2}cql2-text",
    f"{_CQL2}cql2-json",
    f"{_CQL2}basic-cql2",
    f"{_CQL2}advanced-comparison-operators",
    f"{_CQL2}case-insensitive-comparison",
    f"{_CQL2}basic-spatial-functions",
    f"{_CQL2}basic-spatial-operators",
    f"{_CQL2}basic-spatial-functions-plus",
    f"{_CQL2}spatial-functions",
    f"{_CQL2}temporal-functions",
    f"{_CQL2}property-property",
)
LANGS = ("cql2-text", "cql2-json")

MAX_CHARS = 64_000
# Measured with cql2 0.6.0 on a 1 MB thread stack: ~190 nested parentheses, ~420 chained prefix NOT or
# minus, ~2,000 infix operators crash the parser. Each limit takes at most a third of 2 MB.
MAX_INFIX = 500
MAX_PREFIX_RUN = 20
# Strings, quoted names, parentheses, words, numbers (a sign written on a number is part of it), operators.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|[()]|[A-Za-z_][A-Za-z0-9_]*"
                     r"|-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+*/%^]|\S")
_INFIX = frozenset({"AND", "OR", "+", "-", "*", "/", "%", "^", "DIV"})
_PREFIX = frozenset({"NOT", "-", "+"})


def compile_filter(text: str, lang: str, ftype: FeatureType, filter_crs: str | None) -> ColumnElement[bool]:
    """`filter` in `filter-lang` (cql2-text or cql2-json) over `ftype`'s queryables, geometry literals in
    `filter-crs` (CRS84 when None, 19-079r2 /req/filter/filter-crs-wgs84) → a boolean SQL expression of
    bound parameters. 400 (InvalidParameter, CRS_UNSUPPORTED) for anything not offered."""
    crs = DEFAULT_CRS if filter_crs is None else crs_param(filter_crs, "filter-crs")
    return Compiler(ftype, crs).predicate(parse(text, lang), 0)


def parse(text: str, lang: str = "cql2-text") -> Any:
    """The filter's cql2-json tree (dicts, lists, strings, floats, booleans, None), from the `cql2` parser."""
    if lang not in LANGS:
        raise bad(f"filter-lang must be one of {', '.join(LANGS)}, not {lang[:40]!r}", "filter-lang")
    if len(text) > MAX_CHARS:
        raise bad(f"the filter is longer than {MAX_CHARS} characters")
    if lang == "cql2-text":
        _measure_text(text)
        parser = cql2.parse_text
    else:
        _measure_json(text)
        parser = cql2.parse_json
    try:
        return parser(text).to_json()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # ParseError, ValueError, a plain Exception (POINT EMPTY), a Rust panic
        raise bad(f"the filter is not {lang}: {_first_line(exc)}") from None


def _measure_text(text: str) -> None:
    """Refuse cql2-text nested or chained beyond what the parser's stack takes (see MAX_INFIX)."""
    depth = deepest = infix = run = 0
    for match in _TOKENS.finditer(text):
        token = match.group().upper()
        if token == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif token == ")":
            depth -= 1
        infix += token in _INFIX
        run = run + 1 if token in _PREFIX else 0
        if deepest > MAX_DEPTH:
            raise bad(f"the filter nests deeper than {MAX_DEPTH} parentheses")
        if infix > MAX_INFIX:
            raise bad(f"the filter has more than {MAX_INFIX} AND, OR or arithmetic operators; use IN for lists")
        if run > MAX_PREFIX_RUN:
            raise bad(f"the filter chains more than {MAX_PREFIX_RUN} NOT or signs")


def _measure_json(text: str) -> None:
    """Refuse cql2-json that is not JSON or nests deeper than MAX_DEPTH (before the parser recurses)."""
    try:
        tree = json.loads(text)
    except RecursionError:
        raise bad(f"the filter nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise bad(f"the filter is not JSON: {_first_line(exc)}") from None
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > 2 * MAX_DEPTH:  # an operator is two JSON levels ({"op", "args": [...]})
            raise bad(f"the filter nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # pest's messages end with what it expected: the most useful line for a client.
    return (lines[-1] if lines else type(exc).__name__)[:300]


# --------------------------------------------------------------------------------------------- queryables
_JSON_TYPES = {"long": "integer", "int": "integer", "decimal": "number", "double": "number", "boolean": "boolean"}
_FORMATS = {"date": "date", "dateTime": "date-time"}


def _property_schema(ftype: FeatureType, prop: Prop) -> dict[str, Any]:
    out: dict[str, Any] = {"title": prop.name, "type": _JSON_TYPES.get(prop.xsd, "string")}
    if prop.xsd in _FORMATS:
        out["format"] = _FORMATS[prop.xsd]
    # OGC 23-058 (Part 5) roles: the featureId, and rule 10's validity interval.
    if prop.column is ftype.key:
        out["x-ogc-role"] = "id"
    elif prop.name == "valid_from":
        out["x-ogc-role"] = "primary-interval-start"
    elif prop.name == "valid_to":
        out["x-ogc-role"] = "primary-interval-end"
    return out


def queryables_schema(ftype: FeatureType, url: str | None = None) -> dict[str, Any]:
    """The queryables of `ftype` as a JSON Schema 2020-12 object (19-079r2 /req/queryables/get-queryables-
    response): its whitelisted properties, typed, and the geometry; nothing else may be filtered on
    (additionalProperties false, /rec/queryables/additionalproperties)."""
    props: dict[str, Any] = {
        # 19-079r2 /rec/queryables/geom-format; the GeoJSON schema `$ref` is how QGIS finds the geometry.
        GEOMETRY: {"title": GEOMETRY, "format": "geometry-multipolygon", "x-ogc-role": "primary-geometry",
                   "$ref": "https://geojson.org/schema/MultiPolygon.json"},
    }
    for prop in ftype.props:
        props[prop.name] = _property_schema(ftype, prop)
    doc: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    if url is not None:
        doc["$id"] = url
    doc.update({"type": "object", "title": ftype.title, "description": f"The properties filters on {ftype.name} "
                "may name (cql2-text, cql2-json)", "properties": props, "additionalProperties": False})
    return doc


__all__ = ["CQL2_CLASSES", "LANGS", "compile_filter", "parse", "queryables_schema"]
