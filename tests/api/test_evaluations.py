from datetime import date

import pytest
from sqlalchemy import text

from app.auth.permissions import Actor
from app.evaluations.results import ResultInput, record_results
from tests.builders import EAST, WEST, basic
from tests.conftest import make_settings
from tests.contract_builders import contract, enterprise, evaluations, operate, organisation, parcel, pending, result

API = "/api/v1"
TODAY = date(2026, 6, 1)
pytestmark = pytest.mark.settings(today=TODAY)
BUREAU = Actor(1, "bureau", "bureau")


@pytest.fixture
async def org(client, city):
    return await organisation(client, EAST)


async def signed(client, org, signed_on=date(2012, 1, 1), site="base", industry="C39", **kw):
    land = await parcel(client, site)
    c = await contract(client, land["id"], await enterprise(client, industry), org, signed_on, **kw)
    await operate(client, land["id"])
    return c


async def with_peers(client, org, values, day=date(2015, 2, 1), site="base"):
    """Contracts of industry C39 whose commissioning results (output, tax) are `values`."""
    out = []
    for output, tax in values:
        c = await signed(client, org, site=site)
        await result(client, (await pending(client, c["id"], "commissioning"))["id"], day,
                     output_per_mu=output,
                     tax_per_mu=tax)
        out.append(c)
    return out


async def test_a_pass_in_rectification_restores_active_and_the_parcel(client, org):
    await with_peers(client, org, [(500, 50)] * 5)
    x = await signed(client, org)
    below = await result(client, (await pending(client, x["id"], "commissioning"))["id"], date(2015, 3, 1),
                         output_per_mu=450, tax_per_mu=60)
    assert (below["consequence"], below["ratios"]["output_per_mu"]) == ("rectification", pytest.approx(0.9))
    rect = await pending(client, x["id"], "rectification")
    assert rect["due_on"] == "2016-03-01"
    # The periodic evaluation comes first and passes: back to active, the re-evaluation is cancelled.
    ok = await result(client, (await pending(client, x["id"], "periodic"))["id"], date(2015, 12, 1),
                      output_per_mu=520, tax_per_mu=60)
    assert (ok["outcome"], ok["consequence"]) == ("pass", "restored")
    got = (await client.get(f"{API}/contracts/{x['id']}", headers=basic("viewer"))).json()
    assert (got["status"], got["rectify_by"], got["version"]) == ("active", None, 3)
    assert [e["status"] for e in await evaluations(client, x["id"], stage="rectification")] == ["cancelled"]
    land = (await client.get(f"{API}/parcels/{x['parcel_id']}/history", headers=basic("viewer"))).json()
    assert [f["properties"]["status"] for f in land["features"]][-3:] == ["operating", "rectification",
                                                                          "operating"]


async def test_two_below_in_a_row_make_a_repeated_below_bottom_line_candidate(client, org):
    await with_peers(client, org, [(500, 50)] * 5)
    x = await signed(client, org)
    first = await result(client, (await pending(client, x["id"], "commissioning"))["id"], date(2015, 3, 1),
                         output_per_mu=450, tax_per_mu=60)
    second = await result(client, (await pending(client, x["id"], "periodic"))["id"], date(2015, 12, 1),
                          output_per_mu=480, tax_per_mu=60)
    assert (second["consequence"], second["exit_reason"], second["evidence"]) == (
        "exit_candidate", "repeated_below_bottom_line", [first["id"], second["id"]])
    found = (await client.get(f"{API}/exit-candidates?reason=repeated_below_bottom_line",
                              headers=basic("viewer"))).json()["items"]
    assert [(i["contract_id"], i["evidence"]) for i in found] == [(x["id"], [first["id"], second["id"]])]


