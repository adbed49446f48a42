"""Enterprise writes and reads. Never commits."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Actor, require_role
from app.enterprises import uscc
from app.errors import DomainError, Refusal, ValidationFailed
from app.features.tables import create_row, page_of, row_of
from models import Enterprise

enterprise = cast(Table, Enterprise.__table__)
EDITORS = ("bureau", "district_officer")


async def create_enterprise(session: AsyncSession, actor: Actor, name: str, code: str,
                            industry_code: str) -> int:
    """Register an enterprise under its (normalised, checked) USCC; returns its id."""
    normalised = uscc.normalise(code)
    attempt = {"name": name, "uscc": normalised, "industry_code": industry_code}
    try:
        require_role(actor, EDITORS, "register enterprises")
        why = uscc.problem(normalised)
        if why:
            raise ValidationFailed(f"uscc {normalised!r}: {why}", field="uscc")
        other = await session.scalar(select(enterprise.c.id).where(enterprise.c.uscc == normalised))
        if other is not None:
            raise ValidationFailed(f"uscc {normalised} is already registered (enterprise {other})",
                                   field="uscc",
                                   existing_id=other)
    except DomainError as exc:
        raise exc.with_refusal(Refusal("enterprise", None, "create", attempt)) from None
    return await create_row(session, actor, enterprise, "enterprise", attempt)


def _filters(industry_code: str | None, uscc_code: str | None, name: str | None) -> list[Any]:
    out: list[Any] = []
    if industry_code:
        out.append(enterprise.c.industry_code == industry_code)
    if uscc_code:
        out.append(enterprise.c.uscc == uscc.normalise(uscc_code))
    if name:
        out.append(enterprise.c.name.ilike(f"%{name}%"))
    return out


async def list_enterprises(session: AsyncSession, limit: int, offset: int, industry_code: str | None = None,
                           uscc_code: str | None = None, name: str | None = None
                           ) -> tuple[int, list[dict[str, Any]]]:
    """A page of enterprises by id, with the total count."""
    return await page_of(session, enterprise, _filters(industry_code, uscc_code, name), limit, offset)


async def get_enterprise(session: AsyncSession, enterprise_id: int) -> dict[str, Any]:
    """One enterprise (NOT_FOUND otherwise)."""
    return await row_of(session, enterprise, enterprise_id, "enterprise")
