"""HTTP for parcels (SPEC §5): GeoJSON in and out; rules live in the service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Request
from starlette.responses import Response

from app.db import Database
from app.deps import ActorDep, SessionDep, SettingsDep, app_counts, app_database, app_settings
from app.errors import NotFound
from app.features.geojson import collection_bytes, collection_text, feature_text, fetch_texts, stream_records
from app.features.paging import clamp_limit, page_links
from app.features.params import as_of_param, etag, header_crs, if_match_version
from app.features.versions import collection_etag, collection_version, etag_matches
from app.parcels import service
from app.parcels.params import ParcelQueryDep
from app.parcels.query import ParcelQuery, parcel, property_columns, select_rows
from app.parcels.reads import (
    Page,
    cached_count,
    fetch_feature,
    fetch_page,
    known_total,
    page_rows_statement,
    page_values,
)
from app.parcels.schemas import (
    ParcelCollection,
    ParcelCreate,
    ParcelDelete,
    ParcelFeature,
    ParcelPatch,
)
from app.settings import Settings
from app.streaming import BoundedStream
from gis import geometry
from gis.crs import STORAGE_SRID, CrsRef

router = APIRouter(prefix="/parcels", tags=["parcels"])

GEOJSON = "application/geo+json"
STREAM_ABOVE = 1000  # pages larger than this are streamed from a server-side cursor
NO_CACHE = {"Cache-Control": "no-cache"}  # collections: cache, but revalidate with the ETag every time

ParcelId = Annotated[int, Path(ge=1, le=2**62, description="Parcel id")]
CrsParam = Annotated[str | None, Query(description=f"Output CRS, e.g. EPSG:4549 (default EPSG:{STORAGE_SRID})")]
AsOf = Annotated[str | None, Query(description="A date (end of day, Shanghai) or date-time: rule 10")]


def _crs_headers(crs: CrsRef) -> dict[str, str]:
    return {"Content-Crs": f"<{crs.uri}>"}


def _features(query: ParcelQuery, crs: CrsRef) -> Any:
    return select_rows(query, feature_text(parcel.c.id, parcel.c.geom, crs, property_columns()))


@router.get("", response_model=None, summary="List parcels",
            responses={200: {"model": ParcelCollection, "content": {GEOJSON: {}}}, 304: {"description": "unchanged"}})
async def list_parcels(
    request: Request, actor: ActorDep, query: ParcelQueryDep,
    limit: Annotated[int | None, Query(ge=0, description="Page size (default 100, clamped to 10,000)")] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    after: Annotated[int | None, Query(ge=0, le=2**62, description="Keyset cursor: set by `next` links "
                                       "(the page starts after this parcel id; `offset` then only numbers it)")] = None,
    crs: CrsParam = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    """Current parcels (or as of a date) as a GeoJSON FeatureCollection, paged by id.

    The response carries an ETag of the collection's version; `If-None-Match` with it answers 304 while
    no parcel changed. `numberMatched` is exact (counted once per collection version and query)."""
    # The app's objects straight from its state: each FastAPI dependency costs per request
    # (bench/RESULTS.md "REST API").
    db, settings, counts = app_database(request), app_settings(request), app_counts(request)
    out_crs = header_crs(crs)
    size = clamp_limit(limit, settings)
    url = str(request.url)
    async with db.reader() as conn:
        if if_none_match is not None:  # revalidation: 304 before any row is read while nothing changed
            tag = collection_etag(await collection_version(conn, "parcel"), url)
            if etag_matches(if_none_match, tag):
                return Response(status_code=304, headers={**_crs_headers(out_crs), "ETag": tag, **NO_CACHE})
        page: Page | None = None
        if size <= STREAM_ABOVE:
            page = await fetch_page(conn, query, out_crs, size, offset, after)
            version = page.version
        else:
            version = await collection_version(conn, "parcel")
        # A short page tells numberMatched itself (bbox windows, last pages): no count then.
        known = None if page is None else known_total(size, offset, after, page.returned)
        matched = known if known is not None else await cached_count(counts, conn, version, query)
    headers = {**_crs_headers(out_crs), "ETag": collection_etag(version, url), **NO_CACHE}

    def links(returned: int, last_id: int | None) -> list[dict[str, Any]]:
        return page_links(request, settings, offset, size, returned, matched, last_key=last_id)

    if page is not None:
        body = collection_text(page.features, page.returned, matched, links(page.returned, page.last_id))
        return Response(body, media_type=GEOJSON, headers=headers)
    compiled = page_rows_statement(query, out_crs, keyset=after is not None)
    args = compiled.args(page_values(query, size, offset, after))
    return BoundedStream(stream_records(db, compiled.sql, args, matched, links), media_type=GEOJSON,
                         headers=headers, send_timeout=settings.stream_send_timeout_seconds)


@router.post("", status_code=201, response_model=None, summary="Create a parcel",
             responses={201: {"model": ParcelFeature, "content": {GEOJSON: {}}}})
async def create_parcel(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    body: Annotated[ParcelCreate, Body()],
    content_crs: Annotated[str | None, Header(alias="Content-Crs")] = None,
) -> Response:
    """Create an industrial (or reference) parcel; tier, zone, district, lock and cap are derived."""
    crs = header_crs(content_crs)
    props = body.properties
    draft = service.ParcelDraft(**props.model_dump(), geom=_geometry(body.geometry.model_dump(), crs, settings))
    override = body.override.to_rule() if body.override else None
    parcel_id = await service.create_parcel(session, actor, settings.policy, draft, override)
    response = await _feature_response(session, parcel_id, header_crs(None), status_code=201)
    response.headers["Location"] = f"{request.url.path}/{parcel_id}"
    return response


@router.get("/{parcel_id}", response_model=None, summary="One parcel",
            responses={200: {"model": ParcelFeature, "content": {GEOJSON: {}}}, 304: {"description": "unchanged"}})
async def get_parcel(request: Request, actor: ActorDep, parcel_id: ParcelId, crs: CrsParam = None,
                     as_of: AsOf = None,
                     if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None) -> Response:
    """A parcel as a GeoJSON Feature with its ETag (the version); 304 for `If-None-Match` of that version."""
    return await feature_response(app_database(request), parcel_id, crs, as_of, if_none_match)


async def feature_response(db: Database, parcel_id: int, crs: str | None, as_of: str | None,
                           if_none_match: str | None) -> Response:
    """GET /parcels/{id} (shared by the route above and the fast path in app/parcels/fast_path.py)."""
    out_crs = header_crs(crs)
    async with db.reader() as conn:
        row = await fetch_feature(conn, ParcelQuery(ids=[parcel_id], as_of=as_of_param(as_of)), out_crs)
    if row is None:
        raise NotFound(f"parcel {parcel_id} does not exist" + (f" as of {as_of}" if as_of else ""),
                       parcel_id=parcel_id)
    headers = {"ETag": etag(row[0]), **_crs_headers(out_crs)}
    if etag_matches(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(row[1], media_type=GEOJSON, headers=headers)


@router.patch("/{parcel_id}", response_model=None, summary="Change a parcel",
              responses={200: {"model": ParcelFeature, "content": {GEOJSON: {}}}})
async def patch_parcel(
    session: SessionDep, actor: ActorDep, settings: SettingsDep, parcel_id: ParcelId,
    body: Annotated[ParcelPatch, Body()],
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
    content_crs: Annotated[str | None, Header(alias="Content-Crs")] = None,
) -> Response:
    """Change members of a parcel (a new version); `If-Match` refuses a stale version with 412."""
    crs = header_crs(content_crs)
    values = body.properties.model_dump(include=body.properties.model_fields_set)
    geom = _geometry(body.geometry.model_dump(), crs, settings) if body.geometry is not None else None
    override = body.override.to_rule() if body.override else None
    await service.update_parcel(session, actor, settings.policy, parcel_id,
                                service.ParcelChanges(values=values, geom=geom), override,
                                if_match=if_match_version(if_match))
    return await _feature_response(session, parcel_id, header_crs(None))


@router.delete("/{parcel_id}", status_code=204, response_model=None, summary="Retire a parcel")
async def delete_parcel(
    session: SessionDep, actor: ActorDep, settings: SettingsDep, parcel_id: ParcelId,
    body: Annotated[ParcelDelete | None, Body()] = None,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> Response:
    """Close the parcel's current version (its history stays readable)."""
    override = body.override.to_rule() if body and body.override else None
    await service.delete_parcel(session, actor, settings.policy, parcel_id, override,
                                if_match=if_match_version(if_match))
    return Response(status_code=204)


