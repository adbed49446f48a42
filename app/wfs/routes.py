"""HTTP for `/wfs`: KVP GET and XML POST, dispatched by operation; every failure is an OWS report.

GetFeature reads on the asyncpg read path (`Database.reader()`, app/wfs/getfeature.py); a Transaction is
one `audited_transaction` (committed at the end, rolled back on the first refusal, the refusal then audited,
as for REST's `SessionDep`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import URL
from starlette.responses import Response

from app import replicas
from app.audit.service import audited_transaction
from app.auth.permissions import ANONYMOUS, Actor
from app.deps import app_database, app_settings, app_state, authenticate
from app.errors import DomainError, Unauthenticated
from app.features.paging import public_url
from app.replicas import ReplicaFailed
from app.responses import as_domain_error
from app.streaming import BoundedStream
from app.wfs import capabilities, describe, getfeature, kvp, project, transaction, xmlreq, xmlsafe
from app.wfs.filters import check_id_count
from app.wfs.model import JSON, GetFeature
from app.wfs.ows import XML, WfsError, invalid, missing, render_domain_error, render_wfs_error
from app.wfs.registry import check_readable, find, readable_types
from gis.crs import STORAGE

router = APIRouter(include_in_schema=False)
log = logging.getLogger("landcycle.wfs")

READS = ("getcapabilities", "describefeaturetype", "getfeature", "liststoredqueries", "describestoredqueries")
OPERATIONS = {op.lower(): op for op in capabilities.OPERATIONS}


# Proxies whose X-Forwarded-Host/-Proto we believe: the ones `landcycle serve` trusts for X-Forwarded-For.
TRUSTED_PROXIES = frozenset({"127.0.0.1", "::1"})


def _base(request: Request) -> str:
    """The public URL of /wfs, no query: LANDCYCLE_PUBLIC_URL, else the forwarded host of a trusted
    proxy, else the Host the client used. QGIS sends every later request to these URLs."""
    settings = app_settings(request)
    url = public_url(request, settings)
    forwarded = request.headers.get("x-forwarded-host")
    if not settings.public_url and forwarded and request.client and request.client.host in TRUSTED_PROXIES:
        host = forwarded.split(",")[0].strip()
        proto = request.headers.get("x-forwarded-proto", url.scheme).split(",")[0].strip()
        if host and proto in ("http", "https") and all(c.isalnum() or c in ".-:[]" for c in host):
            url = url.replace(scheme=proto, netloc=host)
    return str(url.replace(query="", path=url.path.removesuffix("/project.qgs")))


def _bounds_cache(request: Request) -> capabilities.BoundsCache:
    """The app's cache of feature-type bounds (app/state.py)."""
    return app_state(request).wfs_bounds


async def _actor(request: Request, operation: str) -> Actor:
    header = request.headers.get("authorization")
    if not header and operation in READS and app_settings(request).public_read:
        replicas.read_request.set(True)  # the public's reads may run on a standby (app/replicas.py)
        return ANONYMOUS
    actor = await authenticate(request, header)
    request.state.actor = actor
    return actor


async def _guard(
    request: Request, version: str, work: Callable[[], Awaitable[Response]], in_transaction: bool = False
) -> Response:
    try:
        return await work()
    except ReplicaFailed:  # a standby went away mid-read: answered again on the primary (app/replicas.py)
        raise
    except WfsError as exc:
        return render_wfs_error(exc, version)
    except DomainError as exc:
        return render_domain_error(exc, version, in_transaction=in_transaction)
    except Exception as exc:  # never a traceback to the client; logged with the request id
        error = as_domain_error(exc)
        if error.status >= 500:
            log.error("unhandled %s on /wfs", type(exc).__name__, exc_info=exc)
        return render_domain_error(error, version, in_transaction=in_transaction)


@router.get("/wfs")
async def wfs_get(request: Request) -> Response:
    """WFS KVP: SERVICE=WFS&REQUEST=…"""
    p = kvp.params(list(request.query_params.multi_items()))
    version = "2.0.0"

    async def work() -> Response:
        nonlocal version
        service = p.get("SERVICE", "WFS").strip()
        if service.upper() != "WFS":
            raise invalid("service", f"service {service[:20]!r} is not offered here; use WFS")
        op_raw = p.get("REQUEST")
        if not op_raw:
            raise missing("request")
        op = op_raw.strip().lower()
        version = kvp.version_of(p, op)
        if op not in OPERATIONS:
            raise WfsError(
                "OperationNotSupported", f"operation {op_raw[:40]!r} is not supported", "request", 400
            )
        actor = await _actor(request, op)
        if op == "transaction":
            raise WfsError("OperationNotSupported", "send Transaction as XML with POST", "request", 400)
        return await _read(request, op, version, actor, p, None)

    return await _guard(request, version, work)


