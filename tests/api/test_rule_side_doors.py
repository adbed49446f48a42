"""Every rule on every write path (SPEC §3, §4): a district officer, a contract or an import cannot step
around the life cycle. Each refusal is checked for its code, for nothing having changed (version,
history) and for the audit row of the refused attempt."""

from datetime import date
from pathlib import Path

import pytest

from tests.builders import basic, create_parcel, square
from tests.contract_builders import contract, enterprise, operating_land, organisation, parcel, targets
from tests.imports.files import Row, frame, write
from tests.imports.files import square as box_at
from tests.imports.test_import_jobs import finished, post_file
from tests.wfs.helpers import exception, post

API = "/api/v1"
TODAY = date(2026, 6, 1)
pytestmark = pytest.mark.settings(today=TODAY)
BUREAU, OFFICER, VIEWER = basic("bureau"), basic("officer.east"), basic("viewer")
OVERRIDE = {"decision_ref": "沪规划资源〔2026〕9号", "reason": "court ruling on the floor area"}
WFS20 = ('xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:fes="http://www.opengis.net/fes/2.0" '
         'xmlns:landcycle="http://landcycle.example.org/wfs"')


@pytest.fixture
async def land(client, city):
    """An operating industrial parcel (plot ratio 1.5) of the east district under an active contract."""
    built = await operating_land(client)
    return {"id": built["parcel"]["id"], **built}


async def state(client, parcel_id):
    """(properties, number of versions) of a parcel as a reader sees them."""
    now = (await client.get(f"{API}/parcels/{parcel_id}", headers=VIEWER)).json()["properties"]
    history = (await client.get(f"{API}/parcels/{parcel_id}/history", headers=VIEWER)).json()["features"]
    return now, len(history)


async def audit(client, entity, entity_id, outcome=None):
    r = await client.get(f"{API}/audit", params={"entity": entity, "entity_id": entity_id}, headers=BUREAU)
    assert r.status_code == 200, r.text
    return [e for e in r.json()["items"] if outcome is None or e["outcome"] == outcome]


async def assert_refused_and_unchanged(client, parcel_id, before, code, actor):
    """Nothing changed, and the refused attempt is in the audit log with its code and actor."""
    now, versions = await state(client, parcel_id)
    assert (now, versions) == before
    refused = await audit(client, "parcel", parcel_id, "refused")
    assert refused and (refused[0]["code"], refused[0]["actor"]) == (code, actor)
    return refused[0]


async def assert_wfs_t_refused(client, parcel_id, transaction, code, user):
    """A WFS-T transaction sent as `user` is refused with `code`, changes nothing and is audited as refused."""
    before = await state(client, parcel_id)
    r = await post(client, transaction, user=user)
    assert exception(r)[2].startswith(code)
    await assert_refused_and_unchanged(client, parcel_id, before, code, user)


def wfs_update(parcel_id, **values):
    props = "".join(f"<wfs:Property><wfs:ValueReference>{k}</wfs:ValueReference><wfs:Value>{v}</wfs:Value>"
                    "</wfs:Property>" for k, v in values.items())
    return (f'<wfs:Transaction service="WFS" version="2.0.0" {WFS20}><wfs:Update typeName="landcycle:parcels">'
            f'{props}<fes:Filter><fes:ResourceId rid="parcels.{parcel_id}"/></fes:Filter></wfs:Update>'
            "</wfs:Transaction>")


def wfs_delete(parcel_id):
    return (f'<wfs:Transaction service="WFS" version="2.0.0" {WFS20}><wfs:Delete typeName="landcycle:parcels">'
            f'<fes:Filter><fes:ResourceId rid="parcels.{parcel_id}"/></fes:Filter></wfs:Delete>'
            "</wfs:Transaction>")


# ---------------------------------------------------------------- plot ratio of contracted land (rule 9)
async def test_a_district_officer_cannot_patch_the_plot_ratio_of_contracted_land(client, land):
    before = await state(client, land["id"])
    r = await client.patch(f"{API}/parcels/{land['id']}", json={"properties": {"plot_ratio": 1.95}},
                           headers=OFFICER)
    assert (r.status_code, r.json()["code"]) == (409, "PLOT_RATIO_REQUEST_REQUIRED")
    assert (r.json()["current"], r.json()["requested"], r.json()["contract_id"]) == (1.5, 1.95,
                                                                                      land["contract"]["id"])
    assert "plot-ratio request" in r.json()["detail"]
    row = await assert_refused_and_unchanged(client, land["id"], before, "PLOT_RATIO_REQUEST_REQUIRED",
                                             "officer.east")
    assert row["after"]["plot_ratio"] == 1.95


