"""GML geometry: read client GML (2, 3.1.1, 3.2) into shapely, and write it in PostGIS (`ST_AsGML`).

Reading works on lxml elements by local name, so the three GML namespaces share one reader. Coordinates
come back exactly as written (axis order untouched): the caller knows which CRS name was used and swaps
axes when that name says lat/lon (`CrsRef.swaps_axes`).
"""

from __future__ import annotations

import math
from typing import Any

from shapely.geometry import LinearRing, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, Integer, String, case, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from gis.crs import CrsRef, crs_urn
from gis.errors import GeometryError
from gis.sql import constant, in_crs

MAX_COORDINATES = 1_000_000


class GmlError(GeometryError):
    """GML that cannot be read as a geometry (malformed, unsupported element, bad numbers)."""


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _kids(el: Any) -> list[Any]:
    return [c for c in el if isinstance(c.tag, str)]


def _first(el: Any, *names: str) -> Any:
    for c in _kids(el):
        if _local(c.tag) in names:
            return c
    return None


def srs_name(el: Any) -> str | None:
    """The srsName on the element or the nearest ancestor that has one."""
    node = el
    while node is not None:
        value = node.get("srsName")
        if value:
            return str(value).strip()
        node = node.getparent()
    return None


def _numbers(text: str, where: str) -> list[float]:
    parts = text.split()
    if len(parts) > MAX_COORDINATES:
        raise GmlError(f"{where}: more than {MAX_COORDINATES} numbers")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise GmlError(f"{where}: coordinates must be numbers") from None
    if not all(math.isfinite(v) for v in values):
        raise GmlError("coordinates are not finite numbers (NaN or Infinity)")
    return values


def _dimension(el: Any) -> int:
    node = el
    while node is not None:
        dim = node.get("srsDimension") or node.get("dimension")
        if dim:
            if dim not in ("2", "3"):
                raise GmlError(f"srsDimension {dim!r} is not supported (2 or 3)")
            return int(dim)
        node = node.getparent()
    return 2


def _points(el: Any) -> list[tuple[float, float]]:
    """Positions of a ring/line/point element: posList, pos*, coordinates, coord*."""
    name = _local(el.tag)
    pos_list = _first(el, "posList")
    if pos_list is not None:
        dim = _dimension(pos_list)
        values = _numbers(pos_list.text or "", f"{name}/posList")
        if len(values) % dim:
            raise GmlError(f"{name}/posList: {len(values)} numbers are not a multiple of srsDimension {dim}")
        return [(values[i], values[i + 1]) for i in range(0, len(values), dim)]
    coordinates = _first(el, "coordinates")
    if coordinates is not None:
        cs, ts, dec = coordinates.get("cs", ","), coordinates.get("ts", " "), coordinates.get("decimal", ".")
        raw = (coordinates.text or "").strip()
        if dec != ".":
            raw = raw.replace(".", "\0").replace(dec, ".")
        tuples = [t for t in (raw.split(ts) if ts.strip() else raw.split()) if t.strip()]
        out = []
        for t in tuples:
            vals = _numbers(t.replace(cs, " "), f"{name}/coordinates")
            if len(vals) not in (2, 3):
                raise GmlError(f"{name}/coordinates: a tuple must have 2 or 3 numbers")
            out.append((vals[0], vals[1]))
        return out
    out = []
    for c in _kids(el):
        local = _local(c.tag)
        if local == "pos":
            vals = _numbers(c.text or "", f"{name}/pos")
            if len(vals) not in (2, 3):
                raise GmlError(f"{name}/pos must have 2 or 3 numbers")
            out.append((vals[0], vals[1]))
        elif local == "coord":
            x, y = _first(c, "X"), _first(c, "Y")
            if x is None or y is None:
                raise GmlError(f"{name}/coord needs X and Y")
            out.append((_numbers(x.text or "", "X")[0], _numbers(y.text or "", "Y")[0]))
        elif local == "pointProperty" or local == "pointRep":
            pt = _first(c, "Point")
            if pt is not None:
                out.extend(_points(pt))
    return out


def _ring(el: Any, where: str) -> list[tuple[float, float]]:
    ring = _first(el, "LinearRing")
    if ring is None:
        raise GmlError(f"{where} must hold a gml:LinearRing")
    points = _points(ring)
    if len(points) < 4:
        raise GmlError(f"{where} has fewer than 4 positions")
    if points[0] != points[-1]:
        raise GmlError(f"{where} is not closed (first and last positions differ)")
    return points


def _polygon(el: Any) -> Polygon:
    outer = None
    inner = []
    for c in _kids(el):
        local = _local(c.tag)
        if local in ("exterior", "outerBoundaryIs"):
            outer = _ring(c, "exterior ring")
        elif local in ("interior", "innerBoundaryIs"):
            inner.append(_ring(c, "interior ring"))
    if outer is None:
        raise GmlError(f"gml:{_local(el.tag)} has no exterior ring")
    return Polygon(outer, inner)


def _members(el: Any, member_names: tuple[str, ...], plural: str) -> list[Any]:
    found = []
    for c in _kids(el):
        local = _local(c.tag)
        if local in member_names or local == plural:
            found.extend(_kids(c))
    return found


