"""The audit's view of a parcel (SPEC rule 10) is one snapshot: what a write in Python records and what a
write done in SQL alone records (a status set by a contract event) are the same document for the same row."""

from __future__ import annotations

from shapely.geometry import MultiPolygon, box
from sqlalchemy import text

from app.auth.permissions import Actor
from app.parcels import service
from app.parcels.service import SNAPSHOT, ParcelChanges, ParcelDraft
from tests.builders import BZ, M_LAT, M_LON

BUREAU = Actor(id=1, username="bureau", role="bureau")


def _square(lon: float, lat: float, side_m: float = 100.0) -> MultiPolygon:
    return MultiPolygon([box(lon, lat, lon + side_m * M_LON, lat + side_m * M_LAT)])


async def _audit(session, parcel_id: int) -> dict[int, tuple[dict | None, dict | None]]:
    """The parcel's audit rows by the version they wrote: (before, after)."""
    await session.flush()
    rows = await session.execute(text("SELECT before, after FROM audit_log WHERE entity = 'parcel' "
                                      "AND entity_id = :id"), {"id": str(parcel_id)})
    return {after["version"]: (before, after) for before, after in rows}


async def test_a_status_set_in_sql_audits_the_same_snapshot_as_the_writes_around_it(db, settings, city):
    lon, lat = BZ[0] + 0.01, BZ[1] + 0.01
    async with db.session() as session:
        office = await service.create_parcel(session, BUREAU, settings.policy, ParcelDraft(
            "REF-1", "office", _square(lon + 200 * M_LON, lat), plot_ratio=3.5))
        land = await service.create_parcel(session, BUREAU, settings.policy, ParcelDraft(
            "LAND-1", "industrial", _square(lon, lat), plot_ratio=2.75, plot_ratio_reference_id=office,
            legacy_zone="104"))
        await service.set_statuses(session, BUREAU, {land: "supplied"}, {"cause": "test"})
        await service.update_parcel(session, BUREAU, settings.policy, land, ParcelChanges({"plot_ratio": 2.8}))
        audited = await _audit(session, land)
    (_, created), (set_before, set_after), (edit_before, _) = audited[1], audited[2], audited[3]

    assert set(created) == set(SNAPSHOT)
    assert (created["tier"], created["planning_locked"], created["plot_ratio_cap_source"],
            created["plot_ratio_reference_id"]) == ("base", True, "reference", office)
    assert set_before == created  # written by SQL, the version Python wrote
    assert (set_after["status"], set_after["version"]) == ("supplied", 2)
    assert edit_before == set_after  # written by Python, the version SQL wrote
