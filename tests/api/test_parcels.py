"""Parcels over REST (SPEC §5): every property, filters, bbox, paging, CRS, errors, history, ETags."""

from pyproj import Transformer

from tests.builders import BZ, CZ, EAST, WEST, basic, create_parcel, feature, square

BUREAU = basic("bureau")
PROPERTIES = {
    "code", "land_use", "plot_ratio", "plot_ratio_reference_id", "legacy_zone", "status", "district_code", "tier",
    "zone_id", "planning_locked", "area_m2", "plot_ratio_cap", "plot_ratio_cap_source", "version", "valid_from",
    "valid_to",
}


async def test_a_new_parcel_gets_tier_zone_district_lock_area_and_cap_from_geometry(client, city):
    body = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01, 200), code="PD-0001",
                               plot_ratio=1.5, legacy_zone="104", status="planned")
    p = body["properties"]
    assert set(p) == PROPERTIES
    assert body["type"] == "Feature" and body["geometry"]["type"] == "MultiPolygon"
    derived = (p["tier"], p["zone_id"], p["district_code"], p["planning_locked"])
    assert derived == ("base", city.base_zone_id, EAST, True)
    assert (p["plot_ratio_cap"], p["plot_ratio_cap_source"], p["version"]) == (2.0, "default", 1)
    assert abs(p["area_m2"] - 40_000) < 400  # 200 m × 200 m on the ellipsoid


async def test_industrial_land_outside_all_zones_is_a_fragment_and_community_land_is_community(client, city):
    fragment = await create_parcel(client, square(121.45, 31.2), code="F-1")
    community = await create_parcel(client, square(CZ[0] + 0.01, CZ[1] + 0.01), code="C-1")
    assert fragment["properties"]["tier"] == "fragment" and fragment["properties"]["zone_id"] is None
    assert fragment["properties"]["district_code"] == WEST
    assert community["properties"]["tier"] == "community"
    assert community["properties"]["planning_locked"] is False


async def test_the_zone_covering_the_majority_decides_and_less_than_half_is_a_fragment(client, city):
    # 60 % inside the base zone's west edge → base; 40 % inside → fragment.
    side = 100 / 95_300
    mostly = await create_parcel(client, square(BZ[0] - 0.4 * side, BZ[1] + 0.01), code="M-60")
    partly = await create_parcel(client, square(BZ[0] - 0.6 * side, BZ[1] + 0.02), code="M-40")
    assert mostly["properties"]["tier"] == "base"
    assert partly["properties"]["tier"] == "fragment"


async def test_list_filters_page_and_links(client, city):
    for i in range(5):
        await create_parcel(client, square(BZ[0] + 0.002 * i, BZ[1] + 0.001), code=f"B-{i}")
    await create_parcel(client, square(121.45, 31.2), code="F-9")
    r = await client.get("/api/v1/parcels?tier=base&limit=2", headers=BUREAU)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert (body["numberMatched"], body["numberReturned"]) == (5, 2)
    assert [f["properties"]["code"] for f in body["features"]] == ["B-0", "B-1"]
    nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
    page2 = (await client.get(nxt, headers=BUREAU)).json()
    assert [f["properties"]["code"] for f in page2["features"]] == ["B-2", "B-3"]
    last = (await client.get("/api/v1/parcels?tier=base&limit=2&offset=4", headers=BUREAU)).json()
    assert last["numberReturned"] == 1 and not any(link["rel"] == "next" for link in last["links"])
    assert {link["rel"] for link in last["links"]} == {"self", "prev"}
    fragments = (await client.get(f"/api/v1/parcels?tier=fragment&district_code={WEST}", headers=BUREAU)).json()
    assert [f["properties"]["code"] for f in fragments["features"]] == ["F-9"]


async def test_an_oversized_limit_is_clamped_not_refused(client, city):
    r = await client.get("/api/v1/parcels?limit=999999", headers=BUREAU)
    assert r.status_code == 200


async def test_bbox_in_lon_lat_and_in_gauss_krueger(client, city):
    inside = await create_parcel(client, square(121.56, 31.06), code="IN")
    await create_parcel(client, square(121.59, 31.09), code="OUT")
    r = await client.get("/api/v1/parcels?bbox=121.555,31.055,121.565,31.065", headers=BUREAU)
    assert [f["id"] for f in r.json()["features"]] == [inside["id"]]
    to_gk = Transformer.from_crs(4490, 4550, always_xy=True)
    x0, y0 = to_gk.transform(121.555, 31.055)
    x1, y1 = to_gk.transform(121.565, 31.065)
    r = await client.get(f"/api/v1/parcels?bbox={x0},{y0},{x1},{y1}&bbox-crs=EPSG:4550", headers=BUREAU)
    assert [f["id"] for f in r.json()["features"]] == [inside["id"]]


