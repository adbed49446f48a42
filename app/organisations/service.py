"""Responsible organisations: who proposed a project manages it (谁提出、谁管理). Never commits."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Actor, require_district, require_role
from app.errors import DomainError, NotFound, Refusal, ValidationFailed
from app.features.tables import create_row, page_of, row_of
from models import District, Organisation

organisation = cast(Table, Organisation.__table__)


async def create_organisation(session: AsyncSession, actor: Actor, name: str, kind: str,
                              district_code: str | None) -> int:
    """Register an organisation (bureau and admin; a district officer for their own district)."""
    attempt = {"name": name, "kind": kind, "district_code": district_code}
    try:
        require_role(actor, ("bureau", "admin", "district_officer"), "register organisations")
        # A city-wide organisation (no district) is outside every officer's district: FORBIDDEN_DISTRICT.
        require_district(actor, [district_code], "register organisations")
        if kind == "district_government" and district_code is None:
            raise ValidationFailed("a district government names its district_code", field="district_code")
        if district_code is not None and await session.get(District, district_code) is None:
            raise NotFound(f"district {district_code} does not exist", district_code=district_code)
    except DomainError as exc:
        raise exc.with_refusal(Refusal("organisation", None, "create", attempt)) from None
    return await create_row(session, actor, organisation, "organisation", attempt)


async def list_organisations(session: AsyncSession, limit: int, offset: int, kind: str | None = None,
                             district_code: str | None = None) -> tuple[int, list[dict[str, Any]]]:
    """A page of organisations by id, with the total count."""
    where: list[Any] = []
    if kind:
        where.append(organisation.c.kind == kind)
    if district_code:
        where.append(organisation.c.district_code == district_code)
    return await page_of(session, organisation, where, limit, offset)


async def get_organisation(session: AsyncSession, org_id: int) -> dict[str, Any]:
    """One organisation (NOT_FOUND otherwise)."""
    return await row_of(session, organisation, org_id, "organisation")