async def test_fewer_than_five_district_peers_fall_back_to_the_city(client, city):
    east, west = await organisation(client, EAST), await organisation(client, WEST)
    await with_peers(client, east, [(400, 30), (500, 40), (600, 50), (700, 60)])
    await with_peers(client, west, [(800, 70)], site="community")
    x = await signed(client, west, site="community")
    r = await result(client, (await pending(client, x["id"], "commissioning"))["id"], date(2015, 3, 1),
                     output_per_mu=600, tax_per_mu=50)
    assert r["peer_groups"]["output_per_mu"] == {"bottom_line": 600.0, "source": "city", "mean": 600.0,
                                                 "n": 5,
                                                 "group": {"industry_code": "C39", "district_code": None,
                                                           "year": 2015, "as_of": "2015-03-01"}}
    assert r["ratios"] == {"output_per_mu": 1.0, "tax_per_mu": 1.0}
    assert r["outcome"] == "pass"  # exactly at the bottom line passes


async def test_results_before_the_peers_date_are_not_seen(client, org):
    await with_peers(client, org, [(500, 50)] * 5, day=date(2015, 2, 1))
    x = await signed(client, org)
    r = await result(client, (await pending(client, x["id"], "commissioning"))["id"], date(2015, 1, 31),
                     output_per_mu=300, tax_per_mu=20)
    assert (r["peer_groups"]["output_per_mu"]["source"], r["outcome"]) == ("floor", "pass")


async def test_who_records_results(client, org):
    x = await signed(client, org)
    first = await pending(client, x["id"], "commissioning")
    values = {"output_per_mu": 300, "tax_per_mu": 20}
    assert (await result(client, first["id"], date(2015, 2, 1), 403, "officer.west", **values))["code"] == \
        "FORBIDDEN_DISTRICT"
    assert (await result(client, first["id"], date(2015, 2, 1), 403, "viewer", **values))["code"] == \
        "FORBIDDEN_ROLE"
    await result(client, first["id"], date(2015, 2, 1), 200, "officer.east", **values)
    again = await result(client, first["id"], date(2015, 2, 2), 409, "evaluator.east", **values)
    assert again["code"] == "INVALID_TRANSITION"
    log = (await client.get(f"{API}/audit?entity=evaluation&entity_id={first['id']}",
                            headers=basic("bureau"))).json()["items"]
    assert [(e["outcome"], e["code"]) for e in log] == [
        ("refused", "INVALID_TRANSITION"), ("done", None), ("refused", "FORBIDDEN_ROLE"),
        ("refused", "FORBIDDEN_DISTRICT")]


@pytest.mark.parametrize(("day", "measurements", "words"), [
    (date(2026, 6, 2), {"output_per_mu": 300, "tax_per_mu": 20}, "in the future"),
    (date(2011, 12, 31), {"output_per_mu": 300, "tax_per_mu": 20}, "precedes the signing"),
    (date(2015, 2, 1), {"output_per_mu": 300}, "missing for tax_per_mu"),
    (date(2015, 2, 1), {"output_per_mu": 300, "tax_per_mu": 20, "profit": 3}, "unknown indicator"),
])
async def test_results_are_validated(client, org, day, measurements, words):
    x = await signed(client, org)
    first = await pending(client, x["id"], "commissioning")
    body = await result(client, first["id"], day, 422, **measurements)
    assert body["code"] == "VALIDATION_ERROR"
    assert words in body["detail"]


async def test_negative_or_malformed_measurements_are_problems(client, org):
    x = await signed(client, org)
    first = await pending(client, x["id"], "commissioning")
    for body in ({"evaluated_on": "2015-02-01", "measurements": {"output_per_mu": -1, "tax_per_mu": 1}},
                 {"evaluated_on": "not a date", "measurements": {}},
                 {"evaluated_on": "2015-02-01", "measurements": {"output_per_mu": "x"}}):
        r = await client.post(f"{API}/evaluations/{first['id']}/result", json=body, headers=basic("bureau"))
        assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")
    body = {"evaluated_on": "2015-02-01", "measurements": {}}
    r = await client.post(f"{API}/evaluations/99999/result", json=body, headers=basic("bureau"))
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")


