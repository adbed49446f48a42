"""SPEC rule 10 on every surface through one audited_transaction: a refused write leaves nothing of its work,
its attempt is audited in a transaction of its own, and the refusal reaches the caller."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from app.audit.service import audited_transaction, record
from app.auth.permissions import Actor
from app.context import request_id
from app.errors import FarCapExceeded, NotFound, Refusal

pytestmark = pytest.mark.live

BUREAU = Actor(id=0, username="bureau-audit", role="bureau")


@pytest.fixture
def rid() -> Iterator[str]:
    """A request id of this test's own: the audit log is append-only and outlives live tests."""
    value = uuid.uuid4().hex
    token = request_id.set(value)
    yield value
    request_id.reset(token)


async def _audited(db, rid):
    async with db.session() as session:
        rows = await session.execute(text(
            "SELECT actor, action, entity, entity_id, outcome, code, after, detail FROM audit_log "
            "WHERE request_id = :rid ORDER BY entity, entity_id"), {"rid": rid})
        return [tuple(r) for r in rows]


def _refusal() -> FarCapExceeded:
    return FarCapExceeded("plot ratio 2.5 is above the cap 2.0", cap=2.0, requested=2.5).with_refusal(
        Refusal("parcel", 7, "update", {"plot_ratio": 2.5}, related=(("contract", 3),)))


async def test_a_refused_write_is_rolled_back_then_audited_and_raised(live_db, rid):
    with pytest.raises(FarCapExceeded):
        async with audited_transaction(live_db, BUREAU) as session:
            await record(session, BUREAU, "update", "parcel", 7, after={"plot_ratio": 2.5})  # work: rolled back
            await session.flush()
            raise _refusal()
    detail = {"detail": "plot ratio 2.5 is above the cap 2.0", "cap": 2.0, "requested": 2.5}
    cause = {"detail": "plot ratio 2.5 is above the cap 2.0", "refused": {"entity": "parcel", "id": 7,
                                                                         "action": "update"}}
    assert await _audited(live_db, rid) == [
        ("bureau-audit", "update", "contract", "3", "refused", "FAR_CAP_EXCEEDED", None, cause),
        ("bureau-audit", "update", "parcel", "7", "refused", "FAR_CAP_EXCEEDED", {"plot_ratio": 2.5}, detail),
    ]


async def test_the_actor_may_be_known_only_once_the_work_has_run(live_db, rid):
    known: dict[str, Actor] = {}
    with pytest.raises(FarCapExceeded):
        async with audited_transaction(live_db, lambda: known.get("actor")):
            known["actor"] = BUREAU  # REST authenticates after the session dependency opened
            raise _refusal()
    assert [row[0] for row in await _audited(live_db, rid)] == ["bureau-audit", "bureau-audit"]


async def test_an_error_without_a_refusal_is_raised_and_not_audited(live_db, rid):
    with pytest.raises(NotFound):
        async with audited_transaction(live_db, BUREAU) as session:
            await record(session, BUREAU, "update", "parcel", 8)
            raise NotFound("parcel 8 does not exist")
    assert await _audited(live_db, rid) == []


async def test_work_that_ends_is_committed(live_db, rid):
    async with audited_transaction(live_db, BUREAU) as session:
        await record(session, BUREAU, "update", "parcel", 9, after={"plot_ratio": 1.5})
    assert await _audited(live_db, rid) == [
        ("bureau-audit", "update", "parcel", "9", "done", None, {"plot_ratio": 1.5}, None)]
