"""HTTP for imports: POST /imports (multipart file + options) answers 202 with a job; the import runs in
the background; GET /imports/{id} follows it, DELETE /imports/{id} cancels it; GET /imports/{id}/report
gives every refused row.

POST /imports settles from the headers alone, before a byte of the upload is read or spooled, who is
asking (401), whether their role may import (403), whether the declared body fits their role's limit
(413) and whether they may start another job now (429): FastAPI parses a multipart body before it runs
a route's dependencies, so these checks run in the route's own handler (`_Admitted`) ahead of it.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from starlette.responses import Response

from app.auth.permissions import Actor, require_role
from app.deps import ActorDep, DatabaseDep, SessionDep, SettingsDep, app_database, app_settings, app_state, get_actor
from app.errors import CrsUnsupported, NotFound, ValidationFailed
from app.features.paging import clamp_limit, page_links, public_url
from app.features.params import Bom, csv_bom
from app.imports import jobs
from app.imports.fields import parse_map
from app.imports.report import FIELDS as REPORT_FIELDS
from app.imports.schemas import ImportJobPage, ImportJobRead, job_read
from app.imports.service import EDITORS, ImportOptions, check_rights
from app.kinds import Kind
from app.limits import MIB, hold_upload, save_upload
from app.parcels.schemas import Link
from app.responses import JSON
from gis.crs import parse_crs
from gis.errors import CrsError
from gis.io import READABLE, csv_text
from models import ImportJob

IMPORTERS = tuple(sorted({role for roles in EDITORS.values() for role in roles}))


async def admit_upload(request: Request) -> None:
    """Before the body: authenticate, check the role, hold the body to the role's limit, admit a job."""
    actor = await get_actor(request)
    require_role(actor, IMPORTERS, "import files")
    settings = app_settings(request)
    hold_upload(request.scope, settings.import_max_mb_for(actor.role))
    async with app_database(request).session() as session:
        await jobs.admit(session, actor, settings, exact=False)  # again, exactly, once the job is recorded


