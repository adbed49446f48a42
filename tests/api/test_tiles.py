"""Vector tiles (SPEC §5 "Web page"): `GET /tiles/{layer}/{z}/{x}/{y}.mvt` shows the current parcels, zones
and districts with the REST resources' property names, points below zoom 12 and polygons from 12,
revalidates by ETag, follows every edit, and refuses what is not a tile like the REST API refuses what does
not exist."""

import math

import httpx
import mapbox_vector_tile

from app.main import create_app
from tests.builders import BZ, CZ, EAST, WEST, basic, create_parcel, square
from tests.conftest import make_settings

BUREAU = basic("bureau")
MVT = "application/vnd.mapbox-vector-tile"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The XYZ tile (Web Mercator, y from the north) holding a point."""
    n = 2**z
    return z, int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


async def get_tile(client, layer, tile, headers=BUREAU):
    z, x, y = tile
    return await client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=headers)


async def features(client, layer, tile):
    """The decoded features of one layer of a tile: a tile with none answers 204, never an empty 200."""
    r = await get_tile(client, layer, tile)
    if r.status_code == 204:
        return []
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == MVT
    found = mapbox_vector_tile.decode(r.content)[layer]["features"]
    assert found
    return found


def by_id(found, feature_id):
    return next((f for f in found if f["id"] == feature_id), None)


async def _parcel(client, code="TILE-1", lon=BZ[0] + 0.01, lat=BZ[1] + 0.01, **props):
    return await create_parcel(client, square(lon, lat, 200), code=code, plot_ratio=1.6, legacy_zone="104",
                               **props)


async def test_a_parcel_is_a_polygon_in_its_tile_with_the_rest_resources_properties(client, city):
    created = await _parcel(client)
    rest = created["properties"]
    found = by_id(await features(client, "parcels", tile_of(BZ[0] + 0.011, BZ[1] + 0.011, 14)), created["id"])
    assert found is not None
    assert found["geometry"]["type"] == "Polygon"
    assert found["properties"] == {
        "id": created["id"], "code": "TILE-1", "tier": "base", "status": rest["status"], "land_use": "industrial",
        "legacy_zone": "104", "district_code": EAST, "zone_id": city.base_zone_id, "plot_ratio": 1.6,
        "plot_ratio_cap": float(rest["plot_ratio_cap"]), "planning_locked": True,
    }


async def test_below_zoom_12_parcels_are_points_and_from_12_polygons(client, city):
    created = await _parcel(client)
    lon, lat = BZ[0] + 0.011, BZ[1] + 0.011
    for z in (8, 11):
        point = by_id(await features(client, "parcels", tile_of(lon, lat, z)), created["id"])
        assert point["geometry"]["type"] == "Point", z
        assert point["properties"] == {"tier": "base", "legacy_zone": "104",
                                       "status": "planned", "land_use": "industrial", "planning_locked": True}
    for z in (12, 16):
        polygon = by_id(await features(client, "parcels", tile_of(lon, lat, z)), created["id"])
        assert polygon["geometry"]["type"] == "Polygon", z


async def test_a_parcel_outside_the_tile_is_not_in_it(client, city):
    east = await _parcel(client, "TILE-E")
    west = await _parcel(client, "TILE-W", lon=CZ[0] + 0.01, lat=CZ[1] + 0.01)
    z, x, y = tile_of(BZ[0] + 0.011, BZ[1] + 0.011, 14)
    here = {f["id"] for f in await features(client, "parcels", (z, x, y))}
    assert east["id"] in here and west["id"] not in here
    assert await features(client, "parcels", (z, x + 3, y)) == []
    west_tile = {f["id"]: f["properties"]["tier"] for f in await features(client, "parcels", tile_of(
        CZ[0] + 0.011, CZ[1] + 0.011, 14))}
    assert west_tile == {west["id"]: "community"}


async def test_only_current_parcels_are_drawn_retired_ones_are_gone(client, city):
    kept, retired = await _parcel(client, "TILE-K"), await _parcel(client, "TILE-R", lon=BZ[0] + 0.015)
    r = await client.patch(f"/api/v1/parcels/{kept['id']}", json={"properties": {"legacy_zone": "195"}},
                           headers=BUREAU)
    assert r.status_code == 200, r.text
    r = await client.request("DELETE", f"/api/v1/parcels/{retired['id']}", headers=BUREAU,
                             json={"override": {"decision_ref": "SH-2026-7", "reason": "tile test"}})
    assert r.status_code == 204, r.text
    found = await features(client, "parcels", tile_of(BZ[0] + 0.011, BZ[1] + 0.011, 13))
    assert [(f["id"], f["properties"]["legacy_zone"]) for f in found] == [(kept["id"], "195")]


async def test_a_tile_has_an_etag_and_answers_304_until_the_layer_changes(client, city):
    created = await _parcel(client)
    tile = tile_of(BZ[0] + 0.011, BZ[1] + 0.011, 14)
    first = await get_tile(client, "parcels", tile)
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    again = await get_tile(client, "parcels", tile, {**BUREAU, "If-None-Match": tag})
    assert (again.status_code, again.headers["etag"], again.content) == (304, tag, b"")
    other = await get_tile(client, "parcels", (tile[0], tile[1] + 1, tile[2]), {**BUREAU, "If-None-Match": tag})
    assert other.status_code == 204  # the neighbour holds no parcel: its own answer, not 304
    r = await client.patch(f"/api/v1/parcels/{created['id']}", json={"properties": {"legacy_zone": "195"}},
                           headers=BUREAU)
    assert r.status_code == 200, r.text
    changed = await get_tile(client, "parcels", tile, {**BUREAU, "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    edited = by_id(mapbox_vector_tile.decode(changed.content)["parcels"]["features"], created["id"])
    assert edited["properties"]["legacy_zone"] == "195"


async def test_a_parcel_edit_leaves_the_zones_and_districts_tiles_unchanged(client, city):
    created = await _parcel(client)
    tile = tile_of(BZ[0] + 0.011, BZ[1] + 0.011, 10)
    tags = {layer: (await get_tile(client, layer, tile)).headers["etag"] for layer in ("zones", "districts")}
    await client.patch(f"/api/v1/parcels/{created['id']}", json={"properties": {"plot_ratio": 1.8}},
                       headers=BUREAU)
    for layer, tag in tags.items():
        assert (await get_tile(client, layer, tile, {**BUREAU, "If-None-Match": tag})).status_code == 304, layer


async def test_zone_and_district_tiles_carry_their_rest_properties(client, city):
    tile = tile_of(BZ[0] + 0.01, BZ[1] + 0.01, 10)
    zones = {f["id"]: f for f in await features(client, "zones", tile)}
    base = zones[city.base_zone_id]
    assert base["geometry"]["type"] == "Polygon"
    assert base["properties"] == {"id": city.base_zone_id, "code": "BZ", "name": "Zone BZ", "kind": "base",
                                  "advanced_manufacturing": True, "district_code": EAST}
    districts = {f["properties"]["code"]: f["properties"] for f in await features(client, "districts", tile)}
    assert districts[EAST] == {"code": EAST, "name_zh": "浦东新区", "name_en": "Pudong"}
    assert districts[WEST]["name_en"] == "Minhang"  # the tile reaches across lon 121.5


async def test_a_tile_without_features_answers_204(client, city):
    r = await get_tile(client, "parcels", tile_of(123.5, 30.0, 12))  # the East China Sea
    assert r.status_code == 204 and r.content == b"" and r.headers["etag"]


async def test_tiles_come_gzipped_to_clients_that_ask_and_plain_to_the_rest(client, city):
    for i in range(30):
        await _parcel(client, f"TILE-G{i}", lon=BZ[0] + 0.01 + 0.003 * (i % 10), lat=BZ[1] + 0.01 + 0.003 * (i // 10))
    tile = tile_of(BZ[0] + 0.011, BZ[1] + 0.011, 12)
    zipped = await get_tile(client, "parcels", tile, {**BUREAU, "Accept-Encoding": "gzip"})
    plain = await get_tile(client, "parcels", tile, {**BUREAU, "Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert zipped.content == plain.content  # httpx decodes: the same tile
    assert len(mapbox_vector_tile.decode(plain.content)["parcels"]["features"]) == 30


async def test_unknown_layers_and_tiles_outside_the_pyramid_are_not_found(client, city):
    for path in ("/tiles/roads/10/856/418.mvt", "/tiles/parcels/23/0/0.mvt", "/tiles/parcels/-1/0/0.mvt",
                 "/tiles/parcels/10/1024/418.mvt", "/tiles/parcels/10/856/-1.mvt", "/tiles/parcels/0/0/1.mvt"):
        r = await client.get(path, headers=BUREAU)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/problem+json" and r.json()["code"] == "NOT_FOUND", path
    r = await client.get("/tiles/parcels/ten/856/418.mvt", headers=BUREAU)
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_anonymous_clients_are_refused_unless_public_read_is_on(client, city, db):
    tile = tile_of(BZ[0] + 0.01, BZ[1] + 0.01, 10)
    r = await get_tile(client, "districts", tile, headers={})
    assert (r.status_code, r.json()["code"]) == (401, "UNAUTHENTICATED")
    bearer = (await client.post("/api/v1/auth/token", data={"username": "viewer", "password": "test-password"}))
    token = bearer.json()["access_token"]
    assert (await get_tile(client, "districts", tile, {"Authorization": f"Bearer {token}"})).status_code == 200
    app = create_app(make_settings(public_read=True), db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as anon:
        r = await get_tile(anon, "districts", tile, headers={})
        assert r.status_code == 200 and r.headers["content-type"] == MVT
