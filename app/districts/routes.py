"""HTTP for districts (SPEC §5): GeoJSON, id = the 6-digit code."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import select
from starlette.responses import Response

from app.deps import ActorDep, SessionDep, SettingsDep
from app.errors import NotFound
from app.features.geojson import collection_bytes, feature_text, fetch_texts
from app.features.paging import page_links
from app.features.params import header_crs
from app.parcels.schemas import Link
from models import District

router = APIRouter(prefix="/districts", tags=["districts"])
GEOJSON = "application/geo+json"
district = District.__table__


class DistrictProperties(BaseModel):
    """A district's names."""

    code: str
    name_zh: str
    name_en: str


class DistrictFeature(BaseModel):
    """A district as a GeoJSON Feature."""

    type: Literal["Feature"]
    id: str
    geometry: dict[str, Any]
    properties: DistrictProperties


class DistrictCollection(BaseModel):
    """All districts."""

    type: Literal["FeatureCollection"]
    numberMatched: int
    numberReturned: int
    features: list[DistrictFeature]
    links: list[Link]


def _features(crs: Any) -> Any:
    props = [(name, district.c[name]) for name in ("code", "name_zh", "name_en")]
    return select(feature_text(district.c.code, district.c.geom, crs, props)).order_by(district.c.code)


@router.get("", response_model=None, summary="List districts",
            responses={200: {"model": DistrictCollection, "content": {GEOJSON: {}}}})
async def list_districts(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
                         crs: Annotated[str | None, Query()] = None) -> Response:
    """The municipality's districts."""
    out_crs = header_crs(crs)
    features = await fetch_texts(session, _features(out_crs))
    links = page_links(request, settings, 0, len(features) or 1, len(features), len(features))
    return Response(collection_bytes(features, len(features), links), media_type=GEOJSON,
                    headers={"Content-Crs": f"<{out_crs.uri}>"})


@router.get("/{code}", response_model=None, summary="One district",
            responses={200: {"model": DistrictFeature, "content": {GEOJSON: {}}}})
async def get_district(session: SessionDep, actor: ActorDep, code: Annotated[str, Path(pattern=r"^\d{6}$")],
                       crs: Annotated[str | None, Query()] = None) -> Response:
    """One district by its code."""
    out_crs = header_crs(crs)
    feature = await session.scalar(_features(out_crs).where(district.c.code == code))
    if feature is None:
        raise NotFound(f"district {code} does not exist", district_code=code)
    return Response(feature, media_type=GEOJSON, headers={"Content-Crs": f"<{out_crs.uri}>"})
