"""HTTP for /ogc: OGC API – Features Part 1 Core (17-069r4), Part 2 CRS (18-058r1), HTML, GeoJSON, OpenAPI 3.0.

Reads; Part 4 writes are `app.ogc.writes`' router, included here, and CQL2 filters
`app.ogc.cql2`'s compiler. Auth as REST (`get_actor`: Basic or Bearer; the public with LANDCYCLE_PUBLIC_READ). The items
read path is app/ogc/items.py: one statement per page, plus an exact count remembered per collection version.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Header, Path, Request
from starlette.datastructures import URL
from starlette.responses import Response

from app.auth.permissions import Actor, Scope, contract_scope
from app.db import Database
from app.deps import ActorDep, app_counts, app_database, app_settings, app_state
from app.errors import DomainError, NotFound
from app.features.geojson import collection_head, collection_tail, stream_records
from app.features.paging import clamp_limit, page_links, public_url
from app.features.versions import collection_etag, collection_version, etag_matches
from app.ogc import cql2, html, writes
from app.ogc.collections import (
    GEOJSON,
    HTML,
    JSON,
    Collection,
    collection_doc,
    collection_for,
    link,
    readable,
    sortables_schema,
    temporal_start,
)
from app.ogc.etag import etag_of
from app.ogc.items import AFTER, FID, LIMIT, OFFSET, Plan
from app.ogc.openapi import OPENAPI, document
from app.ogc.params import Crs, Items, as_bad_request, crs_param, invalid, items_params, single, wants_html
from app.parcels.reads import known_total
from app.responses import dumps
from app.streaming import BoundedStream
from app.wfs import capabilities
from gis.errors import CrsError, GeometryError

SCHEMA_JSON = "application/schema+json"
STREAM_ABOVE = 1000  # as REST (app/parcels/routes.py): larger pages are streamed row by row
NO_CACHE = {"Cache-Control": "no-cache"}
READ = ["GET", "HEAD"]

CONFORMANCE: tuple[str, ...] = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
)

router = APIRouter(prefix="/ogc", include_in_schema=False)
CollectionId = Annotated[str, Path(description="The collection: parcels, zones, districts, exit_candidates")]
FeatureId = Annotated[str, Path(description="The featureId")]


def conformance_classes() -> list[str]:
    """17-069r4 §7.4: the classes implemented: Parts 1–2 here, Part 3 (CQL2) and Part 4 when present."""
    classes = [*CONFORMANCE, *cql2.CQL2_CLASSES]
    return classes + [uri for uri in writes.CONFORMANCE if uri not in classes]


def _base(request: Request) -> str:
    """The public URL of /ogc (LANDCYCLE_PUBLIC_URL, else as the client reached it), as `public_url` makes
    it (app/features/paging.py) but without a URL rebuilt per request: every link of every response has it."""
    configured = app_settings(request).public_url
    url = URL(configured.rstrip("/")) if configured else request.url
    if not url.netloc:
        return (url.path if configured else "") + router.prefix
    return f"{url.scheme}://{url.netloc}{url.path if configured else ''}{router.prefix}"


def _json(doc: Any, media: str = JSON, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(doc), media_type=media, headers=headers)


def _html(body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, media_type=HTML, headers=headers)


def _format(request: Request, allowed: frozenset[str] = frozenset({"f"})) -> bool:
    """Whether the page is wanted as HTML; 400 for a parameter the resource does not take."""
    values = single(request.query_params.multi_items(), allowed)
    return wants_html(values.get("f"), request.headers.get("accept"))


def _self_links(url: str, title: str, html_first: bool, media: str = JSON) -> list[dict[str, Any]]:
    """self and alternate (17-069r4 /req/core/root-success, fc-md-links, …: every representation linked)."""
    mine, other = (HTML, media) if html_first else (media, HTML)
    f_other = "json" if html_first else "html"
    return [link(f"{url}?f={'html' if html_first else 'json'}", "self", mine, f"{title} (this document)"),
            link(f"{url}?f={f_other}", "alternate", other, f"{title} as {'JSON' if html_first else 'HTML'}")]


# --------------------------------------------------------------------------------------------- documents
@router.api_route("", methods=READ, response_model=None)
async def landing(request: Request, actor: ActorDep) -> Response:
    """The landing page (17-069r4 §7.2, /req/core/root-success): links to the API, conformance, data."""
    as_html = _format(request)
    base = _base(request)
    links = [
        *_self_links(base, "Landing page", as_html),
        link(f"{base}/api", "service-desc", OPENAPI, "The API definition (OpenAPI 3.0)"),
        link(f"{base}/api?f=html", "service-doc", HTML, "The API definition as HTML"),
        link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
        link(f"{base}/conformance?f=html", "conformance", HTML, "Conformance classes as HTML"),
        link(f"{base}/collections", "data", JSON, "The feature collections"),
        link(f"{base}/collections?f=html", "data", HTML, "The feature collections as HTML"),
    ]
    doc = {"title": "Landcycle — OGC API – Features",
           "description": "Shanghai's industrial land: parcels, zones, districts and exit candidates (SPEC §5), "
                          "the same data and rules as /api/v1 and /wfs.",
           "links": links}
    return _html(html.landing(doc)) if as_html else _json(doc)


@router.api_route("/conformance", methods=READ, response_model=None)
async def conformance(request: Request, actor: ActorDep) -> Response:
    """The conformance declaration (17-069r4 §7.4, /req/core/conformance-success)."""
    as_html = _format(request)
    doc = {"conformsTo": conformance_classes(),
           "links": _self_links(f"{_base(request)}/conformance", "Conformance", as_html)}
    return _html(html.conformance(doc)) if as_html else _json(doc)


@router.api_route("/api", methods=READ, response_model=None)
async def api_definition(request: Request, actor: ActorDep) -> Response:
    """The API definition (17-069r4 §7.3, /req/oas30/oas-definition-1): OpenAPI 3.0 of what `actor` reads."""
    as_html = _format(request)
    base = _base(request)
    doc = document(base, readable(actor), writes.openapi_paths(readable(actor)))
    if as_html:
        return _html(html.api(doc, _self_links(f"{base}/api", "API definition", True, OPENAPI)))
    return _json(doc, OPENAPI)


@router.api_route("/collections", methods=READ, response_model=None)
async def collections(request: Request, actor: ActorDep) -> Response:
    """The collections `actor` may read (17-069r4 §7.13, /req/core/fc-md-success; SPEC §4)."""
    as_html = _format(request)
    base = _base(request)
    readable_now = readable(actor)
    docs = await _collection_docs(request, readable_now, base)
    doc = {"links": _self_links(f"{base}/collections", "Collections", as_html), "collections": docs}
    return _html(html.collections(doc)) if as_html else _json(doc)


@router.api_route("/collections/{cid}", methods=READ, response_model=None)
async def collection(request: Request, actor: ActorDep, cid: CollectionId) -> Response:
    """One collection (17-069r4 §7.14, /req/core/sfc-md-success; 18-058r1 §6.2 crs, storageCrs)."""
    c = collection_for(actor, cid)
    as_html = _format(request)
    (doc,) = await _collection_docs(request, (c,), _base(request))
    if as_html:  # the HTML page's own links: itself first
        doc["links"] = [*_self_links(f"{_base(request)}/collections/{c.id}", c.ftype.title, True), *doc["links"][2:]]
        return _html(html.collection(doc))
    return _json(doc)


async def _collection_docs(request: Request, cs: tuple[Collection, ...], base: str) -> list[dict[str, Any]]:
    """Collection objects with the extents: the WFS capabilities' cached bounds and rule 10's first version."""
    db = app_database(request)
    async with db.connection() as conn:
        box = await capabilities.bounds(conn, app_settings(request).policy.extent, app_state(request).wfs_bounds)
        starts = {}
        for c in cs:
            stmt = temporal_start(c)
            starts[c.id] = None if stmt is None else await conn.scalar(stmt)
    return [collection_doc(c, base, box[c.id], starts[c.id]) for c in cs]


@router.api_route("/collections/{cid}/queryables", methods=READ, response_model=None)
async def queryables(request: Request, actor: ActorDep, cid: CollectionId) -> Response:
    """The properties a filter may name (19-079r2 §6.2): the whitelist WFS filters on (app.ogc.cql2)."""
    c = collection_for(actor, cid)
    as_html = _format(request)
    url = f"{_base(request)}/collections/{c.id}/queryables"
    doc = cql2.queryables_schema(c.ftype, url)
    if as_html:
        return _html(html.schema(f"Queryables of {c.id}", doc, _self_links(url, "Queryables", True, SCHEMA_JSON)))
    return _json(doc, SCHEMA_JSON)


@router.api_route("/collections/{cid}/sortables", methods=READ, response_model=None)
async def sortables(request: Request, actor: ActorDep, cid: CollectionId) -> Response:
    """The properties `sortby` takes (draft OGC API – Features Part 8 /sortables)."""
    c = collection_for(actor, cid)
    as_html = _format(request)
    url = f"{_base(request)}/collections/{c.id}/sortables"
    doc = sortables_schema(c, url)
    if as_html:
        return _html(html.schema(f"Sortables of {c.id}", doc, _self_links(url, "Sortables", True, SCHEMA_JSON)))
    return _json(doc, SCHEMA_JSON)


# --------------------------------------------------------------------------------------------- features
def _crs_header(crs: Crs) -> dict[str, str]:
    """18-058r1 /req/crs/ogc-crs-header: the CRS of the body's coordinates."""
    return {"Content-Crs": f"<{crs.uri}>"}


