"""GetFeature: one query of the resource, paged by primary key, encoded by PostGIS, streamed.

Reads run on the asyncpg read path (`Database.reader()`) with statements compiled once per shape
(app/prepared.py; a request with filter clauses is compiled for itself). The count and the rows are read in
one REPEATABLE READ snapshot, so `numberMatched` and `numberReturned` (known before the first member is
written) agree with the members that follow. A large page of a type with an integer key, in key order, is
cut into blocks of keys that two connections read in that one snapshot (app/features/blocks.py: PostgreSQL
encodes on two cores while the app sends: bench/RESULTS.md "WFS"); otherwise one server-side cursor, read ahead. Memory
stays flat either way.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable
from contextlib import aclosing
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import asyncpg
from sqlalchemy import BigInteger, ClauseElement, Integer, Select, String, bindparam, func, or_, select

from app.auth.permissions import Actor, contract_scope
from app.db import Database
from app.features.blocks import alternating, shared, snapshot
from app.features.geojson import prefetched, record_batches
from app.prepared import Compiled, StatementCache, compile_statement
from app.responses import dumps
from app.wfs.encode import member_text
from app.wfs.filters import bbox_clause
from app.wfs.model import GML2, GML32, JSON, GetFeature
from app.wfs.ows import WfsError
from app.wfs.registry import GEOMETRY, NAMESPACE, PREFIX, FeatureType, Prop
from gis.crs import STORAGE
from gis.sql import bbox_values

WFS20 = "http://www.opengis.net/wfs/2.0"
WFS = "http://www.opengis.net/wfs"
GML32_NS = "http://www.opengis.net/gml/3.2"
GML_NS = "http://www.opengis.net/gml"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

MEDIA = {GML32: "application/gml+xml; version=3.2", JSON: "application/json"}


def media_type(fmt: str) -> str:
    """Content-Type of an output format."""
    return MEDIA.get(fmt, fmt)


def selected_props(ftype: FeatureType, names: list[str] | None) -> tuple[list[Prop], bool]:
    """PROPERTYNAME → the properties to write, in schema order, and whether the geometry is wanted."""
    if names is None:
        return list(ftype.props), True
    return [p for p in ftype.props if p.name in names], GEOMETRY in names


# Values every statement of a plan takes (named apart from anything a filter binds).
START, LIMIT = "wfs_start", "wfs_limit"
LO, HI, BLOCK_ROWS, RETURNED = "wfs_lo", "wfs_hi", "wfs_block_rows", "wfs_returned"
DISTRICT = "wfs_district"  # the reader's district on a confidential type; NULL: city-wide
ORGANISATION = "wfs_organisation"  # an org_manager's organisation on a confidential type; NULL: any
_CURSOR_ROWS = 2000  # rows per cursor fetch (~3 MB of GML)
_BLOCK_ROWS = 1000  # keys per block: ~1.5 MB of GML
_READ_AHEAD = 2  # blocks each connection may read ahead of the sender
STATEMENTS = StatementCache()


class Plan:
    """The compiled statements of one GetFeature, each compiled when first used (once per shape): `count`
    (numberMatched and the lowest and highest key), `rows` (the page's members in order; values START,
    LIMIT), and for key-ordered pages of integer keys `bounds` (the first key of every BLOCK_ROWS keys of
    the page and its last key, as `(key, position)`; values START, LIMIT, BLOCK_ROWS, RETURNED) and `block`
    (the members with LO <= key < HI, in key order). `values` are the request's own: START, LIMIT, the
    BBOX corners and, on a confidential type, DISTRICT and ORGANISATION (the actor's read scope, refused
    to the public); `separator` joins members."""

    def __init__(self, req: GetFeature, limit: int, actor: Actor) -> None:
        self.req = req
        self.shape = _shape(req)
        self.separator = "," if req.output_format == JSON else ""
        self.blocks = req.query.ftype.key_is_int and not req.query.sort
        self.values: dict[str, Any] = {START: req.start, LIMIT: limit}
        if req.query.ftype.district is not None:  # SPEC §4: before any statement is run
            scope = contract_scope(actor, None, f"read {req.query.ftype.qname}")
            self.values[DISTRICT] = scope.district_code
            if req.query.ftype.organisation is not None:
                self.values[ORGANISATION] = scope.organisation_id
        if req.query.bbox is not None:
            self.values.update(bbox_values(req.query.bbox[0]))

    def _compiled(self, kind: str, build: Callable[[], ClauseElement]) -> Compiled:
        return compile_statement(build()) if self.shape is None else STATEMENTS.get((kind, self.shape), build)

    @cached_property
    def count(self) -> Compiled:
        """`count_statement`."""
        return self._compiled("count", lambda: count_statement(self.req))

    @cached_property
    def rows(self) -> Compiled:
        """`rows_statement`."""
        return self._compiled("rows", lambda: rows_statement(self.req))

    @cached_property
    def bounds(self) -> Compiled:
        """`bounds_statement`."""
        return self._compiled("bounds", lambda: bounds_statement(self.req))

    @cached_property
    def block(self) -> Compiled:
        """`block_statement`."""
        return self._compiled("block", lambda: block_statement(self.req))


def _shape(req: GetFeature) -> Hashable | None:
    """What decides the SQL text of a request; None when filter clauses make it one of a kind."""
    q = req.query
    if q.clauses:
        return None
    return (q.ftype.name, req.output_format, req.version == "2.0.0", q.srs or STORAGE, _srs_form(req),
            None if q.property_names is None else tuple(q.property_names), tuple(q.sort), req.start > 0,
            q.bbox and q.bbox[1])


def _srs_form(req: GetFeature) -> str:
    crs = req.query.srs or STORAGE
    return "urn" if (req.query.srs_text is None or crs.authority_axes) else "short"


def _where(req: GetFeature) -> list[Any]:
    """The query's restrictions: its filter clauses, the BBOX and the reader's district (SPEC §4; one
    bound value, so a compiled shape serves every reader)."""
    q = req.query
    where = list(q.clauses)
    if q.bbox is not None:
        where.append(bbox_clause(q.ftype, *q.bbox))
    if q.ftype.district is not None:
        district = bindparam(DISTRICT, None, type_=String)
        where.append(or_(district.is_(None), q.ftype.district == district))
    if q.ftype.organisation is not None:
        organisation = bindparam(ORGANISATION, None, type_=BigInteger)
        where.append(or_(organisation.is_(None), q.ftype.organisation == organisation))
    return where


def _member(req: GetFeature) -> Any:
    q = req.query
    props, with_geometry = selected_props(q.ftype, q.property_names)
    return member_text(q.ftype, req.output_format, q.srs or STORAGE, props, with_geometry,
                       req.version == "2.0.0", _srs_form(req))


def _ordered(req: GetFeature, stmt: Select[Any]) -> Select[Any]:
    """SORTBY, then the key (a total order, so pages slice it); without SORTBY the type's own order."""
    q = req.query
    if not q.sort:
        return stmt
    order: list[Any] = []
    for name, desc in q.sort:
        prop = q.ftype.prop(name)
        assert prop is not None
        order.append(prop.column.desc().nulls_last() if desc else prop.column.asc().nulls_last())
    return stmt.order_by(None).order_by(*order, q.ftype.key)