async def test_wfs_t_cannot_update_the_plot_ratio_of_contracted_land(client, land):
    await assert_wfs_t_refused(client, land["id"], wfs_update(land["id"], plot_ratio="1.95"),
                               "PLOT_RATIO_REQUEST_REQUIRED", "officer.east")


async def test_a_bureau_override_changes_it_and_is_audited_with_its_decision(client, land):
    r = await client.patch(f"{API}/parcels/{land['id']}", json={"properties": {"plot_ratio": 1.95},
                                                                "override": OVERRIDE}, headers=BUREAU)
    assert r.status_code == 200, r.text
    assert (r.json()["properties"]["plot_ratio"], r.json()["properties"]["version"]) == (1.95, 5)
    overridden = await audit(client, "parcel", land["id"], "overridden")
    assert [(o["code"], o["detail"]["decision_ref"]) for o in overridden] == [
        ("PLOT_RATIO_REQUEST_REQUIRED", OVERRIDE["decision_ref"])]


async def test_a_district_override_of_contracted_land_is_refused(client, land):
    before = await state(client, land["id"])
    r = await client.patch(f"{API}/parcels/{land['id']}", json={"properties": {"plot_ratio": 1.95},
                                                                "override": OVERRIDE}, headers=OFFICER)
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_ROLE")
    await assert_refused_and_unchanged(client, land["id"], before, "FORBIDDEN_ROLE", "officer.east")


async def test_land_without_a_contract_keeps_direct_edits_within_rule_3(client, city):
    p = await create_parcel(client, square(121.62, 31.16), user="officer.east", code="NC-1", plot_ratio=1.0)
    r = await client.patch(f"{API}/parcels/{p['id']}", json={"properties": {"plot_ratio": 1.9}}, headers=OFFICER)
    assert (r.status_code, r.json()["properties"]["plot_ratio"]) == (200, 1.9)
    r = await client.patch(f"{API}/parcels/{p['id']}", json={"properties": {"plot_ratio": 2.5}}, headers=OFFICER)
    assert r.json()["code"] == "FAR_CAP_EXCEEDED"


async def test_once_the_contract_has_expired_rule_9_no_longer_holds_the_ratio(client, city):
    ent, org = await enterprise(client), await organisation(client, "310115")
    p = await parcel(client, "base")
    await contract(client, p["id"], ent, org, date(2016, 1, 1), term_years=10)  # expired 2026-01-01
    r = await client.patch(f"{API}/parcels/{p['id']}", json={"properties": {"plot_ratio": 1.8}}, headers=OFFICER)
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- the life cycle's status
async def test_recovered_is_refused_while_the_contract_is_active(client, land):
    before = await state(client, land["id"])
    r = await client.patch(f"{API}/parcels/{land['id']}", json={"properties": {"status": "recovered"}},
                           headers=OFFICER)
    body = r.json()
    assert (r.status_code, body["code"]) == (409, "INVALID_TRANSITION")
    assert (body["from"], body["to"], body["allowed"], body["moved_by"]) == ("operating", "recovered", [], None)
    await assert_refused_and_unchanged(client, land["id"], before, "INVALID_TRANSITION", "officer.east")


async def test_wfs_t_cannot_set_a_status_of_rules_7_and_8(client, land):
    await assert_wfs_t_refused(client, land["id"], wfs_update(land["id"], status="exiting"), "INVALID_TRANSITION",
                               "bureau")


async def test_planned_land_is_supplied_only_by_signing(client, city):
    p = await parcel(client, "base")
    before = await state(client, p["id"])
    r = await client.patch(f"{API}/parcels/{p['id']}", json={"properties": {"status": "supplied"}}, headers=BUREAU)
    assert (r.status_code, r.json()["code"], r.json()["moved_by"]) == (409, "INVALID_TRANSITION", "signing")
    await assert_refused_and_unchanged(client, p["id"], before, "INVALID_TRANSITION", "bureau")
    r = await client.post(f"{API}/parcels", json={"type": "Feature", "geometry": square(121.62, 31.17),
                                                  "properties": {"code": "NEW-OP", "land_use": "industrial",
                                                                 "status": "operating"}}, headers=BUREAU)
    assert (r.status_code, r.json()["code"], r.json()["allowed"]) == (409, "INVALID_TRANSITION", ["planned"])