@router.get("/{parcel_id}/history", response_model=None, summary="Every version of a parcel",
            responses={200: {"model": ParcelCollection, "content": {GEOJSON: {}}}})
async def parcel_history(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
                         parcel_id: ParcelId, crs: CrsParam = None) -> Response:
    """Rule 10: all versions, oldest first, each with valid_from/valid_to."""
    out_crs = header_crs(crs)
    features = await fetch_texts(session, _features(ParcelQuery(history_of=parcel_id), out_crs))
    if not features:
        raise NotFound(f"parcel {parcel_id} does not exist", parcel_id=parcel_id)
    links = page_links(request, settings, 0, len(features), len(features), len(features))
    return Response(collection_bytes(features, len(features), links), media_type=GEOJSON,
                    headers=_crs_headers(out_crs))


def _geometry(obj: dict[str, Any], crs: CrsRef, settings: Settings) -> Any:
    return geometry.from_geojson(obj, crs, settings.policy.extent)


async def _feature_response(session: Any, parcel_id: int, crs: CrsRef, as_of: str | None = None,
                            status_code: int = 200) -> Response:
    query = ParcelQuery(ids=[parcel_id], as_of=as_of_param(as_of))
    stmt = select_rows(query, parcel.c.version, feature_text(parcel.c.id, parcel.c.geom, crs, property_columns()))
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound(f"parcel {parcel_id} does not exist" + (f" as of {as_of}" if as_of else ""),
                       parcel_id=parcel_id)
    return Response(row.feature, status_code=status_code, media_type=GEOJSON,
                    headers={"ETag": etag(row.version), **_crs_headers(crs)})