def _limit() -> Any:
    return bindparam(LIMIT, None, type_=Integer)


def _start() -> Any:
    return bindparam(START, None, type_=Integer)


def rows_statement(req: GetFeature) -> Select[Any]:
    """The page's members in order: filters as bound clauses, LIMIT/OFFSET as values."""
    q = req.query
    ftype = q.ftype
    if req.start == 0:
        return _ordered(req, ftype.select([_member(req)], _where(req))).limit(_limit())
    # OFFSET over keys only, then encode the page: skipped rows are never turned into GML/JSON, so a
    # page costs the same at any depth (bench/RESULTS.md "WFS": a page at STARTINDEX 90,000 takes as long as the first).
    keys = _ordered(req, ftype.select([ftype.key.label("k")], _where(req))).limit(_limit()).offset(_start())
    page = keys.subquery()
    return _ordered(req, ftype.select([_member(req)], [ftype.key.in_(select(page.c.k))]))


def count_statement(req: GetFeature) -> Select[int, Any, Any]:
    """`(numberMatched, lowest key, highest key)`: the keys bound the blocks of a whole result."""
    q = req.query
    keys = q.ftype.select([q.ftype.key.label("k")], _where(req)).order_by(None).subquery()
    return select(func.count(), func.min(keys.c.k), func.max(keys.c.k))


