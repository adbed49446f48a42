"""The GET-by-id fast path of /ogc (app/ogc/fast_path.py) answers exactly as the FastAPI route it bypasses."""

from __future__ import annotations

import httpx

from app.main import create_app
from app.ogc.fast_path import OgcFeatureFastPath
from tests.builders import BZ, basic, create_parcel, square
from tests.conftest import make_settings
from tests.ogc.conftest import BUREAU, OGC

HEADERS = ("etag", "content-crs", "content-type")


async def _answers(client: httpx.AsyncClient, paths: list[str], tag_path: str) -> list[httpx.Response]:
    out = [await client.get(OGC + path, headers=BUREAU) for path in paths]
    tag = out[paths.index(tag_path)].headers["etag"]
    return [*out, await client.get(OGC + tag_path, headers={**BUREAU, "If-None-Match": tag})]


async def test_the_fast_path_answers_like_the_documented_route(client, ogc_city, monkeypatch):
    pid = ogc_city.ids()[0]
    paths = [f"/collections/parcels/items/{pid}",
             f"/collections/parcels/items/{pid}?crs=http://www.opengis.net/def/crs/EPSG/0/4549",
             f"/collections/parcels/items/{pid}?f=json&crs=http://www.opengis.net/def/crs/EPSG/0/4490",
             f"/collections/zones/items/{ogc_city.base_zone_id}", f"/collections/parcels/items/{pid}?f=html"]
    answered = []
    plain = OgcFeatureFastPath._plain
    monkeypatch.setattr(OgcFeatureFastPath, "_plain", staticmethod(lambda scope: answered.append(1) and plain(scope)))
    fast = await _answers(client, paths, paths[1])
    assert len(answered) == len(paths) + 1
    monkeypatch.setattr(OgcFeatureFastPath, "_plain", staticmethod(lambda scope: None))  # every request routed
    routed = await _answers(client, paths, paths[1])
    for path, f, r in zip([*paths, "304"], fast, routed, strict=True):
        assert f.status_code == r.status_code == (304 if path == "304" else 200), path
        assert f.content == r.content, path
        for header in HEADERS:
            assert f.headers.get(header) == r.headers.get(header), (path, header)
    assert fast[-1].headers["etag"] == fast[1].headers["etag"]


async def test_the_fast_path_refuses_like_the_route(client, ogc_city):
    pid = ogc_city.ids()[0]
    for path, status, code in ((f"/collections/parcels/items/{pid}?crs=EPSG:9999", 400, "CRS_UNSUPPORTED"),
                               (f"/collections/parcels/items/{pid}?f=kml", 400, "VALIDATION_ERROR"),
                               ("/collections/parcels/items/987654321", 404, "NOT_FOUND"),
                               ("/collections/parcels/items/not-a-number", 404, "NOT_FOUND"),
                               ("/collections/nothing/items/1", 404, "NOT_FOUND")):
        r = await client.get(OGC + path, headers=BUREAU)
        assert (r.status_code, r.json()["code"]) == (status, code), path
        assert r.headers["content-type"].startswith("application/problem+json"), path
    anonymous = await client.get(f"{OGC}/collections/parcels/items/{pid}")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "UNAUTHENTICATED")
    wrong = await client.get(f"{OGC}/collections/parcels/items/{pid}", headers=basic("bureau", "wrong-password"))
    assert (wrong.status_code, wrong.json()["code"]) == (401, "UNAUTHENTICATED")


async def test_public_read_lets_the_fast_path_serve_anonymous_clients(db, city):
    app = create_app(make_settings(public_read=True), db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as anon:
        created = await create_parcel(anon, square(BZ[0] + 0.01, BZ[1] + 0.01), code="OGC-PUB-1")
        r = await anon.get(f"{OGC}/collections/parcels/items/{created['id']}")
    assert r.status_code == 200 and r.json()["properties"]["code"] == "OGC-PUB-1"
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
