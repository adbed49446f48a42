"""Request bodies of OGC API – Features Part 4 writes (OGC 20-002 draft), read into the REST resources' own
schemas (app/parcels/schemas.py, app/zones/schemas.py), so a body is checked exactly as /api/v1 checks it.

A POST or PUT body is a GeoJSON Feature (the REST POST's `ParcelCreate` / `ZoneCreate`); a PATCH body is an
RFC 7396 JSON Merge Patch of the feature (the REST PATCH's `ParcelPatch` / `ZonePatch`, where `null` removes
an optional property). Geometries are in the request's `Content-Crs` (/req/features/crs-other-crs; default
CRS84), in that CRS's axis order as Part 2 writes them (18-058r1 §6.3: EPSG order for EPSG URIs).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from shapely.geometry import MultiPolygon

from app.errors import CrsUnsupported, HttpError, ValidationFailed
from app.ogc.params import Crs, InvalidParameter, crs_param
from app.parcels.rules import Override
from app.parcels.schemas import ParcelCreate, ParcelDelete, ParcelPatch, ParcelPropertiesIn
from app.zones.schemas import ZoneCreate, ZoneDelete, ZonePatch, ZonePropertiesIn
from gis.crs import CrsRef, parse_crs
from gis.errors import CrsError
from gis.geometry import Extent, from_geojson

GEOJSON = "application/geo+json"
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
FEATURE_MEDIA = (GEOJSON, JSON)  # POST and PUT (/req/create-replace-delete/post-body, put-body)
PATCH_MEDIA = (MERGE_PATCH,)  # PATCH (/req/features/update-json-merge-patch)


@dataclass(frozen=True)
class Schemas:
    """The REST schemas of one writable resource: a new feature, its writable properties, a change, a
    deletion's optional body."""

    create: type[BaseModel]
    properties: type[BaseModel]
    patch: type[BaseModel]
    delete: type[BaseModel]


SCHEMAS = {"parcels": Schemas(ParcelCreate, ParcelPropertiesIn, ParcelPatch, ParcelDelete),
           "zones": Schemas(ZoneCreate, ZonePropertiesIn, ZonePatch, ZoneDelete)}


@dataclass(frozen=True)
class Body:
    """A write as the services take it: property values, the storage geometry (None: unchanged), override."""

    values: dict[str, Any]
    geom: MultiPolygon | None
    override: Override | None


class UnsupportedMediaType(HttpError):
    """415: a body in a media type the operation does not read (RFC 9110 §15.5.16)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, status=415, code="UNSUPPORTED_MEDIA_TYPE", title="Unsupported media type")


def require_media(content_type: str | None, accepted: tuple[str, ...], method: str) -> None:
    """The body's Content-Type: missing is 400 (/req/create-replace-delete/post-content-type and
    put-content-type, /req/update/patch-content-type), another media type 415."""
    names = ", ".join(accepted)
    if not content_type or not content_type.strip():
        raise InvalidParameter(f"a {method} body needs a Content-Type header: {names}", field="Content-Type")
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in accepted:
        raise UnsupportedMediaType(f"{method} reads {names}, not {media[:60]!r}")


def read_json(raw: bytes, what: str) -> dict[str, Any]:
    """The body as a JSON object: malformed JSON is 400, another JSON value 422."""
    if not raw.strip():
        raise InvalidParameter(f"{what} is missing: send a JSON object", field="body")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"the body is not JSON: {str(exc)[:120]}", field="body") from None
    if not isinstance(doc, dict):
        raise ValidationFailed(f"{what} must be a JSON object", field="body")
    return doc


def content_crs(value: str | None) -> Crs:
    """`Content-Crs` (/req/features/content-crs-header): a CRS URI of the collection (`<…>` optional; EPSG
    axis order), or the short `EPSG:4549` form /api/v1 reads (x/y); absent: CRS84. Else CRS_UNSUPPORTED."""
    if value is None:
        return crs_param(None, "Content-Crs")
    try:
        return crs_param(value, "Content-Crs")
    except CrsUnsupported:
        pass
    text = value.strip().strip("<>").strip()
    try:
        ref = parse_crs(text)
    except CrsError as exc:
        raise CrsUnsupported(f"Content-Crs: {exc}", field="Content-Crs") from None
    return Crs(ref, ref.uri)


def storage_geometry(obj: Any, crs: Crs, extent: Extent) -> MultiPolygon:
    """A GeoJSON geometry in `crs` → the checked storage MultiPolygon (GEOMETRY_INVALID otherwise)."""
    if crs.flips and isinstance(obj, dict):
        obj = {**obj, "coordinates": _flip(obj.get("coordinates"), 0)}
    return from_geojson(obj, CrsRef(crs.ref.srid), extent)


def _flip(node: Any, depth: int) -> Any:
    """y/x positions → x/y, down to a MultiPolygon's depth (deeper nesting is left for from_geojson to refuse)."""
    if not isinstance(node, list) or depth > 4:
        return node
    if len(node) >= 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in node[:2]):
        return [node[1], node[0], *node[2:]]
    return [_flip(child, depth + 1) for child in node]


