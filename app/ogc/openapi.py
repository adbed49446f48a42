"""The OpenAPI 3.0 definition of /ogc (OGC 17-069r4 §7.3 and Annex A.4, conformance class oas30).

Written out rather than taken from FastAPI (which writes OpenAPI 3.1 for the REST API at /openapi.json):
one path per collection, so each lists its own property filters and CRSs, with the OGC schemas of the
responses (landingPage, confClasses, collections, collection, featureCollectionGeoJSON, featureGeoJSON,
after the OGC's YAML) and the problem+json of every error status an operation answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.ogc.collections import CRS84, CRS_URIS, GEOJSON, HTML, JSON, Collection
from app.wfs.registry import Prop

OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
_REF = "#/components/"

_LINK = {"type": "object", "required": ["href", "rel"],
         "properties": {"href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"},
                        "hreflang": {"type": "string"}, "title": {"type": "string"}, "length": {"type": "integer"}}}
_LINKS = {"type": "array", "items": {"$ref": f"{_REF}schemas/link"}}
_GEOMETRY = {"type": "object", "required": ["type"],
             "properties": {"type": {"type": "string", "enum": ["Point", "MultiPoint", "LineString",
                                                                 "MultiLineString", "Polygon", "MultiPolygon",
                                                                 "GeometryCollection"]},
                            "coordinates": {"type": "array"}}}
SCHEMAS: dict[str, Any] = {
    "link": _LINK,
    "landingPage": {"type": "object", "required": ["links"],
                    "properties": {"title": {"type": "string"}, "description": {"type": "string"}, "links": _LINKS}},
    "confClasses": {"type": "object", "required": ["conformsTo"],
                    "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}}},
    "extent": {"type": "object", "properties": {
        "spatial": {"type": "object", "properties": {
            "bbox": {"type": "array", "minItems": 1, "items": {"type": "array", "minItems": 4, "maxItems": 6,
                                                               "items": {"type": "number"}}},
            "crs": {"type": "string", "enum": [CRS84]}}},
        "temporal": {"type": "object", "properties": {
            "interval": {"type": "array", "minItems": 1, "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                                                   "items": {"type": "string", "format": "date-time",
                                                                             "nullable": True}}},
            "trs": {"type": "string"}}}}},
    "collection": {"type": "object", "required": ["id", "links"], "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
        "links": _LINKS, "extent": {"$ref": f"{_REF}schemas/extent"},
        "itemType": {"type": "string", "default": "feature"},
        "crs": {"type": "array", "items": {"type": "string"}}, "storageCrs": {"type": "string"}}},
    "collections": {"type": "object", "required": ["links", "collections"], "properties": {
        "links": _LINKS, "crs": {"type": "array", "items": {"type": "string"}},
        "collections": {"type": "array", "items": {"$ref": f"{_REF}schemas/collection"}}}},
    "geometryGeoJSON": _GEOMETRY,
    "featureGeoJSON": {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "geometry": {"allOf": [{"$ref": f"{_REF}schemas/geometryGeoJSON"}], "nullable": True},
        "properties": {"type": "object", "nullable": True},
        "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]}, "links": _LINKS}},
    "featureCollectionGeoJSON": {"type": "object", "required": ["type", "features"], "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {"$ref": f"{_REF}schemas/featureGeoJSON"}},
        "links": _LINKS, "timeStamp": {"type": "string", "format": "date-time"},
        "numberMatched": {"type": "integer", "minimum": 0}, "numberReturned": {"type": "integer", "minimum": 0}}},
    "exception": {"type": "object", "required": ["status", "code", "title", "detail"], "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "code": {"type": "string"}, "instance": {"type": "string"}}},
}

_ERRORS = {
    "400": ("InvalidParameter", "A query parameter is unknown or has an invalid value (VALIDATION_ERROR, "
                                "CRS_UNSUPPORTED)"),
    "401": ("Unauthenticated", "UNAUTHENTICATED: log in with HTTP Basic or a bearer token"),
    "404": ("NotFound", "NOT_FOUND: no such collection or feature"),
    "500": ("ServerError", "A server error"),
    "503": ("ServiceUnavailable", "SERVICE_UNAVAILABLE: the database is busy or unreachable; retry"),
}
_PROBLEM = {"application/problem+json": {"schema": {"$ref": f"{_REF}schemas/exception"}}}
RESPONSES: dict[str, Any] = {name: {"description": what, "content": _PROBLEM} for name, what in _ERRORS.values()}


def _param(name: str, description: str, schema: dict[str, Any], style: str | None = None,
           explode: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "in": "query", "required": False, "description": description,
                           "schema": schema}
    if style:
        out["style"] = style
    if explode is not None:
        out["explode"] = explode
    return out


PARAMETERS: dict[str, Any] = {
    "f": _param("f", "The representation (overrides Accept)", {"type": "string", "enum": ["json", "html"]}),
    "fItems": _param("f", "The representation (overrides Accept)",
                     {"type": "string", "enum": ["json", "geojson", "html"]}),
    "limit": _param("limit", "Page size; larger values are served as the maximum (10,000)",
                    {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}),
    "offset": _param("offset", "Skip this many features (set by next/prev links)", {"type": "integer", "minimum": 0}),
    "after": _param("after", "Keyset cursor set by next links: the page starts after this featureId",
                    {"type": "string"}),
    "bbox": _param("bbox", "minx,miny,maxx,maxy (axis order of bbox-crs; CRS84: lon,lat)",
                   {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}, "form", False),
    "bbox-crs": _param("bbox-crs", "The CRS of bbox (default CRS84)",
                       {"type": "string", "format": "uri", "enum": list(CRS_URIS)}),
    "crs": _param("crs", "The CRS of the geometries (default CRS84); answered in the Content-Crs header",
                  {"type": "string", "format": "uri", "enum": list(CRS_URIS)}),
    "datetime": _param("datetime", "An instant (the versions valid then, SPEC rule 10) or an interval "
                                   "start/end with open ends (..)", {"type": "string"}),
    "sortby": _param("sortby", "Properties to sort by, +name ascending (default), -name descending",
                     {"type": "array", "items": {"type": "string"}}, "form", False),
    "properties": _param("properties", "Only these properties", {"type": "array", "items": {"type": "string"}},
                         "form", False),
    "filter": _param("filter", "A CQL2 filter over the queryables", {"type": "string"}),
    "filter-lang": _param("filter-lang", "The language of filter",
                          {"type": "string", "enum": ["cql2-text", "cql2-json", "cql-text", "cql-json"],
                           "default": "cql2-text"}),
    "filter-crs": _param("filter-crs", "The CRS of geometries in filter (default CRS84)",
                         {"type": "string", "format": "uri", "enum": list(CRS_URIS)}),
}

_OPENAPI_TYPES = {"long": ("integer", "int64"), "int": ("integer", "int32"), "decimal": ("number", None),
                  "double": ("number", "double"), "boolean": ("boolean", None), "date": ("string", "date"),
                  "dateTime": ("string", "date-time")}


def _prop_param(prop: Prop) -> dict[str, Any]:
    kind, fmt = _OPENAPI_TYPES.get(prop.xsd, ("string", None))
    schema: dict[str, Any] = {"type": kind}
    if fmt:
        schema["format"] = fmt
    return _param(prop.name, f"Features whose {prop.name} equals this value", schema)


def _ok(schema: str | None, media: Sequence[str], description: str, headers: dict[str, Any] | None = None
        ) -> dict[str, Any]:
    content = {m: ({"schema": {"$ref": f"{_REF}schemas/{schema}"}} if schema and m != HTML else {"schema":
                                                                                           {"type": "string"}})
               for m in media}
    out: dict[str, Any] = {"description": description, "content": content}
    if headers:
        out["headers"] = headers
    return out


_CONTENT_CRS = {"Content-Crs": {"description": "The CRS of the geometries, <URI>", "schema": {"type": "string"}}}
_ETAG = {"ETag": {"description": "The feature's version", "schema": {"type": "string"}}}


def _op(op_id: str, summary: str, ok: dict[str, Any], params: list[dict[str, Any]], errors: Sequence[str] = ()
        ) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok}
    for status in ("400", "401", *errors, "500", "503"):
        responses[status] = {"$ref": f"{_REF}responses/{_ERRORS[status][0]}"}
    return {"operationId": op_id, "summary": summary, "parameters": params, "responses": responses}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"{_REF}parameters/{name}"}


def _collection_paths(c: Collection) -> dict[str, Any]:
    base = f"/collections/{c.id}"
    items_params = [_ref(n) for n in ("fItems", "limit", "offset", "after", "bbox", "bbox-crs", "datetime", "crs",
                                      "sortby", "properties", "filter", "filter-lang", "filter-crs")]
    items_params += [_prop_param(p) for p in c.ftype.props]
    fid = {"name": "featureId", "in": "path", "required": True, "description": f"The id of a feature of {c.id}",
           "schema": {"type": "integer" if c.ftype.key_is_int else "string"}}
    schema_ok = _ok(None, ("application/schema+json", HTML), "A JSON Schema of the properties")
    return {
        base: {"get": _op(f"describe_{c.id}", f"The {c.id} collection",
                          _ok("collection", (JSON, HTML), "The collection's metadata"), [_ref("f")], ("404",))},
        f"{base}/items": {"get": _op(f"items_{c.id}", f"Features of {c.id}",
                                     _ok("featureCollectionGeoJSON", (GEOJSON, HTML), "A page of features",
                                         _CONTENT_CRS), items_params, ("404",))},
        f"{base}/items/{{featureId}}": {"get": _op(f"item_{c.id}", f"One feature of {c.id}",
                                                   _ok("featureGeoJSON", (GEOJSON, HTML), "The feature",
                                                       {**_CONTENT_CRS, **_ETAG}),
                                                   [fid, _ref("f"), _ref("crs")], ("404",))},
        f"{base}/queryables": {"get": _op(f"queryables_{c.id}", f"Queryables of {c.id}", schema_ok, [_ref("f")],
                                          ("404",))},
        f"{base}/sortables": {"get": _op(f"sortables_{c.id}", f"Sortables of {c.id}", schema_ok, [_ref("f")],
                                         ("404",))},
    }


def document(base: str, collections: Sequence[Collection], extra_paths: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    """The OpenAPI 3.0 document of /ogc for these collections (a reader's readable ones)."""
    paths: dict[str, Any] = {
        "/": {"get": _op("landing", "The landing page", _ok("landingPage", (JSON, HTML), "Links to the API"),
                         [_ref("f")])},
        "/conformance": {"get": _op("conformance", "The conformance classes implemented",
                                    _ok("confClasses", (JSON, HTML), "The conformance declaration"), [_ref("f")])},
        "/api": {"get": _op("api", "This API definition", _ok(None, (OPENAPI, HTML), "The OpenAPI 3.0 document"),
                            [_ref("f")])},
        "/collections": {"get": _op("collections", "The feature collections",
                                    _ok("collections", (JSON, HTML), "The collections"), [_ref("f")])},
    }
    for c in collections:
        paths.update(_collection_paths(c))
    for path, ops in (extra_paths or {}).items():
        paths.setdefault(path, {}).update(ops)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Landcycle — OGC API – Features", "version": "1.0.0",
                 "description": "Industrial land parcels, zones, districts and exit candidates (OGC API – "
                                "Features Parts 1–4, CQL2)."},
        "servers": [{"url": base}],
        "security": [{"basic": []}, {"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"},
                                "bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A token from POST /api/v1/auth/token"}},
            "parameters": PARAMETERS,
            "schemas": SCHEMAS,
            "responses": RESPONSES,
        },
    }