@router.post("/wfs")
async def wfs_post(request: Request) -> Response:
    """WFS XML: GetCapabilities, DescribeFeatureType, GetFeature, Transaction, stored queries."""
    version = "2.0.0"

    async def work() -> Response:
        nonlocal version
        _require_xml(request)
        # Credentials are checked before the body is read: without them (and without public reads, which
        # need the operation's name from the body) the answer is 401 whatever the client goes on sending.
        early = await _caller(request)
        body = await _body(request)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("POST /wfs %s", body[:4000].decode("utf-8", "replace"))
        root = xmlsafe.parse(body)
        check_id_count(root, app_settings(request).wfs_max_resource_ids)
        op = xmlsafe.local(root.tag).lower()
        if op not in OPERATIONS:
            raise WfsError(
                "OperationNotSupported", f"{xmlsafe.local(root.tag)[:40]!r} is not supported", "request", 400
            )
        service = root.get("service", "WFS")
        if service.upper() != "WFS":
            raise invalid("service", f"service {service[:20]!r} is not offered here; use WFS")
        version = xmlreq.version_of(root)
        actor = early or await _actor(request, op)
        if op == "transaction":
            return await _transaction(request, actor, root)
        return await _read(request, op, version, actor, None, root)

    return await _guard(request, version, work)


# What QGIS (text/xml), GDAL (application/xml) and OWSLib (text/xml) send with an XML request. Anything
# else is refused unread: a browser may send text/plain, a form or no Content-Type at all to another site
# without asking it first (CORS "simple" requests) — with the user's cached Basic credentials — so only
# a type no form can carry lets a Transaction in (SECURITY.md, cross-site request forgery).
XML_MEDIA_TYPES = ("text/xml", "application/xml")


