"""Plot-ratio adjustment requests over REST (rule 9, with rule 3): every transition allowed and refused,
every code with its numbers, the reference-parcel search, the queue, and the audit trail."""

from datetime import date, timedelta

import pytest

from tests.builders import BZ, basic, create_parcel, square
from tests.contract_builders import contract, enterprise, operate, operating_land, organisation, parcel, pending, result

API = "/api/v1/plot-ratio-requests"
TODAY = date(2026, 6, 1)
pytestmark = pytest.mark.settings(today=TODAY)
PAST_NOTICE = {"starts_on": "2026-04-01", "ends_on": "2026-04-20"}
OFFICER, COLLEAGUE, WEST_OFFICER = basic("officer.east"), basic("officer2.east"), basic("officer.west")
BUREAU = basic("bureau")


@pytest.fixture
async def land(client, city):
    """An operating industrial parcel (plot ratio 1.5) in the east base zone under an active contract."""
    return await operating_land(client)


async def submit(client, parcel_id, ratio, user=OFFICER, expect=201, **extra):
    r = await client.post(API, json={"parcel_id": parcel_id, "requested_plot_ratio": ratio,
                                     "reason": "new production line", **extra}, headers=user)
    assert r.status_code == expect, r.text
    return r.json()


async def act(client, request_id, action, user, expect=200, body=None, headers=None):
    r = await client.post(f"{API}/{request_id}/{action}", json=body, headers={**user, **(headers or {})})
    assert r.status_code == expect, r.text
    return r.json()


async def test_up_to_the_default_cap_the_district_route_is_taken(client, land):
    req = await submit(client, land["parcel"]["id"], 1.9)
    assert (req["route"], req["status"], req["submitted_by"]) == ("district", "submitted", "officer.east")
    assert (req["current_plot_ratio"], req["requested_plot_ratio"], req["default_cap"]) == (1.5, 1.9, 2.0)
    assert (req["district_code"], req["age_days"], req["version"]) == ("310115", 0, 1)


async def test_above_the_cap_the_city_route_takes_the_nearest_qualifying_reference(client, land):
    x, y = land["parcel"]["geometry"]["coordinates"][0][0][0]
    office = await create_parcel(client, square(x + 0.003, y), code="OFF-NEAR", land_use="office", plot_ratio=3.5)
    await create_parcel(client, square(x + 0.02, y), code="OFF-FAR", land_use="office", plot_ratio=6.0)
    req = await submit(client, land["parcel"]["id"], 2.8)
    assert (req["route"], req["reference_parcel_id"]) == ("city", office["id"])


async def test_above_the_cap_without_a_qualifying_reference_is_refused_with_the_nearest_candidate(client, land):
    x, y = land["parcel"]["geometry"]["coordinates"][0][0][0]
    weak = await create_parcel(client, square(x + 0.003, y), code="OFF-WEAK", land_use="office", plot_ratio=2.4)
    body = await submit(client, land["parcel"]["id"], 2.8, expect=409)
    assert body["code"] == "FAR_CAP_EXCEEDED"
    assert (body["cap"], body["requested"]) == (2.0, 2.8)
    assert body["nearest_reference"]["id"] == weak["id"] and body["nearest_reference"]["qualifies"] is False
    assert body["detail"].startswith("plot ratio 2.8 above cap 2.0 for industrial land")


async def test_a_named_reference_must_qualify(client, land):
    # Outside the base zone (east of lon 121.6) and kilometres from every parcel of the base site, wherever
    # the site's serial has put the parcel: neither the same zone nor within the distance (rule 3).
    _, y = land["parcel"]["geometry"]["coordinates"][0][0][0]
    far = await create_parcel(client, square(121.63, y), code="OFF-FAR2", land_use="office", plot_ratio=5)
    body = await submit(client, land["parcel"]["id"], 2.5, expect=409, reference_parcel_id=far["id"])
    assert body["code"] == "FAR_CAP_EXCEEDED" and "does not qualify" in body["detail"]


async def test_a_named_reference_that_is_no_parcel_is_not_found_by_the_field_sent(client, land):
    body = await submit(client, land["parcel"]["id"], 2.5, expect=404, reference_parcel_id=987654)
    assert (body["code"], body["reference_parcel_id"]) == ("NOT_FOUND", 987654)


