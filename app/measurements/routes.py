"""HTTP for delivered figures (`/api/v1/measurements`, SPEC §4 data_provider, §5).

POST /measurements/batches takes a JSON batch or a file (multipart: `file` .csv/.xlsx and the form fields
source, year, skip_invalid, dry_run). Who is asking and whether their role may deliver is settled from
the headers, before a byte of the body is read; the body is then held to the role's upload limit. A JSON
body is parsed with its numbers as exact decimals (never binary floats), a file read in a worker thread
with the import's hardened readers (app/measurements/files.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.responses import Response

from app.calendar import city_today
from app.deps import ActorDep, SessionDep, SettingsDep
from app.errors import PayloadTooLarge, ValidationFailed
from app.features.paging import clamp_limit, json_page, public_url
from app.features.params import Bom, csv_bom
from app.limits import MIB, hold_upload, lower_body_limit, save_upload
from app.measurements import files, service
from app.measurements.rules import Entry
from app.measurements.schemas import BatchIn, BatchPage, BatchRead, Source, ValuePage, batch_body
from app.responses import JSON
from gis.io import csv_text

router = APIRouter(prefix="/measurements", tags=["measurements"])
BatchId = Annotated[int, PathParam(ge=1, le=2**62)]
_SAFE = re.compile(r"[^\w\-]+")
_ROW_KEYS = {"uscc", "contract_code", "figure", "value"}


def _json_schema() -> dict[str, Any]:
    """BatchIn's JSON Schema with its row schema inline (the OpenAPI document has no $defs of its own)."""
    schema = BatchIn.model_json_schema()
    row = schema.pop("$defs")["BatchRowIn"]
    schema["properties"]["rows"]["items"] = row
    return schema


_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": _json_schema()},
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["file", "source", "year"],
            "properties": {
                "file": {"type": "string", "format": "binary", "description": ".csv (UTF-8 or GB18030) or .xlsx"},
                "source": {"type": "string", "enum": ["tax", "statistics", "energy", "environment"]},
                "year": {"type": "integer"},
                "skip_invalid": {"type": "boolean", "default": False},
                "dry_run": {"type": "boolean", "default": False},
            }}},
    },
}


@router.post("/batches", status_code=201, response_model=BatchRead, summary="Deliver a batch of figures",
             openapi_extra={"requestBody": _BODY})
async def deliver_batch(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep) -> Response:
    """Store one department's figures of one year, all or nothing: 201 with the batch and its `Location`;
    422 VALIDATION_ERROR with `refused` (row, subject, figure, reason; the first 1,000) and nothing stored
    when a value is refused, unless `skip_invalid`; a dry run answers 200 with the counts, storing nothing.
    A data_provider delivers its own department's figures only (FORBIDDEN_ROLE)."""
    service.require_deliverer(actor)
    max_mb = settings.import_max_mb_for(actor.role)
    hold_upload(request.scope, max_mb)
    declared = request.headers.get("content-length", "")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        batch, entries, fmt, name = await _from_form(request, settings, actor, max_mb)
    elif content_type in ("application/json", ""):
        # Parsed whole in memory: held to the API's body limit (~150,000 values); more goes as a file.
        limit = settings.max_body_bytes
        if declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"a JSON batch may be at most {limit:,} bytes; send a larger delivery as a "
                                  ".csv or .xlsx file", field="body", limit_bytes=limit)
        lower_body_limit(request.scope, limit)
        batch, entries = await _from_json(await request.body())
        fmt, name = "json", None
    else:
        raise ValidationFailed("send the batch as application/json or multipart/form-data (a file)",
                               field="content-type")
    done = await service.deliver(session, actor, batch.source, batch.year, entries, fmt, name,
                                 batch.skip_invalid, city_today(settings.today).year, dry_run=batch.dry_run)
    if done.batch is None:
        return JSON({"id": None, "source": done.source, "year": done.year, "format": done.format,
                     "file_name": done.file_name, "skip_invalid": done.skip_invalid, "dry_run": True,
                     "rows": done.rows, "accepted": done.accepted, "refused": len(done.refused),
                     "report": done.refused, "delivered_by": actor.username, "delivered_at": None, "links": []})
    location = f"{request.url.path}/{done.batch.id}"
    return JSON(_read(request, settings, done.batch, location), status_code=201, headers={"Location": location})


@router.get("/batches", response_model=BatchPage, summary="Delivered batches")
async def list_batches(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    source: Source | None = None,
    year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
) -> Response:
    """Batches newest first (a data_provider sees its own department's; bureau, admin and viewer all)."""
    size = clamp_limit(limit, settings)
    total, rows = await service.list_batches(session, actor, size, offset, source, year)
    return JSON(json_page(request, settings, [batch_body(b) for b in rows], total, offset, size))