class _Admitted(APIRoute):
    """An APIRoute whose POST runs `admit_upload` before FastAPI reads the request body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.methods != {"POST"}:
            return handler

        async def admitted(request: Request) -> Response:
            await admit_upload(request)
            return await handler(request)

        return admitted


router = APIRouter(prefix="/imports", tags=["imports"], route_class=_Admitted)
JobId = Annotated[int, PathParam(ge=1, le=2**62)]
_SAFE = re.compile(r"[^\w.\-]+")
_SIDECARS = {".dbf", ".shx", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml"}


@router.post("", status_code=202, response_model=ImportJobRead, summary="Import a file (background job)")
async def create_import(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    db: DatabaseDep,
    actor: ActorDep,
    settings: SettingsDep,
    file: Annotated[
        list[UploadFile],
        File(
            description="GeoPackage, GeoJSON, CSV, Excel .xlsx or OpenDocument .ods (WKT or lon/lat "
            "columns), zipped Shapefile or file geodatabase (.gdb), or a Shapefile's .shp with its "
            ".dbf/.shx/.prj/.cpg parts"
        ),
    ],
    kind: Annotated[Kind, Form()] = "parcels",
    layer: Annotated[str | None, Form(max_length=200)] = None,
    land_use: Annotated[str | None, Form(max_length=40)] = None,
    crs: Annotated[str | None, Form(max_length=200)] = None,
    map: Annotated[list[str] | None, Form(description="field=column, repeatable")] = None,
    encoding: Annotated[str | None, Form(max_length=40)] = None,
    dry_run: Annotated[bool, Form()] = False,
    skip_invalid: Annotated[bool, Form()] = False,
) -> Response:
    """Store the upload, record the job and start it; 202 with the job (poll its `self` link)."""
    check_rights(actor, kind)
    if crs:
        try:
            parse_crs(crs)
        except CrsError as exc:
            raise CrsUnsupported(str(exc)) from None
    options = ImportOptions(
        kind=kind,
        layer=layer or None,
        land_use=land_use or None,
        crs=crs or None,
        mapping=parse_map(map or []),
        encoding=encoding or None,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
    )
    workdir = Path(tempfile.mkdtemp(prefix="landcycle-import-"))
    try:
        path = await _store(file, workdir, settings.import_max_mb_for(actor.role))
        await jobs.admit(session, actor, settings)  # held to the commit that records the job
    except BaseException:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
        raise
    job = await jobs.create_job(session, actor, options, path.name)
    runner = app_state(request).import_jobs
    # Started once the response is on its way, i.e. after the request's transaction committed the job.
    background.add_task(
        runner.start, job.id, jobs.execute(db, settings, actor, job.id, path, workdir, options)
    )
    location = f"{request.url.path}/{job.id}"
    body = job_read(job, str(public_url(request, settings).replace(path=location, query="")))
    return JSON(body.model_dump(mode="json"), status_code=202, headers={"Location": location})


@router.get("", response_model=ImportJobPage, summary="Import jobs")
async def list_imports(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    """Your import jobs (the bureau and admins see everyone's), newest first."""
    size = clamp_limit(limit, settings)
    stmt = select(ImportJob)
    if not _sees_all(actor):
        stmt = stmt.where(ImportJob.created_by == actor.username)
    matched = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = list(await session.scalars(stmt.order_by(ImportJob.id.desc()).limit(size).offset(offset)))
    for row in rows:  # an open job whose process died is reported failed here too, as GET /imports/{id} does
        if row.status in jobs.OPEN:
            await jobs.load_job(session, row.id)
    base = str(public_url(request, settings).replace(query=""))
    items = [job_read(r, f"{base}/{r.id}") for r in rows]
    page = ImportJobPage(
        items=items,
        numberMatched=matched,
        numberReturned=len(items),
        links=[
            Link(**link)
            for link in page_links(request, settings, offset, size, len(items), matched, "application/json")
        ],
    )
    return JSON(page.model_dump(mode="json"))


@router.get("/{job_id}", response_model=ImportJobRead, summary="One import job")
async def get_import(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep, job_id: JobId
) -> Response:
    """A job: status, phase and progress while it runs; counts and refused rows when it ended."""
    job = await _job(session, actor, job_id)
    body = job_read(job, str(public_url(request, settings).replace(query="")))
    return JSON(body.model_dump(mode="json"))


@router.delete("/{job_id}", response_model=ImportJobRead, summary="Cancel an import job")
async def cancel_import(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep, job_id: JobId
) -> Response:
    """Stop a queued or running job: nothing of it is written (409 INVALID_TRANSITION once it has ended).
    Its creator, the bureau and admins may."""
    job = await _job(session, actor, job_id)
    job = await jobs.cancel(session, app_state(request).import_jobs, job, actor)
    body = job_read(job, str(public_url(request, settings).replace(query="")))
    return JSON(body.model_dump(mode="json"))


@router.get(
    "/{job_id}/report",
    summary="Every refused row of an import job",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
async def import_report(
    session: SessionDep,
    actor: ActorDep,
    job_id: JobId,
    f: Annotated[Literal["csv", "json"], Query()] = "csv",
    bom: Bom = False,
) -> Response:
    """The refused rows: row, code, reason and the row's code, as CSV (default) or JSON."""
    bom = csv_bom(f, bom)
    job = await _job(session, actor, job_id)
    rows = job.refused or []
    if f == "json":
        return JSON(rows)
    header = [name for name, _ in REPORT_FIELDS]  # the CLI report's columns, without the geometry
    body = csv_text([header, *([r.get("row"), r.get("code"), r.get("reason"), r.get("key")] for r in rows)], bom=bom)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{job_id}-refused.csv"'},
    )


def _sees_all(actor: Actor) -> bool:
    return actor.role in ("bureau", "admin")


async def _job(session: SessionDep, actor: Actor, job_id: int) -> ImportJob:
    job = await jobs.load_job(session, job_id)
    if job is None or not (_sees_all(actor) or job.created_by == actor.username):
        raise NotFound(f"import job {job_id} does not exist", job_id=job_id)
    return job


async def _store(files: list[UploadFile], workdir: Path, max_mb: int) -> Path:
    """Save the parts under safe names; return the one to read (a .shp among sidecars, else the only one)."""
    if not files:
        raise ValidationFailed("send the file to import in the form field `file`", field="file")
    remaining = max_mb * MIB
    saved: list[Path] = []
    for upload in files:
        name = _SAFE.sub("_", Path(upload.filename or "upload").name).strip("._") or "upload"
        target = workdir / name
        remaining = await save_upload(upload, target, remaining, max_mb)
        saved.append(target)
    data = [p for p in saved if p.suffix.lower() in READABLE]
    others = [p for p in saved if p.suffix.lower() not in READABLE and p.suffix.lower() not in _SIDECARS]
    if others or len(data) != 1:
        raise ValidationFailed(
            "send one GeoPackage (.gpkg), GeoJSON, CSV, spreadsheet (.xlsx, .ods), zipped Shapefile or zipped "
            "file geodatabase (.zip), or one .shp with its .dbf, .shx, .prj and .cpg parts",
            field="file",
            received=[p.name for p in saved],
        )
    return data[0]
