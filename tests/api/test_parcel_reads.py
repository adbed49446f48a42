"""The fast parcel reads (bench/RESULTS.md "REST API") keep SPEC §5: keyset `next` links, collection ETags
and 304, counts that follow writes, gzip on request, the export stream, and the GET-by-id fast path
answering like the route."""

import httpx
import pytest

from app.main import create_app
from tests.builders import BZ, basic, create_parcel, square
from tests.conftest import make_settings

BUREAU = basic("bureau")


async def _five(client):
    return [(await create_parcel(client, square(BZ[0] + 0.002 * i, BZ[1] + 0.001), code=f"K-{i}"))["id"]
            for i in range(5)]


def _link(body, rel):
    return next((link["href"] for link in body["links"] if link["rel"] == rel), None)


async def test_next_links_carry_a_keyset_cursor_and_walk_every_parcel_once(client, city):
    ids = await _five(client)
    body = (await client.get("/api/v1/parcels?limit=2", headers=BUREAU)).json()
    seen = [f["id"] for f in body["features"]]
    assert f"after={seen[-1]}" in _link(body, "next") and "offset=2" in _link(body, "next")
    while nxt := _link(body, "next"):
        body = (await client.get(nxt, headers=BUREAU)).json()
        assert body["numberMatched"] == 5
        seen += [f["id"] for f in body["features"]]
    assert seen == ids
    assert "after" not in _link(body, "prev") and "offset=2" in _link(body, "prev")


async def test_a_page_by_offset_and_the_same_page_by_cursor_agree(client, city):
    ids = await _five(client)
    by_offset = (await client.get("/api/v1/parcels?limit=2&offset=2", headers=BUREAU)).json()
    by_cursor = (await client.get(f"/api/v1/parcels?limit=2&offset=2&after={ids[1]}", headers=BUREAU)).json()
    assert [f["id"] for f in by_offset["features"]] == [f["id"] for f in by_cursor["features"]] == ids[2:4]


