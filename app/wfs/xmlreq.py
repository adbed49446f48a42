"""XML (POST) requests → the same dataclasses as KVP (WFS 2.0 §7.6, 1.1 §7)."""

from __future__ import annotations

from lxml import etree

from app.wfs.filters import Translator, property_of
from app.wfs.kvp import sort_by
from app.wfs.model import GET_FEATURE_BY_ID, VERSIONS, GetFeature, Query, crs_param, output_format, result_type
from app.wfs.ows import WfsError, invalid, missing
from app.wfs.registry import find, parse_resource_id
from app.wfs.xmlsafe import children, local, text

MAX_INT = 10**9


def version_of(root: etree._Element) -> str:
    """The version attribute (GetCapabilities: AcceptVersions) → one we offer."""
    if local(root.tag) == "GetCapabilities":
        for el in root.iter():
            if local(el.tag) == "Version" and text(el) in VERSIONS:
                return text(el)
        v = root.get("version", "")
        return v if v in VERSIONS else "2.0.0"
    v = (root.get("version") or "2.0.0").strip()
    if v not in VERSIONS:
        raise invalid("version", f"version {v[:20]!r} is not offered; use one of {', '.join(VERSIONS)}")
    return v


def _int(root: etree._Element, *names: str) -> int | None:
    for name in names:
        raw = root.get(name)
        if raw is not None:
            try:
                value = int(raw)
            except ValueError:
                raise invalid(name, f"{name} must be an integer") from None
            if not 0 <= value <= MAX_INT:
                raise invalid(name, f"{name} must be between 0 and {MAX_INT}")
            return value
    return None


def type_names(root: etree._Element) -> list[str]:
    """DescribeFeatureType: the TypeName elements."""
    return [text(el) for el in children(root) if local(el.tag) == "TypeName" and text(el)]


def get_feature(root: etree._Element, version: str) -> GetFeature:
    """A wfs:GetFeature document with one wfs:Query or the GetFeatureById wfs:StoredQuery."""
    queries = [c for c in children(root) if local(c.tag) in ("Query", "StoredQuery")]
    if not queries:
        raise missing("Query")
    if len(queries) > 1:
        raise invalid("Query", "one Query per GetFeature request")
    q_el = queries[0]
    by_id = None
    if local(q_el.tag) == "StoredQuery":
        if q_el.get("id") != GET_FEATURE_BY_ID:
            raise invalid("storedQuery_Id", f"unknown stored query; offered: {GET_FEATURE_BY_ID}")
        param = next(
            (p for p in children(q_el) if local(p.tag) == "Parameter" and p.get("name") == "ID"), None
        )
        if param is None:
            raise missing("ID")
        ftype, by_id = parse_resource_id(text(param), "ID")
        query = Query(ftype=ftype, srs=crs_param(None, version))
        query.clauses.append(ftype.key == by_id)
    else:
        names = (q_el.get("typeNames") or q_el.get("typeName") or "").split()
        if not names:
            raise missing("typeNames")
        if len(names) > 1 or "," in names[0]:
            raise invalid("typeNames", "one feature type per Query")
        name = names[0]
        if ":" in name and name.split(":")[0] in q_el.nsmap and q_el.nsmap[name.split(":")[0]]:
            name = f"{{{q_el.nsmap[name.split(':')[0]]}}}{name.split(':', 1)[1]}"
        ftype = find(name)
        srs_text = q_el.get("srsName")
        query = Query(ftype=ftype, srs=crs_param(srs_text, version), srs_text=srs_text)
        props = []
        for child in children(q_el):
            tag = local(child.tag)
            if tag in ("PropertyName", "ValueReference"):
                if text(child) == "*":  # OWSLib: every property
                    continue
                prop = property_of(ftype, text(child), allow_geometry=True)
                props.append(prop.name if prop else "geometry")
            elif tag == "Filter":
                query.clauses.append(Translator(ftype, version).filter(child))
            elif tag == "SortBy":
                items = []
                for sp in children(child):
                    ref = next(
                        (c for c in children(sp) if local(c.tag) in ("ValueReference", "PropertyName")), None
                    )
                    order = next((c for c in children(sp) if local(c.tag) == "SortOrder"), None)
                    if ref is None:
                        raise invalid("sortBy", "SortProperty needs a ValueReference")
                    items.append(f"{text(ref)} {text(order) or 'ASC'}")
                query.sort = sort_by(",".join(items), ftype)
            elif tag in ("XlinkPropertyName", "Function"):
                raise WfsError("OperationNotSupported", f"{tag} is not supported", tag, 400)
        if props:
            query.property_names = props
    return GetFeature(
        version=version,
        query=query,
        result_type=result_type(root.get("resultType")),
        output_format=output_format(root.get("outputFormat"), version),
        start=_int(root, "startIndex") or 0,
        count=_int(root, "count", "maxFeatures"),
        by_id=by_id,
        kvp=False,
    )
