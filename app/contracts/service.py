"""Contract writes: sign (rules 2 and 4, CONTRACT_CONFLICT, the schedule of rule 5), amend, and the
status changes that rules 7–8 cause. Versioned like parcels (rule 10); audited, refusals included.
Never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, cast

import orjson
from sqlalchemy import Table, exists, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import locks
from app.audit import service as audit
from app.auth.permissions import Actor, require_district, require_role
from app.context import request_id
from app.contracts import rules
from app.contracts.rules import Holding, ParcelFacts, Terms
from app.errors import DomainError, InvalidTransition, NotFound, Refusal, ValidationFailed
from app.evaluations import peers
from app.evaluations import service as evaluations
from app.parcels import lifecycle
from app.parcels import service as parcels
from app.parcels.service import ParcelChanges
from app.policy import Policy
from models import Contract, ContractIndicator, Enterprise, ExitCase, Organisation, Parcel
from models.base import current, current_sql
from models.contract import HOLDING

contract = cast(Table, Contract.__table__)
indicator = cast(Table, ContractIndicator.__table__)
EDITORS = ("bureau", "district_officer")
WRITABLE = ("code", "responsible_org_id", "supply_method", "signed_on", "term_years",
            "evaluation_interval_years",
            "commissioning_years", "start_by", "indicators")
TERMS = ("signed_on", "term_years", "evaluation_interval_years", "commissioning_years", "start_by")


@dataclass(frozen=True)
class ContractDraft:
    """A contract as a client wants to sign it; unset terms take the SPEC defaults."""

    code: str
    parcel_id: int
    enterprise_id: int
    responsible_org_id: int
    signed_on: date
    kind: str = "new_supply"
    supply_method: str = "grant"
    term_years: int | None = None
    evaluation_interval_years: int | None = None
    commissioning_years: int | None = None
    start_by: date | None = None
    indicators: Mapping[str, float] = field(default_factory=dict)

    def attempt(self) -> dict[str, Any]:
        """What was attempted, for the audit log."""
        return orjson.loads(orjson.dumps(asdict(self)))


@dataclass(frozen=True)
class StateChange:
    """A status change of one contract caused by an evaluation result or an exit case (rules 7–8)."""

    contract_id: int
    status: str
    rectify_by: date | None = None
    ended_on: date | None = None
    cause: Mapping[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ loading
async def load_current(session: AsyncSession, contract_id: int, *, lock: bool = False) -> Contract:
    """The current row of a contract (NOT_FOUND otherwise); `lock` serialises its writers."""
    return await locks.current_row(session, Contract, "contract", contract_id, lock=lock)


async def targets_of(session: AsyncSession, contract_id: int, terms_version: int) -> dict[str, float]:
    """The indicator targets a contract version holds (those set by its `terms_version`)."""
    rows = await session.execute(select(indicator.c.code, indicator.c.target).where(
        indicator.c.contract_id == contract_id, indicator.c.contract_version == terms_version))
    return {code: float(target) for code, target in rows}


async def parcel_facts(session: AsyncSession, parcel_id: int) -> ParcelFacts:
    """What the contract rules look at on a parcel (NOT_FOUND when it does not exist)."""
    row = await session.scalar(select(Parcel).where(Parcel.id == parcel_id, current(Parcel)))
    if row is None:
        raise NotFound(f"parcel {parcel_id} does not exist", parcel_id=parcel_id)
    return ParcelFacts(row.id, row.code, row.land_use, row.tier, row.legacy_zone, row.status,
                       row.district_code)


async def holding_contract(session: AsyncSession, parcel_id: int) -> Holding | None:
    """The contract holding a parcel (status active, rectification or exiting), if any."""
    row = await session.scalar(select(Contract).where(Contract.parcel_id == parcel_id,
                                                      current(Contract),
                                                      Contract.status.in_(HOLDING)))
    return None if row is None else Holding(row.id, row.code, row.status, row.enterprise_id, row.expires_on)


async def _open_transfer_case(session: AsyncSession, parcel_id: int) -> int | None:
    """The open exit case of method transfer on a parcel (rule 8: a transfer contract completes it)."""
    found: int | None = await session.scalar(select(ExitCase.id).where(
        ExitCase.parcel_id == parcel_id, ExitCase.method == "transfer", ExitCase.status == "open"))
    return found


async def _industry(session: AsyncSession, enterprise_id: int) -> str:
    code = await session.scalar(select(Enterprise.industry_code).where(Enterprise.id == enterprise_id))
    if code is None:
        raise NotFound(f"enterprise {enterprise_id} does not exist", enterprise_id=enterprise_id)
    return code


async def _check_organisation(session: AsyncSession, org_id: int) -> None:
    if await session.get(Organisation, org_id) is None:
        raise NotFound(f"organisation {org_id} does not exist", responsible_org_id=org_id)


async def _check_code_free(session: AsyncSession, code: str, contract_id: int | None) -> None:
    other = await session.scalar(select(Contract.id).where(Contract.code == code, current(Contract),
                                                           Contract.id != (contract_id or 0)))
    if other is not None:
        raise ValidationFailed(f"code {code} is already used by contract {other}", field="code",
                               existing_id=other)


# ------------------------------------------------------------------------------------------ writes
async def create_contract(session: AsyncSession, actor: Actor, policy: Policy, draft: ContractDraft,
                          today: date) -> int:
    """Sign a contract: rules 2 and 4 and CONTRACT_CONFLICT, then the schedule of rule 5; a renewal takes
    over the expiring contract; new supply (or a transfer) supplies the parcel. Returns the id."""
    await locks.entity(session, "parcel", draft.parcel_id)  # one signing per parcel at a time
    try:
        require_role(actor, EDITORS, "sign contracts")
        parcel = await parcel_facts(session, draft.parcel_id)
        require_district(actor, [parcel.district_code], "sign contracts")
        t = rules.terms(policy, draft.signed_on, draft.term_years, draft.evaluation_interval_years,
                        draft.commissioning_years, draft.start_by)
        rules.check_targets(draft.indicators)
        industry = await _industry(session, draft.enterprise_id)
        await _check_organisation(session, draft.responsible_org_id)
        await _check_code_free(session, draft.code, None)
        rules.check_contract_land(parcel)
        rules.check_supply_lock(draft.kind, parcel)
        had = bool(await session.scalar(select(exists().where(contract.c.parcel_id == draft.parcel_id))))
        replaced = rules.check_holding(draft.kind, draft.enterprise_id, draft.signed_on, parcel.id,
                                       await holding_contract(session, parcel.id), had, policy,
                                       await _open_transfer_case(session, parcel.id))
        if draft.kind == "new_supply":
            groups = await peers.bottom_lines(session, policy, industry, parcel.district_code,
                                              min(draft.signed_on, today))
            rules.check_access_standard(draft.kind, draft.indicators, groups)
    except DomainError as exc:
        raise exc.with_refusal(Refusal("contract", None, "create", draft.attempt())) from None
    if replaced is not None:
        await set_states(session, actor, [StateChange(replaced.id, "expired", None, draft.signed_on,
                                                      {"renewed_by": draft.code})])
        await evaluations.cancel_pending_of(session, [replaced.id], draft.signed_on)
    contract_id = int(await session.scalar(select(func.nextval("contract_id_seq"))) or 0)
    await _insert(session, actor, contract_id, 1, draft, t, "active")
    dues = await evaluations.schedule_contract(session, contract_id, t, policy)
    new_status = rules.parcel_status_after_signing(draft.kind, parcel.status)
    if new_status is not None:
        await parcels.update_parcel(session, actor, policy, parcel.id,
                                    ParcelChanges(values={"status": new_status}), cause=lifecycle.SIGNING)
    after = {**draft.attempt(), **_terms_json(t), "status": "active", "version": 1,
             "schedule": [{"stage": d.stage, "seq": d.seq, "due_on": d.due_on.isoformat()} for d in dues]}
    if replaced is not None:
        after["renews_contract_id"] = replaced.id
    await audit.record(session, actor, "create", "contract", contract_id, after=after)
    return contract_id


async def update_contract(session: AsyncSession, actor: Actor, policy: Policy, contract_id: int,
                          changes: Mapping[str, Any], today: date, if_match: int | None = None) -> int:
    """Amend a contract in force (a new version). Changed dates re-plan its pending evaluations; changed
    efficiency targets of a new supply are held to the bottom line again. Returns the new version."""
    row = await load_current(session, contract_id, lock=True)
    locks.check_if_match("contract", contract_id, row.version, if_match)
    targets = await targets_of(session, contract_id, row.terms_version)
    before = _draft_of(row, targets)
    try:
        require_role(actor, EDITORS, "amend contracts")
        parcel = await parcel_facts(session, row.parcel_id)
        require_district(actor, [parcel.district_code], "amend contracts")
        unknown = set(changes) - set(WRITABLE)
        if unknown:
            raise ValidationFailed(f"not writable: {', '.join(sorted(unknown))}", fields=sorted(unknown))
        if row.status not in ("active", "rectification"):
            raise InvalidTransition(f"contract {contract_id} is {row.status}; only a contract in force is "
                                    "amended",
                                    contract_id=contract_id, status=row.status)
        draft = replace(before, **changes)
        t = rules.terms(policy, draft.signed_on, draft.term_years, draft.evaluation_interval_years,
                        draft.commissioning_years, draft.start_by)
        rules.check_term_change(contract_id, row.expires_on, t.signed_on, t.term_years, today)
        rules.check_targets(draft.indicators)
        if draft.code != before.code:
            await _check_code_free(session, draft.code, contract_id)
        if draft.responsible_org_id != before.responsible_org_id:
            await _check_organisation(session, draft.responsible_org_id)
        if draft.kind == "new_supply" and (draft.indicators != before.indicators
                                           or draft.signed_on != before.signed_on):
            groups = await peers.bottom_lines(session, policy, await _industry(session, draft.enterprise_id),
                                              parcel.district_code, min(draft.signed_on, today))
            rules.check_access_standard(draft.kind, draft.indicators, groups)
    except DomainError as exc:
        raise exc.with_refusal(Refusal("contract", contract_id, "update", dict(changes))) from None
    await _close(session, [contract_id])
    await _insert(session, actor, contract_id, row.version + 1, draft, t, row.status, row.rectify_by,
                  row.ended_on)
    if any(getattr(draft, k) != getattr(before, k) for k in TERMS):
        await evaluations.reschedule_contract(session, actor, contract_id, t, policy, today)
    await audit.record(session, actor, "update", "contract", contract_id,
                       before={**before.attempt(), "version": row.version},
                       after={**draft.attempt(), **_terms_json(t), "version": row.version + 1})
    return row.version + 1


async def set_states(session: AsyncSession, actor: Actor, changes: Sequence[StateChange]) -> None:
    """Rules 7–8 status changes of many contracts in one statement: each gets a new version (keeping its
    terms_version: the targets are unchanged) and an audit row with its cause."""
    if not changes:
        return
    await session.execute(_SET_STATES, {
        "ids": [c.contract_id for c in changes], "statuses": [c.status for c in changes],
        "rectify_by": [c.rectify_by for c in changes], "ended_on": [c.ended_on for c in changes],
        "causes": [orjson.dumps(c.cause).decode() for c in changes], "actor": actor.username,
        "role": actor.role, "rid": request_id.get(), "at": await locks.change_time(session),
    })


_COLUMNS = ("code, parcel_id, enterprise_id, responsible_org_id, kind, supply_method, signed_on, term_years, "
            "evaluation_interval_years, commissioning_years, start_by")
_SET_STATES = text(f"""
WITH ch AS (
    SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS text[]), CAST(:rectify_by AS date[]),
                         CAST(:ended_on AS date[]), CAST(:causes AS jsonb[]))
         AS t(id, status, rectify_by, ended_on, cause)
), closed AS (
    UPDATE contract c SET valid_to = :at FROM ch WHERE c.id = ch.id AND {current_sql('c')}
    RETURNING c.*, ch.status AS new_status, ch.rectify_by AS new_rectify_by, ch.ended_on AS new_ended_on,
              ch.cause
), opened AS (
    INSERT INTO contract (id, version, changed_by, valid_from, {_COLUMNS}, status, rectify_by, ended_on,
                          terms_version)
    SELECT id, version + 1, :actor, :at, {_COLUMNS}, new_status, new_rectify_by, new_ended_on, terms_version
      FROM closed
    RETURNING id
)
INSERT INTO audit_log (actor, actor_role, action, entity, entity_id, outcome, before, after, detail,
                       request_id)
