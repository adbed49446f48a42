"""The one parcel query (filters, bbox, as_of, order, paging) and the properties every encoder shows.

REST GeoJSON, WFS GML/JSON, exports and tiles differ only in how they encode the rows this selects
(STYLE habit 4). Every value a client chooses is a named, typed bound parameter (`binds()` lists them)
and `shape()` names everything else, so hot paths compile a statement once per shape (app/prepared.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    Numeric,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.sql.expression import FromClause

from gis.crs import STORAGE, CrsRef
from gis.sql import bbox_filter, bbox_values
from models import Parcel
from models.base import current

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
FILTERS = ("code", "tier", "land_use", "district_code", "zone_id", "status", "legacy_zone")


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


    def shape(self) -> tuple[Any, ...] | None:
        """What decides the SQL text (not the values); None when `extra` clauses make it one of a kind."""
        if self.extra:
            return None
        return (self.ids is not None and (len(self.ids) if len(self.ids) != 1 else "one"),
                tuple(name for name in FILTERS if self.filters.get(name) is not None),
                self.bbox is not None and self.bbox_crs.srid, self.as_of is not None, self.history_of is not None)

    def binds(self) -> dict[str, Any]:
        """The bound values of `where(self)`, by parameter name (mirrors `where`; a test holds them equal)."""
        values: dict[str, Any] = {}
        if self.history_of is not None:
            values["history_of"] = self.history_of
        elif self.as_of is not None:
            values["as_of"] = self.as_of
        if self.ids is not None and len(self.ids) == 1:
            values["id"] = self.ids[0]
        for name in FILTERS:
            value = self.filters.get(name)
            if value is not None:
                values[f"filter_{name}"] = value
        if self.bbox is not None:
            values.update(bbox_values(self.bbox))
        return values


def alive_at(table: FromClause, as_of: datetime | None) -> ColumnElement[bool]:
    """Rule 10: the current row, or the row valid at `as_of` (valid_from ≤ t < valid_to)."""
    if as_of is None:
        return current(table)
    at = bindparam("as_of", as_of, type_=DateTime(timezone=True), unique=True)
    return and_(table.c.valid_from <= at, or_(current(table), table.c.valid_to > at))


def where(q: ParcelQuery, table: FromClause = parcel) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a ParcelQuery (named bound parameters only, see `ParcelQuery.binds`; unique, so
    two queries may share one statement, e.g. a UNION)."""
    clauses: list[ColumnElement[bool]] = []
    if q.history_of is not None:
        clauses.append(table.c.id == bindparam("history_of", q.history_of, type_=BigInteger, unique=True))
    else:
        clauses.append(alive_at(table, q.as_of))
    if q.ids is not None:
        if len(q.ids) == 1:
            clauses.append(table.c.id == bindparam("id", q.ids[0], type_=BigInteger, unique=True))
        else:
            clauses.append(table.c.id.in_(list(q.ids)))
    for name in FILTERS:
        value = q.filters.get(name)
        if value is not None:
            clauses.append(table.c[name] == bindparam(f"filter_{name}", value, type_=table.c[name].type,
                                                                 unique=True))
    if q.bbox is not None:
        clauses.append(bbox_filter(table.c.geom, q.bbox, q.bbox_crs))
    clauses.extend(q.extra)
    return clauses


def order_by(q: ParcelQuery, table: FromClause = parcel) -> list[ColumnElement[Any]]:
    """Paging order: by id; a history by version too (elsewhere one row per id, so the id index serves)."""
    return [table.c.id, table.c.version] if q.history_of is not None else [table.c.id]


def select_rows(q: ParcelQuery, *columns: Any, order: bool = True) -> Select[Any]:
    """SELECT columns FROM parcel WHERE … ORDER BY id (paging is stable by primary key)."""
    stmt = select(*columns).select_from(parcel).where(*where(q))
    if order:
        stmt = stmt.order_by(*order_by(q))
    return stmt


def select_page(q: ParcelQuery, encode: Callable[[FromClause], Sequence[Any]], *, keyset: bool = False) -> Select[Any]:
    """One page: the rows are chosen (WHERE, ORDER BY id, LIMIT :limit OFFSET :offset, and `id > :after`
    when `keyset`) before `encode(rows)` builds their output columns, so a page's cost does not grow with
    its offset (bench/RESULTS.md "WFS": a page at STARTINDEX 90,000 takes as long as the first).
    Values: `binds()` plus `limit`, `offset` and `after`."""
    chosen = select(parcel).where(*where(q))
    if keyset:
        chosen = chosen.where(parcel.c.id > bindparam("after", None, type_=BigInteger))
    rows = (chosen.order_by(*order_by(q)).limit(bindparam("limit", None, type_=Integer))
            .offset(bindparam("offset", None, type_=Integer)).subquery("page"))
    return select(*encode(rows)).select_from(rows).order_by(*order_by(q, rows))


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