def validated(model: type[BaseModel], doc: dict[str, Any]) -> Any:
    """`doc` checked by a REST schema; its errors answered exactly as the REST body's (VALIDATION_ERROR)."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


def feature(schemas: Schemas, doc: dict[str, Any], crs: Crs, extent: Extent) -> Body:
    """A POST or PUT body: the whole feature. An `id` member is ignored (/req/features/geojson-create-replace
    A; the path names the feature), as are the derived properties a GET shows. A client that writes every
    attribute of a new feature (QGIS) sends null for those left empty: a property with a default then takes
    it (a parcel's status: planned), as if absent; a required one stays refused."""
    props = doc.get("properties")
    if isinstance(props, dict):
        doc = {**doc, "properties": {k: v for k, v in props.items()
                                     if v is not None or not _defaulted(schemas.properties, k)}}
    body = validated(schemas.create, doc)
    return Body(body.properties.model_dump(), storage_geometry(body.geometry.model_dump(), crs, extent),
                body.override.to_rule() if body.override else None)


def merge_patch(schemas: Schemas, doc: dict[str, Any], fid: str, crs: Crs, extent: Extent) -> Body:
    """A PATCH body, RFC 7396 over the feature (/req/features/update-json-merge-patch): the properties it
    names change, `null` removes an optional one, a geometry replaces the geometry; the id cannot change (B)."""
    if "id" in doc and str(doc["id"]) != fid:
        raise ValidationFailed(f"the id of a feature cannot change ({fid}, not {str(doc['id'])[:40]})", field="id")
    if "geometry" in doc and doc["geometry"] is None:
        raise ValidationFailed("a feature keeps its geometry: null cannot remove it", field="geometry")
    if "properties" in doc and doc["properties"] is None:
        raise ValidationFailed("properties cannot be removed; null each optional one instead", field="properties")
    body = validated(schemas.patch, {k: v for k, v in doc.items() if k != "id"})
    values = body.properties.model_dump(include=body.properties.model_fields_set)
    for name in [k for k, v in values.items() if v is None]:
        field = schemas.properties.model_fields.get(name)
        if field is None:  # not stored (status_on dates a step): nothing to remove
            del values[name]
        elif not _nullable(field.annotation):
            raise ValidationFailed(f"{name} is required: null cannot remove it", field=f"properties.{name}")
    geom = None if body.geometry is None else storage_geometry(body.geometry.model_dump(), crs, extent)
    return Body(values, geom, body.override.to_rule() if body.override else None)


def deletion(schemas: Schemas, raw: bytes) -> Override | None:
    """A DELETE's optional body: the override a locked feature needs (as DELETE /api/v1/…/{id})."""
    if not raw.strip():
        return None
    body = validated(schemas.delete, read_json(raw, "the DELETE body"))
    return body.override.to_rule() if body.override else None


def _defaulted(model: type[BaseModel], name: str) -> bool:
    """Whether the schema gives the property a default it cannot be null instead of (`status`)."""
    field = model.model_fields.get(name)
    return field is not None and not field.is_required() and not _nullable(field.annotation)


def _nullable(annotation: Any) -> bool:
    """Whether a schema field's type admits null (`float | None`)."""
    if annotation is None or annotation is type(None):
        return True
    origin = typing.get_origin(annotation)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation)
