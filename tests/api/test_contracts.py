from datetime import date

import pytest

from tests.builders import EAST, WEST, basic
from tests.contract_builders import contract, enterprise, evaluations, organisation, parcel, pending, result, targets

API = "/api/v1"
TODAY = date(2026, 6, 1)
pytestmark = pytest.mark.settings(today=TODAY)


@pytest.fixture
async def parties(client, city):
    return await enterprise(client), await organisation(client, EAST), await organisation(client, WEST)


async def test_new_supply_is_signed_supplies_the_parcel_and_schedules_rule_5(client, parties):
    ent, org, _ = parties
    land = await parcel(client, "base")
    body = await contract(client, land["id"], ent, org, date(2026, 3, 1),
                          targets(investment_intensity=900, jobs=120))
    assert body["status"] == "active"
    assert (body["kind"], body["supply_method"], body["term_years"]) == ("new_supply", "grant", 20)
    assert (body["evaluation_interval_years"], body["commissioning_years"]) == (5, 3)
    assert body["expires_on"] == "2046-03-01"
    assert body["start_by"] == "2026-09-01"
    assert body["district_code"] == EAST
    assert {i["code"]: (i["target"], i["unit"], i["comparator"]) for i in body["indicators"]} == {
        "investment_intensity": (900, "万元/亩", ">="), "jobs": (120, "persons", ">="),
        "output_per_mu": (300, "万元/亩/yr", ">="), "tax_per_mu": (20, "万元/亩/yr", ">=")}
    got = await client.get(f"{API}/parcels/{land['id']}", headers=basic("viewer"))
    assert got.json()["properties"]["status"] == "supplied"
    assert got.json()["properties"]["version"] == 2
    dues = [(e["stage"], e["seq"], e["due_on"], e["status"]) for e in await evaluations(client, body["id"])]
    assert dues == [("commissioning", 1, "2029-03-01", "scheduled"),
                    ("periodic", 1, "2034-03-01", "scheduled"),
                    ("periodic", 2, "2039-03-01", "scheduled"), ("periodic", 3, "2044-03-01", "scheduled"),
                    ("expiry", 1, "2045-03-01", "scheduled")]


async def test_supply_lock_refuses_new_supply_on_a_fragment(client, parties):
    ent, org, _ = parties
    land = await parcel(client, "fragment_east")
    assert land["properties"]["tier"] == "fragment"
    r = await client.post(f"{API}/contracts", json={
        "code": "HT-F", "parcel_id": land["id"], "enterprise_id": ent, "responsible_org_id": org,
        "signed_on": "2026-03-01", "indicators": targets()}, headers=basic("bureau"))
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert (body["code"], body["tier"], body["legacy_zone"], body["parcel_id"]) == (
        "LOCKUP_SUPPLY", "fragment", None, land["id"])
    audit = (await client.get(f"{API}/audit?entity=contract", headers=basic("bureau"))).json()["items"][0]
    assert (audit["outcome"], audit["code"], audit["after"]["parcel_id"]) == (
        "refused", "LOCKUP_SUPPLY", land["id"])


async def test_supply_lock_refuses_new_supply_on_legacy_198_land(client, parties):
    ent, _, org_west = parties
    land = await parcel(client, "community", legacy_zone="198")
    assert land["properties"]["tier"] == "community"
    r = await client.post(f"{API}/contracts", json={
        "code": "HT-198", "parcel_id": land["id"], "enterprise_id": ent, "responsible_org_id": org_west,
        "signed_on": "2026-03-01", "indicators": targets()}, headers=basic("bureau"))
    assert (r.status_code, r.json()["code"], r.json()["legacy_zone"]) == (409, "LOCKUP_SUPPLY", "198")


async def test_renewal_on_a_fragment_needs_an_existing_contract(client, parties):
    ent, org, _ = parties
    land = await parcel(client, "fragment_east")
    r = await contract(client, land["id"], ent, org, date(2026, 3, 1), kind="renewal", expect=422)
    assert r["code"] == "VALIDATION_ERROR"


async def test_access_standard_refuses_targets_below_the_floor_with_its_numbers(client, parties):
    ent, org, _ = parties
    land = await parcel(client, "base")
    body = await contract(client, land["id"], ent, org, date(2026, 3, 1), targets(tax_per_mu=14.5),
                          expect=409)
    assert body["code"] == "ACCESS_STANDARD_NOT_MET"
    assert (body["indicator"], body["committed"], body["bottom_line"], body["source"], body["n"]) == (
        "tax_per_mu", 14.5, 15.0, "floor", 0)
    assert body["peer_group"] == {"industry_code": "C39", "district_code": None, "year": 2026,
                                  "as_of": "2026-03-01"}
    missing = await contract(client, land["id"], ent, org, date(2026, 3, 1),
                             [{"code": "output_per_mu", "target": 500}], expect=409)
    assert (missing["indicator"], missing["committed"]) == ("tax_per_mu", None)


