"""Transaction-scoped advisory locks that serialise writers of one entity (released at commit)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# One lock class per kind of entity: pg_advisory_xact_lock(class, id).
_CLASSES = {"parcel": 1, "zone": 2, "contract": 3, "plot_ratio_request": 4, "parcel_requests": 5,
            "evaluation": 6, "import_job": 7}


async def entity(session: AsyncSession, kind: str, entity_id: int) -> None:
    """Wait until no other transaction writes this entity; later statements then see its last commit."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:cls, :id)"),
                          {"cls": _CLASSES[kind], "id": int(entity_id) & 0x7FFFFFFF})


async def held(session: AsyncSession, kind: str, entity_id: int) -> bool:
    """Whether some transaction holds the lock of this entity now (without taking it)."""
    return bool(await session.scalar(text("""
        SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                          AND classid = :cls AND objid = :id AND objsubid = 2)
    """), {"cls": _CLASSES[kind], "id": int(entity_id) & 0x7FFFFFFF}))
