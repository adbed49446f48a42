"""HTTP for responsible organisations (SPEC §5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from starlette.responses import Response

from app.auth.permissions import require_registry_reader
from app.deps import ActorDep, SessionDep, SettingsDep
from app.features.paging import clamp_limit, json_page
from app.organisations import service
from app.organisations.schemas import Kind, OrganisationCreate, OrganisationPage, OrganisationRead
from app.responses import JSON, created

router = APIRouter(prefix="/organisations", tags=["organisations"])
READ = "read responsible organisations"


@router.get("", response_model=OrganisationPage, summary="List responsible organisations")
async def list_organisations(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    kind: Kind | None = None,
    district_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> Response:
    """Organisations by id (registry data, city-wide; not public, SPEC §4)."""
    require_registry_reader(actor, READ)
    size = clamp_limit(limit, settings)
    total, items = await service.list_organisations(session, size, offset, kind, district_code)
    return JSON(json_page(request, settings, items, total, offset, size))


@router.post("", status_code=201, response_model=OrganisationRead, summary="Register an organisation")
async def create_organisation(request: Request, session: SessionDep, actor: ActorDep,
                              body: Annotated[OrganisationCreate, Body()]) -> Response:
    """Register a district government, park committee, industry department or the bureau."""
    new_id = await service.create_organisation(session, actor, body.name, body.kind, body.district_code)
    return created(request, await service.get_organisation(session, new_id), new_id)


@router.get("/{organisation_id}", response_model=OrganisationRead, summary="One organisation")
async def get_organisation(session: SessionDep, actor: ActorDep,
                           organisation_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    """One organisation."""
    require_registry_reader(actor, READ)
    return JSON(await service.get_organisation(session, organisation_id))
