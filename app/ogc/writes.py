"""HTTP for OGC API – Features Part 4 (OGC 20-002 draft, Create/Replace/Update/Delete) on parcels and zones.

POST /collections/{cid}/items creates, PUT …/items/{fid} replaces every writable property, PATCH (JSON Merge
Patch) changes some, DELETE retires; OPTIONS says which of them the caller may use (QGIS's OAPIF provider
decides editability from the `Allow` headers). Every write goes through the services REST and WFS-T use
(app/parcels/service.py, app/zones/service.py) in the request's audited transaction (app.deps.get_session),
so every rule, refusal code and audit row is the REST one. ETags are the REST versions (app/ogc/etag.py):
`If-Match` naming another version is 412 VERSION_CONFLICT; without it a write is unconditional, as on REST.

The router has no prefix: app/ogc/routes.py includes it into the /ogc router.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.auth.permissions import Actor, require_parcel_editor
from app.deps import ActorDep, SessionDep, app_settings
from app.errors import DomainError, NotFound, VersionConflict
from app.features.paging import public_url
from app.ogc import bodies
from app.ogc.collections import Collection, collection_for
from app.ogc.etag import etag_of, if_match
from app.parcels import service as parcels
from app.policy import Policy
from app.zones import service as zones

_SPEC = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf"
CONFORMANCE: tuple[str, ...] = (f"{_SPEC}/create-replace-delete", f"{_SPEC}/update",
                                f"{_SPEC}/optimistic-locking-etags", f"{_SPEC}/features")

READ_ONLY = ("GET", "HEAD", "OPTIONS")
ITEMS_WRITE = ("GET", "HEAD", "POST", "OPTIONS")
ITEM_WRITE = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS")
FIRST_VERSION = 1  # rule 10: a new feature's first version, its ETag

# Who may write each writable type, as its service checks it (SPEC §4, §5): parcels the bureau and district
# officers (in their district, checked per feature by the service), zones the bureau.
_EDITORS: dict[str, Callable[[Actor], None]] = {
    "parcels": lambda actor: require_parcel_editor(actor, (), "edit parcels"),
    "zones": zones.require_zone_editor,
}

router = APIRouter(include_in_schema=False)
CollectionId = Annotated[str, Path(description="The collection: parcels or zones")]
FeatureId = Annotated[str, Path(description="The featureId")]


# --------------------------------------------------------------------------------------------- OPTIONS
def allowed(c: Collection, actor: Actor, item: bool) -> tuple[str, ...]:
    """The methods `actor` may use on the collection's items (or one item): 20-002 /req/create-replace-delete/
    options-response C, "allowed … within the context of the request". Per collection and role, not per
    feature: QGIS probes one feature and takes the answer for the whole layer."""
    if c.ftype.writer is None or not _may_write(c.ftype.writer, actor):
        return READ_ONLY
    return ITEM_WRITE if item else ITEMS_WRITE


def _may_write(writer: str, actor: Actor) -> bool:
    try:
        _EDITORS[writer](actor)
    except DomainError:
        return False
    return True


def _options(methods: tuple[str, ...]) -> Response:
    """200 with Allow (/req/create-replace-delete/options-response), Accept-Post on items when POST is
    allowed (options-accept-post), Accept-Patch on an item when PATCH is (/req/update/options-accept-patch)."""
    headers = {"Allow": ", ".join(methods)}
    if "POST" in methods:
        headers["Accept-Post"] = ", ".join(bodies.FEATURE_MEDIA)
    if "PATCH" in methods:
        headers["Accept-Patch"] = ", ".join(bodies.PATCH_MEDIA)
    return Response(status_code=200, headers=headers)


@router.options("/collections/{cid}/items", response_model=None)
async def items_options(actor: ActorDep, cid: CollectionId) -> Response:
    """The methods of the items endpoint (20-002 /req/create-replace-delete/options-op); OPTIONS carries the
    caller's credentials (QGIS sends them), without any the public when it may read."""
    return _options(allowed(collection_for(actor, cid), actor, item=False))


@router.options("/collections/{cid}/items/{fid}", response_model=None)
async def item_options(actor: ActorDep, cid: CollectionId, fid: FeatureId) -> Response:
    """The methods of an item endpoint, whether or not the feature exists (QGIS asks for `unknown_id` on an
    empty layer)."""
    return _options(allowed(collection_for(actor, cid), actor, item=True))


# --------------------------------------------------------------------------------------------- writes
def _writable(actor: Actor, cid: str) -> tuple[Collection, str]:
    """The collection and its writer; 405 with Allow for a read-only one (20-002 §6.1, HTTP status codes)."""
    c = collection_for(actor, cid)
    if c.ftype.writer is None:
        raise HTTPException(405, f"{c.id} is read-only; parcels and zones are written",
                            headers={"Allow": ", ".join(READ_ONLY)})
    return c, c.ftype.writer


def _key(c: Collection, fid: str) -> int:
    key = c.feature_id(fid)
    if key is None:
        raise NotFound(f"no feature {fid[:60]!r} in {c.id}", collection=c.id)
    return int(key)


