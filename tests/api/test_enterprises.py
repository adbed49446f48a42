from tests.builders import EAST, basic
from tests.contract_builders import uscc

API = "/api/v1"


async def test_bureau_registers_an_enterprise_with_a_valid_uscc(client, city):
    code = uscc(42)
    r = await client.post(f"{API}/enterprises", json={"name": "上海某某科技有限公司", "uscc": code.lower(),
                                                      "industry_code": "C39"}, headers=basic("bureau"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["uscc"] == code
    assert r.headers["location"].endswith(f"/enterprises/{body['id']}")
    listed = await client.get(f"{API}/enterprises?industry_code=C39", headers=basic("viewer"))
    assert listed.json()["numberMatched"] == 1
    assert set(listed.json()) == {"items", "numberMatched", "numberReturned", "links"}


async def test_a_wrong_check_character_is_refused_with_the_expected_one(client, city):
    code = uscc(42)
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    r = await client.post(f"{API}/enterprises", json={"name": "X", "uscc": wrong, "industry_code": "C39"},
                          headers=basic("bureau"))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "VALIDATION_ERROR"
    assert f"expected {code[17]}" in r.json()["detail"]


async def test_a_uscc_is_registered_once(client, city):
    body = {"name": "X", "uscc": uscc(7), "industry_code": "C26"}
    assert (await client.post(f"{API}/enterprises", json=body, headers=basic("bureau"))).status_code == 201
    again = await client.post(f"{API}/enterprises", json=body, headers=basic("bureau"))
    assert again.status_code == 422
    assert again.json()["field"] == "uscc"


async def test_viewers_and_evaluators_do_not_register_enterprises(client, city):
    for user in ("viewer", "evaluator.east"):
        r = await client.post(f"{API}/enterprises", json={"name": "X", "uscc": uscc(8),
                                                          "industry_code": "C26"},
                              headers=basic(user))
        assert r.status_code == 403
        assert r.json()["code"] == "FORBIDDEN_ROLE"


async def test_organisations_and_their_district_scope(client, city):
    r = await client.post(f"{API}/organisations", json={"name": "浦东新区人民政府",
                                                        "kind": "district_government",
                                                        "district_code": EAST}, headers=basic("officer.east"))
    assert r.status_code == 201, r.text
    r = await client.post(f"{API}/organisations", json={"name": "Pudong park", "kind": "park_committee",
                                                        "district_code": EAST}, headers=basic("officer.west"))
    assert r.status_code == 403
    assert r.json()["code"] == "FORBIDDEN_DISTRICT"
    r = await client.post(f"{API}/organisations", json={"name": "Gov", "kind": "district_government"},
                          headers=basic("bureau"))
    assert r.status_code == 422
    r = await client.get(f"{API}/organisations?district_code={EAST}", headers=basic("viewer"))
    assert r.json()["numberMatched"] == 1


async def test_unknown_enterprise_is_a_404_problem(client, city):
    r = await client.get(f"{API}/enterprises/999", headers=basic("viewer"))
    assert r.status_code == 404
    assert r.json()["code"] == "NOT_FOUND"
