"""The one zone query and its properties (as for parcels, encoders differ only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Numeric, Select, func, select

from app.parcels.query import alive_at
from gis.crs import STORAGE, CrsRef
from gis.sql import bbox_filter
from models import Zone

zone = Zone.__table__

PROPERTIES: tuple[tuple[str, str], ...] = (
    ("code", "string"),
    ("name", "string"),
    ("kind", "string"),
    ("advanced_manufacturing", "boolean"),
    ("far_cap", "decimal"),
    ("far_min", "decimal"),
    ("district_code", "string"),
    ("area_m2", "double"),
    ("version", "int"),
    ("valid_from", "dateTime"),
    ("valid_to", "dateTime"),
)
FILTERS = ("kind", "district_code", "advanced_manufacturing", "code")


@dataclass(frozen=True)
class ZoneQuery:
    """What a client asked for."""

    ids: list[int] | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    bbox: tuple[float, float, float, float] | None = None
    bbox_crs: CrsRef = STORAGE
    as_of: datetime | None = None
    history_of: int | None = None


def where(q: ZoneQuery) -> list[ColumnElement[bool]]:
    """WHERE clauses (bound parameters only)."""
    clauses = [zone.c.id == q.history_of] if q.history_of is not None else [alive_at(zone, q.as_of)]
    if q.ids is not None:
        clauses.append(zone.c.id.in_(q.ids))
    for name in FILTERS:
        if q.filters.get(name) is not None:
            clauses.append(zone.c[name] == q.filters[name])
    if q.bbox is not None:
        clauses.append(bbox_filter(zone.c.geom, q.bbox, q.bbox_crs))
    return clauses


def select_rows(q: ZoneQuery, *columns: Any) -> Select[Any]:
    """SELECT … FROM zone WHERE … ORDER BY id, version."""
    return select(*columns).select_from(zone).where(*where(q)).order_by(zone.c.id, zone.c.version)


def count(q: ZoneQuery) -> Select[Any]:
    """numberMatched."""
    return select(func.count()).select_from(zone).where(*where(q))


def property_columns() -> list[tuple[str, ColumnElement[Any]]]:
    """(name, column) per property; area measured on the ellipsoid."""
    cols: list[tuple[str, ColumnElement[Any]]] = []
    for name, _ in PROPERTIES:
        if name == "area_m2":
            cols.append((name, func.round(func.ST_Area(func.geography(zone.c.geom)).cast(Numeric), 2)))
        else:
            cols.append((name, zone.c[name]))
    return cols