def _precondition(header: str | None) -> int | None:
    """The version `If-Match` names (None: absent or `*`). A tag that is no version of ours (`"xyz"`) can
    match none (20-002 /req/optimistic-locking-etags/ifmatch-put-eval): 0, which no version is."""
    try:
        return if_match(header)
    except DomainError:
        return 0


async def _guarded(write: Any, header: str | None) -> Any:
    """Run a conditional write; a stale or foreign `If-Match` answers 412 VERSION_CONFLICT naming the ETag."""
    try:
        return await write
    except VersionConflict as exc:
        current = exc.numbers.get("current_version")
        if current is None:
            raise
        raise VersionConflict(f"If-Match {(header or '')[:40]} does not match the feature's ETag {etag_of(current)}",
                              current_version=current, etag=etag_of(current)) from None


@router.post("/collections/{cid}/items", response_model=None, status_code=201)
async def create(request: Request, session: SessionDep, actor: ActorDep, cid: CollectionId) -> Response:
    """CREATE (20-002 /req/create-replace-delete/post-op): 201 with the new feature's Location and ETag."""
    _, writer = _writable(actor, cid)
    bodies.require_media(request.headers.get("content-type"), bodies.FEATURE_MEDIA, "POST")
    policy = app_settings(request).policy
    crs = bodies.content_crs(request.headers.get("content-crs"))
    body = bodies.feature(bodies.SCHEMAS[writer], bodies.read_json(await request.body(), "the feature"), crs,
                          policy.extent)
    new_id = await _insert(writer, session, actor, policy, body)
    url = public_url(request, app_settings(request)).replace(query="")
    return Response(status_code=201, headers={"Location": f"{url}/{new_id}", "ETag": etag_of(FIRST_VERSION)})


@router.put("/collections/{cid}/items/{fid}", response_model=None, status_code=204)
async def replace(request: Request, session: SessionDep, actor: ActorDep, cid: CollectionId,
                  fid: FeatureId) -> Response:
    """REPLACE (/req/create-replace-delete/put-op): every writable property and the geometry from the body;
    204 with the new version's ETag (/req/optimistic-locking-etags/put-etag-response). No create by PUT:
    ids are the server's (an unknown one is 404)."""
    return await _rewrite(request, session, actor, cid, fid, bodies.FEATURE_MEDIA, "PUT", "the feature",
                          lambda schema, payload, crs, extent: bodies.feature(schema, payload, crs, extent))


@router.patch("/collections/{cid}/items/{fid}", response_model=None, status_code=204)
async def update(request: Request, session: SessionDep, actor: ActorDep, cid: CollectionId,
                 fid: FeatureId) -> Response:
    """UPDATE (/req/update/patch-op) with a JSON Merge Patch: 204 with the new version's ETag."""
    return await _rewrite(request, session, actor, cid, fid, bodies.PATCH_MEDIA, "PATCH", "the merge patch",
                          lambda schema, payload, crs, extent: bodies.merge_patch(schema, payload, fid, crs, extent))


async def _rewrite(request: Request, session: AsyncSession, actor: Actor, cid: str, fid: str, media: tuple[str, ...],
                   method: str, what: str, read: Callable[..., Any]) -> Response:
    """PUT and PATCH: the body in `media` read by `read(schema, payload, crs, extent)` into the REST
    schema's change, written under the If-Match precondition; 204 with the new version's ETag."""
    c, writer = _writable(actor, cid)
    key = _key(c, fid)
    bodies.require_media(request.headers.get("content-type"), media, method)
    policy = app_settings(request).policy
    crs = bodies.content_crs(request.headers.get("content-crs"))
    body = read(bodies.SCHEMAS[writer], bodies.read_json(await request.body(), what), crs, policy.extent)
    header = request.headers.get("if-match")
    version = await _guarded(_update(writer, session, actor, policy, key, body, _precondition(header)), header)
    return Response(status_code=204, headers={"ETag": etag_of(version)})


@router.delete("/collections/{cid}/items/{fid}", response_model=None, status_code=204)
async def delete(request: Request, session: SessionDep, actor: ActorDep, cid: CollectionId,
                 fid: FeatureId) -> Response:
    """DELETE (/req/create-replace-delete/delete-op): the current version is closed (rule 10 keeps the
    history), 204; an optional JSON body carries the override a locked feature needs, as on REST."""
    c, writer = _writable(actor, cid)
    key = _key(c, fid)
    override = bodies.deletion(bodies.SCHEMAS[writer], await request.body())
    policy = app_settings(request).policy
    header = request.headers.get("if-match")
    if writer == "parcels":
        write = parcels.delete_parcel(session, actor, policy, key, override, if_match=_precondition(header))
    else:
        write = zones.delete_zone(session, actor, policy, key, override, _precondition(header))
    await _guarded(write, header)
    return Response(status_code=204)


