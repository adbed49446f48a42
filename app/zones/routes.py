"""HTTP for zones (SPEC §5): GeoJSON; the bureau edits, everyone authenticated reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Request
from starlette.responses import Response

from app.deps import ActorDep, SessionDep, SettingsDep
from app.errors import NotFound
from app.features.geojson import collection_bytes, feature_text, fetch_texts
from app.features.paging import clamp_limit, page_links
from app.features.params import as_of_param, etag, header_crs, if_match_version
from app.zones import service
from app.zones.params import ZoneQueryDep
from app.zones.query import ZoneQuery, count, property_columns, select_rows, zone
from app.zones.schemas import ZoneCollection, ZoneCreate, ZoneDelete, ZoneFeature, ZonePatch
from gis import geometry
from gis.crs import CrsRef

router = APIRouter(prefix="/zones", tags=["zones"])
GEOJSON = "application/geo+json"
ZoneId = Annotated[int, Path(ge=1, le=2**62)]


def _features(q: ZoneQuery, crs: CrsRef) -> Any:
    return select_rows(q, zone.c.version, feature_text(zone.c.id, zone.c.geom, crs, property_columns()))


@router.get("", response_model=None, summary="List zones",
            responses={200: {"model": ZoneCollection, "content": {GEOJSON: {}}}})
async def list_zones(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep, q: ZoneQueryDep,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    crs: str | None = None,
) -> Response:
    """Current zones (or as of a date)."""
    out_crs = header_crs(crs)
    size = clamp_limit(limit, settings)
    matched = int(await session.scalar(count(q)) or 0)
    rows = (await session.execute(_features(q, out_crs).limit(size).offset(offset))).all()
    features = [r.feature for r in rows]
    links = page_links(request, settings, offset, size, len(features), matched)
    return Response(collection_bytes(features, matched, links), media_type=GEOJSON,
                    headers={"Content-Crs": f"<{out_crs.uri}>"})


@router.post("", status_code=201, response_model=None, summary="Create a zone",
             responses={201: {"model": ZoneFeature, "content": {GEOJSON: {}}}})
async def create_zone(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
                      body: Annotated[ZoneCreate, Body()],
                      content_crs: Annotated[str | None, Header(alias="Content-Crs")] = None) -> Response:
    """Create a zone; the parcels it covers take their tier from it in the same transaction."""
    p = body.properties
    draft = service.ZoneDraft(**p.model_dump(), geom=geometry.from_geojson(
        body.geometry.model_dump(), header_crs(content_crs), settings.policy.extent))
    zone_id = await service.create_zone(session, actor, settings.policy, draft,
                                        body.override.to_rule() if body.override else None)
    response = await _feature_response(session, zone_id, header_crs(None), status_code=201)
    response.headers["Location"] = f"{request.url.path}/{zone_id}"
    return response


@router.get("/{zone_id}", response_model=None, summary="One zone",
            responses={200: {"model": ZoneFeature, "content": {GEOJSON: {}}}})
async def get_zone(session: SessionDep, actor: ActorDep, zone_id: ZoneId, crs: str | None = None,
                   as_of: str | None = None) -> Response:
    """A zone with its ETag."""
    return await _feature_response(session, zone_id, header_crs(crs), as_of)


@router.patch("/{zone_id}", response_model=None, summary="Change a zone",
              responses={200: {"model": ZoneFeature, "content": {GEOJSON: {}}}})
async def patch_zone(session: SessionDep, actor: ActorDep, settings: SettingsDep, zone_id: ZoneId,
                     body: Annotated[ZonePatch, Body()],
                     if_match: Annotated[str | None, Header(alias="If-Match")] = None,
                     content_crs: Annotated[str | None, Header(alias="Content-Crs")] = None) -> Response:
    """Change a zone; tiers of the parcels it touches are recomputed in the same transaction."""
    values = body.properties.model_dump(include=body.properties.model_fields_set)
    geom = (geometry.from_geojson(body.geometry.model_dump(), header_crs(content_crs), settings.policy.extent)
            if body.geometry is not None else None)
    await service.update_zone(session, actor, settings.policy, zone_id, service.ZoneChanges(values, geom),
                              body.override.to_rule() if body.override else None, if_match_version(if_match))
    return await _feature_response(session, zone_id, header_crs(None))


@router.delete("/{zone_id}", status_code=204, response_model=None, summary="Retire a zone")
async def delete_zone(session: SessionDep, actor: ActorDep, settings: SettingsDep, zone_id: ZoneId,
                      body: Annotated[ZoneDelete | None, Body()] = None,
                      if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> Response:
    """Retire a zone; its parcels are re-derived (planning lock permitting)."""
    await service.delete_zone(session, actor, settings.policy, zone_id,
                              body.override.to_rule() if body and body.override else None,
                              if_match_version(if_match))
    return Response(status_code=204)


@router.get("/{zone_id}/history", response_model=None, summary="Every version of a zone",
            responses={200: {"model": ZoneCollection, "content": {GEOJSON: {}}}})
async def zone_history(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
                       zone_id: ZoneId, crs: str | None = None) -> Response:
    """Rule 10: all versions of a zone."""
    out_crs = header_crs(crs)
    features = await fetch_texts(session, select_rows(
        ZoneQuery(history_of=zone_id), feature_text(zone.c.id, zone.c.geom, out_crs, property_columns())))
    if not features:
        raise NotFound(f"zone {zone_id} does not exist", zone_id=zone_id)
    links = page_links(request, settings, 0, len(features), len(features), len(features))
    return Response(collection_bytes(features, len(features), links), media_type=GEOJSON)


async def _feature_response(session: Any, zone_id: int, crs: CrsRef, as_of: str | None = None,
                            status_code: int = 200) -> Response:
    row = (await session.execute(_features(ZoneQuery(ids=[zone_id], as_of=as_of_param(as_of)), crs))).first()
    if row is None:
        raise NotFound(f"zone {zone_id} does not exist", zone_id=zone_id)
    return Response(row.feature, status_code=status_code, media_type=GEOJSON,
                    headers={"ETag": etag(row.version), "Content-Crs": f"<{crs.uri}>"})
