"""Parallel writers against a real PostGIS: exactly one wins, no lost update, history consistent."""

import asyncio
import itertools
from collections import Counter

import httpx
import pytest
from sqlalchemy import text

from app.main import create_app
from tests.builders import basic, build_city, feature, square
from tests.conftest import make_settings

pytestmark = pytest.mark.live
BUREAU = basic("bureau")


@pytest.fixture
async def live_client(live_db):
    await build_city(live_db)
    app = create_app(make_settings(), live_db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=60) as client:
        yield client


async def _new_parcel(client, code="C-1", x=121.45):
    r = await client.post("/api/v1/parcels", json=feature(square(x, 31.2), code=code, land_use="industrial",
                                                          plot_ratio=1.0), headers=BUREAU)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_parallel_edits_with_the_same_if_match_let_exactly_one_win(live_client, live_db):
    pid = await _new_parcel(live_client)
    ratios = [1.1 + i / 100 for i in range(8)]
    responses = await asyncio.gather(*[
        live_client.patch(f"/api/v1/parcels/{pid}", json={"properties": {"plot_ratio": r}},
                          headers={**BUREAU, "If-Match": '"1"'})
        for r in ratios])
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 412: 7}
    winner = next(r for r in responses if r.status_code == 200).json()["properties"]["plot_ratio"]
    history = (await live_client.get(f"/api/v1/parcels/{pid}/history", headers=BUREAU)).json()["features"]
    assert [(f["properties"]["version"], f["properties"]["plot_ratio"]) for f in history] == [(1, 1.0), (2, winner)]


async def test_parallel_edits_without_if_match_are_serialised_and_none_is_lost(live_client, live_db):
    pid = await _new_parcel(live_client)
    codes = [f"C-1-{i}" for i in range(6)]
    responses = await asyncio.gather(*[
        live_client.patch(f"/api/v1/parcels/{pid}", json={"properties": {"code": c}}, headers=BUREAU) for c in codes])
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    history = (await live_client.get(f"/api/v1/parcels/{pid}/history", headers=BUREAU)).json()["features"]
    assert [f["properties"]["version"] for f in history] == list(range(1, 8))
    assert sorted(f["properties"]["code"] for f in history[1:]) == sorted(codes)
    for older, newer in itertools.pairwise(history):
        assert older["properties"]["valid_to"] == newer["properties"]["valid_from"]
    async with live_db.session() as session:
        current = await session.scalar(text("SELECT count(*) FROM parcel WHERE id = :id AND valid_to IS NULL"),
                                       {"id": pid})
    assert current == 1


async def test_parallel_creation_of_overlapping_parcels_lets_exactly_one_in(live_client, live_db):
    responses = await asyncio.gather(*[
        live_client.post("/api/v1/parcels", json=feature(square(121.45 + i * 0.00002, 31.2), code=f"O-{i}",
                                                         land_use="industrial"), headers=BUREAU)
        for i in range(6)])
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 5}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"PARCEL_OVERLAP"}
    async with live_db.session() as session:
        n = await session.scalar(text("SELECT count(*) FROM parcel WHERE valid_to IS NULL"))
    assert n == 1


async def _contracted(client):
    from datetime import date

    from tests.contract_builders import contract, enterprise, operate, organisation, parcel

    ent, org = await enterprise(client), await organisation(client, "310115")
    p = await parcel(client, "base")
    await contract(client, p["id"], ent, org, date(2025, 1, 1))
    await operate(client, p["id"])
    return p["id"]


async def test_parallel_contract_signing_on_one_parcel_lets_exactly_one_in(live_client, live_db):
    from datetime import date

    from tests.contract_builders import enterprise, organisation, parcel, targets

    p = await parcel(live_client, "base")
    ents = [await enterprise(live_client) for _ in range(5)]
    org = await organisation(live_client, "310115")
    responses = await asyncio.gather(*[
        live_client.post("/api/v1/contracts", json={
            "code": f"HT-PAR-{i}", "parcel_id": p["id"], "enterprise_id": ent, "responsible_org_id": org,
            "signed_on": date(2026, 1, 5).isoformat(), "indicators": targets()}, headers=BUREAU)
        for i, ent in enumerate(ents)])
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 4}, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"CONTRACT_CONFLICT"}
    async with live_db.session() as session:
        holding = await session.scalar(text(
            "SELECT count(*) FROM contract WHERE parcel_id = :p AND valid_to IS NULL AND status = 'active'"),
            {"p": p["id"]})
    assert holding == 1


async def test_parallel_submissions_for_one_parcel_let_exactly_one_in(live_client, live_db):
    pid = await _contracted(live_client)
    users = ["officer.east", "officer2.east", "bureau", "officer.east"]
    responses = await asyncio.gather(*[
        live_client.post("/api/v1/plot-ratio-requests", json={"parcel_id": pid, "requested_plot_ratio": 1.6 + i / 10,
                                                               "reason": "line"}, headers=basic(u))
        for i, u in enumerate(users)])
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 3}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"REQUEST_CONFLICT"}


async def test_two_officers_approving_at_once_make_one_decision(live_client, live_db):
    pid = await _contracted(live_client)
    r = await live_client.post("/api/v1/plot-ratio-requests", json={"parcel_id": pid, "requested_plot_ratio": 1.9,
                                                                     "reason": "line"}, headers=basic("officer.east"))
    rid = r.json()["id"]
    notice = {"starts_on": "2026-04-01", "ends_on": "2026-04-20"}
    assert (await live_client.post(f"/api/v1/plot-ratio-requests/{rid}/notice", json=notice,
                                   headers=basic("officer.east"))).status_code == 200
    deciders = ["officer2.east", "bureau"]
    responses = await asyncio.gather(*[
        live_client.post(f"/api/v1/plot-ratio-requests/{rid}/decision", json={"decision": "approve"},
                         headers=basic(u)) for u in deciders])
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 1}, [r.text for r in responses]
    loser = next(r for r in responses if r.status_code == 409).json()
    assert (loser["code"], loser["state"]) == ("INVALID_TRANSITION", "approved")
    history = (await live_client.get(f"/api/v1/parcels/{pid}/history", headers=BUREAU)).json()["features"]
    assert [f["properties"]["plot_ratio"] for f in history].count(1.9) == 1
