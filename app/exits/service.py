"""Exit cases (rule 8): the bureau opens one for an exit candidate (contract and parcel `exiting`) and
completes it (contract `terminated`; parcel `recovered`, or supplied to a new enterprise under a
`transfer` contract). Parcel changes go through the parcel service. Never commits."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import locks
from app.audit import service as audit
from app.auth.permissions import Actor, Scope, require_in_scope
from app.contracts import service as contracts
from app.contracts.service import ContractDraft, StateChange
from app.errors import DomainError, NotFound, Refusal
from app.evaluations import service as schedules
from app.exits import query, rules
from app.exits.rules import Candidacy
from app.features.tables import page_of, row_of
from app.parcels import lifecycle
from app.parcels import service as parcels
from app.parcels.service import ParcelChanges
from app.policy import Policy
from models import Contract, ExitCase, Parcel
from models.base import current

contract = cast(Table, Contract.__table__)
exit_case = cast(Table, ExitCase.__table__)
parcel = cast(Table, Parcel.__table__)
READ_CASES = "read exit cases"


async def list_candidates(session: AsyncSession, policy: Policy, today: date, limit: int, offset: int,
                          reason: str | None = None, scope: Scope = Scope(),
                          contract_id: int | None = None) -> tuple[int, list[dict[str, Any]]]:
    """A page of exit candidates (by contract, then reason) and their count, within the reader's `scope`."""
    params = query.params(today, policy.idle_after_years, reason, scope.district_code, contract_id,
                          scope.organisation_id, d_years=policy.rating_exit_after_d_years)
    total = int(await session.scalar(text(query.COUNT_SQL), params) or 0)
    rows = await session.execute(text(query.PAGE_SQL), {**params, "limit": limit, "offset": offset})
    return total, [query.as_json(r) for r in rows]


async def candidacies(session: AsyncSession, policy: Policy, contract_id: int,
                      today: date) -> list[Candidacy]:
    """Why a contract is an exit candidate today (empty when it is not)."""
    rows = await session.execute(text(query.LIST_SQL),
                                 query.params(today, policy.idle_after_years, contract_id=contract_id,
                                              d_years=policy.rating_exit_after_d_years))
    return [Candidacy(r.reason, tuple(r.evidence)) for r in rows]


async def open_case(session: AsyncSession, actor: Actor, policy: Policy, contract_id: int, method: str,
                    decision_ref: str, today: date, opened_on: date | None = None,
                    note: str | None = None) -> int:
    """Rule 8: open an exit case for a candidate; the contract leaves force and the parcel is `exiting`."""
    row = await contracts.load_current(session, contract_id, lock=True)
    day = opened_on or today
    attempt = {"contract_id": contract_id, "method": method, "decision_ref": decision_ref,
               "opened_on": day.isoformat(), "note": note}
    try:
        found = await candidacies(session, policy, contract_id, today)
        rules.check_open(actor, contract_id, row.status, found, method, day, row.signed_on, today)
    except DomainError as exc:
        raise exc.with_refusal(Refusal("exit_case", None, "open", attempt)) from None
    reasons, evidence = rules.ordered(found)
    cause = {"exit_reasons": reasons, "decision_ref": decision_ref}
    await contracts.set_states(session, actor, [StateChange(contract_id, "exiting", None, day, cause)])
    cancelled = await schedules.cancel_pending_of(session, [contract_id], day)
    case_id = int(await session.scalar(insert(exit_case).values(
        contract_id=contract_id, parcel_id=row.parcel_id, method=method, decision_ref=decision_ref,
        reasons=reasons, evidence=evidence, status="open", opened_on=day, opened_by=actor.username, note=note,
    ).returning(exit_case.c.id)) or 0)
    await parcels.update_parcel(session, actor, policy, row.parcel_id,
                                ParcelChanges(values={"status": "exiting"}), cause=lifecycle.EXIT)
    await audit.record(session, actor, "open", "exit_case", case_id,
                       after={**attempt, "reasons": reasons, "evidence": evidence,
                              "cancelled_evaluations": cancelled})
    return case_id


