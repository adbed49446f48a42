"""A bulk write stores the same numbers as a single write, down to how numeric(5,2) rounds a float that
lies just beside a half cent (plot ratio 1.005 is the float 1.00499999999999989…)."""

from __future__ import annotations

from dataclasses import replace

from shapely.geometry import MultiPolygon, box
from sqlalchemy import text

from app.auth.permissions import Actor
from app.parcels.bulk import bulk_create
from app.parcels.service import ParcelDraft, create_parcel
from tests.builders import M_LAT, M_LON

BUREAU = Actor(id=1, username="bureau", role="bureau")
RATIOS = [1.005, 1.0049999999999997, 1.0050000000000001, 0.125, 1.6, 2, 1.999999999999, 0.01]


def drafts(prefix: str, lat: float) -> list[ParcelDraft]:
    return [ParcelDraft(code=f"{prefix}-{n}", land_use="industrial", plot_ratio=ratio,
                        geom=MultiPolygon([box(121.45 + n * 0.002, lat, 121.45 + n * 0.002 + 100 * M_LON,
                                               lat + 100 * M_LAT)]))
            for n, ratio in enumerate(RATIOS)]


async def test_plot_ratios_and_caps_are_stored_as_a_single_write_stores_them(db, settings, city):
    policy = replace(settings.policy, far_cap_industrial=2.0049999999999999)  # a cap beside a half cent too
    async with db.session() as session:
        result = await bulk_create(session, BUREAU, policy, drafts("BULK", 31.15))
        assert not result.refused
        for draft in drafts("ONE", 31.17):
            await create_parcel(session, BUREAU, policy, draft)
        rows = (await session.execute(text(
            "SELECT split_part(code, '-', 1) AS how, split_part(code, '-', 2)::int AS n, plot_ratio::text AS ratio, "
            "plot_ratio_cap::text AS cap FROM parcel WHERE valid_to IS NULL ORDER BY n, how"))).all()
    bulk = [(r.n, r.ratio, r.cap) for r in rows if r.how == "BULK"]
    single = [(r.n, r.ratio, r.cap) for r in rows if r.how == "ONE"]
    assert bulk == single and len(bulk) == len(RATIOS)
    assert bulk[0][1:] == ("1.00", "2.00")  # exact binary value of 1.005 rounds down, as the REST path does