async def test_the_requested_ratio_must_be_an_increase(client, land):
    body = await submit(client, land["parcel"]["id"], 1.5, expect=409)
    assert (body["code"], body["current"], body["requested"]) == ("FAR_NOT_INCREASED", 1.5, 1.5)


async def test_district_officers_submit_only_in_their_district_and_other_roles_not_at_all(client, land):
    body = await submit(client, land["parcel"]["id"], 1.8, user=WEST_OFFICER, expect=403)
    assert (body["code"], body["your_district"], body["district_code"]) == ("FORBIDDEN_DISTRICT", "310112",
                                                                            "310115")
    for user in ("evaluator.east", "viewer", "admin"):
        assert (await submit(client, land["parcel"]["id"], 1.8, user=basic(user), expect=403))["code"] == \
            "FORBIDDEN_ROLE"
    assert (await submit(client, land["parcel"]["id"], 1.8, user=BUREAU))["submitted_by"] == "bureau"


async def test_a_second_open_request_for_the_parcel_is_refused(client, land):
    first = await submit(client, land["parcel"]["id"], 1.8)
    body = await submit(client, land["parcel"]["id"], 1.9, user=COLLEAGUE, expect=409)
    assert (body["code"], body["open_request_id"]) == ("REQUEST_CONFLICT", first["id"])
    await act(client, first["id"], "withdraw", OFFICER)
    await submit(client, land["parcel"]["id"], 1.9, user=COLLEAGUE)


async def test_no_request_without_an_active_contract(client, city):
    p = await parcel(client, "base")
    body = await submit(client, p["id"], 1.8, expect=422)
    assert body["code"] == "VALIDATION_ERROR" and "no contract in force" in body["detail"]


async def test_no_request_while_the_contract_is_in_rectification(client, city):
    ent, org = await enterprise(client), await organisation(client, "310115")
    p = await parcel(client, "base")
    c = await contract(client, p["id"], ent, org, date(2019, 1, 1))
    await operate(client, p["id"])
    below = await result(client, (await pending(client, c["id"], "commissioning"))["id"], date(2022, 2, 1),
                         output_per_mu=50, tax_per_mu=5)
    assert below["consequence"] == "rectification"
    body = await submit(client, p["id"], 1.8, expect=409)
    assert (body["code"], body["contract_id"], body["contract_status"]) == ("CONTRACT_IN_RECTIFICATION", c["id"],
                                                                             "rectification")


async def test_a_district_request_from_submission_to_approval_changes_the_parcel_and_is_audited(client, land):
    pid = land["parcel"]["id"]
    req = await submit(client, pid, 1.9)
    noticed = await act(client, req["id"], "notice", OFFICER, body=PAST_NOTICE)
    assert (noticed["status"], noticed["notice_starts_on"], noticed["notice_ends_on"]) == (
        "public_notice", "2026-04-01", "2026-04-20")
    assert noticed["notice_recorded_by"] == "officer.east" and noticed["version"] == 2
    own = await act(client, req["id"], "decision", OFFICER, expect=403, body={"decision": "approve"})
    assert (own["code"], own["submitted_by"]) == ("SELF_APPROVAL_FORBIDDEN", "officer.east")
    outsider = await act(client, req["id"], "decision", WEST_OFFICER, expect=403, body={"decision": "approve"})
    assert outsider["code"] == "FORBIDDEN_DISTRICT"
    approved = await act(client, req["id"], "decision", COLLEAGUE, body={"decision": "approve", "note": "ok"})
    assert (approved["status"], approved["decided_by"], approved["decision_note"]) == ("approved", "officer2.east",
                                                                                      "ok")
    parcel_now = (await client.get(f"/api/v1/parcels/{pid}", headers=BUREAU)).json()["properties"]
    assert (parcel_now["plot_ratio"], parcel_now["plot_ratio_cap_source"]) == (1.9, "default")
    assert approved["parcel_version_applied"] == parcel_now["version"]
    history = (await client.get(f"/api/v1/parcels/{pid}/history", headers=BUREAU)).json()["features"]
    assert [f["properties"]["plot_ratio"] for f in history][-2:] == [1.5, 1.9]
    trail = (await client.get(f"/api/v1/audit?entity=plot_ratio_request&entity_id={req['id']}",
                              headers=BUREAU)).json()["items"]
    assert [(e["action"], e["outcome"], e["actor"]) for e in reversed(trail)] == [
        ("submit", "done", "officer.east"), ("record_notice", "done", "officer.east"),
        ("approve", "refused", "officer.east"), ("approve", "refused", "officer.west"),
        ("approve", "done", "officer2.east")]
    assert [e["code"] for e in reversed(trail)][2:4] == ["SELF_APPROVAL_FORBIDDEN", "FORBIDDEN_DISTRICT"]
    parcel_trail = (await client.get(f"/api/v1/audit?entity=parcel&entity_id={pid}", headers=BUREAU)).json()
    last = parcel_trail["items"][0]
    assert (last["action"], last["actor"], last["before"]["plot_ratio"], last["after"]["plot_ratio"]) == (
        "update", "officer2.east", 1.5, 1.9)


