"""The query parameters every parcel collection takes (list, export): one ParcelQuery, one place."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from app.deps import SettingsDep
from app.features.params import as_of_param, bbox_param, header_crs
from app.parcels.query import ParcelQuery
from app.parcels.schemas import LandUse, LegacyZone, Status, Tier
from gis.crs import STORAGE_SRID


async def parcel_query(
    settings: SettingsDep,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in bbox-crs (x/y order)")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs",
                                          description=f"CRS of bbox (default EPSG:{STORAGE_SRID})")] = None,
    as_of: Annotated[str | None, Query(description="A date (end of day, Shanghai) or date-time: rule 10")] = None,
    code: Annotated[str | None, Query(min_length=1, max_length=64, description="The parcel's code, exactly")] = None,
    tier: Tier | None = None,
    land_use: LandUse | None = None,
    district_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    zone_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    status: Status | None = None,
    legacy_zone: LegacyZone | None = None,
) -> ParcelQuery:
    """Filters, bbox and as_of of GET /parcels and GET /parcels/export."""
    in_crs = header_crs(bbox_crs)
    return ParcelQuery(
        filters={"code": code, "tier": tier, "land_use": land_use, "district_code": district_code, "zone_id": zone_id,
                 "status": status, "legacy_zone": legacy_zone},
        bbox=bbox_param(bbox, in_crs, settings.max_bbox_degrees), bbox_crs=in_crs, as_of=as_of_param(as_of),
    )


ParcelQueryDep = Annotated[ParcelQuery, Depends(parcel_query)]
