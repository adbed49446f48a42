"""The one parcel query (filters, bbox, as_of, order, paging) and the properties every encoder shows.

REST GeoJSON, WFS GML/JSON, exports and tiles differ only in how they encode the rows this selects
(STYLE habit 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Numeric, Select, and_, func, or_, select, true
from sqlalchemy.sql.expression import FromClause

from gis.crs import STORAGE, CrsRef
from gis.sql import bbox_filter
from models import Parcel

parcel = Parcel.__table__

# The SPEC §5 properties, in the order clients see them. Types drive WFS DescribeFeatureType too.
PROPERTIES: tuple[tuple[str, str], ...] = (
    ("code", "string"),
    ("land_use", "string"),
    ("plot_ratio", "decimal"),
    ("plot_ratio_reference_id", "long"),
    ("legacy_zone", "string"),
    ("status", "string"),
    ("district_code", "string"),
    ("tier", "string"),
    ("zone_id", "long"),
    ("planning_locked", "boolean"),
    ("area_m2", "double"),
    ("plot_ratio_cap", "decimal"),
    ("plot_ratio_cap_source", "string"),
    ("version", "int"),
    ("valid_from", "dateTime"),
    ("valid_to", "dateTime"),
)
FILTERS = ("tier", "land_use", "district_code", "zone_id", "status", "legacy_zone")


@dataclass(frozen=True)
class ParcelQuery:
    """What a client asked for; every field optional."""

    ids: Sequence[int] | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    bbox: tuple[float, float, float, float] | None = None
    bbox_crs: CrsRef = STORAGE
    as_of: datetime | None = None
    history_of: int | None = None
    extra: Sequence[ColumnElement[bool]] = ()


def alive_at(table: FromClause, as_of: datetime | None) -> ColumnElement[bool]:
    """Rule 10: the current row, or the row valid at `as_of` (valid_from ≤ t < valid_to)."""
    if as_of is None:
        return table.c.valid_to.is_(None)
    return and_(table.c.valid_from <= as_of, or_(table.c.valid_to.is_(None), table.c.valid_to > as_of))


def where(q: ParcelQuery, table: FromClause = parcel) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a ParcelQuery (bound parameters only)."""
    clauses: list[ColumnElement[bool]] = []
    if q.history_of is not None:
        clauses.append(table.c.id == q.history_of)
    else:
        clauses.append(alive_at(table, q.as_of))
    if q.ids is not None:
        clauses.append(table.c.id.in_(list(q.ids)))
    for name in FILTERS:
        value = q.filters.get(name)
        if value is not None:
            clauses.append(table.c[name] == value)
    if q.bbox is not None:
        clauses.append(bbox_filter(table.c.geom, q.bbox, q.bbox_crs))
    clauses.extend(q.extra)
    return clauses


def select_rows(q: ParcelQuery, *columns: Any, order: bool = True) -> Select[Any]:
    """SELECT columns FROM parcel WHERE … ORDER BY id[, version] (paging is stable by primary key)."""
    stmt = select(*columns).select_from(parcel).where(*where(q))
    if order:
        stmt = stmt.order_by(parcel.c.id, parcel.c.version)
    return stmt


def count(q: ParcelQuery) -> Select[Any]:
    """SELECT count(*) for numberMatched."""
    return select(func.count()).select_from(parcel).where(*where(q) or [true()])


def property_columns(table: FromClause = parcel) -> list[tuple[str, ColumnElement[Any]]]:
    """(name, column) for every SPEC property; area rounded to the centimetre² people read."""
    cols: list[tuple[str, ColumnElement[Any]]] = []
    for name, _ in PROPERTIES:
        col: ColumnElement[Any] = table.c[name]
        if name == "area_m2":
            col = func.round(table.c.area_m2.cast(Numeric), 2)
        cols.append((name, col))
    return cols