async def test_a_city_request_is_decided_by_the_bureau_and_records_the_reference(client, land):
    x, y = land["parcel"]["geometry"]["coordinates"][0][0][0]
    office = await create_parcel(client, square(x + 0.003, y), code="OFF-C", land_use="commercial", plot_ratio=4.0)
    req = await submit(client, land["parcel"]["id"], 3.2)
    await act(client, req["id"], "notice", OFFICER, body=PAST_NOTICE)
    body = await act(client, req["id"], "decision", COLLEAGUE, expect=403, body={"decision": "approve"})
    assert (body["code"], body["route"]) == ("FORBIDDEN_ROLE", "city")
    await act(client, req["id"], "decision", BUREAU, body={"decision": "approve"})
    p = (await client.get(f"/api/v1/parcels/{land['parcel']['id']}", headers=BUREAU)).json()["properties"]
    assert (p["plot_ratio"], p["plot_ratio_cap"], p["plot_ratio_cap_source"], p["plot_ratio_reference_id"]) == (
        3.2, 4.0, "reference", office["id"])


async def test_a_decision_waits_for_the_end_of_the_notice(client, land):
    req = await submit(client, land["parcel"]["id"], 1.8)
    ends = TODAY + timedelta(days=3)
    await act(client, req["id"], "notice", OFFICER,
              body={"starts_on": str(TODAY - timedelta(days=10)), "ends_on": str(ends)})
    body = await act(client, req["id"], "decision", COLLEAGUE, expect=409, body={"decision": "reject"})
    assert (body["code"], body["notice_ends_on"], body["decide_from"]) == (
        "NOTICE_PERIOD_NOT_OVER", str(ends), str(ends + timedelta(days=1)))


async def test_a_notice_lasts_seven_to_thirty_days(client, land):
    req = await submit(client, land["parcel"]["id"], 1.8)
    for starts, ends in (("2026-04-01", "2026-04-06"), ("2026-04-01", "2026-05-01"), ("2026-04-10", "2026-04-01")):
        body = await act(client, req["id"], "notice", OFFICER, expect=422, body={"starts_on": starts, "ends_on": ends})
        assert body["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(("path", "state"), [
    (["decision:approve"], "submitted"),                                 # submitted → approve
    (["decision:reject"], "submitted"),                                  # submitted → reject
    (["notice", "notice"], "public_notice"),                             # public_notice → record_notice
    (["notice", "decision:approve", "withdraw"], "approved"),            # approved → withdraw
    (["notice", "decision:reject", "decision:approve"], "rejected"),     # rejected → approve
    (["withdraw", "notice"], "withdrawn"),                               # withdrawn → record_notice
    (["withdraw", "withdraw"], "withdrawn"),                             # withdrawn → withdraw
])
async def test_every_other_transition_is_refused_naming_state_and_action(client, land, path, state):
    req = await submit(client, land["parcel"]["id"], 1.8)
    *before, last = path
    actors = {"notice": OFFICER, "withdraw": OFFICER, "decision": COLLEAGUE}

    def call(step):
        action, _, decision = step.partition(":")
        body = PAST_NOTICE if action == "notice" else ({"decision": decision} if decision else None)
        return action, body

    for step in before:
        action, body = call(step)
        await act(client, req["id"], action, actors[action], body=body)
    action, body = call(last)
    refused = await act(client, req["id"], action, actors[action], expect=409, body=body)
    assert refused["code"] == "INVALID_TRANSITION"
    assert refused["state"] == state
    assert refused["state"].replace("_", " ") in refused["detail"]