SELECT :actor, :role, 'update', 'contract', id::text, 'done',
       jsonb_build_object('status', status, 'rectify_by', rectify_by, 'ended_on', ended_on,
                          'version', version),
       jsonb_build_object('status', new_status, 'rectify_by', new_rectify_by, 'ended_on', new_ended_on,
                          'version', version + 1),
       cause, :rid
  FROM closed
""")  # noqa: S608 (constant column list)


# ------------------------------------------------------------------------------------------ persistence
async def _close(session: AsyncSession, ids: Sequence[int]) -> None:
    at = await locks.change_time(session)
    await session.execute(update(contract).where(contract.c.id.in_(list(ids)), current(contract))
                          .values(valid_to=at))


async def _insert(session: AsyncSession, actor: Actor, contract_id: int, version: int, draft: ContractDraft,
                  t: Terms, status: str, rectify_by: date | None = None, ended_on: date | None = None
                  ) -> None:
    await session.execute(insert(contract).values(
        id=contract_id, version=version, changed_by=actor.username, code=draft.code,
        valid_from=await locks.change_time(session),
        parcel_id=draft.parcel_id,
        enterprise_id=draft.enterprise_id, responsible_org_id=draft.responsible_org_id, kind=draft.kind,
        supply_method=draft.supply_method, signed_on=t.signed_on, term_years=t.term_years,
        evaluation_interval_years=t.evaluation_interval_years, commissioning_years=t.commissioning_years,
        start_by=t.start_by, status=status, rectify_by=rectify_by, ended_on=ended_on, terms_version=version))
    if draft.indicators:
        await session.execute(insert(indicator), [
            {"contract_id": contract_id, "contract_version": version, "code": code, "target": target}
            for code, target in sorted(draft.indicators.items())])


def _draft_of(row: Contract, targets: dict[str, float]) -> ContractDraft:
    return ContractDraft(
        code=row.code, parcel_id=row.parcel_id, enterprise_id=row.enterprise_id,
        responsible_org_id=row.responsible_org_id, signed_on=row.signed_on, kind=row.kind,
        supply_method=row.supply_method, term_years=row.term_years,
        evaluation_interval_years=row.evaluation_interval_years, commissioning_years=row.commissioning_years,
        start_by=row.start_by, indicators=targets)


def _terms_json(t: Terms) -> dict[str, Any]:
    return {"term_years": t.term_years, "evaluation_interval_years": t.evaluation_interval_years,
            "commissioning_years": t.commissioning_years, "start_by": t.start_by.isoformat()}