@router.get("/batches/{batch_id}", response_model=BatchRead, summary="One batch with its refused rows")
async def get_batch(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
                    batch_id: BatchId) -> Response:
    """A batch: counts, and under `report` the rows refused when it was delivered with skip_invalid."""
    batch = await service.get_batch(session, actor, batch_id)
    return JSON(_read(request, settings, batch, request.url.path))


@router.get("/batches/{batch_id}/values", response_model=ValuePage, summary="A batch's values",
            responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
async def batch_values(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep, batch_id: BatchId,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    f: Annotated[Literal["json", "csv"], Query()] = "json",
    bom: Bom = False,
) -> Response:
    """The values stored from a batch, each with its source, year and batch; `f=csv` gives all of them."""
    bom = csv_bom(f, bom)
    await service.get_batch(session, actor, batch_id)
    if f == "csv":
        _, rows = await service.list_values(session, batch_id, None, 0)
        header = ["id", "batch_id", "source", "year", "uscc", "contract_code", "figure", "value"]
        body = csv_text([header, *([r[c] for c in header] for r in rows)], bom=bom)
        return Response(body, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="measurement-batch-{batch_id}.csv"'})
    size = clamp_limit(limit, settings)
    total, rows = await service.list_values(session, batch_id, size, offset)
    return JSON(json_page(request, settings, rows, total, offset, size))


def _read(request: Request, settings: SettingsDep, batch: Any, path: str) -> dict[str, Any]:
    url = public_url(request, settings).replace(path=path, query="")
    body = batch_body(batch) | {"dry_run": False, "report": batch.report or []}
    body["links"] = [{"href": str(url), "rel": "self", "type": "application/json"},
                     {"href": f"{url}/values", "rel": "items", "type": "application/json"},
                     {"href": f"{url}/values?f=csv", "rel": "alternate", "type": "text/csv"}]
    return body


async def _from_json(raw: bytes) -> tuple[BatchIn, list[Entry]]:
    """The batch and its entries; numbers as exact decimals (`parse_float=Decimal`)."""
    try:
        data = await asyncio.to_thread(json.loads, raw or b"null", parse_float=Decimal)
    except (ValueError, RecursionError):
        raise ValidationFailed("the body is not JSON", field="body") from None
    if not isinstance(data, dict):
        raise ValidationFailed('the body is a JSON object {"source", "year", "rows": [...]}', field="body")
    rows = data.get("rows")
    if not isinstance(rows, list):
        raise ValidationFailed("rows must be a list of {uscc | contract_code, figure, value}", field="rows")
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ValidationFailed(f"row {i} is not an object", field="rows", row=i)
        extra = sorted(set(row) - _ROW_KEYS)
        if extra:
            raise ValidationFailed(f"row {i} has unknown fields {', '.join(map(str, extra))[:200]}; a row is "
                                   "{uscc | contract_code, figure, value}", field="rows", row=i)
        for key in ("uscc", "contract_code", "figure"):
            if row.get(key) is not None and not isinstance(row[key], str):
                raise ValidationFailed(f"row {i}: {key} must be text", field="rows", row=i)
    batch = _batch({**data, "rows": []})
    entries = [Entry(i, r.get("uscc"), r.get("contract_code"), r.get("figure"), r.get("value"))
               for i, r in enumerate(rows, start=1)]
    return batch, entries


async def _from_form(request: Request, settings: SettingsDep, actor: ActorDep,
                     max_mb: int) -> tuple[BatchIn, list[Entry], str, str]:
    """The form's fields and the file's entries (stored under a safe name, read in a worker thread)."""
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ValidationFailed("send the file in the form field `file` (.csv or .xlsx)", field="file")
    name = Path(upload.filename or "upload").name[:200]
    fmt = files.file_format(name)
    batch = _batch({"source": form.get("source"), "year": form.get("year"), "rows": [],
                    "skip_invalid": _flag(form.get("skip_invalid")), "dry_run": _flag(form.get("dry_run"))})
    service.require_department(actor, batch.source, batch.year, name)  # before the file is opened
    workdir = Path(tempfile.mkdtemp(prefix="landcycle-figures-"))
    try:
        safe = _SAFE.sub("_", Path(name).stem).strip("._") or "figures"
        path = workdir / f"{safe}.{fmt}"
        await save_upload(upload, path, max_mb * MIB, max_mb)
        entries = await asyncio.to_thread(files.read_file, path, settings.zip_limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        await upload.close()
    return batch, entries, fmt, name


def _batch(fields: dict[str, Any]) -> BatchIn:
    """The batch's own fields (the rows are checked row by row by the service); VALIDATION_ERROR names the
    first bad one."""
    try:
        return BatchIn.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(f"{where}: {first['msg']}", field=where) from None


def _flag(value: Any) -> bool | str:
    """A form's checkbox or field: absent is false; true/false/on/1/0 as pydantic reads them."""
    if value is None or value == "":
        return False
    return "true" if value == "on" else str(value)

