"""HTTP for enterprises (SPEC §5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from starlette.responses import Response

from app.auth.permissions import require_registry_reader
from app.deps import ActorDep, SessionDep, SettingsDep
from app.enterprises import service
from app.enterprises.schemas import INDUSTRY_CODE, EnterpriseCreate, EnterprisePage, EnterpriseRead
from app.features.paging import clamp_limit, json_page
from app.responses import JSON, created

router = APIRouter(prefix="/enterprises", tags=["enterprises"])
EnterpriseId = Annotated[int, Path(ge=1, le=2**62)]
READ = "read enterprises"


@router.get("", response_model=EnterprisePage, summary="List enterprises")
async def list_enterprises(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    industry_code: Annotated[str | None, Query(pattern=INDUSTRY_CODE)] = None,
    uscc: Annotated[str | None, Query(max_length=40)] = None,
    name: Annotated[str | None, Query(max_length=200, description="part of the name")] = None,
) -> Response:
    """Enterprises by id (registry data, city-wide; not public, SPEC §4)."""
    require_registry_reader(actor, READ)
    size = clamp_limit(limit, settings)
    total, items = await service.list_enterprises(session, size, offset, industry_code, uscc, name)
    return JSON(json_page(request, settings, items, total, offset, size))


@router.post("", status_code=201, response_model=EnterpriseRead, summary="Register an enterprise")
async def create_enterprise(request: Request, session: SessionDep, actor: ActorDep,
                            body: Annotated[EnterpriseCreate, Body()]) -> Response:
    """Register an enterprise (bureau or district officer); VALIDATION_ERROR for a bad or known USCC."""
    new_id = await service.create_enterprise(session, actor, body.name, body.uscc, body.industry_code)
    return created(request, await service.get_enterprise(session, new_id), new_id)


@router.get("/{enterprise_id}", response_model=EnterpriseRead, summary="One enterprise")
async def get_enterprise(session: SessionDep, actor: ActorDep, enterprise_id: EnterpriseId) -> Response:
    """One enterprise."""
    require_registry_reader(actor, READ)
    return JSON(await service.get_enterprise(session, enterprise_id))