def read_geometry(el: Any) -> BaseGeometry:
    """A GML geometry element → shapely geometry, coordinates as written (GmlError when unreadable)."""
    name = _local(el.tag)
    if name == "Point":
        pts = _points(el)
        if len(pts) != 1:
            raise GmlError("gml:Point needs exactly one position")
        return Point(pts[0])
    if name == "LineString":
        return LineString(_points(el))
    if name == "LinearRing":
        return LinearRing(_points(el))
    if name == "Polygon":
        return _polygon(el)
    if name == "Surface":
        patches = _first(el, "patches")
        polys = [_polygon(p) for p in _kids(patches)] if patches is not None else []
        if not polys:
            raise GmlError("gml:Surface without polygon patches")
        return polys[0] if len(polys) == 1 else MultiPolygon(polys)
    if name in ("MultiPolygon", "MultiSurface"):
        polys = []
        for member in _members(el, ("polygonMember", "surfaceMember"), "surfaceMembers"):
            geom = read_geometry(member)
            if isinstance(geom, Polygon):
                polys.append(geom)
            elif isinstance(geom, MultiPolygon):
                polys.extend(geom.geoms)
            else:
                raise GmlError(f"gml:{name} member is a {geom.geom_type}, not a polygon")
        if not polys:
            raise GmlError(f"gml:{name} has no members")
        return MultiPolygon(polys)
    if name == "MultiPoint":
        pts = [read_geometry(m) for m in _members(el, ("pointMember",), "pointMembers")]
        return MultiPoint([p for p in pts if isinstance(p, Point)])
    if name in ("MultiLineString", "MultiCurve"):
        lines = [read_geometry(m) for m in _members(el, ("lineStringMember", "curveMember"), "curveMembers")]
        return MultiLineString([ln for ln in lines if isinstance(ln, LineString)])
    if name in ("Envelope", "Box"):
        lower, upper = _first(el, "lowerCorner"), _first(el, "upperCorner")
        if lower is not None and upper is not None:
            lo, hi = _numbers(lower.text or "", "lowerCorner"), _numbers(upper.text or "", "upperCorner")
            if len(lo) < 2 or len(hi) < 2:
                raise GmlError("gml:Envelope corners need two numbers each")
            return box(min(lo[0], hi[0]), min(lo[1], hi[1]), max(lo[0], hi[0]), max(lo[1], hi[1]))
        pts = _points(el)
        if len(pts) != 2:
            raise GmlError(f"gml:{name} needs two corners")
        (x0, y0), (x1, y1) = pts
        return box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    raise GmlError(f"gml:{name or '?'} is not a supported geometry")


# ------------------------------------------------------------------------------------------- writing
def _no_srid(geom: Any) -> Any:
    return func.ST_SetSRID(geom, constant(0))


def gml_expression(
    geom: Any, crs: CrsRef, version: str, gml_id: ColumnElement[str] | None = None, srs_form: str = "urn"
) -> ColumnElement[str]:
    """GML geometry text of a MultiPolygon column, built by PostGIS in `crs` with the axis order its name
    implies.

    `version` is "3.2", "3.1.1" or "2". GML 3.2 requires a unique gml:id on every geometry, and PostGIS 3.3
    repeats the id it is given on the member polygons. The common one-polygon case is therefore written as a
    MultiSurface around ST_AsGML of that polygon (with its own id; cheaper than renaming the id in the text
    afterwards), and the rare multi-part case is assembled from ST_Dump with numbered ids. The count of parts
    is read from the stored geometry and only the written part is transformed, so a CRS is applied once."""
    decimals = constant(crs.decimals)
    if version == "2":
        return func.ST_AsGML(constant(2), in_crs(geom, crs), decimals, constant(0))
    long_crs = 1 if srs_form == "urn" else 0
    options = long_crs | (16 if crs.swaps_axes else 0)
    if version == "3.1.1" or gml_id is None:
        return func.ST_AsGML(constant(3), in_crs(geom, crs), decimals, constant(options))
    srs = crs_urn(crs.srid) if srs_form == "urn" else f"EPSG:{crs.srid}"
    gid = cast(gml_id, String)
    # Members inherit the srsName of the MultiSurface: written without an SRID, PostGIS gives them none.
    poly_opts = constant(options & ~1)
    head = constant('<gml:MultiSurface gml:id="') + gid + constant(f'" srsName="{srs}">')
    gml = constant("gml")
    polygon = func.ST_AsGML(constant(3), _no_srid(in_crs(func.ST_GeometryN(geom, constant(1)), crs)), decimals,
                            poly_opts, gml, gid + constant(".1"))
    single = func.concat(head, constant("<gml:surfaceMember>"), polygon,
                         constant("</gml:surfaceMember></gml:MultiSurface>"))
    dumped: Any = literal_column("(d).geom")
    path = literal_column("(d).path[1]", Integer)
    member = (
        constant("<gml:surfaceMember>")
        + func.ST_AsGML(constant(3), _no_srid(dumped), decimals, poly_opts, gml,
                        gid + constant(".") + cast(path, String))
        + constant("</gml:surfaceMember>")
    )
    parts = (
        select(func.string_agg(member, aggregate_order_by(constant(""), path)))
        .select_from(func.ST_Dump(in_crs(geom, crs)).alias("d"))
        .scalar_subquery()
    )
    multi = head + parts + constant("</gml:MultiSurface>")
    return case((func.ST_NumGeometries(geom) == constant(1), single), else_=multi)
