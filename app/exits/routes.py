"""HTTP for exit candidates and exit cases (SPEC §5, rules 7–8)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from starlette.responses import Response

from app.auth.permissions import contract_scope
from app.calendar import city_today
from app.deps import ActorDep, SessionDep, SettingsDep
from app.exits import service
from app.exits.schemas import (
    ExitCandidatePage,
    ExitCaseComplete,
    ExitCaseCreate,
    ExitCasePage,
    ExitCaseRead,
    Reason,
)
from app.features.paging import clamp_limit, json_page
from app.responses import JSON, created

router = APIRouter(tags=["exits"])
District = Annotated[str | None, Query(pattern=r"^\d{6}$")]


@router.get("/exit-candidates", response_model=ExitCandidatePage, summary="Exit candidates")
async def exit_candidates(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    reason: Reason | None = None,
    district_code: District = None,
    contract_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    """Rule 7: contracts with repeated below-bottom-line results, a failed rectification, an expired term
    or idle land, one row per reason, with the evaluation ids that show it; a district officer's or
    evaluator's are their district's, an org_manager's its organisation's (SPEC §4)."""
    size = clamp_limit(limit, settings)
    scope = contract_scope(actor, district_code, "read exit candidates")
    total, items = await service.list_candidates(session, settings.policy, city_today(settings.today), size,
                                                 offset, reason, scope, contract_id)
    return JSON(json_page(request, settings, items, total, offset, size))


@router.get("/exit-cases", response_model=ExitCasePage, summary="Exit cases")
async def exit_cases(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    status: Annotated[str | None, Query(pattern="^(open|completed)$")] = None,
    contract_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    district_code: District = None,
) -> Response:
    """Exit cases by id; a district officer's or evaluator's are their district's, an org_manager's those of
    its organisation's contracts (SPEC §4)."""
    size = clamp_limit(limit, settings)
    scope = contract_scope(actor, district_code, service.READ_CASES)
    total, items = await service.list_cases(session, size, offset, status, contract_id, scope)
    return JSON(json_page(request, settings, items, total, offset, size))


@router.post("/exit-cases", status_code=201, response_model=ExitCaseRead, summary="Open an exit case")
async def open_exit_case(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
                         body: Annotated[ExitCaseCreate, Body()]) -> Response:
    """Rule 8 (bureau): the contract becomes `exiting`, the parcel `exiting`; its pending evaluations are
    cancelled. Refused with INVALID_TRANSITION for a contract that is not an exit candidate."""
    today = city_today(settings.today)
    case_id = await service.open_case(session, actor, settings.policy, body.contract_id, body.method,
                                      body.decision_ref, today, body.opened_on, body.note)
    return created(request, await service.get_case(session, case_id, actor), case_id)


@router.get("/exit-cases/{case_id}", response_model=ExitCaseRead, summary="One exit case")
async def get_exit_case(session: SessionDep, actor: ActorDep, case_id: Annotated[int, Path(ge=1, le=2**62)]
                        ) -> Response:
    """One exit case; FORBIDDEN_DISTRICT outside a district-scoped reader's."""
    return JSON(await service.get_case(session, case_id, actor))


@router.post("/exit-cases/{case_id}/complete", response_model=ExitCaseRead, summary="Complete an exit case")
async def complete_exit_case(session: SessionDep, actor: ActorDep, settings: SettingsDep,
                             case_id: Annotated[int, Path(ge=1, le=2**62)],
                             body: Annotated[ExitCaseComplete | None, Body()] = None) -> Response:
    """Rule 8 (bureau): the contract is `terminated`; the parcel `recovered`, or for a transfer `supplied`
    to the new enterprise under a `transfer` contract."""
    body = body or ExitCaseComplete()
    today = city_today(settings.today)
    day = body.completed_on or today
    case = await service.load_case(session, case_id)
    terms = body.transfer_contract
    transfer = terms.draft(case.parcel_id, "transfer", day) if terms is not None else None
    await service.complete_case(session, actor, settings.policy, case_id, today, body.completed_on, body.note,
                                transfer)
    return JSON(await service.get_case(session, case_id, actor))
