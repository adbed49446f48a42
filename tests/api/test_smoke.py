from tests.builders import BZ, basic, create_parcel, square


async def test_bureau_creates_a_base_parcel_and_reads_it_back(client, city):
    body = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01), code="P-1", plot_ratio=1.5)
    assert body["properties"]["tier"] == "base"
    assert body["properties"]["planning_locked"] is True
    got = await client.get(f"/api/v1/parcels/{body['id']}", headers=basic("bureau"))
    assert got.status_code == 200
    assert got.headers["etag"] == '"1"'


async def test_patch_and_zone_edit(client, city):
    body = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01), code="P-2", plot_ratio=1.5)
    pid = body["id"]
    r = await client.patch(f"/api/v1/parcels/{pid}", json={"properties": {"plot_ratio": 1.8}},
                           headers={**basic("bureau"), "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["version"] == 2
    r = await client.patch(f"/api/v1/parcels/{pid}", json={"properties": {"plot_ratio": 1.9}},
                           headers={**basic("bureau"), "If-Match": '"1"'})
    assert r.status_code == 412, r.text
    r = await client.patch(f"/api/v1/zones/{city.base_zone_id}", json={"properties": {"advanced_manufacturing": False}},
                           headers=basic("bureau"))
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "LOCKUP_PLANNING"
    r = await client.get("/api/v1/parcels?tier=base&limit=5", headers=basic("bureau"))
    assert r.status_code == 200, r.text
    assert r.json()["numberMatched"] == 1
    r = await client.get(f"/api/v1/parcels/{pid}/history", headers=basic("bureau"))
    assert [f["properties"]["version"] for f in r.json()["features"]] == [1, 2]
    r = await client.get("/api/v1/audit?entity=zone", headers=basic("bureau"))
    assert r.json()["items"][0]["outcome"] == "refused", r.text
