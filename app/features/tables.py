"""Plain (non-versioned, non-spatial) registry tables: a page by id with its count, one row by id, and a new
row registered with its audit entry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.permissions import Actor
from app.errors import NotFound


async def page_of(session: AsyncSession, table: Table, where: Sequence[ColumnElement[bool]], limit: int,
                  offset: int) -> tuple[int, list[dict[str, Any]]]:
    """A page of rows (as dicts) ordered by id, and the count of all that match."""
    total = int(await session.scalar(select(func.count()).select_from(table).where(*where)) or 0)
    rows = await session.execute(select(table).where(*where).order_by(table.c.id).limit(limit).offset(offset))
    return total, [dict(r._mapping) for r in rows]


async def row_of(session: AsyncSession, table: Table, row_id: int, what: str) -> dict[str, Any]:
    """One row by id as a dict; NOT_FOUND names `what` ("enterprise 7 does not exist")."""
    row = (await session.execute(select(table).where(table.c.id == row_id))).first()
    if row is None:
        numbers: dict[str, Any] = {f"{what}_id": row_id}
        raise NotFound(f"{what.replace('_', ' ')} {row_id} does not exist", **numbers)
    return dict(row._mapping)


async def create_row(session: AsyncSession, actor: Actor, table: Table, what: str, values: dict[str, Any]) -> int:
    """Insert a row of `values` (created by the actor) and audit its creation with them; returns its id."""
    new_id = int(await session.scalar(insert(table).values(**values, created_by=actor.username)
                                      .returning(table.c.id)) or 0)
    await audit.record(session, actor, "create", what, new_id, after=values)
    return new_id
