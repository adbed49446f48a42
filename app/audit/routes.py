"""GET /audit (bureau, admin and viewer only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from app.audit.service import list_entries
from app.auth.permissions import require_audit_reader
from app.deps import ActorDep, SessionDep, SettingsDep
from app.features.paging import clamp_limit, page_links
from app.parcels.schemas import Link

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditEntry(BaseModel):
    """One audited write or refused attempt."""

    id: int
    at: datetime
    actor: str | None
    actor_role: str | None
    action: str
    entity: str
    entity_id: str | None
    outcome: str
    code: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    detail: dict[str, Any] | None
    request_id: str | None


class AuditPage(BaseModel):
    """A page of the audit log, newest first."""

    items: list[AuditEntry]
    numberMatched: int
    numberReturned: int
    links: list[Link]


@router.get("", response_model=AuditPage, summary="The audit log")
async def audit_log(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    entity: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> AuditPage:
    """Who did what, when, before/after, with the request id — refused attempts included."""
    require_audit_reader(actor)
    size = clamp_limit(limit, settings)
    total, rows = await list_entries(session, entity, entity_id, size, offset)
    items = [AuditEntry.model_validate(row, from_attributes=True) for row in rows]
    links = page_links(request, settings, offset, size, len(items), total, "application/json")
    return AuditPage(items=items, numberMatched=total, numberReturned=len(items),
                     links=[Link(**link) for link in links])
