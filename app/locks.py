"""Transaction-scoped advisory locks that serialise writers of one entity (released at commit)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# One lock class per kind of entity: pg_advisory_xact_lock(class, id).
_CLASSES = {"parcel": 1, "zone": 2, "contract": 3, "plot_ratio_request": 4, "parcel_requests": 5,
            "evaluation": 6, "exit_case": 7}


async def entity(session: AsyncSession, kind: str, entity_id: int) -> None:
    """Wait until no other transaction writes this entity; later statements then see its last commit."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:cls, :id)"),
                          {"cls": _CLASSES[kind], "id": int(entity_id) & 0x7FFFFFFF})
