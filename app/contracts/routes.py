"""HTTP for contracts (SPEC §5): JSON; ETag = version, PATCH with If-Match; history and as_of (rule 10)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.auth.permissions import Actor, contract_scope, require_in_scope
from app.calendar import city_today
from app.contracts import service
from app.contracts.query import ContractQuery, as_json, count, select_contracts
from app.contracts.schemas import ContractCreate, ContractPage, ContractPatch, ContractRead, Kind, Status
from app.deps import ActorDep, SessionDep, SettingsDep
from app.errors import NotFound, ValidationFailed
from app.features.paging import clamp_limit, json_page
from app.features.params import as_of_param, etag, if_match_version
from app.responses import JSON

router = APIRouter(prefix="/contracts", tags=["contracts"])
ContractId = Annotated[int, Path(ge=1, le=2**62)]
AsOf = Annotated[str | None, Query(description="A date (end of day, Shanghai) or date-time: rule 10")]
Id = Annotated[int | None, Query(ge=1, le=2**62)]
READ = "read contracts"


@router.get("", response_model=ContractPage, summary="List contracts")
async def list_contracts(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    as_of: AsOf = None,
    parcel_id: Id = None, enterprise_id: Id = None, responsible_org_id: Id = None,
    kind: Kind | None = None,
    status: Status | None = None,
    district_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    industry_code: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """Current contracts (or as of a date), by id; a district officer's or evaluator's are their
    district's (SPEC §4): another district_code is FORBIDDEN_DISTRICT, other filters list nothing outside;
    an org_manager's are its organisation's (in any district; a district_code narrows them)."""
    scope = contract_scope(actor, district_code, READ)
    q = ContractQuery(today=city_today(settings.today), as_of=as_of_param(as_of), status=status,
                      filters={"parcel_id": parcel_id, "enterprise_id": enterprise_id,
                               "responsible_org_id": responsible_org_id, "kind": kind},
                      district_code=scope.district_code, organisation_id=scope.organisation_id,
                      industry_code=industry_code)
    size = clamp_limit(limit, settings)
    total = int(await session.scalar(count(q)) or 0)
    rows = await session.execute(select_contracts(q).limit(size).offset(offset))
    return JSON(json_page(request, settings, [as_json(r) for r in rows], total, offset, size))


@router.post("", status_code=201, response_model=ContractRead, summary="Sign a contract")
async def create_contract(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
                          body: Annotated[ContractCreate, Body()]) -> Response:
    """Rule 2 (LOCKUP_SUPPLY), rule 4 (ACCESS_STANDARD_NOT_MET), CONTRACT_CONFLICT; schedules rule 5's
    evaluations; a new supply moves the parcel to `supplied`."""
    today = city_today(settings.today)
    contract_id = await service.create_contract(session, actor, settings.policy,
                                                body.draft(body.parcel_id, body.kind, body.signed_on), today)
    response = await _one(session, actor, contract_id, today, status_code=201)
    response.headers["Location"] = f"{request.url.path}/{contract_id}"
    return response


@router.get("/{contract_id}", response_model=ContractRead, summary="One contract")
async def get_contract(session: SessionDep, actor: ActorDep, settings: SettingsDep, contract_id: ContractId,
                       as_of: AsOf = None) -> Response:
    """A contract with its ETag (the version); FORBIDDEN_DISTRICT outside a district-scoped reader's,
    FORBIDDEN_ROLE for an org_manager of another organisation."""
    return await _one(session, actor, contract_id, city_today(settings.today), as_of=as_of)


@router.patch("/{contract_id}", response_model=ContractRead, summary="Amend a contract")
async def patch_contract(
    session: SessionDep, actor: ActorDep, settings: SettingsDep, contract_id: ContractId,
    body: Annotated[ContractPatch, Body()],
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> Response:
    """A new version; changed dates re-plan the pending evaluations; a stale If-Match is refused (412)."""
    try:
        changes = body.changes()
    except (ValueError, ValidationError) as exc:
        raise ValidationFailed(str(exc)) from None
    today = city_today(settings.today)
    await service.update_contract(session, actor, settings.policy, contract_id, changes, today,
                                  if_match=if_match_version(if_match))
    return await _one(session, actor, contract_id, today)


@router.get("/{contract_id}/history", response_model=ContractPage, summary="Every version of a contract")
async def contract_history(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
                           contract_id: ContractId) -> Response:
    """Rule 10: all versions, oldest first, each with valid_from/valid_to."""
    q = ContractQuery(today=city_today(settings.today), history_of=contract_id)
    items = [as_json(r) for r in await session.execute(select_contracts(q))]
    if not items:
        raise NotFound(f"contract {contract_id} does not exist", contract_id=contract_id)
    require_in_scope(actor, items[-1]["district_code"], items[-1]["responsible_org_id"], READ)
    return JSON(json_page(request, settings, items, len(items), 0, len(items)))


async def _one(session: AsyncSession, actor: Actor, contract_id: int, today: date, as_of: str | None = None,
               status_code: int = 200) -> Response:
    row = (await session.execute(select_contracts(ContractQuery(today=today, ids=[contract_id],
                                                                as_of=as_of_param(as_of))))).first()
    if row is None:
        raise NotFound(f"contract {contract_id} does not exist" + (f" as of {as_of}" if as_of else ""),
                       contract_id=contract_id)
    require_in_scope(actor, row.district_code, row.responsible_org_id, READ)
    return JSON(as_json(row), status_code=status_code, headers={"ETag": etag(row.version)})