async def test_access_standard_uses_the_district_peers_once_there_are_five(client, parties):
    ent, org, _ = parties
    outputs = [400.0, 500.0, 600.0, 700.0, 800.0]
    for value in outputs:
        peer = await contract(client, (await parcel(client, "base"))["id"], await enterprise(client), org,
                              date(2015, 1, 10))
        commissioning = await pending(client, peer["id"], "commissioning")
        await result(client, commissioning["id"], date(2018, 2, 1), output_per_mu=value, tax_per_mu=30.0)
    land = await parcel(client, "base")
    refused = await contract(client, land["id"], ent, org, date(2026, 3, 1), targets(output_per_mu=599.0),
                             expect=409)
    assert (refused["bottom_line"], refused["source"], refused["n"], refused["mean"]) == (
        600.0, "district", 5, 600.0)
    assert refused["peer_group"]["district_code"] == EAST
    signed = await contract(client, land["id"], ent, org, date(2026, 3, 1), targets(output_per_mu=600.0,
                                                                                    tax_per_mu=30.0))
    assert signed["status"] == "active"
    # Another industry has no peers: the floor.
    other = await contract(client, (await parcel(client, "base"))["id"], await enterprise(client, "C27"), org,
                           date(2026, 3, 1))
    assert other["status"] == "active"


async def test_a_held_parcel_refuses_a_second_contract(client, parties):
    ent, org, _ = parties
    land = await parcel(client, "base")
    first = await contract(client, land["id"], ent, org, date(2026, 1, 5))
    body = await contract(client, land["id"], await enterprise(client), org, date(2026, 2, 1), expect=409)
    assert (body["code"], body["contract_id"], body["status"]) == ("CONTRACT_CONFLICT", first["id"], "active")


async def test_the_database_itself_holds_one_contract_per_parcel(client, parties, db):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    ent, org, _ = parties
    land = await parcel(client, "base")
    first = await contract(client, land["id"], ent, org, date(2026, 1, 5))
    async with db.session() as session:
        with pytest.raises(IntegrityError, match="uq_contract_holding_parcel") as raised:
            async with session.begin_nested():
                await session.execute(text("""
                    INSERT INTO contract (id, version, code, parcel_id, enterprise_id, responsible_org_id,
                        kind, supply_method, signed_on, term_years, evaluation_interval_years,
                        commissioning_years, start_by, status, terms_version)
                    SELECT nextval('contract_id_seq'), 1, 'RACE', parcel_id, enterprise_id,
                           responsible_org_id, kind, supply_method, signed_on, term_years,
                           evaluation_interval_years, commissioning_years, start_by, 'active', 1
                      FROM contract WHERE id = :id
                """), {"id": first["id"]})
    from app.responses import as_domain_error

    assert as_domain_error(raised.value).code == "CONTRACT_CONFLICT"


async def test_district_officers_sign_only_in_their_district_and_evaluators_not_at_all(client, parties):
    ent, org, _ = parties
    land = await parcel(client, "base")
    r = await contract(client, land["id"], ent, org, date(2026, 1, 5), user="officer.west", expect=403)
    assert (r["code"], r["district_code"], r["your_district"]) == ("FORBIDDEN_DISTRICT", EAST, WEST)
    r = await contract(client, land["id"], ent, org, date(2026, 1, 5), user="evaluator.east", expect=403)
    assert r["code"] == "FORBIDDEN_ROLE"
    signed = await contract(client, land["id"], ent, org, date(2026, 1, 5), user="officer.east")
    assert signed["changed_by"] == "officer.east"