async def test_a_collection_has_an_etag_and_answers_304_until_a_parcel_changes(client, city):
    await _five(client)
    url = "/api/v1/parcels?tier=base&limit=3"
    first = await client.get(url, headers=BUREAU)
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    again = await client.get(url, headers={**BUREAU, "If-None-Match": tag})
    assert again.status_code == 304 and again.headers["etag"] == tag and again.content == b""
    other = await client.get("/api/v1/parcels?tier=base&limit=4", headers={**BUREAU, "If-None-Match": tag})
    assert other.status_code == 200
    await create_parcel(client, square(BZ[0] + 0.03, BZ[1] + 0.03), code="K-new")
    changed = await client.get(url, headers={**BUREAU, "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


async def test_number_matched_follows_every_write_although_counts_are_cached(client, city):
    await _five(client)
    url = "/api/v1/parcels?status=planned&limit=1"
    assert (await client.get(url, headers=BUREAU)).json()["numberMatched"] == 5
    assert (await client.get(url, headers=BUREAU)).json()["numberMatched"] == 5
    await create_parcel(client, square(BZ[0] + 0.03, BZ[1] + 0.03), code="K-6", legacy_zone="104")
    assert (await client.get(url, headers=BUREAU)).json()["numberMatched"] == 6
    url = "/api/v1/parcels?legacy_zone=104&limit=1"
    assert (await client.get(url, headers=BUREAU)).json()["numberMatched"] == 1
    one = (await client.get(url, headers=BUREAU)).json()["features"][0]["id"]
    r = await client.patch(f"/api/v1/parcels/{one}", json={"properties": {"legacy_zone": None}}, headers=BUREAU)
    assert r.status_code == 200, r.text
    assert (await client.get(url, headers=BUREAU)).json()["numberMatched"] == 0


async def test_large_responses_are_gzipped_only_for_clients_that_ask(client, city):
    await _five(client)
    plain = await client.get("/api/v1/parcels", headers={**BUREAU, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = await client.get("/api/v1/parcels", headers={**BUREAU, "Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx decodes: the same body
    small = await client.get(f"/api/v1/parcels/{plain.json()['features'][0]['id']}",
                             headers={**BUREAU, "Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers  # below 1 KB gzip is not worth it


async def test_the_export_streams_every_matching_parcel_in_one_collection(client, city):
    ids = await _five(client)
    await create_parcel(client, square(121.45, 31.2), code="F-out")
    r = await client.get("/api/v1/parcels/export?f=geojson&tier=base", headers=BUREAU)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert [f["id"] for f in body["features"]] == ids
    assert (body["numberMatched"], body["numberReturned"]) == (5, 5)
    assert _link(body, "next") is None
    gk = await client.get("/api/v1/parcels/export?f=geojson&crs=EPSG:4549&tier=base", headers=BUREAU)
    assert gk.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4549>"
    assert gk.json()["features"][0]["geometry"]["coordinates"][0][0][0][0] > 1000
    unchanged = await client.get("/api/v1/parcels/export?f=geojson&tier=base",
                                 headers={**BUREAU, "If-None-Match": r.headers["etag"]})
    assert unchanged.status_code == 304
    bad = await client.get("/api/v1/parcels/export?f=kml", headers=BUREAU)
    assert (bad.status_code, bad.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_get_by_id_answers_304_for_its_version(client, city):
    [first, *_] = await _five(client)
    r = await client.get(f"/api/v1/parcels/{first}", headers=BUREAU)
    assert r.headers["etag"] == '"1"'
    again = await client.get(f"/api/v1/parcels/{first}", headers={**BUREAU, "If-None-Match": '"1"'})
    assert again.status_code == 304 and again.headers["etag"] == '"1"'


async def test_the_fast_path_answers_like_the_documented_route(client, city):
    [first, *_] = await _five(client)
    fast = await client.get(f"/api/v1/parcels/{first}?crs=EPSG:4549", headers=BUREAU)
    routed = await client.get(f"/api/v1/parcels/{first}?crs=EPSG:4549&unused=1", headers=BUREAU)  # FastAPI route
    assert fast.status_code == routed.status_code == 200
    assert fast.content == routed.content
    for header in ("etag", "content-crs", "content-type"):
        assert fast.headers[header] == routed.headers[header]
    for url, status, code in ((f"/api/v1/parcels/{first}?crs=EPSG:9999", 400, "CRS_UNSUPPORTED"),
                              (f"/api/v1/parcels/{first}?as_of=yesterday", 422, "VALIDATION_ERROR"),
                              ("/api/v1/parcels/987654", 404, "NOT_FOUND"),
                              ("/api/v1/parcels/0", 422, "VALIDATION_ERROR")):
        r = await client.get(url, headers=BUREAU)
        assert (r.status_code, r.json()["code"]) == (status, code), url
    assert (await client.get(f"/api/v1/parcels/{first}")).status_code == 401
    wrong = await client.get(f"/api/v1/parcels/{first}", headers=basic("bureau", "wrong-password"))
    assert (wrong.status_code, wrong.json()["code"]) == (401, "UNAUTHENTICATED")


async def test_public_read_lets_the_fast_path_serve_anonymous_clients(db, city):
    app = create_app(make_settings(public_read=True), db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as anon:
        created = await create_parcel(anon, square(BZ[0] + 0.01, BZ[1] + 0.01), code="PUB-1")
        r = await anon.get(f"/api/v1/parcels/{created['id']}")
        assert r.status_code == 200 and r.json()["properties"]["code"] == "PUB-1"


async def test_number_matched_is_exact_on_short_pages_and_beyond_the_end(client, city):
    await _five(client)
    for offset, returned in ((0, 5), (4, 1), (5, 0), (50, 0)):
        body = (await client.get(f"/api/v1/parcels?tier=base&limit=10&offset={offset}", headers=BUREAU)).json()
        assert (body["numberMatched"], body["numberReturned"]) == (5, returned), offset
    window = (await client.get(f"/api/v1/parcels?bbox={BZ[0]},{BZ[1]},{BZ[0] + 0.0045},{BZ[1] + 0.002}",
                               headers=BUREAU)).json()
    assert window["numberMatched"] == window["numberReturned"] == 3


@pytest.mark.live
async def test_the_export_reads_id_blocks_on_two_connections_in_one_snapshot(live_db, monkeypatch):
    from app.parcels import reads
    from tests.builders import build_city

    monkeypatch.setattr(reads, "_BLOCK_IDS", 2)  # several blocks from a handful of parcels
    blocks = []
    original = reads.block_statement
    monkeypatch.setattr(reads, "block_statement", lambda q, crs: blocks.append(q) or original(q, crs))
    await build_city(live_db)
    app = create_app(make_settings(), live_db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        ids = [(await create_parcel(http, square(BZ[0] + 0.002 * i, BZ[1] + 0.001), code=f"X-{i}"))["id"]
               for i in range(7)]
        body = (await http.get("/api/v1/parcels/export?f=geojson", headers=BUREAU)).json()
        assert [f["id"] for f in body["features"]] == ids
        assert body["numberMatched"] == body["numberReturned"] == 7
        window = ",".join(map(str, (BZ[0], BZ[1], BZ[0] + 0.005, BZ[1] + 0.002)))
        some = (await http.get(f"/api/v1/parcels/export?f=geojson&bbox={window}", headers=BUREAU)).json()
        assert [f["id"] for f in some["features"]] == ids[:3]
        none = (await http.get("/api/v1/parcels/export?f=geojson&tier=fragment", headers=BUREAU)).json()
        assert none["features"] == [] and none["numberReturned"] == 0
    assert len(blocks) >= 4  # the two-connection path ran (each reader compiles once per export)