async def test_the_construction_start_needs_its_date_and_then_clears_idle_land(client, city):
    ent, org = await enterprise(client), await organisation(client, "310115")
    p = await parcel(client, "base")
    c = await contract(client, p["id"], ent, org, date(2024, 1, 1), start_by="2025-05-31")
    idle = await client.get(f"{API}/exit-candidates", params={"reason": "idle_land"}, headers=VIEWER)
    assert [i["contract_id"] for i in idle.json()["items"]] == [c["id"]]
    before = await state(client, p["id"])
    url = f"{API}/parcels/{p['id']}"
    r = await client.patch(url, json={"properties": {"status": "under_construction"}}, headers=OFFICER)
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "VALIDATION_ERROR", "status_on")
    await assert_refused_and_unchanged(client, p["id"], before, "VALIDATION_ERROR", "officer.east")
    r = await client.patch(url, json={"properties": {"status": "under_construction", "status_on": "2026-06-02"}},
                           headers=OFFICER)
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")  # after today
    r = await client.patch(url, json={"properties": {"status": "under_construction", "status_on": "2026-05-20"}},
                           headers=OFFICER)
    assert r.status_code == 200, r.text
    done = (await audit(client, "parcel", p["id"], "done"))[0]
    assert (done["after"]["status"], done["after"]["status_on"]) == ("under_construction", "2026-05-20")
    idle = await client.get(f"{API}/exit-candidates", params={"reason": "idle_land"}, headers=VIEWER)
    assert idle.json()["items"] == []


# ---------------------------------------------------------------- the bureau's legacy zone
async def test_a_district_officer_cannot_set_a_legacy_zone_by_rest_or_wfs_t(client, city):
    p = await create_parcel(client, square(121.62, 31.16), code="LZ-1", legacy_zone="198")
    before = await state(client, p["id"])
    r = await client.patch(f"{API}/parcels/{p['id']}", json={"properties": {"legacy_zone": "195"}},
                           headers=OFFICER)
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (403, "FORBIDDEN_ROLE", "legacy_zone")
    await assert_refused_and_unchanged(client, p["id"], before, "FORBIDDEN_ROLE", "officer.east")
    r = await post(client, wfs_update(p["id"], legacy_zone="195"), user="officer.east")
    assert exception(r)[2].startswith("FORBIDDEN_ROLE")
    assert await state(client, p["id"]) == before
    r = await client.post(f"{API}/parcels", json={"type": "Feature", "geometry": square(121.62, 31.17),
                                                  "properties": {"code": "LZ-2", "land_use": "industrial",
                                                                 "legacy_zone": "104"}}, headers=OFFICER)
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_ROLE")


async def test_an_import_by_a_district_officer_refuses_legacy_zones_and_statuses(client, app, city,
                                                                                 tmp_path: Path):
    rows = [Row("IM-1", "industrial", box_at(121.62, 31.16), "fragment", 1.2, "195", "planned"),
            Row("IM-2", "industrial", box_at(121.63, 31.16), "fragment", 1.2, None, "operating"),
            Row("IM-3", "industrial", box_at(121.64, 31.16), "fragment", 1.2, None, "planned")]
    path = write(frame(rows, 4490), tmp_path / "side.gpkg")
    job = await finished(client, app, await post_file(client, path, user="officer.east"), user="officer.east")
    assert (job["status"], job["committed"]) == ("refused", False)
    assert [(r["row"], r["code"]) for r in job["refused"]] == [(1, "FORBIDDEN_ROLE"), (2, "INVALID_TRANSITION")]
    listed = await client.get(f"{API}/parcels", params={"district_code": "310115"}, headers=VIEWER)
    assert [f["properties"]["code"] for f in listed.json()["features"]] == []


