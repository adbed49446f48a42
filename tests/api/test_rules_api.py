"""Rules 1 and 3 through the API, with their codes, numbers and audit trail."""

from tests.builders import BZ, CZ, basic, create_parcel, feature, square

BUREAU = basic("bureau")
OVERRIDE = {"decision_ref": "沪府规〔2026〕7号", "reason": "municipal road project"}


async def _audit(client, entity, entity_id):
    r = await client.get(f"/api/v1/audit?entity={entity}&entity_id={entity_id}", headers=BUREAU)
    assert r.status_code == 200
    return r.json()["items"]


async def test_changing_the_use_of_locked_base_land_is_refused_and_audited(client, city):
    p = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01), code="L-1")
    r = await client.patch(f"/api/v1/parcels/{p['id']}", json={"properties": {"land_use": "commercial"}},
                           headers=basic("officer.east"))
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "LOCKUP_PLANNING" and body["parcel_ids"] == [p["id"]]
    assert "land use would change to commercial" in body["detail"]
    now = (await client.get(f"/api/v1/parcels/{p['id']}", headers=BUREAU)).json()["properties"]
    assert (now["land_use"], now["version"]) == ("industrial", 1)
    refused = [e for e in await _audit(client, "parcel", p["id"]) if e["outcome"] == "refused"]
    assert refused and refused[0]["code"] == "LOCKUP_PLANNING" and refused[0]["actor"] == "officer.east"
    assert refused[0]["after"]["land_use"] == "commercial"


async def test_moving_locked_land_out_of_its_zone_is_refused(client, city):
    p = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01), code="L-2")
    r = await client.patch(f"/api/v1/parcels/{p['id']}", json={"geometry": square(121.52, 31.2)}, headers=BUREAU)
    assert (r.status_code, r.json()["code"]) == (409, "LOCKUP_PLANNING")


async def test_deleting_locked_land_is_refused_without_an_override(client, city):
    p = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01), code="L-3")
    r = await client.delete(f"/api/v1/parcels/{p['id']}", headers=BUREAU)
    assert (r.status_code, r.json()["code"]) == (409, "LOCKUP_PLANNING")


async def test_a_bureau_override_with_a_decision_lifts_the_lock_and_is_audited(client, city):
    p = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01), code="L-4")
    r = await client.patch(f"/api/v1/parcels/{p['id']}",
                           json={"properties": {"land_use": "commercial"}, "override": OVERRIDE}, headers=BUREAU)
    assert r.status_code == 200, r.text
    props = r.json()["properties"]
    assert (props["land_use"], props["planning_locked"], props["tier"]) == ("commercial", False, None)
    entries = await _audit(client, "parcel", p["id"])
    override = next(e for e in entries if e["action"] == "override")
    assert override["outcome"] == "overridden" and override["code"] == "LOCKUP_PLANNING"
    assert override["detail"]["decision_ref"] == OVERRIDE["decision_ref"]
    assert override["detail"]["reason"] == OVERRIDE["reason"]


async def test_an_override_from_a_district_officer_is_refused(client, city):
    p = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01), code="L-5")
    r = await client.patch(f"/api/v1/parcels/{p['id']}",
                           json={"properties": {"land_use": "office"}, "override": OVERRIDE},
                           headers=basic("officer.east"))
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_ROLE")
    refused = [e for e in await _audit(client, "parcel", p["id"]) if e["outcome"] == "refused"]
    assert refused[0]["code"] == "FORBIDDEN_ROLE"


async def test_a_plot_ratio_above_the_cap_names_cap_request_and_nearest_reference(client, city):
    office = await create_parcel(client, square(121.4512, 31.2), code="OF-1", land_use="office", plot_ratio=3.0)
    r = await client.post("/api/v1/parcels", json=feature(square(121.45, 31.2), code="F-1", land_use="industrial",
                                                          plot_ratio=2.6), headers=BUREAU)
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "FAR_CAP_EXCEEDED"
    assert (body["cap"], body["requested"], body["cap_source"]) == (2.0, 2.6, "default")
    assert body["detail"].startswith("plot ratio 2.6 above cap 2.0 for industrial land")
    nearest = body["nearest_reference"]
    assert nearest["id"] == office["id"] and nearest["qualifies"] is True and nearest["distance_m"] < 100