async def _insert(writer: str, session: AsyncSession, actor: Actor, policy: Policy, body: bodies.Body) -> int:
    assert body.geom is not None
    if writer == "parcels":
        draft = parcels.ParcelDraft(**body.values, geom=body.geom)
        return await parcels.create_parcel(session, actor, policy, draft, body.override)
    zdraft = zones.ZoneDraft(**body.values, geom=body.geom)
    return await zones.create_zone(session, actor, policy, zdraft, body.override)


async def _update(writer: str, session: AsyncSession, actor: Actor, policy: Policy, key: int, body: bodies.Body,
                  version: int | None) -> int:
    if writer == "parcels":
        return await parcels.update_parcel(session, actor, policy, key, parcels.ParcelChanges(body.values, body.geom),
                                           body.override, if_match=version)
    return await zones.update_zone(session, actor, policy, key, zones.ZoneChanges(body.values, body.geom),
                                   body.override, version)


# --------------------------------------------------------------------------------------------- OpenAPI
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/exception"}}}
_FEATURE = {"schema": {"$ref": "#/components/schemas/featureGeoJSON"}}
_REFS = {"400": "InvalidParameter", "401": "Unauthenticated", "404": "NotFound", "500": "ServerError",
         "503": "ServiceUnavailable"}
_INLINE = {"403": "FORBIDDEN_ROLE or FORBIDDEN_DISTRICT (SPEC §4)",
           "405": "METHOD_NOT_ALLOWED: the collection is read-only",
           "409": "A rule refused the write: PARCEL_OVERLAP, LOCKUP_PLANNING, FAR_CAP_EXCEEDED, "
                  "PLOT_RATIO_REQUEST_REQUIRED, INVALID_TRANSITION … (SPEC §6)",
           "412": "VERSION_CONFLICT: If-Match names another version",
           "415": "UNSUPPORTED_MEDIA_TYPE",
           "422": "VALIDATION_ERROR or GEOMETRY_INVALID"}


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "description": description, "schema": {"type": "string"}}


_CONTENT_CRS = _header("Content-Crs", "The CRS of the body's geometry, <URI> (default CRS84)")
_IF_MATCH = _header("If-Match", "The ETag of the version this write changes (412 when it is not the current one)")


_ETAG = {"ETag": {"description": "The new version's ETag", "schema": {"type": "string"}}}
_LOCATION = {"Location": {"description": "The new feature's URI", "schema": {"type": "string"}}}


def _write_op(op_id: str, summary: str, ok: tuple[str, str, dict[str, Any]], params: list[dict[str, Any]],
              body: dict[str, Any] | None, statuses: Sequence[str]) -> dict[str, Any]:
    status, what, headers = ok
    responses: dict[str, Any] = {status: {"description": what, "headers": headers}}
    for error in ("400", "401", *statuses, "500", "503"):
        if error in _REFS:
            responses[error] = {"$ref": f"#/components/responses/{_REFS[error]}"}
        else:
            responses[error] = {"description": _INLINE[error], "content": _PROBLEM}
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "parameters": params, "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    return op


def openapi_paths(collections: Sequence[Collection]) -> dict[str, Any]:
    """Part 4's operations on the writable collections among `collections`, for /ogc/api (OpenAPI 3.0)."""
    out: dict[str, Any] = {}
    for c in collections:
        if c.ftype.writer is None:
            continue
        fid = {"name": "featureId", "in": "path", "required": True, "description": f"The id of a feature of {c.id}",
               "schema": {"type": "integer"}}
        options = {"200": {"description": "The methods the caller may use (Allow)",
                           "headers": {"Allow": {"schema": {"type": "string"}}}}}
        feature_body = {m: _FEATURE for m in bodies.FEATURE_MEDIA}
        rules = ("403", "404", "405", "409", "415", "422")
        out[f"/collections/{c.id}/items"] = {
            "post": _write_op(f"create_{c.id}", f"Create a feature of {c.id}",
                              ("201", "Created", {**_LOCATION, **_ETAG}),
                              [_CONTENT_CRS], feature_body, rules),
            "options": {"operationId": f"options_items_{c.id}", "summary": "The methods allowed",
                        "responses": options},
        }
        out[f"/collections/{c.id}/items/{{featureId}}"] = {
            "put": _write_op(f"replace_{c.id}", f"Replace a feature of {c.id}", ("204", "Replaced", _ETAG),
                             [fid, _CONTENT_CRS, _IF_MATCH], feature_body, (*rules, "412")),
            "patch": _write_op(f"update_{c.id}", f"Change properties of a feature of {c.id} (JSON Merge Patch)",
                               ("204", "Changed", _ETAG), [fid, _CONTENT_CRS, _IF_MATCH],
                               {bodies.MERGE_PATCH: {"schema": {"type": "object"}}}, (*rules, "412")),
            "delete": _write_op(f"delete_{c.id}", f"Retire a feature of {c.id}", ("204", "Retired", {}),
                                [fid, _IF_MATCH], None, ("403", "404", "405", "409", "412", "422")),
            "options": {"operationId": f"options_item_{c.id}", "summary": "The methods allowed",
                        "parameters": [fid], "responses": options},
        }
    return out