async def test_the_queue_filters_and_routes_to_the_district(client, city):
    east, west = await organisation(client, EAST), await organisation(client, WEST)
    a = await signed(client, east, signed_on=date(2023, 5, 1))  # commissioning 2026-05-01: overdue
    b = await signed(client, west, signed_on=date(2023, 7, 1), site="community")  # 2026-07-01: scheduled
    overdue = (await client.get(f"{API}/evaluations?status=overdue", headers=basic("bureau"))).json()
    assert [(e["contract_id"], e["days_overdue"], e["overdue"]) for e in overdue["items"]] == [(a["id"], 31,
                                                                                                True)]
    soon = (await client.get(f"{API}/evaluations?status=scheduled&due_before=2026-07-02",
                             headers=basic("bureau"))).json()
    assert [(e["contract_id"], e["due_on"]) for e in soon["items"]] == [(b["id"], "2026-07-01")]
    mine = (await client.get(f"{API}/evaluations?stage=commissioning",
                             headers=basic("evaluator.east"))).json()
    assert {e["district_code"] for e in mine["items"]} == {EAST}
    west_q = await client.get(f"{API}/evaluations?stage=commissioning&district_code={WEST}",
                              headers=basic("evaluator.east"))
    assert (west_q.status_code, west_q.json()["code"]) == (403, "FORBIDDEN_DISTRICT")  # SPEC §4 scope
    west_q = await client.get(f"{API}/evaluations?stage=commissioning&district_code={WEST}",
                              headers=basic("bureau"))
    assert {e["contract_id"] for e in west_q.json()["items"]} == {b["id"]}
    due = (await client.get(f"{API}/reports/evaluations-due?within_days=30", headers=basic("bureau"))).json()
    assert (due["due"], due["overdue"], due["until"]) == (2, 1, "2026-07-01")
    by_district = [(d["district_code"], d["due"], d["overdue"]) for d in due["by_district"]]
    assert by_district == [(WEST, 1, 0), (EAST, 1, 1)]
    assert [i["contract_id"] for i in due["items"]] == [a["id"], b["id"]]
    csv = await client.get(f"{API}/reports/evaluations-due?within_days=29&f=csv", headers=basic("bureau"))
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("id,due_on,status,days_overdue,stage")
    assert len(lines) == 2 and ",overdue,31,commissioning," in lines[1]


async def test_a_batch_sees_the_same_peers_as_results_recorded_one_by_one(client, org, db):
    """The set-based peer statistics of a batch equal a brute-force reading of rule 4 for each result."""
    contracts = await with_peers(client, org, [(400, 30), (500, 40), (600, 50), (700, 60), (800, 70), (650,
                                                                                                       55)])
    batch = []
    for k, c in enumerate(contracts):
        periodic = await pending(client, c["id"], "periodic")
        batch.append(ResultInput(periodic["id"], date(2020, 1, 1 + 3 * k),
                                 {"output_per_mu": 500.0 + 40 * k, "tax_per_mu": 45.0 + k}))
    async with db.session() as session:
        await record_results(session, BUREAU, make_settings().policy, batch, TODAY)
    async with db.session() as session:
        rows = (await session.execute(text("""
            SELECT e.id, e.contract_id, e.evaluated_on, (e.measurements->>'output_per_mu')::float8 AS o,
                   (e.peer_groups->'output_per_mu'->>'mean')::float8 AS mean,
                   (e.peer_groups->'output_per_mu'->>'n')::int AS n
              FROM evaluation e WHERE e.evaluated_on IS NOT NULL ORDER BY e.id"""))).all()
    for item in batch:
        me = next(r for r in rows if r.id == item.evaluation_id)
        latest: dict[int, tuple[date, float]] = {}
        for r in rows:  # every other contract's latest result up to my date
            mine_or_later = r.contract_id == me.contract_id or r.evaluated_on > me.evaluated_on
            newer = r.contract_id not in latest or r.evaluated_on >= latest[r.contract_id][0]
            if not mine_or_later and newer:
                latest[r.contract_id] = (r.evaluated_on, r.o)
        values = [v for _, v in latest.values()]
        assert (me.n, me.mean) == (len(values), pytest.approx(sum(values) / len(values))), item