def bounds_statement(req: GetFeature) -> Select[Any]:
    """`(key, position)` of the page's keys at positions 1, 1 + BLOCK_ROWS, … and RETURNED (the last)."""
    q = req.query
    key = q.ftype.key
    page = (q.ftype.select([key.label("k")], _where(req)).order_by(None).order_by(key)
            .limit(_limit()).offset(_start()).subquery("page"))
    n = func.row_number().over(order_by=page.c.k).label("n")
    numbered = select(page.c.k, n).subquery("numbered")
    every = bindparam(BLOCK_ROWS, None, type_=BigInteger)
    last = bindparam(RETURNED, None, type_=BigInteger)
    return (select(numbered.c.k, numbered.c.n)
            .where(or_((numbered.c.n - 1) % every == 0, numbered.c.n == last)).order_by(numbered.c.k))


def block_statement(req: GetFeature) -> Select[Any]:
    """The members with LO <= key < HI in key order. (Rows rather than one `string_agg` text per block:
    PostgreSQL 15 sorts an aggregate's input again, which cost more than the app's join of the rows.)"""
    q = req.query
    key = q.ftype.key
    lo, hi = bindparam(LO, None, type_=BigInteger), bindparam(HI, None, type_=BigInteger)
    return q.ftype.select([_member(req)], [*_where(req), key >= lo, key < hi]).order_by(None).order_by(key)


def _blocks(bounds: list[asyncpg.Record], every: int) -> list[tuple[int, int]]:
    """`(lo, hi)` key ranges from the bounds rows: each block start up to the next, the last through the
    page's last key."""
    starts = [k for k, n in bounds if (n - 1) % every == 0]
    last = bounds[-1][0]
    return list(zip(starts, [*starts[1:], last + 1], strict=True))


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _head(
    req: GetFeature, matched: int | None, returned: int | None, next_url: str | None, schema_url: str
) -> bytes:
    """The GML FeatureCollection's opening tag for the request's version (`stream` writes the JSON head)."""
    ftype = req.query.ftype
    app_loc = escape(f"{NAMESPACE} {schema_url}")
    if req.output_format == JSON:
        return b""  # not called for JSON: `stream` writes its head from the count
    if req.version == "2.0.0":
        gml = GML32_NS if req.output_format == GML32 else GML_NS
        attrs = f' timeStamp="{_timestamp()}" numberMatched="{matched}" numberReturned="{returned}"'
        if next_url:
            attrs += f" next={quoteattr(next_url)}"
        loc = (
            f"{WFS20} http://schemas.opengis.net/wfs/2.0/wfs.xsd "
            f"{GML32_NS} http://schemas.opengis.net/gml/3.2.1/gml.xsd {app_loc}"
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<wfs:FeatureCollection xmlns:wfs="{WFS20}" '
            f'xmlns:gml="{gml}" xmlns:{PREFIX}="{NAMESPACE}" xmlns:xsi="{XSI}" '
            f'xsi:schemaLocation="{loc}"{attrs}>'
        ).encode()
    if req.version == "1.1.0":
        gml = GML32_NS if req.output_format == GML32 else GML_NS
        loc = f"{WFS} http://schemas.opengis.net/wfs/1.1.0/wfs.xsd {app_loc}"
        count_attr = f' numberOfFeatures="{returned if req.result_type == "results" else matched}"'
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<wfs:FeatureCollection xmlns:wfs="{WFS}" '
            f'xmlns:gml="{gml}" xmlns:{PREFIX}="{NAMESPACE}" xmlns:xsi="{XSI}" '
            f'xsi:schemaLocation="{loc}" timeStamp="{_timestamp()}"{count_attr}>'
        ).encode()
    loc = f"{WFS} http://schemas.opengis.net/wfs/1.0.0/WFS-basic.xsd {app_loc}"
    _ = ftype
    gml = GML_NS if req.output_format == GML2 else GML32_NS
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<wfs:FeatureCollection xmlns:wfs="{WFS}" '
        f'xmlns:gml="{gml}" xmlns:{PREFIX}="{NAMESPACE}" xmlns:xsi="{XSI}" xsi:schemaLocation="{loc}">'
        "<gml:boundedBy><gml:null>unknown</gml:null></gml:boundedBy>"
    ).encode()


def _tail(req: GetFeature) -> bytes:
    return b"</wfs:FeatureCollection>"


