"""Feature members as text built by PostgreSQL: GML 3.2 / 3.1.1 / 2 and GeoJSON (STYLE habit 4).

Each row arrives as a finished `<wfs:member>…</wfs:member>` (or a GeoJSON Feature); Python only joins
and sends (bench/RESULTS.md "REST API": peers doing per-feature Python work spend 17–20 s of CPU per
100,000-feature stream, Landcycle 0.3 s).

The SQL is written for the cost per row, which is most of a full GetFeature's time (bench/RESULTS.md
"WFS"): the markup is quoted into the statement and adjacent pieces are merged into one literal; only
strings that may hold markup characters are escaped (`Prop.plain`); the key goes into `concat` as it is
(no text cast).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, Text, cast, func

from app.wfs.model import GML2, GML32, GML311, JSON
from app.wfs.registry import GEOMETRY, PREFIX, FeatureType, Prop
from gis.crs import CrsRef
from gis.gml import gml_expression
from gis.sql import constant, geojson

# A piece of a member: fixed text (merged with its neighbours into one literal) or an SQL expression.
Piece = str | ColumnElement[Any]


def concat(pieces: list[Piece]) -> ColumnElement[str]:
    """`concat(…)` of the pieces, adjacent fixed texts merged (each argument costs PostgreSQL a call per row)."""
    args: list[Any] = []
    for piece in pieces:
        if isinstance(piece, str) and args and isinstance(args[-1], str):
            args[-1] += piece
        else:
            args.append(piece)
    return func.concat(*(constant(a) if isinstance(a, str) else a for a in args))


def _escape(expr: Any) -> Any:
    return func.replace(func.replace(func.replace(expr, constant("&"), constant("&amp;")),
                                     constant("<"), constant("&lt;")), constant(">"), constant("&gt;"))


def value_text(prop: Prop) -> ColumnElement[str]:
    """The property as XML Schema lexical text (NULL stays NULL): booleans `true`/`false`, numbers and dates
    as PostgreSQL writes them, times in UTC with a `Z`, strings escaped unless plain."""
    col = prop.column
    if prop.xsd == "dateTime":
        return func.to_char(func.timezone(constant("UTC"), col), constant('YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
    if prop.xsd == "string" and not prop.plain:
        return _escape(cast(col, Text))
    return cast(col, Text)


def gml_version(fmt: str) -> str:
    """Output format → GML version for ST_AsGML."""
    return {GML32: "3.2", GML311: "3.1.1", GML2: "2"}[fmt]


def member_text(
    ftype: FeatureType,
    fmt: str,
    crs: CrsRef,
    props: list[Prop],
    with_geometry: bool,
    wfs2: bool,
    srs_form: str,
) -> ColumnElement[str]:
    """One feature member as text."""
    if fmt == JSON:
        return json_feature(ftype, ftype.geom if with_geometry else None, crs, props)
    version = gml_version(fmt)
    tag = f"{PREFIX}:{ftype.name}"
    id_attr = "fid" if version == "2" else "gml:id"
    wrap_open, wrap_close = (
        ("<wfs:member>", "</wfs:member>") if wfs2 else ("<gml:featureMember>", "</gml:featureMember>")
    )
    pieces: list[Piece] = [f'{wrap_open}<{tag} {id_attr}="{ftype.name}.', ftype.key, '">']
    for p in props:
        el = f"{PREFIX}:{p.name}"
        # NULL drops the whole element: `concat` skips NULL arguments.
        pieces.append(constant(f"<{el}>") + value_text(p) + constant(f"</{el}>"))
    if with_geometry:
        gid = constant(f"{ftype.name}.") + cast(ftype.key, String) + constant(".g")
        pieces += [f"<{PREFIX}:{GEOMETRY}>",
                   gml_expression(ftype.geom, crs, version, gid if version == "3.2" else None, srs_form),
                   f"</{PREFIX}:{GEOMETRY}>"]
    pieces.append(f"</{tag}>{wrap_close}")
    return concat(pieces).label("member")


def json_value(prop: Prop) -> ColumnElement[str]:
    """The property as JSON text: numbers and booleans as written by PostgreSQL, plain strings in quotes,
    other strings and times by to_json (escaped), NULL as null. Concatenation is ~40 % cheaper than
    json_build_object here, and quoting a plain word ~3× cheaper than to_json."""
    if prop.xsd == "string" and prop.plain:
        text = constant('"') + cast(prop.column, Text) + constant('"')
    elif prop.xsd in ("string", "dateTime", "date"):
        text = cast(func.to_json(prop.column), Text)
    else:
        text = cast(prop.column, Text)
    return func.coalesce(text, constant("null"))


def json_feature(ftype: FeatureType, geom: Any, crs: CrsRef, props: list[Prop]) -> ColumnElement[str]:
    """A GeoJSON Feature (x/y order, RFC 7946) as text, id `type.key`; `geom` None writes a null geometry."""
    pieces: list[Piece] = ['{"type":"Feature","id":']
    if ftype.key_is_int:
        pieces += [f'"{ftype.name}.', ftype.key, '"']
    else:
        pieces.append(cast(func.to_json(constant(f"{ftype.name}.") + cast(ftype.key, String)), Text))
    pieces.append(',"geometry":')
    pieces.append(func.coalesce(geojson(geom, crs), constant("null")) if geom is not None else "null")
    for i, p in enumerate(props):
        pieces += [("," if i else ',"properties":{') + f'"{p.name}":', json_value(p)]
    pieces.append("}}" if props else ',"properties":{}}')
    return concat(pieces).label("member")
