from datetime import date

import pytest

from tests.builders import EAST, basic
from tests.contract_builders import contract, enterprise, operate, organisation, parcel, targets

API = "/api/v1"
TODAY = date(2026, 6, 1)
pytestmark = pytest.mark.settings(today=TODAY)


async def candidates(client, **params):
    r = await client.get(f"{API}/exit-candidates", params=params, headers=basic("viewer"))
    assert r.status_code == 200, r.text
    return [(i["contract_id"], i["reason"], i["evidence"], i["since"]) for i in r.json()["items"]]


async def test_idle_land_a_year_after_the_agreed_start(client, city):
    org = await organisation(client, EAST)
    idle = await contract(client, (await parcel(client))["id"], await enterprise(client), org, date(2024, 1,
                                                                                                    1),
                          start_by="2025-05-31")
    building = await contract(client, (await parcel(client))["id"], await enterprise(client), org,
                              date(2024, 1, 1), start_by="2025-05-31")
    await operate(client, building["parcel_id"], "under_construction")
    await contract(client, (await parcel(client))["id"], await enterprise(client), org, date(2024, 1, 1),
                   start_by="2025-06-02")  # a year after its start is tomorrow
    assert await candidates(client) == [(idle["id"], "idle_land", [], "2026-05-31")]


async def test_an_expired_term_without_renewal(client, city):
    org = await organisation(client, EAST)
    old = await contract(client, (await parcel(client))["id"], await enterprise(client), org, date(2016, 5,
                                                                                                   1),
                         term_years=10)
    await operate(client, old["parcel_id"])
    assert await candidates(client, reason="expired") == [(old["id"], "expired", [], "2026-05-01")]
    r = await client.post(f"{API}/exit-cases", json={"contract_id": old["id"], "method": "buyback",
                                                     "decision_ref": "D-1"}, headers=basic("bureau"))
    assert r.status_code == 201, r.text
    assert r.json()["reasons"] == ["expired"]
    done = await client.post(f"{API}/exit-cases/{r.json()['id']}/complete", headers=basic("bureau"))
    assert done.status_code == 200, done.text
    land = (await client.get(f"{API}/parcels/{old['parcel_id']}", headers=basic("viewer"))).json()
    assert land["properties"]["status"] == "recovered"


async def test_a_transfer_supplies_the_land_to_the_new_enterprise(client, city):
    org = await organisation(client, EAST)
    old = await contract(client, (await parcel(client))["id"], await enterprise(client), org, date(2016, 5,
                                                                                                   1),
                         term_years=10)
    opened = {"contract_id": old["id"], "method": "transfer", "decision_ref": "D-2"}
    case = (await client.post(f"{API}/exit-cases", json=opened, headers=basic("bureau"))).json()
    url = f"{API}/exit-cases/{case['id']}/complete"
    missing = await client.post(url, json={}, headers=basic("bureau"))
    assert (missing.status_code, missing.json()["field"]) == (422, "transfer_contract")
    newcomer = await enterprise(client, "C36")
    r = await client.post(url, json={"transfer_contract": {
        "code": "HT-T", "enterprise_id": newcomer, "responsible_org_id": org, "supply_method": "lease",
        "term_years": 10, "indicators": targets()}}, headers=basic("bureau"))
    assert r.status_code == 200, r.text
    new_id = r.json()["transfer_contract_id"]
    new = (await client.get(f"{API}/contracts/{new_id}", headers=basic("viewer"))).json()
    assert (new["kind"], new["enterprise_id"], new["parcel_id"], new["signed_on"], new["status"]) == (
        "transfer", newcomer, old["parcel_id"], "2026-06-01", "active")
    land = (await client.get(f"{API}/parcels/{old['parcel_id']}/history", headers=basic("viewer"))).json()
    assert [f["properties"]["status"] for f in land["features"]] == ["planned", "supplied", "exiting",
                                                                     "supplied"]
    assert (await client.get(f"{API}/contracts/{old['id']}", headers=basic("viewer"))).json()["status"] == \
        "terminated"
    cases = (await client.get(f"{API}/exit-cases?status=completed", headers=basic("viewer"))).json()
    assert [c["id"] for c in cases["items"]] == [case["id"]]


async def test_exit_candidates_join_parcels_like_a_table(client, city, db):
    """What WFS `landcycle:exit_candidates` builds on: the candidates query joined to parcel geometry."""
    from sqlalchemy import and_, func, select

    from app.exits.query import candidates
    from models import Parcel

    org = await organisation(client, EAST)
    land = await parcel(client)
    idle = await contract(client, land["id"], await enterprise(client), org, date(2024, 1, 1))
    found = candidates(TODAY, 1).subquery()
    p = Parcel.__table__
    stmt = (select(found.c.contract_id, found.c.reason, found.c.evidence, func.ST_GeometryType(p.c.geom))
            .join(p, and_(p.c.id == found.c.parcel_id, p.c.valid_to.is_(None))))
    async with db.session() as session:
        rows = (await session.execute(stmt)).all()
    assert [tuple(r) for r in rows] == [(idle["id"], "idle_land", [], "ST_MultiPolygon")]