async def _members(db: Database, conn: asyncpg.Connection, plan: Plan, returned: int,
                   whole: tuple[int, int] | None) -> AsyncGenerator[str, None]:
    """The page's members as text chunks (each a run of whole members joined by the plan's separator).
    `whole`: the lowest and highest key when the page is every match."""
    if plan.blocks and returned > 2 * _BLOCK_ROWS:
        async with db.spare_reader() as second:
            if second is not None:
                async with shared(conn, second):
                    every = _BLOCK_ROWS
                    if whole is not None:  # blocks of keys from the lowest to the highest: no bounds query
                        low, high = whole
                        blocks = [(lo, min(lo + every, high + 1)) for lo in range(low, high + 1, every)]
                    else:
                        bounds = await conn.fetch(plan.bounds.sql, *plan.bounds.args(
                            {**plan.values, BLOCK_ROWS: every, RETURNED: returned}))
                        blocks = _blocks(bounds, every)
                    block = plan.block

                    async def read(c: asyncpg.Connection, lo_hi: tuple[int, int]) -> str:
                        rows = await c.fetch(block.sql, *block.args({**plan.values, LO: lo_hi[0], HI: lo_hi[1]}))
                        return plan.separator.join([row[0] for row in rows])

                    chunks = alternating((conn, second), blocks, read, _READ_AHEAD)
                    async with aclosing(chunks):  # its tasks end before the connections go back to the pool
                        async for chunk in chunks:
                            yield chunk
                return
    rows = plan.rows
    batches = prefetched(record_batches(conn, rows.sql, rows.args(plan.values), _CURSOR_ROWS))
    async with aclosing(batches):
        async for batch in batches:
            yield plan.separator.join([row[0] for row in batch])


async def stream(
    db: Database, req: GetFeature, limit: int, next_for: Any, schema_url: str, crs_uri: str, actor: Actor
) -> AsyncIterator[bytes]:
    """The response body; its first chunk is produced before the response starts (errors → reports)."""
    plan = Plan(req, limit, actor)
    async with db.reader() as conn, snapshot(conn):
        matched, low, high = await conn.fetchrow(plan.count.sql, *plan.count.args(plan.values))
        returned = 0 if req.result_type == "hits" else min(limit, max(0, matched - req.start))
        more = req.result_type == "results" and returned > 0 and req.start + returned < matched
        next_url = next_for(req.start + returned) if more else None
        if req.output_format == JSON:
            head: dict[str, Any] = {"type": "FeatureCollection", "numberMatched": matched,
                                    "numberReturned": returned, "timeStamp": _timestamp(),
                                    "crs": {"type": "name", "properties": {"name": crs_uri}}}
            if next_url:
                head["links"] = [{"rel": "next", "href": next_url, "type": "application/json"}]
            yield dumps(head)[:-1] + b',"features":['
        else:
            yield _head(req, matched, returned, next_url, schema_url)
        if returned:
            first = True
            whole = (low, high) if req.start == 0 and returned == matched and plan.blocks else None
            async with aclosing(_members(db, conn, plan, returned, whole)) as members:
                async for chunk in members:
                    if chunk:
                        yield (b"," if plan.separator and not first else b"") + chunk.encode()
                        first = False
    yield b"]}" if req.output_format == JSON else _tail(req)


async def single(db: Database, req: GetFeature, actor: Actor) -> bytes:
    """GetFeatureById: the bare feature (WFS 2.0 §7.9.3.6), NotFound (404) when absent, or outside the
    reader's district on a confidential type (the type offers a district officer its district's features)."""
    plan = Plan(req, 1, actor)
    async with db.reader() as conn:
        member = await conn.fetchval(plan.rows.sql, *plan.rows.args(plan.values))
    if member is None:
        raise WfsError("NotFound", f"no feature {req.query.ftype.name}.{req.by_id}", "ID", 404)
    if req.output_format == JSON:
        return str(member).encode()
    text_ = str(member)
    start = text_.index(">") + 1
    end = text_.rindex("<")
    body = text_[start:end]
    gml = GML32_NS if req.output_format == GML32 else GML_NS
    body = body.replace(
        f"<{PREFIX}:{req.query.ftype.name} ",
        f'<{PREFIX}:{req.query.ftype.name} xmlns:{PREFIX}="{NAMESPACE}" xmlns:gml="{gml}" ',
        1,
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()