def _plan(c: Collection, q: Items, actor: Any) -> Plan:
    """The statements of the request: the reader's district or organisation on a confidential type
    (SPEC §4, refused to the public), the CQL2 filter compiled over the whitelist (app.ogc.cql2)."""
    scope = contract_scope(actor, None, f"read {c.ftype.qname}") if c.ftype.district is not None else Scope()
    clause = None
    if q.filter is not None:
        try:
            clause = cql2.compile_filter(q.filter, q.filter_lang, c.ftype, q.filter_crs)
        except (DomainError, CrsError, GeometryError) as exc:
            raise as_bad_request(exc, "filter") from None
    plan = Plan(c, q, scope.district_code, clause, organisation=scope.organisation_id)
    if q.after is not None and not plan.keyset:
        raise invalid("after is the cursor of next links without sortby", "after")
    return plan


@router.api_route("/collections/{cid}/items", methods=READ, response_model=None)
async def items(request: Request, actor: ActorDep, cid: CollectionId,
                if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None) -> Response:
    """Features (17-069r4 §7.15): limit, bbox, datetime, property filters, next/prev, numberMatched;
    crs and bbox-crs (18-058r1 §6.3); sortby, properties; filter (19-079r2)."""
    # The app's objects straight from its state, as the REST list does (bench/RESULTS.md "REST API").
    db, settings, counts = app_database(request), app_settings(request), app_counts(request)
    c = collection_for(actor, cid)
    q = items_params(c, request.query_params.multi_items(), request.headers.get("accept"),
                     settings.max_bbox_degrees)
    plan = _plan(c, q, actor)
    size = clamp_limit(q.limit, settings)  # /req/core/fc-limit-response: larger asks get the maximum
    keyset = q.after is not None
    deep = q.offset > 0 and not keyset
    values = {**plan.values, LIMIT: size, OFFSET: q.offset, AFTER: q.after}
    url = str(request.url)
    media = HTML if q.html else GEOJSON
    tag_of = (lambda v: collection_etag(v, f"{url} {media}")) if c.counter else None
    headers = {**_crs_header(q.crs), **NO_CACHE}
    page = None
    async with db.reader() as conn:
        if if_none_match is not None and tag_of is not None and c.counter is not None:
            tag = tag_of(await collection_version(conn, c.counter))
            if etag_matches(if_none_match, tag):  # revalidation: 304 before any row is read
                return Response(status_code=304, headers={**headers, "ETag": tag})
        if size <= STREAM_ABOVE or q.html:
            compiled = plan.page(keyset, deep)
            page = await conn.fetchrow(compiled.sql, *compiled.args(values))
            version, returned = int(page[0]), int(page[1])
        else:
            version = await collection_version(conn, c.counter) if c.counter else 0
        known = None if page is None else known_total(size, q.offset, q.after, returned)
        matched = known if known is not None else await _count(counts, conn, plan, version)
    if tag_of is not None:
        headers["ETag"] = tag_of(version)

    def links(returned: int, last_key: Any) -> list[dict[str, Any]]:
        out = page_links(request, settings, q.offset, size, returned, matched, media,
                         last_key=last_key if plan.keyset else None)
        self_url = public_url(request, settings)
        other, f = (GEOJSON, "json") if q.html else (HTML, "html")
        out.insert(1, link(str(self_url.include_query_params(f=f)), "alternate", other))
        return out

    stamp = {"timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if page is not None:
        features = page[3] or ""
        if q.html:
            item_url = f"{_base(request)}/collections/{c.id}/items"
            return _html(html.items(c.ftype.title, features, matched, links(returned, page[2]), item_url), headers)
        body = (collection_head(matched, stamp) + features.encode()
                + collection_tail(returned, links(returned, page[2])))
        return Response(body, media_type=GEOJSON, headers=headers)
    compiled = plan.rows(keyset, deep)
    return BoundedStream(stream_records(db, compiled.sql, compiled.args(values), matched, links, stamp),
                         media_type=GEOJSON, headers=headers, send_timeout=settings.stream_send_timeout_seconds)


async def _count(counts: Any, conn: Any, plan: Plan, version: int) -> int:
    """numberMatched: exact, remembered per collection version and query when the collection has one."""
    compiled = plan.count()

    async def count() -> int:
        return int(await conn.fetchval(compiled.sql, *compiled.args(plan.values)))

    key = plan.count_key(version)
    return await count() if key is None else int(await counts.get(key, count))


@router.api_route("/collections/{cid}/items/{fid}", methods=READ, response_model=None)
async def item(request: Request, actor: ActorDep, cid: CollectionId, fid: FeatureId,
               if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None) -> Response:
    """One feature (17-069r4 §7.16) in `crs` (18-058r1), with its ETag (the version, as REST: Part 4's
    If-Match) and its links: self, alternate, collection (/req/core/f-links)."""
    return await item_response(request, actor, cid, fid, if_none_match)


async def item_response(request: Request, actor: Actor, cid: str, fid: str, if_none_match: str | None) -> Response:
    """GET /collections/{cid}/items/{fid} (shared by the route above and the fast path in app/ogc/fast_path.py)."""
    c = collection_for(actor, cid)
    values = single(request.query_params.multi_items(), {"f", "crs"})
    as_html = wants_html(values.get("f"), request.headers.get("accept"), ("json", "geojson"))
    crs = crs_param(values.get("crs"), "crs")
    key = c.feature_id(fid)
    if key is None:
        raise NotFound(f"no feature {fid[:60]!r} in {c.id}", collection=c.id)
    plan = _plan(c, Items(crs=crs), actor)
    row = await _one(app_database(request), plan, key)
    if row is None:
        raise NotFound(f"no feature {fid[:60]!r} in {c.id}", collection=c.id)
    version, text = row
    headers = _crs_header(crs)
    if version is not None:
        headers["ETag"] = etag_of(version)
        if etag_matches(if_none_match, headers["ETag"]):
            return Response(status_code=304, headers=headers)
    base = _base(request)
    url = f"{base}/collections/{c.id}/items/{quote(fid, safe='')}"
    crs_query = "" if "crs" not in values else f"&crs={quote(crs.uri, safe='')}"
    links = [*_self_links(url, f"{c.id} {fid}", as_html, GEOJSON),
             link(f"{base}/collections/{c.id}", "collection", JSON, c.ftype.title)]
    for entry in links[:2]:
        entry["href"] += crs_query
    if as_html:
        feature = orjson.loads(text)
        feature["links"] = links
        return _html(html.item(f"{c.ftype.title}: {fid}", feature), headers)
    body = text[:-1] + ',"links":' + dumps(links).decode() + "}"
    return Response(body, media_type=GEOJSON, headers=headers)


async def _one(db: Database, plan: Plan, key: Any) -> tuple[int | None, str] | None:
    compiled = plan.one()
    async with db.reader() as conn:
        row = await conn.fetchrow(compiled.sql, *compiled.args({**plan.values, FID: key}))
    return None if row is None else (row[0], row[1])


router.include_router(writes.router)  # Part 4 (POST, PUT, PATCH, DELETE, OPTIONS) on the same paths
