"""KVP (GET) requests: case-insensitive parameter names, values as sent (WFS 2.0 §6.2.2, 1.1 §14)."""

from __future__ import annotations

from collections.abc import Mapping

from app.wfs import xmlsafe
from app.wfs.filters import MAX_IDS, Translator, check_id_count, kvp_bbox, property_of
from app.wfs.model import GET_FEATURE_BY_ID, VERSIONS, GetFeature, Query, crs_param, output_format, result_type
from app.wfs.ows import WfsError, invalid, missing
from app.wfs.registry import FeatureType, find, parse_resource_id
from gis.errors import GeometryError
from gis.sql import parse_bbox

MAX_START = 10**9


def params(items: list[tuple[str, str]]) -> dict[str, str]:
    """Query items → {UPPERCASE NAME: value} (the first of repeated names wins)."""
    out: dict[str, str] = {}
    for key, value in items:
        out.setdefault(key.upper(), value)
    return out


def version_of(p: Mapping[str, str], request: str) -> str:
    """The version a request speaks: VERSION (or, for GetCapabilities, the first of ACCEPTVERSIONS we
    offer); 2.0.0 when absent."""
    if request.lower() == "getcapabilities":
        accept = p.get("ACCEPTVERSIONS")
        if accept:
            for v in accept.split(","):
                if v.strip() in VERSIONS:
                    return v.strip()
            raise WfsError(
                "VersionNegotiationFailed",
                f"none of {accept[:80]!r} is offered; use one of {', '.join(VERSIONS)}",
                "AcceptVersions",
            )
        v = p.get("VERSION", "").strip()
        return v if v in VERSIONS else "2.0.0"
    v = p.get("VERSION", "").strip()
    if not v:
        return "2.0.0"
    if v not in VERSIONS:
        raise invalid("version", f"version {v[:20]!r} is not offered; use one of {', '.join(VERSIONS)}")
    return v


def _int(p: Mapping[str, str], name: str, minimum: int = 0) -> int | None:
    raw = p.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise invalid(name, f"{name} must be an integer, not {raw[:20]!r}") from None
    if value < minimum or value > MAX_START:
        raise invalid(name, f"{name} must be between {minimum} and {MAX_START}")
    return value


def type_names(p: Mapping[str, str]) -> list[FeatureType]:
    """TYPENAMES (2.0) or TYPENAME (1.x), comma separated, optionally in parentheses."""
    raw = p.get("TYPENAMES") or p.get("TYPENAME")
    if not raw:
        return []
    names = [n for n in raw.replace("(", "").replace(")", "").split(",") if n.strip()]
    return [find(n, "typeNames") for n in names]


def sort_by(text: str, ftype: FeatureType) -> list[tuple[str, bool]]:
    """`code ASC,plot_ratio DESC` (2.0) or `code A,plot_ratio D` (1.1)."""
    keys = []
    for item in text.split(","):
        parts = item.split()
        if not parts:
            continue
        prop = property_of(ftype, parts[0])
        if prop is None:
            raise invalid("sortBy", "cannot sort by the geometry")
        order = parts[1].upper() if len(parts) > 1 else "ASC"
        if order not in ("ASC", "DESC", "A", "D") or len(parts) > 2:
            raise invalid("sortBy", f"sort order {item.strip()[:40]!r} must be ASC or DESC")
        keys.append((prop.name, order in ("DESC", "D")))
    return keys


def get_feature(p: Mapping[str, str], version: str, *, max_ids: int = MAX_IDS) -> GetFeature:
    """A KVP GetFeature (also the GetFeatureById stored query); at most `max_ids` resource ids."""
    stored = p.get("STOREDQUERY_ID")
    by_id = None
    types = type_names(p)
    ids_raw = p.get("RESOURCEID") or p.get("FEATUREID")
    if stored:
        if stored.strip() != GET_FEATURE_BY_ID:
            raise invalid(
                "storedQuery_Id", f"unknown stored query {stored[:80]!r}; offered: {GET_FEATURE_BY_ID}"
            )
        rid = p.get("ID")
        if not rid:
            raise missing("ID")
        ftype, by_id = parse_resource_id(rid, "ID")
        types = [ftype]
        ids_raw = rid
    ids: list[object] = []
    if ids_raw:
        named = ids_raw.count(",") + 1  # counted before anything is split or parsed
        if named > max_ids:
            raise invalid("resourceId", f"{named:,} resource ids named; at most {max_ids:,} are accepted")
        for rid in ids_raw.split(","):
            if rid.strip():
                ftype, key = parse_resource_id(rid, "resourceId")
                if types and ftype not in types:
                    raise invalid("resourceId", f"{rid[:60]!r} is not of the requested type")
                types = types or [ftype]
                if ftype is not types[0]:
                    raise invalid("resourceId", "resource ids of one feature type per request")
                ids.append(key)
    if not types:
        raise missing("typeNames")
    if len(types) > 1:
        raise WfsError("InvalidParameterValue", "one feature type per GetFeature request", "typeNames")
    ftype = types[0]
    srs_text = p.get("SRSNAME")
    query = Query(ftype=ftype, srs=crs_param(srs_text, version), srs_text=srs_text)
    if ids:
        query.clauses.append(ftype.key.in_(ids))
    exclusive = [n for n in ("BBOX", "FILTER") if p.get(n)] + (
        ["RESOURCEID"] if ids_raw and not stored else []
    )
    if len(exclusive) > 1:
        raise invalid(exclusive[1], f"{' and '.join(exclusive)} are mutually exclusive")
    if p.get("BBOX"):
        parts = p["BBOX"].split(",")
        crs_text = None
        if len(parts) in (5, 7):
            crs_text = parts[-1]
            parts = parts[:-1]
        try:
            box = parse_bbox(",".join(parts), "BBOX")
        except GeometryError as exc:
            raise invalid("bbox", str(exc)) from None
        query.bbox = kvp_bbox(box, crs_param(crs_text, version, "bbox"))
    if p.get("FILTER"):
        raw = p["FILTER"].strip()
        if raw.startswith("(") and raw.endswith(")"):
            raw = raw[1:-1]
        root = xmlsafe.parse(raw.encode())
        check_id_count(root, max_ids)
        query.clauses.append(Translator(ftype, version).filter(root))
    if p.get("PROPERTYNAME") and p["PROPERTYNAME"].strip() != "*":
        names = [n for n in p["PROPERTYNAME"].replace("(", "").replace(")", "").split(",") if n.strip()]
        query.property_names = []
        for n in names:
            prop = property_of(ftype, n, allow_geometry=True)
            query.property_names.append(prop.name if prop else "geometry")
    if p.get("SORTBY"):
        query.sort = sort_by(p["SORTBY"], ftype)
    count = _int(p, "COUNT") if p.get("COUNT") else _int(p, "MAXFEATURES")
    return GetFeature(
        version=version,
        query=query,
        result_type=result_type(p.get("RESULTTYPE")),
        output_format=output_format(p.get("OUTPUTFORMAT"), version),
        start=_int(p, "STARTINDEX") or 0,
        count=count,
        by_id=by_id,
        kvp=True,
    )
