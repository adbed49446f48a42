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
