"""Evaluation schedules in the database: written at signing, re-planned when a contract's dates change,
cancelled when a contract leaves force (rules 5, 8). Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.permissions import Actor
from app.contracts.rules import Terms
from app.evaluations.schedule import Due, Existing, plan, replan
from app.policy import Policy
from models import Evaluation

evaluation = cast(Table, Evaluation.__table__)
PENDING = (evaluation.c.evaluated_on.is_(None), evaluation.c.cancelled_on.is_(None))


async def write_schedule(session: AsyncSession, contract_id: int, dues: Sequence[Due]) -> list[int]:
    """Insert planned evaluations; returns their ids."""
    if not dues:
        return []
    rows = await session.execute(insert(evaluation).returning(evaluation.c.id, sort_by_parameter_order=True),
                                 [
        {"contract_id": contract_id, "stage": d.stage, "seq": d.seq, "due_on": d.due_on} for d in dues])
    return list(rows.scalars())


async def schedule_contract(session: AsyncSession, contract_id: int, t: Terms, policy: Policy) -> list[Due]:
    """Rule 5 at signing: the contract's whole schedule."""
    dues = plan(t, policy.expiry_evaluation_months)
    await write_schedule(session, contract_id, dues)
    return dues


async def reschedule_contract(session: AsyncSession, actor: Actor, contract_id: int, t: Terms,
                              policy: Policy, today: date) -> None:
    """Rule 5 after a change of dates: move, add and cancel pending evaluations (results stay)."""
    e = evaluation.c
    rows = await session.execute(select(e.id, e.stage, e.seq, e.due_on, e.evaluated_on, e.cancelled_on)
                                 .where(e.contract_id == contract_id))
    existing = [Existing(r.id, r.stage, r.seq, r.due_on, done=r.evaluated_on is not None
                         or r.cancelled_on is not None) for r in rows]
    change = replan(plan(t, policy.expiry_evaluation_months), existing)
    for eval_id, due_on in change.move:
        await session.execute(update(evaluation).where(evaluation.c.id == eval_id).values(due_on=due_on))
    await cancel_pending(session, change.cancel, today)
    added = await write_schedule(session, contract_id, change.add)
    if change.move or change.cancel or added:
        await audit.record(session, actor, "reschedule", "contract", contract_id, detail={
            "moved": [{"evaluation_id": i, "due_on": d.isoformat()} for i, d in change.move],
            "cancelled": change.cancel, "added": added})


async def cancel_pending(session: AsyncSession, evaluation_ids: Sequence[int], on: date) -> None:
    """Cancel pending evaluations by id."""
    if evaluation_ids:
        await session.execute(update(evaluation).where(evaluation.c.id.in_(list(evaluation_ids)), *PENDING)
                              .values(cancelled_on=on))


async def cancel_pending_of(session: AsyncSession, contract_ids: Sequence[int], on: date,
                            stage: str | None = None) -> list[int]:
    """Cancel the pending evaluations of contracts (all, or one stage); returns their ids."""
    if not contract_ids:
        return []
    stmt = update(evaluation).where(evaluation.c.contract_id.in_(list(contract_ids)), *PENDING)
    if stage is not None:
        stmt = stmt.where(evaluation.c.stage == stage)
    rows = await session.execute(stmt.values(cancelled_on=on).returning(evaluation.c.id))
    return sorted(rows.scalars())


async def add_rectifications(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Rule 7: a rectification evaluation per (contract_id, due_on), numbered after the contract's earlier
    ones; returns their ids in the order given."""
    if not rows:
        return []
    result = await session.execute(text("""
        INSERT INTO evaluation (contract_id, stage, seq, due_on)
        SELECT r.contract_id, 'rectification',
               coalesce((SELECT max(x.seq) FROM evaluation x
                          WHERE x.contract_id = r.contract_id AND x.stage = 'rectification'), 0) + 1, r.due_on
          FROM unnest(CAST(:contracts AS bigint[]), CAST(:dues AS date[])) WITH ORDINALITY
               AS r(contract_id, due_on, n)
         ORDER BY r.n
        RETURNING id, contract_id
    """), {"contracts": [r["contract_id"] for r in rows], "dues": [r["due_on"] for r in rows]})
    # One result per contract per call, so one new rectification evaluation per contract.
    by_contract = {contract_id: eval_id for eval_id, contract_id in result}
    return [by_contract[r["contract_id"]] for r in rows]


async def cancel_rectifications(session: AsyncSession, passed_on: dict[int, date]) -> list[tuple[int, date]]:
    """Rule 7: a contract restored to active needs no pending rectification evaluation any more; each is
    cancelled on the day its contract passed. Returns (evaluation id, day) pairs."""
    if not passed_on:
        return []
    rows = await session.execute(text("""
        UPDATE evaluation e SET cancelled_on = p.day
          FROM unnest(CAST(:contracts AS bigint[]), CAST(:days AS date[])) AS p(contract_id, day)
         WHERE e.contract_id = p.contract_id AND e.stage = 'rectification'
           AND e.evaluated_on IS NULL AND e.cancelled_on IS NULL
        RETURNING e.id, e.cancelled_on
    """), {"contracts": list(passed_on), "days": list(passed_on.values())})
    return sorted((r.id, r.cancelled_on) for r in rows)