def _require_xml(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in XML_MEDIA_TYPES or (media.startswith("application/") and media.endswith("+xml")):
        return
    sent = f"Content-Type {media[:60]!r}" if media else "no Content-Type"
    raise WfsError(
        "OperationParsingFailed",
        f"POST /wfs takes an XML request with Content-Type text/xml or application/xml, not {sent}; "
        "send KVP requests with GET",
        "Content-Type",
        415,
    )


async def _caller(request: Request) -> Actor | None:
    """The authenticated caller of a POST, from its headers alone; None when public reads may let an
    anonymous caller in (decided by the operation, once the body is read)."""
    if not request.headers.get("authorization") and app_settings(request).public_read:
        return None
    actor = await authenticate(request, request.headers.get("authorization"))
    request.state.actor = actor
    return actor


async def _body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > xmlsafe.MAX_BODY_BYTES:
            raise WfsError("OperationParsingFailed", "request body too large", "body")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read(
    request: Request, op: str, version: str, actor: Actor, p: dict[str, str] | None, root: Any
) -> Response:
    settings = app_settings(request)
    db = app_database(request)
    base = _base(request)
    if op == "getcapabilities":
        async with db.connection() as conn:
            box = await capabilities.bounds(conn, settings.policy.extent, _bounds_cache(request))
        title = "Landcycle — Shanghai industrial land"
        readable = readable_types(actor)
        if version == "2.0.0":
            body = capabilities.capabilities_20(base, box, settings.max_limit, title, readable)
        elif version == "1.1.0":
            body = capabilities.capabilities_11(base, box, settings.max_limit, title, readable)
        else:
            body = capabilities.capabilities_10(base, box, title, readable)
        return Response(body, media_type=XML)
    if op == "describefeaturetype":
        if p is not None:
            names = [n for n in (p.get("TYPENAMES") or p.get("TYPENAME") or "").split(",") if n.strip()]
            fmt = p.get("OUTPUTFORMAT", "")
        else:
            names = xmlreq.type_names(root)
            fmt = root.get("outputFormat", "")
        types = [find(n, "typeNames") for n in names] or list(readable_types(actor))
        for ftype in types:
            check_readable(actor, ftype)
        gml = None
        if "3.1" in fmt or fmt.lower() == "gml3":
            gml = "1.1.0"
        elif "3.2" in fmt:
            gml = "2.0.0"
        elif fmt.upper() == "XMLSCHEMA" or "2.1" in fmt:
            gml = "1.0.0"
        return Response(
            describe.schema(version, types, gml),
            media_type="application/gml+xml; version=3.2" if (gml or version) == "2.0.0" else XML,
        )
    if op == "liststoredqueries":
        return Response(capabilities.list_stored_queries(readable_types(actor)), media_type=XML)
    if op == "describestoredqueries":
        ids = None
        if p is not None and p.get("STOREDQUERY_ID"):
            ids = p["STOREDQUERY_ID"].split(",")
        elif root is not None:
            ids = [xmlsafe.text(e) for e in xmlsafe.children(root) if xmlsafe.local(e.tag) == "StoredQueryId"]
        return Response(capabilities.describe_stored_queries(ids, readable_types(actor)), media_type=XML)
    if op == "getfeature":
        if p is not None:
            req = kvp.get_feature(p, version, max_ids=settings.wfs_max_resource_ids)
        else:
            req = xmlreq.get_feature(root, version)
        return await _get_feature(request, req, base, actor)
    raise WfsError("OperationNotSupported", f"{op} is not supported", "request", 400)


async def _get_feature(request: Request, req: GetFeature, base: str, actor: Actor) -> Response:
    settings = app_settings(request)
    db = app_database(request)
    cap = settings.max_limit
    limit = cap if req.count is None else min(req.count, cap)
    media = getfeature.media_type(req.output_format)
    if req.by_id is not None:
        return Response(await getfeature.single(db, req, actor), media_type=media)
    tn = "TYPENAMES" if req.version == "2.0.0" else "TYPENAME"
    schema_url = str(
        URL(base).include_query_params(
            SERVICE="WFS", VERSION=req.version, REQUEST="DescribeFeatureType", **{tn: req.query.ftype.qname}
        )
    )

    def next_for(start: int) -> str | None:
        if not req.kvp:
            return None
        url = public_url(request, settings)
        items = [
            (k, v)
            for k, v in request.query_params.multi_items()
            if k.upper() not in ("STARTINDEX", "COUNT", "MAXFEATURES")
        ]
        items += [("STARTINDEX", str(start)), ("COUNT", str(limit))]
        return str(url.replace(query=_encode(items)))

    crs = req.query.srs or STORAGE
    body = getfeature.stream(db, req, limit, next_for, schema_url, crs.uri, actor)
    first = await body.__anext__()
    headers = {"Content-Crs": f"<{crs.uri}>"} if req.output_format == JSON else {}
    return BoundedStream(body, first=first, media_type=media, headers=headers,
                         send_timeout=settings.stream_send_timeout_seconds)


def _encode(items: list[tuple[str, str]]) -> str:
    from urllib.parse import urlencode

    return urlencode(items)


async def _transaction(request: Request, actor: Actor, root: Any) -> Response:
    settings = app_settings(request)
    db = app_database(request)
    tx = transaction.parse(root)
    if actor.role == "anonymous":
        raise Unauthenticated("WFS-T needs an authenticated user (HTTP Basic)")
    try:
        async with audited_transaction(db, actor) as session:
            out = await transaction.execute(session, actor, settings.policy, tx)
    except Exception as exc:
        error = as_domain_error(exc)
        if error.status >= 500 and not isinstance(exc, DomainError):
            log.error("unhandled %s in a WFS Transaction", type(exc).__name__, exc_info=exc)
        if tx.version == "1.0.0" and error.status < 500 and error.status != 401:
            return Response(
                transaction.failed_10(f"{error.code}: {error.detail}", error.code), media_type=XML
            )
        return render_domain_error(error, tx.version, in_transaction=True)
    return Response(transaction.response(tx.version, out), media_type=XML)


@router.get("/wfs/project.qgs")
async def project_file(request: Request) -> Response:
    """A QGIS project with parcels (styled by tier), zones and districts connected to this WFS."""

    async def work() -> Response:
        await _actor(request, "getcapabilities")
        db = app_database(request)
        async with db.connection() as conn:
            box = await capabilities.bounds(conn, app_settings(request).policy.extent, _bounds_cache(request))
        body = project.qgs(_base(request), box)
        return Response(
            body,
            media_type="application/x-qgis-project",
            headers={"Content-Disposition": 'attachment; filename="landcycle.qgs"'},
        )

    return await _guard(request, "2.0.0", work)