async def test_a_qualifying_reference_parcel_lifts_the_cap_and_is_recorded(client, city):
    office = await create_parcel(client, square(121.4512, 31.2), code="OF-2", land_use="commercial", plot_ratio=3.5)
    body = await create_parcel(client, square(121.45, 31.2), code="F-2", plot_ratio=2.8,
                               plot_ratio_reference_id=office["id"])
    p = body["properties"]
    assert (p["plot_ratio"], p["plot_ratio_cap"], p["plot_ratio_cap_source"]) == (2.8, 3.5, "reference")
    assert p["plot_ratio_reference_id"] == office["id"]


async def test_a_reference_too_far_away_does_not_qualify(client, city):
    office = await create_parcel(client, square(121.48, 31.2), code="OF-3", land_use="office", plot_ratio=5.0)
    r = await client.post("/api/v1/parcels", json=feature(square(121.45, 31.2), code="F-3", land_use="industrial",
                                                          plot_ratio=2.5, plot_ratio_reference_id=office["id"]),
                          headers=BUREAU)
    assert (r.status_code, r.json()["code"]) == (409, "FAR_CAP_EXCEEDED")
    assert "does not qualify" in r.json()["detail"]


async def test_a_reference_in_the_same_zone_qualifies_at_any_distance(client, city):
    office = await create_parcel(client, square(CZ[0] + 0.04, CZ[1] + 0.04), code="OF-4", land_use="office",
                                 plot_ratio=4.0)
    body = await create_parcel(client, square(CZ[0] + 0.001, CZ[1] + 0.001), code="F-4", plot_ratio=2.4,
                               plot_ratio_reference_id=office["id"])
    assert body["properties"]["plot_ratio_cap_source"] == "reference"


async def test_rnd_land_is_capped_at_three(client, city):
    ok = await create_parcel(client, square(121.45, 31.2), code="R-1", land_use="rnd", plot_ratio=3.0)
    assert ok["properties"]["plot_ratio_cap"] == 3.0
    r = await client.post("/api/v1/parcels", json=feature(square(121.46, 31.2), code="R-2", land_use="rnd",
                                                          plot_ratio=3.1), headers=BUREAU)
    assert (r.status_code, r.json()["cap"]) == (409, 3.0)


async def test_a_direct_patch_above_the_cap_is_refused_with_the_same_code(client, city):
    p = await create_parcel(client, square(121.45, 31.2), code="F-5", plot_ratio=1.5)
    r = await client.patch(f"/api/v1/parcels/{p['id']}", json={"properties": {"plot_ratio": 9.9}}, headers=BUREAU)
    assert r.status_code == 409
    assert r.json()["detail"].startswith("plot ratio 9.9 above cap 2.0 for industrial land")


async def test_a_zone_with_a_lower_cap_holds_its_parcels_to_it(client, city, db):
    from tests.builders import zone

    async with db.session() as session:
        await zone(session, "LOW", "community", False, (121.42, 31.15, 121.44, 31.17), far_cap=1.6, far_min=1.0)
    ok = await create_parcel(client, square(121.425, 31.155), code="Z-1", plot_ratio=1.6)
    assert (ok["properties"]["plot_ratio_cap"], ok["properties"]["plot_ratio_cap_source"]) == (1.6, "zone")
    r = await client.post("/api/v1/parcels", json=feature(square(121.43, 31.155), code="Z-2", land_use="industrial",
                                                          plot_ratio=1.8), headers=BUREAU)
    assert (r.status_code, r.json()["code"], r.json()["cap"]) == (409, "FAR_CAP_EXCEEDED", 1.6)
    r = await client.post("/api/v1/parcels", json=feature(square(121.435, 31.155), code="Z-3", land_use="industrial",
                                                          plot_ratio=0.5), headers=BUREAU)
    assert (r.status_code, r.json()["code"], r.json()["far_min"]) == (422, "VALIDATION_ERROR", 1.0)