async def complete_case(session: AsyncSession, actor: Actor, policy: Policy, case_id: int, today: date,
                        completed_on: date | None = None, note: str | None = None,
                        transfer: ContractDraft | None = None) -> int | None:
    """Rule 8: terminate the contract; the parcel is `recovered`, or for a transfer supplied to the new
    enterprise under a `transfer` contract (returned)."""
    await locks.entity(session, "exit_case", case_id)
    case = await load_case(session, case_id)
    day = completed_on or today
    attempt: dict[str, Any] = {"completed_on": day.isoformat(), "note": note,
                               "transfer_contract": transfer.attempt() if transfer else None}
    try:
        rules.check_complete(actor, case_id, case.status, case.method, day, case.opened_on,
                             transfer is not None, today)
    except DomainError as exc:
        raise exc.with_refusal(Refusal("exit_case", case_id, "complete", attempt)) from None
    row = await contracts.load_current(session, case.contract_id, lock=True)
    cause = {"exit_case_id": case_id, "method": case.method}
    await contracts.set_states(session, actor, [StateChange(row.id, "terminated", None, row.ended_on or day,
                                                            cause)])
    new_contract = None
    if transfer is not None:
        draft = replace(transfer, kind="transfer", parcel_id=case.parcel_id)
        new_contract = await contracts.create_contract(session, actor, policy, draft, today)
    else:
        status = rules.parcel_status_after_exit(case.method)
        await parcels.update_parcel(session, actor, policy, case.parcel_id,
                                    ParcelChanges(values={"status": status}), cause=lifecycle.EXIT)
    await session.execute(update(exit_case).where(exit_case.c.id == case_id).values(
        status="completed", completed_on=day, completed_by=actor.username, transfer_contract_id=new_contract,
        note=note if note is not None else case.note))
    await audit.record(session, actor, "complete", "exit_case", case_id, before={"status": "open"},
                       after={**attempt, "status": "completed", "transfer_contract_id": new_contract})
    return new_contract


async def load_case(session: AsyncSession, case_id: int) -> ExitCase:
    """An exit case (NOT_FOUND otherwise)."""
    case = await session.scalar(select(ExitCase).where(ExitCase.id == case_id))
    if case is None:
        raise NotFound(f"exit case {case_id} does not exist", exit_case_id=case_id)
    return case


def _in_district(district_code: str) -> Any:
    """The cases on parcels (current rows) of a district."""
    return exit_case.c.parcel_id.in_(select(parcel.c.id).where(current(parcel),
                                                                parcel.c.district_code == district_code))


async def list_cases(session: AsyncSession, limit: int, offset: int, status: str | None = None,
                     contract_id: int | None = None, scope: Scope = Scope()
                     ) -> tuple[int, list[dict[str, Any]]]:
    """A page of exit cases by id and their count; only those within the reader's `scope` (SPEC §4): a
    district's, or those of an organisation's contracts."""
    where: list[Any] = []
    if status:
        where.append(exit_case.c.status == status)
    if contract_id:
        where.append(exit_case.c.contract_id == contract_id)
    if scope.district_code is not None:
        where.append(_in_district(scope.district_code))
    if scope.organisation_id is not None:
        where.append(exit_case.c.contract_id.in_(select(contract.c.id).where(
            current(contract), contract.c.responsible_org_id == scope.organisation_id)))
    return await page_of(session, exit_case, where, limit, offset)


async def get_case(session: AsyncSession, case_id: int, actor: Actor) -> dict[str, Any]:
    """One exit case as a dict (NOT_FOUND otherwise; FORBIDDEN_DISTRICT or FORBIDDEN_ROLE outside the
    actor's scope)."""
    case = await row_of(session, exit_case, case_id, "exit_case")
    district = await session.scalar(select(parcel.c.district_code).where(parcel.c.id == case["parcel_id"],
                                                                         current(parcel)))
    org = await session.scalar(select(contract.c.responsible_org_id).where(contract.c.id == case["contract_id"],
                                                                           current(contract)))
    require_in_scope(actor, district, org, READ_CASES)
    return case
