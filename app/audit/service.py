"""Writing and reading the audit log: every write and every refused rule attempt (SPEC rule 10)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Actor
from app.context import request_id
from app.db import Database
from app.errors import DomainError
from models import AuditLog


async def record(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: int | str | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    outcome: str = "done",
    code: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit row in the caller's transaction."""
    session.add(AuditLog(
        actor=actor.username if actor else None,
        actor_role=actor.role if actor else None,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        outcome=outcome,
        code=code,
        before=before,
        after=after,
        detail=detail,
        request_id=request_id.get(),
    ))


async def record_many(session: AsyncSession, actor: Actor | None, action: str, entity: str,
                      entries: Sequence[tuple[int | str | None, dict[str, Any] | None, dict[str, Any] | None,
                                              dict[str, Any] | None]],
                      outcome: str = "done") -> None:
    """Append one audit row per (entity_id, before, after, detail) in one executemany (batch writes)."""
    if not entries:
        return
    rid = request_id.get()
    rows = [{"actor": actor.username if actor else None, "actor_role": actor.role if actor else None,
             "action": action, "entity": entity, "entity_id": None if eid is None else str(eid),
             "outcome": outcome, "code": None, "before": before, "after": after, "detail": detail,
             "request_id": rid} for eid, before, after, detail in entries]
    await session.execute(insert(AuditLog), rows)


async def record_refusal(db: Database, actor: Actor | None, error: DomainError) -> None:
    """After the request's rollback, keep the refused attempt in its own transaction."""
    refusal = error.refusal
    if refusal is None:
        return
    async with db.session() as session:
        await record(
            session, actor, refusal.action, refusal.entity, refusal.entity_id,
            after=refusal.attempted or None, outcome="refused", code=error.code,
            detail={"detail": error.detail, **_jsonable(error.numbers)},
        )


def _jsonable(numbers: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in numbers.items():
        out[key] = value if isinstance(value, str | int | float | bool | list | dict | None) else str(value)
    return out


async def list_entries(session: AsyncSession, entity: str | None, entity_id: str | None,
                       limit: int, offset: int) -> tuple[int, list[AuditLog]]:
    """A page of the audit log, newest first, with the total count."""
    stmt = select(AuditLog)
    if entity:
        stmt = stmt.where(AuditLog.entity == entity)
    if entity_id:
        stmt = stmt.where(AuditLog.entity_id == entity_id)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(stmt.order_by(AuditLog.id.desc()).limit(limit).offset(offset))
    return total, list(rows)
