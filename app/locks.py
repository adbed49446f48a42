"""Transaction-scoped advisory locks that serialise writers of one entity (released at commit), and
the change time of a write.

Versioned rows are closed and opened at the *change time*: `clock_timestamp()` read after the lock is
held, so a writer that waited for another one always stamps its version after the version it closes
(`now()`, the transaction's start, would not: ck_*_valid_range would refuse the write).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound, VersionConflict
from models.base import Versioned, current

V = TypeVar("V", bound=Versioned)

# One lock class per kind of entity: pg_advisory_xact_lock(class, id).
_CLASSES = {"parcel": 1, "zone": 2, "contract": 3, "plot_ratio_request": 4, "parcel_requests": 5,
            "evaluation": 6, "import_job": 7, "exit_case": 8, "import_admission": 9,
            "rating_run": 11}
# Class 10 is the overlap guard's: one lock per grid cell of current industrial land a write touches
# (`parcel_overlap_cells`, taken by the trigger parcel_overlap_guard, migration 0010).
_CHANGE_AT = "landcycle.change_at"


def _key(kind: str, entity_id: int) -> dict[str, int]:
    """The two keys of an entity's lock (in pg_locks: `classid`, `objid`, with `objsubid` 2)."""
    return {"cls": _CLASSES[kind], "id": int(entity_id) & 0x7FFFFFFF}


# The backends whose transactions hold an entity's lock now.
_HOLDERS = ("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = :cls AND objid = :id AND objsubid = 2")
_END_HOLDERS = f"SELECT pg_terminate_backend(h.pid) FROM ({_HOLDERS}) h WHERE h.pid <> pg_backend_pid()"  # noqa: S608


async def entity(session: AsyncSession, kind: str, entity_id: int) -> datetime:
    """Wait until no other transaction writes this entity; later statements then see its last commit.
    Returns the change time for this entity's new version."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:cls, :id)"), _key(kind, entity_id))
    return await _stamp(session)


async def change_time(session: AsyncSession) -> datetime:
    """The change time of this transaction's writes (taken at the last lock, or now)."""
    stamped: datetime | None = session.info.get(_CHANGE_AT)
    return stamped if stamped is not None else await _stamp(session)


async def _stamp(session: AsyncSession) -> datetime:
    at: datetime = (await session.execute(text("SELECT clock_timestamp()"))).scalar_one()
    session.info[_CHANGE_AT] = at
    return at


async def current_row(session: AsyncSession, model: type[V], kind: str, entity_id: int, *, lock: bool = False) -> V:
    """The current version (`valid_to IS NULL`) of a versioned entity, NOT_FOUND otherwise; with `lock`,
    after waiting for the entity's other writers (rule 10 writes: lock, check If-Match, close, insert)."""
    if lock:
        await entity(session, kind, entity_id)
    row = await session.scalar(select(model).where(model.id == entity_id, current(model)))
    if row is None:
        error = NotFound(f"{kind} {entity_id} does not exist")
        error.numbers[f"{kind}_id"] = entity_id
        raise error
    return row


def check_if_match(entity: str, entity_id: int, current: int, if_match: int | None) -> None:
    """Optimistic concurrency: `If-Match` naming an older version refuses the write (412 VERSION_CONFLICT)."""
    if if_match is not None and if_match != current:
        raise VersionConflict(f"{entity} {entity_id} is at version {current}, not {if_match}",
                              current_version=current, if_match=if_match)


async def held(session: AsyncSession, kind: str, entity_id: int) -> bool:
    """Whether some transaction holds the lock of this entity now (without taking it)."""
    return bool(await session.scalar(text(f"SELECT EXISTS ({_HOLDERS})"), _key(kind, entity_id)))


async def end_holders(session: AsyncSession, kind: str, entity_id: int) -> bool:
    """End the connections (other than this one) whose transactions hold this entity's lock: their work rolls
    back. False, with the caller's transaction intact, when this role may not end them."""
    try:
        async with session.begin_nested():
            await session.execute(text(_END_HOLDERS), _key(kind, entity_id))
    except DBAPIError:
        return False
    return True
