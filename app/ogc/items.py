"""The items of a collection: one statement per page, GeoJSON built by PostgreSQL (STYLE habit 4).

The SQL has the shape of the REST parcel page (app/parcels/query.py `select_page`, app/parcels/reads.py
`page_statement`): the collection's rows WHERE rule 10's version, the property filters, the bbox and a
filter, in featureId order (a keyset `key > :after` for `next` links), LIMIT, the features joined by
PostgreSQL into one value read with the collection's version in one snapshot; a large page is streamed
row by row instead. Only the encoder differs: OGC 18-058r1 writes coordinates in the order of the CRS
its URI names. Statements are compiled once per shape (app/prepared.py); a request with a CQL2 filter is
compiled for itself. numberMatched is exact, counted once per collection version and query (CountCache).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    String,
    Text,
    bindparam,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from app.features.geojson import properties_parts
from app.features.versions import version_column
from app.ogc.collections import Collection
from app.ogc.params import Crs, Items, Temporal
from app.parcels.query import alive_at
from app.prepared import Compiled, StatementCache, compile_statement
from app.wfs.registry import Prop
from gis.sql import bbox_filter, bbox_values, constant, in_crs
from models.base import current

# Values every statement of a plan takes (named apart from anything a CQL2 filter binds).
LIMIT, OFFSET, AFTER, FID = "ogc_limit", "ogc_offset", "ogc_after", "ogc_fid"
START, END, DISTRICT, ORGANISATION = "ogc_start", "ogc_end", "ogc_district", "ogc_organisation"
STATEMENTS = StatementCache()


def feature_text(c: Collection, crs: Crs, props: Sequence[Prop]) -> ColumnElement[str]:
    """One GeoJSON Feature as text: `id` the featureId, geometry in `crs` (axis order of its URI, 18-058r1
    §6.3.2; ~1 cm precision), the properties as the REST resources write them (app/features/geojson.py)."""
    geom: Any = in_crs(c.ftype.geom, crs.sql)
    if crs.flips:
        geom = func.ST_FlipCoordinates(geom)
    return func.concat(
        literal_column("""'{"type":"Feature","id":'"""),
        func.to_json(c.key),
        literal_column("""',"geometry":'"""),
        func.ST_AsGeoJSON(geom, constant(crs.sql.decimals), constant(0)),
        literal_column("""',"properties":{'"""),
        *properties_parts([(p.name, p.column) for p in props]),
        literal_column("""'}}'"""),
    ).label("feature")


def temporal_clauses(c: Collection, t: Temporal) -> list[ColumnElement[bool]]:
    """Rule 10 for `datetime` (17-069r4 §7.15.4): the current version; the version valid at an instant
    (as_of, the REST semantics); for an interval, each feature whose validity [valid_from, valid_to) meets
    the closed interval, in its last version there — one row per featureId, as paging by key requires.
    Collections without versions have no temporal geometry: every feature matches (/req/core/fc-time-response)."""
    table = c.table
    if table is None:
        return []
    if not t.interval:
        return [alive_at(table, t.at)]
    clauses: list[ColumnElement[bool]] = []
    newer = table.alias("newer")
    later = select(literal(1)).select_from(newer).where(newer.c.id == table.c.id, newer.c.version > table.c.version)
    if t.end is not None:
        clauses.append(table.c.valid_from <= bindparam(END, t.end, type_=DateTime(timezone=True), unique=True))
        later = later.where(newer.c.valid_from <= bindparam(END, t.end, type_=DateTime(timezone=True), unique=True))
    if t.start is not None:
        start = bindparam(START, t.start, type_=DateTime(timezone=True), unique=True)
        clauses.append(or_(current(table), table.c.valid_to > start))
    clauses.append(~exists(later))
    return clauses


@dataclass
class Plan:
    """The statements of one items request. `values`: the request's bound values by name; `shape`: what
    decides the SQL text (None with a CQL2 filter, compiled per request); `clause`: the compiled filter."""

    c: Collection
    q: Items
    district: str | None = None
    clause: ColumnElement[bool] | None = None
    values: dict[str, Any] = field(default_factory=dict)
    organisation: int | None = None  # an org_manager's organisation on a confidential type (SPEC §4)

    def __post_init__(self) -> None:
        q = self.q
        t = q.temporal
        if t.at is not None:
            self.values["as_of"] = t.at
        if t.start is not None:
            self.values[START] = t.start
        if t.end is not None:
            self.values[END] = t.end
        for prop, value in q.equals:
            self.values[_eq(prop)] = value
        if q.bbox is not None:
            self.values.update(bbox_values(q.bbox))
        if self.c.ftype.district is not None:
            self.values[DISTRICT] = self.district
        if self.c.ftype.organisation is not None:
            self.values[ORGANISATION] = self.organisation

    @property
    def keyset(self) -> bool:
        """`next` links carry the last featureId (pages by the key index, any depth): integer keys, no sortby."""
        return self.c.ftype.key_is_int and not self.q.sort

    @property
    def shape(self) -> Hashable | None:
        """Everything but the values that shapes the statements."""
        q = self.q
        if self.clause is not None:
            return None
        t = q.temporal
        props = None if q.properties is None else tuple(p.name for p in q.properties)
        return (self.c.id, q.crs.sql, q.crs.flips, props, tuple(p.name for p, _ in q.equals),
                q.bbox is not None and q.bbox_crs.sql.srid,
                (t.at is not None, t.interval, t.start is not None, t.end is not None),
                tuple((p.name, desc) for p, desc in q.sort))

    def count_key(self, version: int) -> Hashable | None:
        """The cache key of numberMatched: collection, version, shape and values (None: not cached)."""
        shape = self.shape
        if shape is None or self.c.counter is None:
            return None
        return ("ogc", self.c.counter, version, shape, tuple(sorted(self.values.items())))

    def where(self) -> list[ColumnElement[bool]]:
        """The WHERE clauses: version, property filters, bbox, the reader's district, the filter."""
        c, q = self.c, self.q
        clauses = temporal_clauses(c, q.temporal)
        for prop, value in q.equals:
            clauses.append(prop.column == bindparam(_eq(prop), value, type_=prop.column.type, unique=True))
        if q.bbox is not None:
            clauses.append(bbox_filter(c.ftype.geom, q.bbox, q.bbox_crs.sql))
        if c.ftype.district is not None:  # SPEC §4: NULL is city-wide
            district = bindparam(DISTRICT, None, type_=String)
            clauses.append(or_(district.is_(None), c.ftype.district == district))
        if c.ftype.organisation is not None:
            organisation = bindparam(ORGANISATION, None, type_=BigInteger)
            clauses.append(or_(organisation.is_(None), c.ftype.organisation == organisation))
        if self.clause is not None:
            clauses.append(self.clause)
        return clauses

    def _compiled(self, kind: Hashable, build: Any) -> Compiled:
        shape = self.shape
        return compile_statement(build()) if shape is None else STATEMENTS.get((kind, shape), build)

    def _props(self) -> Sequence[Prop]:
        return self.c.props() if self.q.properties is None else self.q.properties

    def _order(self, key: Any, sorts: Sequence[Any]) -> list[Any]:
        order: list[Any] = []
        for col, (_, desc) in zip(sorts, self.q.sort, strict=True):
            order.append(col.desc().nulls_last() if desc else col.asc().nulls_last())
        return [*order, key]

    def _page_rows(self, keyset: bool, offset: bool) -> Any:
        """SELECT k, s0…, feature of the page in order, LIMIT :limit (after :after, or past :offset keys)."""
        c = self.c
        sorts = [p.column for p, _ in self.q.sort]
        columns = [c.key.label("k"), *(col.label(f"s{i}") for i, col in enumerate(sorts)),
                   feature_text(c, self.q.crs, self._props())]
        where = self.where()
        if keyset:
            after_type = BigInteger if c.ftype.key_is_int else Text
            where.append(c.key > bindparam(AFTER, None, type_=after_type))
        elif offset:
            # OFFSET over keys only, then encode the page: skipped rows are never turned into GeoJSON
            # (bench/RESULTS.md "WFS": a deep page costs what the first does).
            skip = bindparam(OFFSET, None, type_=Integer)
            keys = (c.rows([c.key.label("k")], self.where()).order_by(None)
                    .order_by(*self._order(c.key, sorts)).limit(_limit()).offset(skip))
            where.append(c.key.in_(select(keys.subquery().c.k)))
        return c.rows(columns, where).order_by(None).order_by(*self._order(c.key, sorts)).limit(_limit())

    def page(self, keyset: bool, offset: bool) -> Compiled:
        """One row for a (small) page: `(collection version, returned, last key, features joined by commas)`."""
        def build() -> Any:
            rows = self._page_rows(keyset, offset).subquery("page")
            order = self._order(rows.c.k, [rows.c[f"s{i}"] for i in range(len(self.q.sort))])
            joined = func.string_agg(rows.c.feature, aggregate_order_by(literal_column("','"), *order))
            version = version_column(self.c.counter) if self.c.counter else literal(0)
            return select(version, func.count(), func.max(rows.c.k), joined)

        return self._compiled(("page", keyset, offset), build)

    def rows(self, keyset: bool, offset: bool) -> Compiled:
        """Rows `(key, feature)` of a large page, in order (streamed)."""
        def build() -> Any:
            rows = self._page_rows(keyset, offset).subquery("page")
            order = self._order(rows.c.k, [rows.c[f"s{i}"] for i in range(len(self.q.sort))])
            return select(rows.c.k, rows.c.feature).order_by(*order)

        return self._compiled(("rows", keyset, offset), build)

    def count(self) -> Compiled:
        """numberMatched."""
        def build() -> Any:
            matched = self.c.rows([literal_column("1").label("one")], self.where()).order_by(None).subquery("matched")
            return select(func.count()).select_from(matched)

        return self._compiled("count", build)

    def one(self) -> Compiled:
        """`(version, feature)` of the feature FID (its current version, or the one `datetime` picks)."""
        def build() -> Any:
            c = self.c
            key_type = BigInteger if c.ftype.key_is_int else Text
            version = c.table.c.version if c.table is not None else null()
            where = [*self.where(), c.key == bindparam(FID, None, type_=key_type)]
            return c.rows([version, feature_text(c, self.q.crs, self._props())], where).limit(1)

        return self._compiled("one", build)


def _eq(prop: Prop) -> str:
    return f"ogc_eq_{prop.name}"


def _limit() -> Any:
    return bindparam(LIMIT, None, type_=Integer)
