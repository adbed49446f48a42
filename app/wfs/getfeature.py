"""GetFeature: one query of the resource, paged by primary key, encoded by PostGIS, streamed.

The count and the rows are read in one REPEATABLE READ transaction, so `numberMatched` and
`numberReturned` (known before the first member is written) agree with the members that follow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import Database
from app.features.geojson import stream_rows
from app.responses import dumps
from app.wfs.encode import member_text
from app.wfs.model import GML2, GML32, JSON, GetFeature
from app.wfs.ows import WfsError
from app.wfs.registry import GEOMETRY, NAMESPACE, PREFIX, FeatureType, Prop
from gis.crs import STORAGE

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


def statement(req: GetFeature, limit: int) -> tuple[Select[Any], Select[Any]]:
    """(rows, count) statements for a GetFeature: filters as bound clauses, ordered by key."""
    q = req.query
    ftype = q.ftype
    crs = q.srs or STORAGE
    props, with_geometry = selected_props(ftype, q.property_names)
    srs_form = "urn" if (q.srs_text is None or crs.authority_axes) else "short"
    member = member_text(
        ftype, req.output_format, crs, props, with_geometry, req.version == "2.0.0", srs_form
    )
    order: list[Any] = []
    for name, desc in q.sort:
        prop = ftype.prop(name)
        assert prop is not None
        order.append(prop.column.desc().nulls_last() if desc else prop.column.asc().nulls_last())

    def ordered(stmt: Select[Any]) -> Select[Any]:
        return stmt.order_by(None).order_by(*order, ftype.key) if order else stmt

    if req.start == 0:
        rows = ordered(ftype.select([member], q.clauses)).limit(limit)
    else:
        # OFFSET over keys only, then encode the page: skipped rows are never turned into GML/JSON, so a
        # page costs the same at any depth (notes/measured-peers.md: OFFSET before encoding).
        keys = ordered(ftype.select([ftype.key.label("k")], q.clauses)).limit(limit).offset(req.start)
        page = keys.subquery()
        rows = ordered(ftype.select([member], [ftype.key.in_(select(page.c.k))]))
    count = select(func.count()).select_from(ftype.select([ftype.key], q.clauses).order_by(None).subquery())
    return rows, count


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _head(
    req: GetFeature, matched: int | None, returned: int | None, next_url: str | None, schema_url: str
) -> bytes:
    ftype = req.query.ftype
    app_loc = escape(f"{NAMESPACE} {schema_url}")
    if req.output_format == JSON:
        return b""  # JSON head is written by _json_head
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


async def _snapshot(conn: AsyncConnection) -> None:
    """One snapshot for count and rows (skipped inside a test's outer transaction)."""
    if not conn.in_nested_transaction():
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))


async def stream(
    db: Database, req: GetFeature, limit: int, next_for: Any, schema_url: str, crs_uri: str
) -> AsyncIterator[bytes]:
    """The response body; its first chunk is produced before the response starts (errors → reports)."""
    rows, count = statement(req, limit)
    async with db.connection() as conn:
        await _snapshot(conn)
        matched = None
        if req.version != "1.0.0" or req.result_type == "hits" or req.output_format == JSON:
            matched = int(await conn.scalar(count) or 0)
        returned = (
            0
            if req.result_type == "hits"
            else (min(limit, max(0, matched - req.start)) if matched is not None else None)
        )
        more = (
            matched is not None
            and returned is not None
            and req.result_type == "results"
            and req.start + returned < matched
            and returned > 0
        )
        next_url = next_for(req.start + (returned or 0)) if more else None
        if req.output_format == JSON:
            head: dict[str, Any] = {"type": "FeatureCollection"}
            if matched is not None:
                head["numberMatched"] = matched
            head["numberReturned"] = returned
            head["timeStamp"] = _timestamp()
            head["crs"] = {"type": "name", "properties": {"name": crs_uri}}
            if next_url:
                head["links"] = [{"rel": "next", "href": next_url, "type": "application/json"}]
            yield dumps(head)[:-1] + b',"features":['
            first = True
            if req.result_type == "results":
                async for chunk in stream_rows(conn, rows):
                    yield (b"" if first else b",") + ",".join(chunk).encode()
                    first = False
            yield b"]}"
            return
        yield _head(req, matched, returned, next_url, schema_url)
        if req.result_type == "results":
            async for chunk in stream_rows(conn, rows):
                yield "".join(chunk).encode()
    yield _tail(req)


async def single(db: Database, req: GetFeature) -> bytes:
    """GetFeatureById: the bare feature (WFS 2.0 §7.9.3.6), NotFound (404) when absent."""
    rows, _ = statement(req, 1)
    async with db.connection() as conn:
        member = await conn.scalar(rows)
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
