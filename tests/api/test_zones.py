"""Zones over REST; tiers follow zone edits in the same transaction; rule 1 guards locked land."""

from tests.builders import BZ, CZ, basic, create_parcel, feature

BUREAU = basic("bureau")


def rect(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


async def _tier(client, pid):
    return (await client.get(f"/api/v1/parcels/{pid}", headers=BUREAU)).json()["properties"]


async def test_a_new_community_zone_turns_fragments_into_community_land(client, city):
    p = await create_parcel(client, rect(121.45, 31.2, 121.451, 31.201), code="F-1")
    assert p["properties"]["tier"] == "fragment"
    r = await client.post("/api/v1/zones", json=feature(rect(121.44, 31.19, 121.46, 31.21), code="NEWC",
                                                        name="New community", kind="community"), headers=BUREAU)
    assert r.status_code == 201, r.text
    zone = r.json()
    assert zone["properties"]["district_code"] == "310112" and zone["properties"]["version"] == 1
    now = await _tier(client, p["id"])
    assert (now["tier"], now["zone_id"], now["version"]) == ("community", zone["id"], 2)


async def test_shrinking_a_community_zone_makes_its_parcels_fragments_again(client, city):
    p = await create_parcel(client, rect(CZ[0] + 0.001, CZ[1] + 0.001, CZ[0] + 0.002, CZ[1] + 0.002), code="C-1")
    smaller = rect(CZ[0] + 0.01, CZ[1] + 0.01, CZ[2], CZ[3])
    r = await client.patch(f"/api/v1/zones/{city.community_zone_id}", json={"geometry": smaller}, headers=BUREAU)
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["version"] == 2
    now = await _tier(client, p["id"])
    assert (now["tier"], now["zone_id"]) == ("fragment", None)


async def test_shrinking_an_advanced_manufacturing_base_away_from_locked_land_is_refused(client, city):
    p = await create_parcel(client, rect(BZ[0] + 0.001, BZ[1] + 0.001, BZ[0] + 0.002, BZ[1] + 0.002), code="B-1")
    smaller = rect(BZ[0] + 0.01, BZ[1] + 0.01, BZ[2], BZ[3])
    r = await client.patch(f"/api/v1/zones/{city.base_zone_id}", json={"geometry": smaller}, headers=BUREAU)
    assert r.status_code == 409
    assert r.json()["code"] == "LOCKUP_PLANNING" and r.json()["parcel_ids"] == [p["id"]]
    zone = (await client.get(f"/api/v1/zones/{city.base_zone_id}", headers=BUREAU)).json()
    assert zone["properties"]["version"] == 1
    assert (await _tier(client, p["id"]))["planning_locked"] is True


async def test_deleting_or_undesignating_a_locked_base_needs_an_override(client, city):
    await create_parcel(client, rect(BZ[0] + 0.001, BZ[1] + 0.001, BZ[0] + 0.002, BZ[1] + 0.002), code="B-2")
    url = f"/api/v1/zones/{city.base_zone_id}"
    r = await client.patch(url, json={"properties": {"advanced_manufacturing": False}}, headers=BUREAU)
    assert r.json()["code"] == "LOCKUP_PLANNING"
    assert (await client.delete(url, headers=BUREAU)).json()["code"] == "LOCKUP_PLANNING"
    override = {"decision_ref": "沪府〔2026〕3号", "reason": "base relocated"}
    r = await client.request("DELETE", url, json={"override": override}, headers=BUREAU)
    assert r.status_code == 204
    assert (await client.get(url, headers=BUREAU)).status_code == 404


async def test_only_the_bureau_edits_zones(client, city):
    for user in ("officer.east", "viewer", "admin", "evaluator.east"):
        r = await client.patch(f"/api/v1/zones/{city.community_zone_id}", json={"properties": {"name": "x"}},
                               headers=basic(user))
        assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_ROLE"), user


async def test_zone_list_filters_and_if_match(client, city):
    r = await client.get("/api/v1/zones?kind=base", headers=BUREAU)
    assert [f["properties"]["code"] for f in r.json()["features"]] == ["BZ"]
    url = f"/api/v1/zones/{city.community_zone_id}"
    r = await client.patch(url, json={"properties": {"far_cap": 1.8}}, headers={**BUREAU, "If-Match": '"7"'})
    assert (r.status_code, r.json()["code"]) == (412, "VERSION_CONFLICT")
    r = await client.patch(url, json={"properties": {"far_cap": 1.8, "far_min": 2.0}}, headers=BUREAU)
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_a_lower_zone_cap_is_applied_to_the_parcels_of_the_zone(client, city):
    p = await create_parcel(client, rect(CZ[0] + 0.001, CZ[1] + 0.001, CZ[0] + 0.002, CZ[1] + 0.002), code="C-9",
                            plot_ratio=1.2)
    r = await client.patch(f"/api/v1/zones/{city.community_zone_id}", json={"properties": {"far_cap": 1.5}},
                           headers=BUREAU)
    assert r.status_code == 200
    now = await _tier(client, p["id"])
    assert (now["plot_ratio_cap"], now["plot_ratio_cap_source"]) == (1.5, "zone")


async def test_districts_are_listed_with_their_names(client, city):
    r = await client.get("/api/v1/districts", headers=BUREAU)
    assert [f["id"] for f in r.json()["features"]] == ["310112", "310115"]
    one = (await client.get("/api/v1/districts/310115", headers=BUREAU)).json()
    assert one["properties"] == {"code": "310115", "name_zh": "浦东新区", "name_en": "Pudong"}
    assert (await client.get("/api/v1/districts/999999", headers=BUREAU)).status_code == 404
