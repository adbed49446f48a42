"""Writing and reading the audit log: every write and every refused rule attempt (SPEC rule 10)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import func, select, text
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
                      outcome: str = "done", code: str | None = None) -> None:
    """Append one audit row per (entity_id, before, after, detail) in one statement (batch writes)."""
    if not entries:
        return

    def dump(value: dict[str, Any] | None) -> str | None:
        return None if value is None else orjson.dumps(value, default=str).decode()

    await session.execute(_MANY, {
        "actor": actor.username if actor else None, "role": actor.role if actor else None, "action": action,
        "entity": entity, "outcome": outcome, "code": code, "rid": request_id.get(),
        "ids": [None if eid is None else str(eid) for eid, _, _, _ in entries],
        "before": [dump(b) for _, b, _, _ in entries], "after": [dump(a) for _, _, a, _ in entries],
        "detail": [dump(d) for _, _, _, d in entries]})


_MANY = text("""
INSERT INTO audit_log (actor, actor_role, action, entity, entity_id, outcome, code, before, after, detail,
                       request_id)
SELECT :actor, :role, :action, :entity, e.id, :outcome, :code, e.before, e.after, e.detail, :rid
  FROM unnest(CAST(:ids AS text[]), CAST(:before AS jsonb[]), CAST(:after AS jsonb[]),
              CAST(:detail AS jsonb[])) AS e(id, before, after, detail)
""")


@asynccontextmanager
async def audited_transaction(db: Database, actor: Actor | Callable[[], Actor | None] | None
                              ) -> AsyncIterator[AsyncSession]:
    """One write's transaction, for every surface (REST, WFS-T, import): committed when the work ends,
    rolled back when it raises. A refused rule attempt (a DomainError carrying a Refusal) is then kept in
    the audit log in a transaction of its own (SPEC rule 10) and the error goes on to the caller. `actor`
    may be given as a callable, for REST, where the request is authenticated after its session opened."""
    try:
        async with db.session() as session:
            yield session
    except DomainError as exc:
        await _record_refusal(db, actor() if callable(actor) else actor, exc)
        raise


async def _record_refusal(db: Database, actor: Actor | None, error: DomainError) -> None:
    """After the rollback, keep the refused attempt in its own transaction."""
    refusal = error.refusal
    if refusal is None:
        return
    async with db.session() as session:
        detail = refusal.detail if refusal.detail is not None else {"detail": error.detail,
                                                                    **_jsonable(error.numbers)}
        await record(
            session, actor, refusal.action, refusal.entity, refusal.entity_id,
            after=refusal.attempted or None, outcome="refused", code=error.code, detail=detail,
        )
        for entity in sorted({e for e, _ in refusal.related}):
            # One row per affected row, pointing at the refused write (rule 10: refused attempts audited).
            cause = {"detail": error.detail, "refused": {"entity": refusal.entity, "id": refusal.entity_id,
                                                         "action": refusal.action}}
            await record_many(session, actor, refusal.action, entity,
                              [(i, None, None, cause) for e, i in refusal.related if e == entity],
                              outcome="refused", code=error.code)


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
