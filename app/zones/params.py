"""The query parameters every zone collection takes (list, export): one ZoneQuery, one place."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from app.deps import SettingsDep
from app.features.params import as_of_param, bbox_param, header_crs
from app.zones.query import ZoneQuery
from app.zones.schemas import ZoneKind
from gis.crs import STORAGE_SRID


async def zone_query(
    settings: SettingsDep,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in bbox-crs (x/y order)")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs",
                                          description=f"CRS of bbox (default EPSG:{STORAGE_SRID})")] = None,
    as_of: Annotated[str | None, Query(description="A date (end of day, Shanghai) or date-time: rule 10")] = None,
    kind: ZoneKind | None = None,
    district_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    advanced_manufacturing: bool | None = None,
) -> ZoneQuery:
    """Filters, bbox and as_of of GET /zones and GET /zones/export."""
    in_crs = header_crs(bbox_crs)
    return ZoneQuery(
        filters={"kind": kind, "district_code": district_code, "advanced_manufacturing": advanced_manufacturing},
        bbox=bbox_param(bbox, in_crs, settings.max_bbox_degrees), bbox_crs=in_crs, as_of=as_of_param(as_of),
    )


ZoneQueryDep = Annotated[ZoneQuery, Depends(zone_query)]