async def test_patch_is_versioned_reschedules_and_refuses_a_stale_etag(client, parties):
    ent, org, _ = parties
    land = await parcel(client, "base")
    body = await contract(client, land["id"], ent, org, date(2016, 1, 1))
    first = await pending(client, body["id"], "commissioning")
    await result(client, first["id"], date(2019, 1, 10), output_per_mu=310, tax_per_mu=21)
    url = f"{API}/contracts/{body['id']}"
    got = await client.get(url, headers=basic("viewer"))
    assert got.headers["etag"] == '"1"'
    r = await client.patch(url, json={"term_years": 10, "evaluation_interval_years": 3},
                           headers={**basic("bureau"), "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["expires_on"], r.headers["etag"]) == (2, "2026-01-01", '"2"')
    # Commissioning (completed) stays; periodic every 3 years before the expiry evaluation 2025-01-01.
    dues = [(e["stage"], e["seq"], e["due_on"], e["status"]) for e in await evaluations(client, body["id"])
            if e["status"] != "cancelled"]
    assert dues == [("commissioning", 1, "2019-01-01", "completed"), ("periodic", 1, "2022-01-01", "overdue"),
                    ("expiry", 1, "2025-01-01", "overdue")]
    cancelled = await evaluations(client, body["id"], status="cancelled")
    assert [(e["stage"], e["seq"]) for e in cancelled] == [("periodic", 2), ("periodic", 3)]
    stale = await client.patch(url, json={"term_years": 12}, headers={**basic("bureau"), "If-Match": '"1"'})
    assert (stale.status_code, stale.json()["code"]) == (412, "VERSION_CONFLICT")
    history = (await client.get(f"{url}/history", headers=basic("viewer"))).json()
    assert [(v["version"], v["term_years"]) for v in history["items"]] == [(1, 20), (2, 10)]
    assert history["items"][0]["valid_to"] is not None
    assert (await client.patch(url, json={"status": "terminated"},
                               headers=basic("bureau"))).status_code == 422
    assert (await client.patch(url, json={"parcel_id": 3}, headers=basic("bureau"))).status_code == 422


async def test_expired_contracts_read_as_expired_and_are_renewed_in_their_last_year(client, parties):
    ent, org, _ = parties
    land = await parcel(client, "base")
    old = await contract(client, land["id"], ent, org, date(2006, 5, 1))
    assert old["expires_on"] == "2026-05-01"
    assert old["status"] == "expired"
    listed = (await client.get(f"{API}/contracts?status=expired", headers=basic("viewer"))).json()
    assert [c["id"] for c in listed["items"]] == [old["id"]]
    other = await contract(client, land["id"], await enterprise(client), org, date(2026, 5, 2),
                           kind="renewal",
                           expect=409)
    assert other["code"] == "CONTRACT_CONFLICT"
    renewal = await contract(client, land["id"], ent, org, date(2026, 5, 2), kind="renewal")
    assert renewal["status"] == "active"
    old_now = (await client.get(f"{API}/contracts/{old['id']}", headers=basic("viewer"))).json()
    assert (old_now["status"], old_now["ended_on"], old_now["version"]) == ("expired", "2026-05-02", 2)
    pending = await evaluations(client, old["id"], status="overdue")
    assert pending == []  # the old contract's open evaluations were cancelled


async def test_problems_never_500(client, parties):
    ent, org, _ = parties
    cases = [  # SPEC §6: shape/type errors VALIDATION_ERROR 422, a missing resource NOT_FOUND 404
        ("post", f"{API}/contracts", {"code": "x"}, 422, "VALIDATION_ERROR"),
        ("post", f"{API}/contracts", {"code": "HT-1", "parcel_id": 999999, "enterprise_id": ent,
                                      "responsible_org_id": org, "signed_on": "2026-01-01"}, 404, "NOT_FOUND"),
        ("post", f"{API}/contracts", {"code": "HT-1", "parcel_id": 1, "enterprise_id": ent,
                                      "responsible_org_id": org, "signed_on": "2026-01-01",
                                      "term_years": 60}, 422, "VALIDATION_ERROR"),
        ("post", f"{API}/contracts", {"code": "HT-1", "parcel_id": 1, "enterprise_id": ent,
                                      "responsible_org_id": org, "signed_on": "2026-01-01",
                                      "indicators": [{"code": "profit", "target": 1}]}, 422, "VALIDATION_ERROR"),
        ("get", f"{API}/contracts/12345", None, 404, "NOT_FOUND"),
        ("get", f"{API}/contracts?as_of=yesterday", None, 422, "VALIDATION_ERROR"),
        ("patch", f"{API}/contracts/12345", {"term_years": 10}, 404, "NOT_FOUND"),
    ]
    for method, url, body, status, code in cases:
        r = await client.request(method, url, json=body, headers=basic("bureau"))
        assert (r.status_code, r.json()["code"]) == (status, code), (url, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_race_on_the_holding_index_answers_contract_conflict():
    from sqlalchemy.exc import IntegrityError

    from app.responses import as_domain_error

    class Orig(Exception):
        sqlstate = "23505"
        constraint_name = "uq_contract_holding_parcel"

    error = as_domain_error(IntegrityError("INSERT …", {}, Orig("duplicate key")))
    assert (error.code, error.status) == ("CONTRACT_CONFLICT", 409)
