from tests.builders import BZ, basic, create_parcel, square


async def test_bureau_creates_a_base_parcel_and_reads_it_back(client, city):
    body = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01), code="P-1", plot_ratio=1.5)
    assert body["properties"]["tier"] == "base"
    assert body["properties"]["planning_locked"] is True
    got = await client.get(f"/api/v1/parcels/{body['id']}", headers=basic("bureau"))
    assert got.status_code == 200
    assert got.headers["etag"] == '"1"'