# ---------------------------------------------------------------- deleting contracted land
async def test_land_that_had_a_contract_is_not_deleted_by_rest_or_wfs_t(client, land):
    before = await state(client, land["id"])
    r = await client.delete(f"{API}/parcels/{land['id']}", headers=BUREAU, params={})
    assert (r.status_code, r.json()["code"]) == (409, "INVALID_TRANSITION")
    assert "exit case" in r.json()["detail"] and r.json()["to"] is None
    await assert_refused_and_unchanged(client, land["id"], before, "INVALID_TRANSITION", "bureau")
    r = await post(client, wfs_delete(land["id"]), user="bureau")
    assert exception(r)[2].startswith("INVALID_TRANSITION")
    assert await state(client, land["id"]) == before


# ---------------------------------------------------------------- renewal, transfer, term
async def contract_audit(client):
    r = await client.get(f"{API}/audit", params={"entity": "contract"}, headers=BUREAU)
    return r.json()["items"]


async def test_a_renewal_after_the_contract_ended_is_refused_not_a_side_door_to_new_supply(client, city):
    ent, org = await enterprise(client), await organisation(client, "310115")
    frag = await parcel(client, "fragment_east")
    old = await contract(client, frag["id"], ent, org, date(2016, 1, 1), term_years=10, kind="new_supply",
                         expect=409)  # rule 2: no new supply on a fragment
    assert old["code"] == "LOCKUP_SUPPLY"
    p = await parcel(client, "base")
    first = await contract(client, p["id"], ent, org, date(2016, 1, 1), term_years=10)
    case = await client.post(f"{API}/exit-cases", json={"contract_id": first["id"], "method": "recovery",
                                                        "decision_ref": "D-1"}, headers=BUREAU)
    await client.post(f"{API}/exit-cases/{case.json()['id']}/complete", headers=BUREAU)
    r = await contract(client, p["id"], ent, org, date(2026, 5, 1), kind="renewal", expect=409)
    assert (r["code"], r["allowed_kinds"]) == ("CONTRACT_CONFLICT", ["new_supply"])
    r = await contract(client, p["id"], ent, org, date(2026, 5, 1), kind="transfer", expect=409)
    assert (r["code"], r["allowed_kinds"]) == ("CONTRACT_CONFLICT", ["new_supply"])
    refused = [a for a in await contract_audit(client) if a["outcome"] == "refused"]
    assert [a["code"] for a in refused[:2]] == ["CONTRACT_CONFLICT", "CONTRACT_CONFLICT"]
    listed = await client.get(f"{API}/contracts", params={"parcel_id": p["id"]}, headers=VIEWER)
    assert [c["id"] for c in listed.json()["items"]] == [first["id"]]


async def test_a_renewal_with_a_gap_after_expiry_is_refused(client, city):
    ent, org = await enterprise(client), await organisation(client, "310115")
    p = await parcel(client, "base")
    old = await contract(client, p["id"], ent, org, date(2016, 5, 1), term_years=10)  # expired 2026-05-01
    r = await contract(client, p["id"], ent, org, date(2026, 5, 3), kind="renewal", expect=409)
    assert r["code"] == "CONTRACT_CONFLICT" and "without a gap" in r["detail"]
    now = (await client.get(f"{API}/contracts/{old['id']}", headers=VIEWER)).json()
    assert (now["status"], now["version"]) == ("expired", 1)


async def test_a_transfer_while_a_contract_holds_the_land_is_refused(client, land):
    other = await enterprise(client, "C36")
    r = await contract(client, land["id"], other, land["org"], date(2026, 5, 1), kind="transfer", expect=409)
    assert r["code"] == "CONTRACT_CONFLICT" and "exit case of method transfer" in r["detail"]


async def test_an_expired_term_is_not_extended_renew_it_instead(client, city):
    ent, org = await enterprise(client), await organisation(client, "310115")
    p = await parcel(client, "base")
    old = await contract(client, p["id"], ent, org, date(2016, 5, 1), term_years=10, indicators=targets())
    r = await client.patch(f"{API}/contracts/{old['id']}", json={"term_years": 20}, headers=BUREAU)
    assert (r.status_code, r.json()["code"], r.json()["allowed"]) == (409, "INVALID_TRANSITION", ["renewal"])
    now = (await client.get(f"{API}/contracts/{old['id']}", headers=VIEWER)).json()
    assert (now["term_years"], now["version"], now["status"]) == (10, 1, "expired")
    refused = [a for a in await contract_audit(client) if a["outcome"] == "refused"]
    assert refused[0]["code"] == "INVALID_TRANSITION"
