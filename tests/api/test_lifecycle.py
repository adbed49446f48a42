"""SPEC §3 rules 5–8 in one walk: a contract from signing through commissioning, two periodic evaluations, a
below-bottom-line result, rectification, a failed re-evaluation, exit candidate, exit case and recovery,
checking every date, status, ratio and frozen peer statistic on the way."""

from datetime import date

import pytest

from tests.builders import EAST, basic
from tests.contract_builders import (
    contract,
    enterprise,
    evaluations,
    operate,
    organisation,
    parcel,
    pending,
    result,
    targets,
)

API = "/api/v1"
TODAY = date(2026, 6, 1)
pytestmark = pytest.mark.settings(today=TODAY)


def frozen(body, code):
    return body["peer_groups"][code]


async def test_a_contract_from_signing_to_recovery(client, city):
    org = await organisation(client, EAST)
    ent = await enterprise(client, "C39")
    land = await parcel(client, "base")
    goals = targets(output_per_mu=300, tax_per_mu=20, jobs=100, energy_per_value_added=0.3)

    # --- signing: no peers yet, so the bottom line is the floor (200 / 15) ---------------------------
    low = await contract(client, land["id"], ent, org, date(2010, 3, 1), targets(output_per_mu=150),
                         expect=409)
    assert (low["code"], low["bottom_line"], low["source"], low["n"]) == ("ACCESS_STANDARD_NOT_MET", 200.0,
                                                                          "floor", 0)
    x = await contract(client, land["id"], ent, org, date(2010, 3, 1), goals, code="HT-X")
    assert (x["status"], x["expires_on"], x["version"]) == ("active", "2030-03-01", 1)
    schedule = [(e["stage"], e["seq"], e["due_on"]) for e in await evaluations(client, x["id"])]
    assert schedule == [("commissioning", 1, "2013-03-01"), ("periodic", 1, "2018-03-01"),
                        ("periodic", 2, "2023-03-01"), ("periodic", 3, "2028-03-01"), ("expiry", 1,
                                                                                       "2029-03-01")]
    parcel_url = f"{API}/parcels/{land['id']}"
    assert (await client.get(parcel_url,
                             headers=basic("viewer"))).json()["properties"]["status"] == "supplied"
    for step, on in (("under_construction", "2010-09-01"), ("operating", "2012-10-01")):
        r = await client.patch(parcel_url, json={"properties": {"status": step, "status_on": on}},
                               headers=basic("officer.east"))
        assert r.status_code == 200, r.text

    # --- commissioning (2013): still no peers in force with results: floor ------------------------------
    commissioning = await pending(client, x["id"], "commissioning")
    assert commissioning["status"] == "overdue"  # due 2013, today 2026
    c = await result(client, commissioning["id"], date(2013, 3, 5), user="evaluator.east",
                     output_per_mu=320, tax_per_mu=22, jobs=110, energy_per_value_added=0.25)
    assert (c["status"], c["outcome"], c["consequence"], c["evaluated_by"]) == (
        "completed", "pass", "none", "evaluator.east")
    assert c["ratios"] == {"output_per_mu": pytest.approx(1.6), "tax_per_mu": pytest.approx(22 / 15)}
    assert frozen(c, "output_per_mu") == {"bottom_line": 200.0, "source": "floor", "mean": None, "n": 0,
                                          "group": {
        "industry_code": "C39", "district_code": None, "year": 2013, "as_of": "2013-03-05"}}
    assert c["attainment"]["energy_per_value_added"] == {"target": 0.3, "measured": 0.25, "comparator": "<=",
                                                         "unit": "tce/万元", "met": True}

    # --- five peers of the same industry and district, measured in 2015 --------------------------------
    peers = []
    for k, (out, tax) in enumerate([(400, 30), (500, 40), (600, 50), (700, 60), (800, 70)]):
        p = await contract(client, (await parcel(client, "base"))["id"], await enterprise(client, "C39"), org,
                           date(2012, 1, 1), code=f"HT-P{k + 1}")
        await operate(client, p["parcel_id"])
        first = await pending(client, p["id"], "commissioning")
        assert first["due_on"] == "2015-01-01"
        await result(client, first["id"], date(2015, 2, 1), output_per_mu=out, tax_per_mu=tax)
        peers.append(p)

    # --- first periodic evaluation (2018): the district's five peers set the bottom line --------------
    p1 = await pending(client, x["id"], "periodic", 1)
    r1 = await result(client, p1["id"], date(2018, 3, 10), output_per_mu=660, tax_per_mu=55, jobs=120,
                      energy_per_value_added=0.2)
    assert (r1["outcome"], r1["consequence"]) == ("pass", "none")
    assert r1["ratios"] == {"output_per_mu": pytest.approx(1.1), "tax_per_mu": pytest.approx(1.1)}
    assert frozen(r1, "output_per_mu") == {"bottom_line": 600.0, "source": "district", "mean": 600.0, "n": 5,
                                           "group": {"industry_code": "C39", "district_code": EAST,
                                                     "year": 2018,
                                                     "as_of": "2018-03-10"}}
    assert frozen(r1, "tax_per_mu")["bottom_line"] == 50.0

    # --- a peer improves (its latest result replaces its earlier one) ----------------------------------
    peer_periodic = await pending(client, peers[0]["id"], "periodic", 1)
    assert peer_periodic["due_on"] == "2020-01-01"
    await result(client, peer_periodic["id"], date(2020, 1, 5), output_per_mu=900, tax_per_mu=80)

    # --- second periodic evaluation (2023): below the bottom line → rectification -----------------------
    p2 = await pending(client, x["id"], "periodic", 2)
    r2 = await result(client, p2["id"], date(2023, 3, 10), output_per_mu=630, tax_per_mu=63, jobs=120,
                      energy_per_value_added=0.2)
    assert frozen(r2, "output_per_mu")["mean"] == 700.0  # (900 + 500 + 600 + 700 + 800) / 5
    assert frozen(r2, "tax_per_mu")["mean"] == 60.0  # (80 + 40 + 50 + 60 + 70) / 5
    assert r2["ratios"] == {"output_per_mu": pytest.approx(0.9), "tax_per_mu": pytest.approx(1.05)}
    assert (r2["outcome"], r2["consequence"], r2["evidence"]) == ("below_bottom_line", "rectification",
                                                                  [p2["id"]])
    xc = (await client.get(f"{API}/contracts/{x['id']}", headers=basic("viewer"))).json()
    assert (xc["status"], xc["rectify_by"], xc["version"]) == ("rectification", "2024-03-10", 2)
    rect = await pending(client, x["id"], "rectification", 1)
    assert (rect["due_on"], rect["status"]) == ("2024-03-10", "overdue")
    assert (await client.get(parcel_url,
                             headers=basic("viewer"))).json()["properties"]["status"] == "rectification"

    # --- the rectification evaluation fails → exit candidate ----------------------------------------------
    r3 = await result(client, rect["id"], date(2024, 3, 15), output_per_mu=640, tax_per_mu=61, jobs=120,
                      energy_per_value_added=0.2)
    assert r3["ratios"]["output_per_mu"] == pytest.approx(640 / 700)
    assert (r3["outcome"], r3["consequence"], r3["exit_reason"], r3["evidence"]) == (
        "below_bottom_line", "exit_candidate", "failed_rectification", [p2["id"], rect["id"]])
    candidates = (await client.get(f"{API}/exit-candidates", headers=basic("viewer"))).json()
    assert [(i["contract_id"], i["reason"], i["evidence"], i["since"]) for i in candidates["items"]] == [
        (x["id"], "failed_rectification", [p2["id"], rect["id"]], "2024-03-15")]

    # --- exit case: the bureau opens it for the candidate only -------------------------------------------
    latest = (await client.get(f"{API}/audit?limit=1", headers=basic("bureau"))).json()["items"]
    marker = latest[0]["id"] if latest else 0  # the audit log is append-only: other tests' rows stay
    case_body = {"contract_id": x["id"], "method": "recovery", "decision_ref": "沪规划资源〔2026〕12号"}
    r = await client.post(f"{API}/exit-cases", json=case_body, headers=basic("officer.east"))
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_ROLE")
    r = await client.post(f"{API}/exit-cases", json={**case_body, "contract_id": peers[1]["id"]},
                          headers=basic("bureau"))
    assert (r.status_code, r.json()["code"]) == (409, "INVALID_TRANSITION")
    r = await client.post(f"{API}/exit-cases", json=case_body, headers=basic("bureau"))
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["status"], case["reasons"], case["evidence"], case["opened_on"]) == (
        "open", ["failed_rectification"], [p2["id"], rect["id"]], "2026-06-01")
    xc = (await client.get(f"{API}/contracts/{x['id']}", headers=basic("viewer"))).json()
    assert (xc["status"], xc["ended_on"], xc["rectify_by"], xc["version"]) == ("exiting", "2026-06-01", None,
                                                                               3)
    assert (await client.get(parcel_url, headers=basic("viewer"))).json()["properties"]["status"] == "exiting"
    cancelled = await evaluations(client, x["id"], status="cancelled")
    assert [(e["stage"], e["seq"], e["cancelled_on"]) for e in cancelled] == [
        ("periodic", 3, "2026-06-01"), ("expiry", 1, "2026-06-01")]
    late = await result(client, cancelled[0]["id"], date(2026, 5, 1), expect=409, output_per_mu=1,
                        tax_per_mu=1,
                        jobs=1, energy_per_value_added=1)
    assert late["code"] == "INVALID_TRANSITION"
    assert (await client.get(f"{API}/exit-candidates", headers=basic("viewer"))).json()["numberMatched"] == 0
    again = await client.post(f"{API}/exit-cases", json=case_body, headers=basic("bureau"))
    assert (again.status_code, again.json()["code"]) == (409, "INVALID_TRANSITION")

    # --- completion: contract terminated, land recovered -----------------------------------------------
    done = await client.post(f"{API}/exit-cases/{case['id']}/complete", json={"completed_on": "2026-06-01"},
                             headers=basic("bureau"))
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["completed_on"]) == ("completed", "2026-06-01")
    xc = (await client.get(f"{API}/contracts/{x['id']}", headers=basic("viewer"))).json()
    assert (xc["status"], xc["ended_on"], xc["version"]) == ("terminated", "2026-06-01", 4)
    history = (await client.get(f"{API}/contracts/{x['id']}/history",
                                headers=basic("viewer"))).json()["items"]
    assert [v["status"] for v in history] == ["active", "rectification", "exiting", "terminated"]
    parcel_history = (await client.get(f"{parcel_url}/history", headers=basic("viewer"))).json()["features"]
    assert [f["properties"]["status"] for f in parcel_history] == [
        "planned", "supplied", "under_construction", "operating", "rectification", "exiting", "recovered"]
    twice = await client.post(f"{API}/exit-cases/{case['id']}/complete", headers=basic("bureau"))
    assert (twice.status_code, twice.json()["code"]) == (409, "INVALID_TRANSITION")
    # The land can be supplied anew, held to today's bottom line of the five peers (X is out of force).
    fresh = await contract(client, land["id"], await enterprise(client), org, date(2026, 6, 1),
                           targets(output_per_mu=700, tax_per_mu=60))
    assert fresh["status"] == "active"

    # --- every write left an audit trail -------------------------------------------------------------------
    log = (await client.get(f"{API}/audit?entity=evaluation&limit=100",
                            headers=basic("bureau"))).json()["items"]
    assert {(e["action"], e["outcome"]) for e in log} >= {("record_result", "done"), ("schedule", "done"),
                                                          ("record_result", "refused")}
    log = (await client.get(f"{API}/audit?entity=exit_case&limit=50",
                            headers=basic("bureau"))).json()["items"]
    assert [(e["action"], e["outcome"]) for e in log if e["id"] > marker] == [
        ("complete", "refused"), ("complete", "done"), ("open", "refused"), ("open", "done"),
        ("open", "refused"), ("open", "refused")]
