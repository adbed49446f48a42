"""Query and header parameters shared by the spatial collections and their files: CRS, bbox, as_of,
If-Match, a CSV's byte-order mark."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import Query

from app.calendar import CITY_TZ
from app.errors import ValidationFailed
from gis.crs import STORAGE, CrsRef, parse_crs
from gis.errors import GeometryError
from gis.sql import parse_bbox

Bom = Annotated[bool, Query(description="f=csv: start with a UTF-8 byte-order mark, so Excel reads Chinese text")]


def header_crs(value: str | None) -> CrsRef:
    """`Content-Crs` (or `crs=`): `EPSG:4549`, an OGC URI, optionally in <angle brackets>; default storage.
    REST bodies and outputs are x/y whatever the name (GeoJSON), so only the EPSG code matters here."""
    if value is None:
        return STORAGE
    return CrsRef(parse_crs(value.strip().strip("<>")).srid)


def bbox_param(value: str | None, crs: CrsRef, max_degrees: float) -> tuple[float, float, float, float] | None:
    """The `bbox` parameter (x/y order in `bbox-crs`), at most `max_degrees` wide and high (a bounded
    query; metres for projected CRSs, at 111 km a degree)."""
    if value is None:
        return None
    try:
        bbox = parse_bbox(value)
    except GeometryError as exc:  # a malformed parameter, not a geometry the client sent (SPEC §6)
        raise ValidationFailed(str(exc), field="bbox") from None
    limit = max_degrees if crs.is_geographic else max_degrees * 111_000
    if bbox[2] - bbox[0] > limit or bbox[3] - bbox[1] > limit:
        unit = "degrees" if crs.is_geographic else "metres"
        raise ValidationFailed(f"bbox is larger than {limit:g} {unit} across; ask for a smaller window",
                               field="bbox", max_span=limit)
    return bbox


def as_of_param(value: str | None) -> datetime | None:
    """`as_of=DATE` means the end of that day in Shanghai; a date-time without offset is Shanghai time."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1), time.min, CITY_TZ) - timedelta(microseconds=1)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(f"as_of must be a date (YYYY-MM-DD) or an ISO 8601 date-time, not {text[:40]!r}",
                               field="as_of") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CITY_TZ)


def if_match_version(value: str | None) -> int | None:
    """`If-Match: "3"` (or W/"3", or 3) → 3; `*` or absent → None."""
    if value is None or value.strip() == "*":
        return None
    tag = value.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    tag = tag.strip('"')
    if not tag.isdigit():
        raise ValidationFailed(f"If-Match must carry the ETag of the resource, e.g. \"3\"; got {value[:40]!r}",
                               field="If-Match")
    return int(tag)


def etag(version: int) -> str:
    """The ETag of a versioned resource."""
    return f'"{version}"'


def csv_bom(f: str, bom: bool) -> bool:
    """`bom`, which only a CSV can have (gis.io.BOM: for Excel on a Chinese Windows)."""
    if bom and f != "csv":
        raise ValidationFailed("bom is for f=csv only", field="bom")
    return bom
