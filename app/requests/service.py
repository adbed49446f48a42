"""Plot-ratio requests: load facts, apply rule 9 (workflow.py) and rule 3 (parcels/rules.py), write,
audit. Approval changes the parcel through `app.parcels.service.update_parcel` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import locks
from app.audit import service as audit
from app.auth.permissions import ORG_ROLES, Actor, contract_scope, require_in_scope
from app.contracts.service import holding_contract
from app.errors import (
    ContractInRectification,
    DomainError,
    FarNotIncreased,
    NotFound,
    Refusal,
    RequestConflict,
    ValidationFailed,
)
from app.parcels import far, lifecycle, rules
from app.parcels import service as parcels
from app.policy import INDUSTRIAL_USES, Policy
from app.requests import workflow
from models import Contract, PlotRatioRequest
from models.base import current
from models.contract import HOLDING

OPEN = workflow.OPEN


@dataclass(frozen=True)
class RequestFilter:
    """Queue filters of GET /plot-ratio-requests."""

    status: str | None = None
    route: str | None = None
    district_code: str | None = None
    parcel_id: int | None = None


def _facts(row: PlotRatioRequest) -> workflow.RequestFacts:
    return workflow.RequestFacts(status=row.status, route=row.route, district_code=row.district_code,
                                 submitted_by=row.submitted_by, notice_ends_on=row.notice_ends_on)


def snapshot(row: PlotRatioRequest) -> dict[str, Any]:
    """Audit view of a request."""
    return {
        "status": row.status, "route": row.route, "parcel_id": row.parcel_id,
        "requested_plot_ratio": _float(row.requested_plot_ratio),
        "current_plot_ratio": _float(row.current_plot_ratio),
        "reference_parcel_id": row.reference_parcel_id,
        "notice_starts_on": _iso(row.notice_starts_on), "notice_ends_on": _iso(row.notice_ends_on),
        "decided_by": row.decided_by, "version": row.version,
    }


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


async def _open_request(session: AsyncSession, parcel_id: int) -> int | None:
    found: int | None = await session.scalar(
        select(PlotRatioRequest.id).where(PlotRatioRequest.parcel_id == parcel_id,
                                          PlotRatioRequest.status.in_(OPEN)))
    return found


async def _check_contract(session: AsyncSession, parcel_id: int, today: date) -> None:
    """Rule 9: only parcels under an active contract; not while it is in rectification or exit."""
    held = await holding_contract(session, parcel_id)
    if held is None or held.expires_on <= today:
        why = "no contract in force" if held is None else f"only contract {held.code}, expired on {held.expires_on}"
        raise ValidationFailed(f"parcel {parcel_id} has {why}; plot-ratio requests are for land under an active "
                               "contract", parcel_id=parcel_id)
    if held.status != "active":
        raise ContractInRectification(
            f"contract {held.code} of parcel {parcel_id} is in {held.status}; no plot-ratio request until it is "
            "active again", contract_id=held.id, contract_status=held.status)


async def submit(session: AsyncSession, actor: Actor, policy: Policy, today: date, parcel_id: int,
                 requested: float, reason: str, reference_id: int | None = None) -> PlotRatioRequest:
    """Rule 9 submission: scope, contract, no open request, an increase, rule 3, the route."""
    await locks.entity(session, "parcel_requests", parcel_id)  # one submission per parcel at a time
    parcel = await parcels.load_current(session, parcel_id)
    current = _float(parcel.plot_ratio)
    attempted = {"parcel_id": parcel_id, "requested_plot_ratio": requested, "reference_parcel_id": reference_id}
    with _refused_as(None, "submit", attempted):
        workflow.check_submitter(actor, parcel.district_code)
        if parcel.land_use not in INDUSTRIAL_USES:
            raise ValidationFailed(f"parcel {parcel_id} is {parcel.land_use} land; requests are for industrial and "
                                   "R&D parcels", land_use=parcel.land_use)
        await _check_contract(session, parcel_id, today)
        open_id = await _open_request(session, parcel_id)
        if open_id is not None:
            raise RequestConflict(f"request {open_id} for parcel {parcel_id} is still open", open_request_id=open_id)
        if current is not None and requested <= current:
            raise FarNotIncreased(
                f"requested plot ratio {rules.num(requested)} is not above the current {rules.num(current)}",
                current=current, requested=requested)
        # Rule 3 on the city route: without a named reference, the nearest qualifying one on the map serves.
        cap = await far.far_cap(session, policy, land_use=parcel.land_use, requested=requested,
                                zone=await parcels.zone_facts(session, parcel.zone_id),
                                geom=parcels.geometry_of(parcel), reference_id=reference_id, exclude_id=parcel_id,
                                adopt_nearest_reference=True, reference_field="reference_parcel_id")
    default_cap = policy.default_far_cap(parcel.land_use) or 0.0
    row = PlotRatioRequest(
        parcel_id=parcel_id, parcel_code=parcel.code, district_code=parcel.district_code,
        route=workflow.route_for(requested, default_cap), status="submitted", current_plot_ratio=current,
        requested_plot_ratio=requested, default_cap=default_cap, reference_parcel_id=cap.reference_id,
        reason=reason, submitted_by=actor.username, version=1,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    await audit.record(session, actor, "submit", "plot_ratio_request", row.id, after=snapshot(row))
    return row


async def load(session: AsyncSession, request_id: int, *, lock: bool = False) -> PlotRatioRequest:
    """One request (NOT_FOUND otherwise); `lock` serialises its transitions."""
    if lock:
        await locks.entity(session, "plot_ratio_request", request_id)
    row = await session.get(PlotRatioRequest, request_id, populate_existing=True)
    if row is None:
        raise NotFound(f"plot-ratio request {request_id} does not exist", request_id=request_id)
    return row


async def _begin(session: AsyncSession, request_id: int, if_match: int | None
                 ) -> tuple[PlotRatioRequest, dict[str, Any]]:
    """The request a step changes, locked and at the version the client saw, with its audit view before."""
    row = await load(session, request_id, lock=True)
    locks.check_if_match("request", request_id, row.version, if_match)
    return row, snapshot(row)


@contextmanager
def _refused_as(request_id: int | None, action: str, attempted: dict[str, Any]) -> Iterator[None]:
    """A refusal raised inside is audited (SPEC rule 10) as this attempted step of the request."""
    try:
        yield
    except DomainError as exc:
        raise exc.with_refusal(Refusal("plot_ratio_request", request_id, action, attempted)) from None


async def record_notice(session: AsyncSession, actor: Actor, request_id: int, starts_on: date, ends_on: date,
                        if_match: int | None = None) -> PlotRatioRequest:
    """submitted → public_notice with the notice's dates (7–30 days; past dates allowed)."""
    row, before = await _begin(session, request_id, if_match)
    with _refused_as(request_id, "record_notice",
                     {"starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat()}):
        status = workflow.transition(row.status, "record_notice")
        workflow.check_notice_recorder(actor, _facts(row))
        workflow.check_notice_period(starts_on, ends_on)
    row.status, row.notice_starts_on, row.notice_ends_on = status, starts_on, ends_on
    row.notice_recorded_by, row.notice_recorded_at = actor.username, func.now()
    return await _done(session, actor, "record_notice", row, before)


async def decide(session: AsyncSession, actor: Actor, policy: Policy, today: date, request_id: int,
                 approve: bool, note: str | None, if_match: int | None = None) -> PlotRatioRequest:
    """public_notice → approved | rejected. Approval re-checks rules 3 and 9 and sets the parcel's plot
    ratio (a new parcel version with its cap source and reference) in the same transaction."""
    row, before = await _begin(session, request_id, if_match)
    action = "approve" if approve else "reject"
    with _refused_as(request_id, action, {"note": note}):
        status = workflow.transition(row.status, action)
        facts = _facts(row)
        workflow.check_decider(actor, facts)
        workflow.check_notice_over(facts, today)
        if approve:
            await _check_contract(session, row.parcel_id, today)
            row.parcel_version_applied = await parcels.update_parcel(
                session, actor, policy, row.parcel_id,
                parcels.ParcelChanges(values={"plot_ratio": float(row.requested_plot_ratio),
                                              "plot_ratio_reference_id": row.reference_parcel_id}),
                cause=lifecycle.REQUEST)
    row.status, row.decided_by, row.decided_at, row.decision_note = status, actor.username, func.now(), note
    return await _done(session, actor, action, row, before)


async def withdraw(session: AsyncSession, actor: Actor, request_id: int,
                   if_match: int | None = None) -> PlotRatioRequest:
    """The submitter withdraws an open request."""
    row, before = await _begin(session, request_id, if_match)
    with _refused_as(request_id, "withdraw", {}):
        status = workflow.transition(row.status, "withdraw")
        workflow.check_withdrawer(actor, _facts(row))
    row.status, row.withdrawn_at = status, func.now()
    return await _done(session, actor, "withdraw", row, before)


async def _done(session: AsyncSession, actor: Actor, action: str, row: PlotRatioRequest,
                before: dict[str, Any]) -> PlotRatioRequest:
    """A step of the workflow written: the request's next version, audited with its view before and after."""
    row.version += 1
    row.updated_at = func.now()
    await session.flush()
    await session.refresh(row)
    await audit.record(session, actor, action, "plot_ratio_request", row.id, before=before, after=snapshot(row))
    return row


READ = "read plot-ratio requests"


def _managed_parcels(organisation_id: int) -> Any:
    """The parcels held (rule 9's holding contract: active, rectification, exiting) by a contract that
    `organisation_id` manages."""
    return select(Contract.parcel_id).where(current(Contract), Contract.status.in_(HOLDING),
                                            Contract.responsible_org_id == organisation_id)


def visible_to(actor: Actor, flt: RequestFilter) -> tuple[RequestFilter, int | None]:
    """SPEC §4: district-scoped roles see their district's queue (FORBIDDEN_DISTRICT for another); an
    org_manager the requests on parcels whose holding contract its organisation manages (the organisation
    returned); the bureau, admins and viewers see all; the public none."""
    scope = contract_scope(actor, flt.district_code, READ)
    return RequestFilter(flt.status, flt.route, scope.district_code, flt.parcel_id), scope.organisation_id


async def require_visible(session: AsyncSession, actor: Actor, row: PlotRatioRequest) -> None:
    """One request, read within the actor's scope (FORBIDDEN_DISTRICT outside a district-scoped reader's;
    FORBIDDEN_ROLE for an org_manager unless its organisation manages the parcel's holding contract)."""
    org = None
    if actor.role in ORG_ROLES:
        org = await session.scalar(select(Contract.responsible_org_id).where(
            Contract.parcel_id == row.parcel_id, current(Contract), Contract.status.in_(HOLDING)))
    require_in_scope(actor, row.district_code, org, READ)


async def list_requests(session: AsyncSession, actor: Actor, flt: RequestFilter, limit: int,
                        offset: int) -> tuple[int, list[PlotRatioRequest]]:
    """A page of the queue, oldest first, with the total."""
    flt, organisation_id = visible_to(actor, flt)
    stmt = select(PlotRatioRequest)
    if organisation_id is not None:
        stmt = stmt.where(PlotRatioRequest.parcel_id.in_(_managed_parcels(organisation_id)))
    for column, value in (("status", flt.status), ("route", flt.route), ("district_code", flt.district_code),
                          ("parcel_id", flt.parcel_id)):
        if value is not None:
            stmt = stmt.where(getattr(PlotRatioRequest, column) == value)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(stmt.order_by(PlotRatioRequest.submitted_at, PlotRatioRequest.id)
                                 .limit(limit).offset(offset))
    return total, list(rows)