async def test_a_parcel_posted_in_epsg_4549_comes_back_in_epsg_4490_within_a_centimetre(client, city):
    to_gk = Transformer.from_crs(4490, 4549, always_xy=True)
    lonlat = [(121.45, 31.2), (121.451, 31.2), (121.451, 31.201), (121.45, 31.201), (121.45, 31.2)]
    ring = [list(to_gk.transform(x, y)) for x, y in lonlat]
    body = await create_parcel(client, {"type": "Polygon", "coordinates": [ring]}, code="GK-1",
                               headers={"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/4549>"})
    r = await client.get(f"/api/v1/parcels/{body['id']}", headers=BUREAU)
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4490>"
    got = r.json()["geometry"]["coordinates"][0][0]
    metres = Transformer.from_crs(4490, 4549, always_xy=True)
    for (x, y), (gx, gy) in zip(lonlat, got, strict=True):
        ex, ey = metres.transform(x, y)
        ax, ay = metres.transform(gx, gy)
        assert abs(ex - ax) < 0.01 and abs(ey - ay) < 0.01
    out = await client.get(f"/api/v1/parcels/{body['id']}?crs=EPSG:4549", headers=BUREAU)
    assert out.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4549>"
    back = out.json()["geometry"]["coordinates"][0][0]
    for (rx, ry), (bx, by) in zip(ring, back, strict=True):
        assert abs(rx - bx) < 0.01 and abs(ry - by) < 0.01  # x = easting, y = northing (GeoJSON order)


async def test_invalid_geometry_is_refused_with_a_reason(client, city):
    bowtie = {"type": "Polygon", "coordinates": [[[121.45, 31.2], [121.46, 31.21], [121.46, 31.2], [121.45, 31.21],
                                                  [121.45, 31.2]]]}
    r = await client.post("/api/v1/parcels", json=feature(bowtie, code="X", land_use="industrial"), headers=BUREAU)
    assert r.status_code == 422
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert body["code"] == "GEOMETRY_INVALID" and "Self-intersection" in body["detail"]
    far = square(2.35, 48.85)
    r = await client.post("/api/v1/parcels", json=feature(far, code="X", land_use="industrial"), headers=BUREAU)
    assert (r.status_code, r.json()["code"]) == (422, "GEOMETRY_INVALID")
    assert "outside the service extent" in r.json()["detail"]


async def test_an_unsupported_crs_is_refused(client, city):
    r = await client.post("/api/v1/parcels", json=feature(square(121.45, 31.2), code="X", land_use="industrial"),
                          headers={**BUREAU, "Content-Crs": "EPSG:32651"})
    assert (r.status_code, r.json()["code"]) == (400, "CRS_UNSUPPORTED")
    r = await client.get("/api/v1/parcels?crs=EPSG:9999", headers=BUREAU)
    assert (r.status_code, r.json()["code"]) == (400, "CRS_UNSUPPORTED")


async def test_overlapping_industrial_parcels_are_refused_with_the_overlap(client, city):
    first = await create_parcel(client, square(121.45, 31.2, 100), code="O-1")
    r = await client.post("/api/v1/parcels", json=feature(square(121.4505, 31.2005, 100), code="O-2",
                                                          land_use="industrial"), headers=BUREAU)
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "PARCEL_OVERLAP" and body["other_parcel_id"] == first["id"]
    assert body["overlap_m2"] > 1000


async def test_parcels_sharing_an_edge_or_an_office_on_top_are_not_overlaps(client, city):
    await create_parcel(client, square(121.45, 31.2, 100), code="E-1")
    await create_parcel(client, square(121.45 + 100 / 95_300, 31.2, 100), code="E-2")
    await create_parcel(client, square(121.4502, 31.2002, 50), code="OF-1", land_use="office", plot_ratio=4)


