"""HTTP for evaluations (SPEC §5): the queue with `overdue` derived from today, and recording results."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.auth.permissions import Actor, contract_scope, require_in_scope
from app.calendar import city_today
from app.deps import ActorDep, SessionDep, SettingsDep
from app.errors import NotFound
from app.evaluations.query import EvaluationQuery, as_json, count, select_evaluations
from app.evaluations.results import ResultInput, record_results
from app.evaluations.schemas import (
    EvaluationPage,
    EvaluationRead,
    ResultIn,
    Stage,
    Status,
    YearRecordIn,
    YearRecordRead,
)
from app.evaluations.year import record_year
from app.features.paging import clamp_limit, json_page
from app.measurements.measured import entered
from app.responses import JSON

router = APIRouter(prefix="/evaluations", tags=["evaluations"])
EvaluationId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("", response_model=EvaluationPage, summary="List evaluations")
async def list_evaluations(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    status: Status | None = None,
    stage: Stage | None = None,
    due_before: Annotated[date | None, Query(description="due strictly before this date")] = None,
    district_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    contract_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    parcel_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    """Evaluations by due date; `status=overdue` is due before today with no result. A district officer's or
    evaluator's are their district's (SPEC §4): a contract or parcel of another district lists nothing; an
    org_manager's are those of its organisation's contracts (its evaluation queue)."""
    today = city_today(settings.today)
    scope = contract_scope(actor, district_code, "read evaluations")
    q = EvaluationQuery(today=today, statuses=(status,) if status else None, stage=stage,
                        due_before=due_before, district_code=scope.district_code,
                        organisation_id=scope.organisation_id, contract_id=contract_id, parcel_id=parcel_id)
    size = clamp_limit(limit, settings)
    total = int(await session.scalar(count(q)) or 0)
    rows = await session.execute(select_evaluations(q).limit(size).offset(offset))
    return JSON(json_page(request, settings, [as_json(r, today) for r in rows], total, offset, size))


@router.get("/{evaluation_id}", response_model=EvaluationRead, summary="One evaluation")
async def get_evaluation(session: SessionDep, actor: ActorDep, settings: SettingsDep,
                         evaluation_id: EvaluationId) -> Response:
    """An evaluation with its result, if recorded; FORBIDDEN_DISTRICT outside a district-scoped reader's."""
    return await one(session, evaluation_id, city_today(settings.today), actor)


@router.post("/{evaluation_id}/result", response_model=EvaluationRead, summary="Record an evaluation result")
async def record_result(session: SessionDep, actor: ActorDep, settings: SettingsDep,
                        evaluation_id: EvaluationId,
                        body: Annotated[ResultIn, Body()]) -> Response:
    """Rule 6: attainment, ratios to the bottom line with the peer groups frozen, outcome; rule 7: the
    consequence for the contract. Evaluators, district officers (their district) and the bureau. Every
    indicator not in `measurements` is measured from the latest figures delivered for `year` (default: the
    year of the due date); each value keeps its source (`measurement_sources`). One still unmeasured is
    VALIDATION_ERROR naming it and the figures of that year nobody delivered."""
    today = city_today(settings.today)
    given = dict(body.measurements)
    await record_results(session, actor, settings.policy,
                         [ResultInput(evaluation_id, body.evaluated_on, given, body.note,
                                      sources=entered(given, actor.username), from_delivered=True,
                                      year=body.year)], today)
    return await one(session, evaluation_id, today, actor)


@router.post("/results", response_model=YearRecordRead, summary="Record a year's evaluations from delivered figures")
async def record_year_results(session: SessionDep, actor: ActorDep, settings: SettingsDep,
                              body: Annotated[YearRecordIn, Body()]) -> Response:
    """Rules 6–7 for every pending evaluation due in `year` (on or before `evaluated_on`, default today) that
    the caller may record — the bureau city-wide, a district officer or evaluator its district, an
    org_manager its organisation's — and whose indicators the figures delivered for that year all measure:
    one transaction, peer groups, consequences, rectifications and exit candidates as for one result.
    The others are skipped with what was missing (the first 100 listed, all counted). `dry_run` scores and
    counts without writing. The results are audited as one `record_results` row naming every evaluation."""
    today = city_today(settings.today)
    done = await record_year(session, actor, settings.policy, body.year, body.evaluated_on or today, today,
                             body.district_code, body.dry_run)
    return JSON(done.as_json())


async def one(session: AsyncSession, evaluation_id: int, today: date, actor: Actor) -> Response:
    """One evaluation as JSON, if the actor may read its district's or organisation's (SPEC §4)."""
    query = EvaluationQuery(today=today, ids=[evaluation_id])
    row = (await session.execute(select_evaluations(query))).first()
    if row is None:
        raise NotFound(f"evaluation {evaluation_id} does not exist", evaluation_id=evaluation_id)
    require_in_scope(actor, row.district_code, row.responsible_org_id, "read evaluations")
    return JSON(as_json(row, today))