async def test_only_the_submitter_withdraws(client, land):
    req = await submit(client, land["parcel"]["id"], 1.8)
    body = await act(client, req["id"], "withdraw", COLLEAGUE, expect=403)
    assert body["code"] == "FORBIDDEN_ROLE"
    assert (await act(client, req["id"], "withdraw", OFFICER))["status"] == "withdrawn"


async def test_a_stale_if_match_is_refused(client, land):
    req = await submit(client, land["parcel"]["id"], 1.8)
    body = await act(client, req["id"], "notice", OFFICER, expect=412, body=PAST_NOTICE, headers={"If-Match": '"7"'})
    assert body["code"] == "VERSION_CONFLICT"
    await act(client, req["id"], "notice", OFFICER, body=PAST_NOTICE, headers={"If-Match": '"1"'})


async def test_the_queue_filters_scopes_and_ages(client, land, conn):
    from sqlalchemy import text

    req = await submit(client, land["parcel"]["id"], 1.8)
    await conn.execute(text("UPDATE plot_ratio_request SET submitted_at = '2026-05-02T09:00:00+08' WHERE id = :id"),
                       {"id": req["id"]})
    page = (await client.get(f"{API}?status=submitted&route=district&district_code=310115", headers=BUREAU)).json()
    assert [(i["id"], i["age_days"]) for i in page["items"]] == [(req["id"], 30)]
    assert page["numberMatched"] == 1
    assert (await client.get(f"{API}?status=approved", headers=BUREAU)).json()["items"] == []
    mine = (await client.get(f"{API}?parcel_id={land['parcel']['id']}", headers=COLLEAGUE)).json()
    assert [i["id"] for i in mine["items"]] == [req["id"]]
    west = (await client.get(API, headers=WEST_OFFICER)).json()
    assert west["items"] == []
    r = await client.get(f"{API}?district_code=310115", headers=WEST_OFFICER)
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_DISTRICT")
    r = await client.get(f"{API}/{req['id']}", headers=WEST_OFFICER)
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_DISTRICT")
    one = await client.get(f"{API}/{req['id']}", headers=OFFICER)
    assert one.headers["etag"] == '"1"'
    assert (await client.get(f"{API}/999999", headers=BUREAU)).status_code == 404


async def test_a_direct_patch_of_contracted_land_names_the_request_procedure(client, land):
    r = await client.patch(f"/api/v1/parcels/{land['parcel']['id']}", json={"properties": {"plot_ratio": 9.9}},
                           headers=OFFICER)
    assert (r.status_code, r.json()["code"]) == (409, "PLOT_RATIO_REQUEST_REQUIRED")
    assert (r.json()["procedure_path"], r.json()["requested"]) == ("/api/v1/plot-ratio-requests", 9.9)


async def test_a_bureau_override_of_contracted_land_still_meets_the_cap(client, land):
    r = await client.patch(f"/api/v1/parcels/{land['parcel']['id']}", json={
        "properties": {"plot_ratio": 9.9}, "override": {"decision_ref": "D-9", "reason": "test"}}, headers=BUREAU)
    assert (r.status_code, r.json()["code"]) == (409, "FAR_CAP_EXCEEDED")
    assert r.json()["detail"].startswith("plot ratio 9.9 above cap 2.0 for industrial land")


async def test_submitting_on_land_outside_the_base_zone_uses_the_same_rules(client, city):
    """An R&D parcel in the east district: cap 3.0, so 2.8 stays on the district route."""
    ent, org = await enterprise(client), await organisation(client, "310115")
    p = await create_parcel(client, square(BZ[0] + 0.02, BZ[1] + 0.03), code="RND-1", land_use="rnd",
                            plot_ratio=2.0)
    await contract(client, p["id"], ent, org, date(2025, 1, 1))
    req = await submit(client, p["id"], 2.8)
    assert (req["route"], req["default_cap"]) == ("district", 3.0)