async def test_shape_errors_are_validation_errors_not_500s(client, city):
    cases = [
        {"type": "Feature", "geometry": square(121.45, 31.2), "properties": {"code": "X"}},
        {"type": "Feature", "geometry": square(121.45, 31.2), "properties": {"code": "X", "land_use": "farm"}},
        {"type": "Feature", "geometry": square(121.45, 31.2),
         "properties": {"code": "X", "land_use": "industrial", "plot_ratio": -1}},
        {"type": "Feature", "geometry": square(121.45, 31.2),
         "properties": {"code": "X", "land_use": "industrial", "colour": "red"}},
        {"nonsense": True},
    ]
    for body in cases:
        r = await client.post("/api/v1/parcels", json=body, headers=BUREAU)
        assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR"), body
    r = await client.post("/api/v1/parcels", content=b"{not json",
                          headers={**BUREAU, "Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_a_duplicate_code_is_refused(client, city):
    await create_parcel(client, square(121.45, 31.2), code="DUP")
    r = await client.post("/api/v1/parcels", json=feature(square(121.46, 31.2), code="DUP", land_use="industrial"),
                          headers=BUREAU)
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_missing_parcels_are_404_problems(client, city):
    for url in ("/api/v1/parcels/987654", "/api/v1/parcels/987654/history"):
        r = await client.get(url, headers=BUREAU)
        assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")
    r = await client.patch("/api/v1/parcels/987654", json={"properties": {"status": "supplied"}}, headers=BUREAU)
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")


async def test_patch_with_a_stale_if_match_is_refused_and_changes_nothing(client, city):
    body = await create_parcel(client, square(121.45, 31.2), code="V-1", plot_ratio=1.2)
    url = f"/api/v1/parcels/{body['id']}"
    ok = await client.patch(url, json={"properties": {"plot_ratio": 1.4}}, headers={**BUREAU, "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = await client.patch(url, json={"properties": {"plot_ratio": 1.9}}, headers={**BUREAU, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["code"] == "VERSION_CONFLICT" and stale.json()["current_version"] == 2
    now = (await client.get(url, headers=BUREAU)).json()["properties"]
    assert (now["plot_ratio"], now["version"]) == (1.4, 2)


async def test_patch_carries_only_what_changes_and_null_clears(client, city):
    body = await create_parcel(client, square(121.45, 31.2), code="N-1", plot_ratio=1.2, legacy_zone="198")
    r = await client.patch(f"/api/v1/parcels/{body['id']}", json={"properties": {"legacy_zone": None}}, headers=BUREAU)
    p = r.json()["properties"]
    assert (p["legacy_zone"], p["plot_ratio"], p["code"]) == (None, 1.2, "N-1")


async def test_moving_a_parcel_recomputes_its_tier(client, city):
    body = await create_parcel(client, square(121.45, 31.2), code="MV-1")
    r = await client.patch(f"/api/v1/parcels/{body['id']}", json={"geometry": square(CZ[0] + 0.01, CZ[1] + 0.01)},
                           headers=BUREAU)
    assert r.json()["properties"]["tier"] == "community"


async def test_history_keeps_every_version_and_as_of_reads_the_past(client, city, conn):
    from sqlalchemy import text

    body = await create_parcel(client, square(121.45, 31.2), code="H-1", plot_ratio=1.0)
    pid = body["id"]
    # Versions written in one test transaction share now(); put version 1 in the past explicitly.
    await conn.execute(text("UPDATE parcel SET valid_from = '2025-01-01T00:00:00+08' WHERE id = :id"), {"id": pid})
    await client.patch(f"/api/v1/parcels/{pid}", json={"properties": {"plot_ratio": 1.5}}, headers=BUREAU)
    history = (await client.get(f"/api/v1/parcels/{pid}/history", headers=BUREAU)).json()
    versions = [(f["properties"]["version"], f["properties"]["plot_ratio"]) for f in history["features"]]
    assert versions == [(1, 1.0), (2, 1.5)]
    first, second = history["features"]
    assert first["properties"]["valid_to"] == second["properties"]["valid_from"]
    assert second["properties"]["valid_to"] is None
    past = await client.get(f"/api/v1/parcels/{pid}?as_of=2025-06-30", headers=BUREAU)
    assert (past.json()["properties"]["plot_ratio"], past.headers["etag"]) == (1.0, '"1"')
    assert (await client.get(f"/api/v1/parcels/{pid}?as_of=2024-12-31", headers=BUREAU)).status_code == 404
    listed = (await client.get("/api/v1/parcels?as_of=2025-06-30&limit=1000", headers=BUREAU)).json()
    assert any(f["id"] == pid and f["properties"]["version"] == 1 for f in listed["features"])
    bad = await client.get(f"/api/v1/parcels/{pid}?as_of=yesterday", headers=BUREAU)
    assert (bad.status_code, bad.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_delete_retires_a_parcel_and_keeps_its_history(client, city):
    body = await create_parcel(client, square(121.45, 31.2), code="D-1")
    r = await client.delete(f"/api/v1/parcels/{body['id']}", headers=BUREAU)
    assert r.status_code == 204
    assert (await client.get(f"/api/v1/parcels/{body['id']}", headers=BUREAU)).status_code == 404
    history = (await client.get(f"/api/v1/parcels/{body['id']}/history", headers=BUREAU)).json()
    assert history["features"][0]["properties"]["valid_to"] is not None


async def test_large_pages_are_streamed_completely(client, city, db, settings):
    from shapely.geometry import box

    from app.auth.permissions import Actor
    from app.parcels.bulk import bulk_create
    from app.parcels.service import ParcelDraft
    from gis.geometry import as_multipolygon

    drafts = []
    for i in range(1500):
        x, y = 121.31 + (i % 50) * 0.002, 30.96 + (i // 50) * 0.002
        geom = as_multipolygon(box(x, y, x + 0.001, y + 0.001))
        drafts.append(ParcelDraft(code=f"S-{i:04d}", land_use="industrial", geom=geom))
    async with db.session() as session:
        result = await bulk_create(session, Actor(1, "bureau", "bureau"), settings.policy, drafts)
    assert not result.refused and len(result.ids) == 1500
    r = await client.get("/api/v1/parcels?limit=10000", headers=BUREAU)
    assert r.status_code == 200
    body = r.json()
    assert body["numberMatched"] == body["numberReturned"] == len(body["features"]) == 1500
    assert [f["properties"]["code"] for f in body["features"]][:2] == ["S-0000", "S-0001"]
