"""The demo's contracts slice: deterministic by seed (and today), with every kind of case SPEC §7 asks of it
(overdue and due evaluations, rectifications, exit candidates, exit cases)."""

from datetime import date

import pytest
from sqlalchemy import text

from app.demo.load import load_demo
from app.exits.query import CANDIDATES_SQL
from tests.conftest import make_settings

TODAY = date(2026, 6, 1)
FINGERPRINT = text("""
SELECT md5(string_agg(concat_ws('|', c.id, c.code, c.parcel_id, en.uscc, c.signed_on, c.status, c.rectify_by),
                      ',' ORDER BY c.id)) AS contracts,
       (SELECT md5(string_agg(concat_ws('|', e.id, e.contract_id, e.stage, e.due_on, e.evaluated_on,
                                        e.outcome, e.ratios::text, e.peer_groups::text), ',' ORDER BY e.id))
          FROM evaluation e) AS evaluations
  FROM contract c JOIN enterprise en ON en.id = c.enterprise_id WHERE c.valid_to IS NULL
""")


async def _load(db):
    settings = make_settings(today=TODAY)
    await load_demo(db, settings, parcels=400, seed=7, progress=lambda _: None)
    async with db.session() as session:
        return (await session.execute(FINGERPRINT)).one()


@pytest.mark.live
async def test_the_demo_is_deterministic_and_has_every_case(live_db):
    first = await _load(live_db)
    assert first == await _load(live_db)
    async with live_db.session() as session:
        held = await session.scalar(text("""
            SELECT count(c.id)::float / count(*) FROM parcel p
              LEFT JOIN contract c ON c.parcel_id = p.id AND c.valid_to IS NULL
             WHERE p.valid_to IS NULL AND p.land_use IN ('industrial', 'rnd')
               AND p.status IN ('supplied', 'under_construction', 'operating')"""))
        counts = (await session.execute(text("""
            SELECT count(*) FILTER (WHERE evaluated_on IS NULL AND cancelled_on IS NULL
                                      AND due_on < :today) AS overdue,
                   count(*) FILTER (WHERE evaluated_on IS NULL AND cancelled_on IS NULL
                                      AND due_on BETWEEN :today AND :today + 365) AS due,
                   count(*) FILTER (WHERE evaluated_on IS NOT NULL) AS completed,
                   count(*) FILTER (WHERE consequence = 'rectification') AS rectifications
              FROM evaluation"""), {"today": TODAY})).one()
        distinct_reasons = text(f"SELECT DISTINCT reason FROM ({CANDIDATES_SQL}) x")  # noqa: S608 (constant)
        reasons = set(await session.scalars(distinct_reasons, {"today": TODAY, "idle_years": 1, "d_years": 3}))
        in_rectification = await session.scalar(
            text("SELECT count(*) FROM contract WHERE valid_to IS NULL AND status = 'rectification'"))
        cases = await session.scalar(text("SELECT count(*) FROM exit_case"))
    assert held > 0.8
    assert counts.overdue > 0 and counts.due > 0 and counts.completed > 100 and counts.rectifications > 0
    assert in_rectification > 0 and cases > 0
    assert {"idle_land", "failed_rectification"} <= reasons
