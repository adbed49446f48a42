"""A write invalidates exactly the cached tiles it touches (app/tiles/service.py, migration 0012): a tile far
from an edit is answered from the cache at the layer's new version, a tile the edit reaches is built again
and shows it. (Committed writes: inside one transaction every write of its own counts as unseen.)"""

import httpx
import mapbox_vector_tile
import pytest

from app.main import create_app
from tests.api.test_tiles import BUREAU, by_id, get_tile, tile_of
from tests.builders import BZ, CZ, build_city, create_parcel, square
from tests.conftest import make_settings


@pytest.mark.live
async def test_an_edit_rebuilds_the_tiles_it_touches_and_keeps_the_others(live_db):
    await build_city(live_db)
    app = create_app(make_settings(), live_db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        await _edits(app, client)


async def _edits(app, client):
    here = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01, 200), code="NEAR-1", plot_ratio=1.6,
                               legacy_zone="104")
    far = await create_parcel(client, square(CZ[0] + 0.01, CZ[1] + 0.01, 200), code="FAR-1", plot_ratio=1.6,
                              legacy_zone="104", land_use="rnd")
    tile = tile_of(BZ[0] + 0.011, BZ[1] + 0.011, 14)
    cache = app.state.tile_cache
    first = await get_tile(client, "parcels", tile)
    assert first.status_code == 200

    # An edit in another district: the tile's ETag follows the layer's version, its bytes come from the cache.
    r = await client.patch(f"/api/v1/parcels/{far['id']}", json={"properties": {"legacy_zone": "195"}},
                           headers=BUREAU)
    assert r.status_code == 200, r.text
    kept = await get_tile(client, "parcels", tile, {**BUREAU, "If-None-Match": first.headers["etag"]})
    assert kept.status_code == 200 and kept.headers["etag"] != first.headers["etag"]
    assert kept.content == first.content and cache.carried == 1
    again = await get_tile(client, "parcels", tile, {**BUREAU, "If-None-Match": kept.headers["etag"]})
    assert again.status_code == 304

    # An edit inside the tile: built again, with the edit.
    r = await client.patch(f"/api/v1/parcels/{here['id']}", json={"properties": {"legacy_zone": "195"}},
                           headers=BUREAU)
    assert r.status_code == 200, r.text
    changed = await get_tile(client, "parcels", tile, {**BUREAU, "If-None-Match": kept.headers["etag"]})
    assert changed.status_code == 200 and cache.carried == 1
    edited = by_id(mapbox_vector_tile.decode(changed.content)["parcels"]["features"], here["id"])
    assert edited["properties"]["legacy_zone"] == "195"


async def test_a_parcel_moved_out_of_a_tile_leaves_it(client, city):
    moved = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01, 200), code="MOVE-1", plot_ratio=1.6)
    tile = tile_of(BZ[0] + 0.011, BZ[1] + 0.011, 14)
    assert (await get_tile(client, "parcels", tile)).status_code == 200
    r = await client.patch(f"/api/v1/parcels/{moved['id']}", headers=BUREAU,
                           json={"geometry": square(BZ[0] + 0.03, BZ[1] + 0.03, 200)})
    assert r.status_code == 200, r.text
    assert (await get_tile(client, "parcels", tile)).status_code == 204  # the old extent counts as touched
