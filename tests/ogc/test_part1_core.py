"""OGC API – Features Part 1 (OGC 17-069r4), Annex A, requirement by requirement: conformance classes core
(/conf/core/...), geojson, html and oas30 against /ogc, on the small city of tests/ogc/conftest.py.
Each test is named after its abstract test (its docstring the id); the last ones hold the extensions the
API documents (property filters, sortby, properties) and SPEC §4's confidential collection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from app.main import create_app
from tests.builders import BZ, CZ, basic, square
from tests.conftest import make_settings
from tests.ogc.conftest import BUREAU, OGC, get, rel, validator

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
COLLECTIONS = ["parcels", "zones", "districts", "exit_candidates"]


def _ids(body):
    return [f["id"] for f in body["features"]]


async def _api(client):
    return (await get(client, "/api")).json()


async def _walk(client, body):
    """Every feature id of a collection, following next links from `body`."""
    seen = _ids(body)
    while nxt := rel(body, "next"):
        body = (await client.get(nxt[0]["href"], headers=BUREAU)).json()
        seen += _ids(body)
    return seen


# ------------------------------------------------------------------------------------------ general
async def test_req_core_http(client, ogc_city):
    """/conf/core/http: HTTP 1.1 — GET and HEAD answer alike; errors are HTTP statuses with a body."""
    for path in ("", "/conformance", "/collections", "/collections/parcels/items"):
        got = await get(client, path)
        head = await client.head(OGC + path, headers=BUREAU)
        assert got.status_code == head.status_code == 200
        assert head.headers["content-type"] == got.headers["content-type"]
    missing = await get(client, "/collections/parcels/items/999999")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_req_core_crs84(client, ogc_city):
    """/conf/core/crs84: without crs, coordinates are CRS84 lon/lat — SPEC §2's stored values, x first."""
    body = (await get(client, "/collections/parcels/items")).json()
    rest = (await client.get("/api/v1/parcels", headers=BUREAU)).json()
    assert [f["geometry"] for f in body["features"]] == [f["geometry"] for f in rest["features"]]
    lon, lat = body["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 120.8 < lon < 122.2 and 30.6 < lat < 31.9


# ------------------------------------------------------------------------------------------ landing page
async def test_req_core_root_op(client, ogc_city):
    """/conf/core/root-op: GET {root}/ answers 200 JSON."""
    r = await get(client, "")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"


async def test_req_core_root_success(client, ogc_city):
    """/conf/core/root-success: links to the API definition, the conformance declaration and the data,
    every link with rel and type, each target reachable."""
    body = (await get(client, "")).json()
    rels = {lk["rel"] for lk in body["links"]}
    assert {"service-desc", "service-doc", "conformance", "data", "self", "alternate"} <= rels
    assert all({"href", "rel", "type"} <= set(lk) for lk in body["links"])
    assert rel(body, "service-desc")[0]["type"] == OPENAPI
    for name in ("service-desc", "conformance", "data"):
        target = await client.get(rel(body, name)[0]["href"], headers=BUREAU)
        assert target.status_code == 200, name
    assert "conformsTo" in (await client.get(rel(body, "conformance", "application/json")[0]["href"],
                                             headers=BUREAU)).json()
    assert validator(await _api(client), "landingPage").is_valid(body)


# ------------------------------------------------------------------------------------------ API definition
async def test_req_core_api_definition_op(client, ogc_city):
    """/conf/core/api-definition-op: the service-desc link answers 200."""
    href = rel((await get(client, "")).json(), "service-desc")[0]["href"]
    r = await client.get(href, headers=BUREAU)
    assert r.status_code == 200


async def test_req_core_api_definition_success(client, ogc_city):
    """/conf/core/api-definition-success: the document is an OpenAPI 3.0 definition of this API."""
    r = await get(client, "/api")
    assert r.headers["content-type"] == OPENAPI
    doc = r.json()
    assert doc["openapi"].startswith("3.0.") and doc["servers"] == [{"url": "http://testserver/ogc"}]
    assert {"/", "/conformance", "/collections", "/collections/parcels/items"} <= set(doc["paths"])


# ------------------------------------------------------------------------------------------ conformance
async def test_req_core_conformance_op(client, ogc_city):
    """/conf/core/conformance-op: GET {root}/conformance answers 200."""
    assert (await get(client, "/conformance")).status_code == 200


async def test_req_core_conformance_success(client, ogc_city):
    """/conf/core/conformance-success: conformsTo lists core and every class this suite tests."""
    body = (await get(client, "/conformance")).json()
    assert {CORE, "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
            "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"} <= set(body["conformsTo"])
    assert validator(await _api(client), "confClasses").is_valid(body)


# ------------------------------------------------------------------------------------------ parameters
async def test_req_core_query_param_unknown(client, ogc_city):
    """/conf/core/query-param-unknown: a parameter the API does not define is 400."""
    for path in ("/collections/parcels/items", "/collections/parcels/items/1", "/collections", ""):
        r = await get(client, path, colour="red")
        assert r.status_code == 400, path
        assert r.json()["code"] == "VALIDATION_ERROR" and "colour" in r.json()["detail"]


@pytest.mark.parametrize("params", [
    {"limit": "ten"}, {"limit": 0}, {"limit": -1}, {"offset": "x"}, {"bbox": "1,2,3"}, {"bbox": "a,b,c,d"},
    {"bbox": "121.6,31.0,121.5,31.1"}, {"datetime": "yesterday"}, {"datetime": "2024-05-01/2023-01-01"},
    {"datetime": "2024-01-01/2024-02-01/2024-03-01"}, {"zone_id": "one"}, {"planning_locked": "maybe"},
    {"plot_ratio": "NaN"}, {"f": "xml"}, {"sortby": "colour"}, {"properties": "colour"},
    {"filter-lang": "ecql"}, {"after": "abc"},
])
async def test_req_core_query_param_invalid(client, ogc_city, params):
    """/conf/core/query-param-invalid: a defined parameter with a value it cannot take is 400."""
    r = await get(client, "/collections/parcels/items", **params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json" and r.json()["status"] == 400


# ------------------------------------------------------------------------------------------ collections
async def test_req_core_fc_md_op(client, ogc_city):
    """/conf/core/fc-md-op: GET {root}/collections answers 200."""
    assert (await get(client, "/collections")).status_code == 200


async def test_req_core_fc_md_success(client, ogc_city):
    """/conf/core/fc-md-success: the collections document validates against collections.yaml."""
    body = (await get(client, "/collections")).json()
    assert validator(await _api(client), "collections").is_valid(body)


async def test_req_core_fc_md_links(client, ogc_city):
    """/conf/core/fc-md-links: self and alternate (HTML) links, each with rel and type."""
    body = (await get(client, "/collections")).json()
    assert rel(body, "self", "application/json") and rel(body, "alternate", "text/html")
    html = await client.get(rel(body, "alternate")[0]["href"], headers=BUREAU)
    assert html.headers["content-type"].startswith("text/html")


async def test_req_core_fc_md_items(client, ogc_city):
    """/conf/core/fc-md-items: one entry per collection, each with its id and links."""
    body = (await get(client, "/collections")).json()
    assert [c["id"] for c in body["collections"]] == COLLECTIONS
    assert all(c["links"] and c["itemType"] == "feature" for c in body["collections"])


async def test_req_core_fc_md_items_links(client, ogc_city):
    """/conf/core/fc-md-items-links: each collection links its items (GeoJSON), which answer 200."""
    for c in (await get(client, "/collections")).json()["collections"]:
        (items,) = rel(c, "items", GEOJSON)
        assert items["href"] == f"http://testserver/ogc/collections/{c['id']}/items"
        assert (await client.get(items["href"], headers=BUREAU)).status_code == 200


async def test_req_core_fc_md_extent(client, ogc_city):
    """/conf/core/fc-md-extent: the spatial extent holds every geometry; the temporal extent every version
    (rule 10: from the first valid_from, open-ended)."""
    docs = {c["id"]: c for c in (await get(client, "/collections")).json()["collections"]}
    for cid in ("parcels", "zones", "districts"):
        (x0, y0, x1, y1), = docs[cid]["extent"]["spatial"]["bbox"]
        assert docs[cid]["extent"]["spatial"]["crs"] == CRS84
        for f in (await get(client, f"/collections/{cid}/items")).json()["features"]:
            for polygon in f["geometry"]["coordinates"]:
                for x, y in polygon[0]:
                    assert x0 - 1e-9 <= x <= x1 + 1e-9 and y0 - 1e-9 <= y <= y1 + 1e-9, cid
    start, end = docs["parcels"]["extent"]["temporal"]["interval"][0]
    assert end is None
    first = datetime.fromisoformat(start.replace("Z", "+00:00"))
    for f in (await get(client, "/collections/parcels/items")).json()["features"]:
        assert first <= datetime.fromisoformat(f["properties"]["valid_from"])
    assert "temporal" not in docs["districts"]["extent"]  # no versions: no temporal geometry


async def test_req_core_sfc_md_op(client, ogc_city):
    """/conf/core/sfc-md-op: GET {root}/collections/{collectionId} answers 200; an unknown id is 404."""
    for cid in COLLECTIONS:
        assert (await get(client, f"/collections/{cid}")).status_code == 200
    r = await get(client, "/collections/rivers")
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")


async def test_req_core_sfc_md_success(client, ogc_city):
    """/conf/core/sfc-md-success: the collection is its entry in /collections."""
    listed = {c["id"]: c for c in (await get(client, "/collections")).json()["collections"]}
    api = await _api(client)
    for cid in COLLECTIONS:
        one = (await get(client, f"/collections/{cid}")).json()
        assert one == listed[cid] and validator(api, "collection").is_valid(one)


# ------------------------------------------------------------------------------------------ features
async def test_req_core_fc_op(client, ogc_city):
    """/conf/core/fc-op: GET {root}/collections/{collectionId}/items answers 200 for every collection."""
    for cid in COLLECTIONS:
        r = await get(client, f"/collections/{cid}/items")
        assert r.status_code == 200 and r.json()["type"] == "FeatureCollection", cid


async def test_req_core_fc_limit_definition(client, ogc_city):
    """/conf/core/fc-limit-definition: limit is an integer, minimum 1, with a maximum and a default."""
    schema = (await _api(client))["components"]["parameters"]["limit"]["schema"]
    assert schema == {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}


async def test_req_core_fc_limit_response(db, ogc_city):
    """/conf/core/fc-limit-response: at most `limit` features; a limit above the maximum is no error and
    gets the maximum."""
    app = create_app(make_settings(max_limit=3), db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        two = (await http.get(f"{OGC}/collections/parcels/items?limit=2", headers=BUREAU)).json()
        assert two["numberReturned"] == len(two["features"]) == 2
        big = await http.get(f"{OGC}/collections/parcels/items?limit=5000", headers=BUREAU)
        assert big.status_code == 200 and len(big.json()["features"]) == 3 and big.json()["numberMatched"] == 7
        assert "limit=3" in rel(big.json(), "next")[0]["href"]


async def test_req_core_fc_bbox_definition(client, ogc_city):
    """/conf/core/fc-bbox-definition: bbox is 4 or 6 numbers, comma-separated (form, explode false)."""
    bbox = (await _api(client))["components"]["parameters"]["bbox"]
    assert (bbox["style"], bbox["explode"], bbox["schema"]["minItems"], bbox["schema"]["maxItems"]) == (
        "form", False, 4, 6)
    assert bbox["schema"]["items"] == {"type": "number"}


async def test_req_core_fc_bbox_response(client, ogc_city):
    """/conf/core/fc-bbox-response: only features whose geometry intersects the bbox (CRS84)."""
    base = await get(client, "/collections/parcels/items", bbox=",".join(map(str, BZ)))
    assert _ids(base.json()) == ogc_city.ids(tier="base") and len(ogc_city.ids(tier="base")) == 3
    west = await get(client, "/collections/parcels/items", bbox="121.3,30.95,121.5,31.25")
    assert _ids(west.json()) == ogc_city.ids(district_code="310112")
    six = await get(client, "/collections/parcels/items", bbox=f"{BZ[0]},{BZ[1]},0,{BZ[2]},{BZ[3]},100")
    assert _ids(six.json()) == _ids(base.json())
    empty = await get(client, "/collections/parcels/items", bbox="121.0,30.7,121.01,30.71")
    assert empty.json()["features"] == [] and empty.json()["numberMatched"] == 0
    zones = await get(client, "/collections/zones/items", bbox=",".join(map(str, CZ)))
    assert [f["properties"]["code"] for f in zones.json()["features"]] == ["CZ"]


async def test_req_core_fc_time_definition(client, ogc_city):
    """/conf/core/fc-time-definition: datetime is a string parameter of every items operation."""
    api = await _api(client)
    assert api["components"]["parameters"]["datetime"]["schema"] == {"type": "string"}
    for cid in COLLECTIONS:
        assert {"$ref": "#/components/parameters/datetime"} in api["paths"][f"/collections/{cid}/items"]["get"][
            "parameters"]


@pytest.fixture
async def history(client, ogc_city, conn):
    """Versions in time (rule 10): B1 changed on 2022-01-01 (version 1 from 2020), C1 from 2021 and retired
    on 2023-01-01; the others are of today."""
    b1, c1 = ogc_city.ids(code="OGC-B1")[0], ogc_city.ids(code="OGC-C1")[0]
    r = await client.patch(f"/api/v1/parcels/{b1}", json={"properties": {"legacy_zone": "104"}}, headers=BUREAU)
    assert r.status_code == 200, r.text
    assert (await client.delete(f"/api/v1/parcels/{c1}", headers=BUREAU)).status_code == 204
    await conn.execute(text(
        "UPDATE parcel SET valid_from = CASE version WHEN 1 THEN timestamptz '2020-01-01T00:00:00Z' "
        "ELSE timestamptz '2022-01-01T00:00:00Z' END, valid_to = CASE WHEN valid_to IS NULL THEN NULL "
        "ELSE timestamptz '2022-01-01T00:00:00Z' END WHERE id = :b1"), {"b1": b1})
    await conn.execute(text("UPDATE parcel SET valid_from = '2021-01-01T00:00:00Z', "
                            "valid_to = '2023-01-01T00:00:00Z' WHERE id = :c1"), {"c1": c1})
    return b1, c1


async def test_req_core_fc_time_response(client, ogc_city, history):
    """/conf/core/fc-time-response: an instant, a bounded interval and half-bounded ones (with `..` and
    empty): only features valid then, each in its last version in the interval; features without
    temporal geometry (districts) always."""
    b1, c1 = history
    today = [i for i in ogc_city.ids() if i not in (b1, c1)]

    async def picked(value):
        body = (await get(client, "/collections/parcels/items", datetime=value)).json()
        return [(f["id"], f["properties"]["version"]) for f in body["features"]]

    assert await picked("2021-06-01T00:00:00Z") == [(b1, 1), (c1, 1)]
    assert await picked("2019-06-01") == []
    assert await picked("2019-01-01T00:00:00Z/2020-06-01T00:00:00Z") == [(b1, 1)]
    assert await picked("2021-06-01T00:00:00Z/2022-06-01T00:00:00Z") == [(b1, 2), (c1, 1)]
    for open_start in ("../2020-06-01T00:00:00Z", "/2020-06-01T00:00:00Z"):
        assert await picked(open_start) == [(b1, 1)]
    for open_end in ("2023-06-01T00:00:00Z/..", "2023-06-01T00:00:00Z/"):
        assert await picked(open_end) == sorted([(b1, 2), *((i, 1) for i in today)])
    everything = sorted([(b1, 2), (c1, 1), *((i, 1) for i in today)])
    assert await picked("2022-06-01/..") == everything
    assert await picked("../..") == everything
    districts = await get(client, "/collections/districts/items", datetime="2019-01-01T00:00:00Z")
    assert len(districts.json()["features"]) == 2
    numbered = (await get(client, "/collections/parcels/items", datetime="2021-06-01T00:00:00Z")).json()
    assert numbered["numberMatched"] == 2


async def test_req_core_fc_response(client, ogc_city):
    """/conf/core/fc-response: a FeatureCollection of features, only those that match."""
    body = (await get(client, "/collections/parcels/items", land_use="rnd")).json()
    assert body["type"] == "FeatureCollection"
    assert _ids(body) == ogc_city.ids(land_use="rnd")
    assert all(f["type"] == "Feature" and f["properties"]["land_use"] == "rnd" for f in body["features"])


async def test_req_core_fc_links(client, ogc_city):
    """/conf/core/fc-links (/req/core/fc-rel-type): self, alternate and next links with rel and type;
    following next walks every feature once; prev goes back."""
    body = (await get(client, "/collections/parcels/items", limit=3)).json()
    assert rel(body, "self", GEOJSON) and rel(body, "alternate", "text/html") and rel(body, "next", GEOJSON)
    assert all({"href", "rel", "type"} <= set(lk) for lk in body["links"])
    assert await _walk(client, body) == ogc_city.ids()
    second = (await client.get(rel(body, "next")[0]["href"], headers=BUREAU)).json()
    back = (await client.get(rel(second, "prev")[0]["href"], headers=BUREAU)).json()
    assert _ids(back) == _ids(body)
    last = (await get(client, "/collections/parcels/items", limit=3, offset=6)).json()
    assert not rel(last, "next") and rel(last, "prev")


async def test_req_core_fc_timestamp(client, ogc_city):
    """/conf/core/fc-timeStamp: timeStamp is the RFC 3339 time of the response."""
    body = (await get(client, "/collections/parcels/items")).json()
    stamp = datetime.fromisoformat(body["timeStamp"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - stamp) < timedelta(seconds=30)


async def test_req_core_fc_numbermatched(client, ogc_city):
    """/conf/core/fc-numberMatched: the number of features that match, over all pages; it follows writes
    (counts are remembered per collection version)."""
    body = (await get(client, "/collections/parcels/items", limit=2, land_use="industrial")).json()
    assert body["numberMatched"] == len(await _walk(client, body)) == len(ogc_city.ids(land_use="industrial")) == 4
    again = (await get(client, "/collections/parcels/items", limit=2, land_use="industrial")).json()
    assert again["numberMatched"] == 4
    one = ogc_city.ids(code="OGC-F1")[0]
    r = await client.patch(f"/api/v1/parcels/{one}", json={"properties": {"land_use": "other"}}, headers=BUREAU)
    assert r.status_code == 200, r.text
    after = (await get(client, "/collections/parcels/items", limit=2, land_use="industrial")).json()
    assert after["numberMatched"] == 3


async def test_req_core_fc_numberreturned(client, ogc_city):
    """/conf/core/fc-numberReturned: the number of features in the response."""
    for limit in (1, 4, 100):
        body = (await get(client, "/collections/parcels/items", limit=limit)).json()
        assert body["numberReturned"] == len(body["features"]) == min(limit, 7)


# ------------------------------------------------------------------------------------------ feature
async def test_req_core_f_op(client, ogc_city):
    """/conf/core/f-op: GET .../items/{featureId} answers 200 for every collection's features; a featureId
    that names none is 404."""
    for cid in ("parcels", "zones", "districts"):
        for f in (await get(client, f"/collections/{cid}/items")).json()["features"]:
            r = await get(client, f"/collections/{cid}/items/{f['id']}")
            assert r.status_code == 200 and r.json()["id"] == f["id"], cid
    for missing in ("999999", "abc", "1.5", "9" * 30):
        r = await get(client, f"/collections/parcels/items/{missing}")
        assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND"), missing


async def test_req_core_f_success(client, ogc_city):
    """/conf/core/f-success: the feature is the REST resource: same id, geometry and properties, and its
    version as ETag (SPEC §5)."""
    pid = ogc_city.ids(code="OGC-B2")[0]
    r = await get(client, f"/collections/parcels/items/{pid}")
    rest = await client.get(f"/api/v1/parcels/{pid}", headers=BUREAU)
    body = r.json()
    assert (body["type"], body["id"]) == ("Feature", pid)
    assert body["geometry"] == rest.json()["geometry"] and body["properties"] == rest.json()["properties"]
    assert r.headers["etag"] == rest.headers["etag"] == '"1"'
    assert (await get(client, f"/collections/parcels/items/{pid}",
                      headers={"If-None-Match": '"1"'})).status_code == 304
    assert validator(await _api(client), "featureGeoJSON").is_valid(body)


async def test_req_core_f_links(client, ogc_city):
    """/conf/core/f-links: self, alternate and collection links."""
    pid = ogc_city.ids()[0]
    body = (await get(client, f"/collections/parcels/items/{pid}")).json()
    assert rel(body, "self", GEOJSON)[0]["href"].startswith(f"http://testserver/ogc/collections/parcels/items/{pid}")
    assert rel(body, "alternate", "text/html")
    assert rel(body, "collection")[0]["href"] == "http://testserver/ogc/collections/parcels"
    for lk in body["links"]:
        assert (await client.get(lk["href"], headers=BUREAU)).status_code == 200


# ------------------------------------------------------------------------------------------ GeoJSON
async def test_req_geojson_definition(client, ogc_city):
    """/conf/geojson/definition: features and feature are application/geo+json (default, f=json, Accept)."""
    pid = ogc_city.ids()[0]
    for path in ("/collections/parcels/items", f"/collections/parcels/items/{pid}"):
        for params, accept in (({}, None), ({"f": "json"}, None), ({}, GEOJSON), ({}, "application/json")):
            r = await get(client, path, headers={"Accept": accept} if accept else None, **params)
            assert r.headers["content-type"] == GEOJSON, (path, params, accept)


async def test_req_geojson_content(client, ogc_city):
    """/conf/geojson/content: RFC 7946 features validating against featureCollectionGeoJSON.yaml, closed
    rings of x/y positions, no `crs` member."""
    api = await _api(client)
    check = validator(api, "featureCollectionGeoJSON")
    for cid in ("parcels", "zones", "districts", "exit_candidates"):
        body = (await get(client, f"/collections/{cid}/items")).json()
        assert check.is_valid(body), cid
        assert "crs" not in body
        for f in body["features"]:
            assert f["geometry"]["type"] == "MultiPolygon"
            for polygon in f["geometry"]["coordinates"]:
                assert polygon[0][0] == polygon[0][-1] and len(polygon[0]) >= 4


# ------------------------------------------------------------------------------------------ HTML
@pytest.mark.parametrize("path", ["", "/conformance", "/api", "/collections", "/collections/parcels",
                                  "/collections/parcels/items", "/collections/parcels/items/{pid}",
                                  "/collections/parcels/sortables"])
async def test_req_html_definition(client, ogc_city, path):
    """/conf/html/definition: every resource as text/html, by f=html or by a browser's Accept header."""
    path = path.format(pid=ogc_city.ids()[0])
    by_f = await get(client, path, f="html")
    browser = await get(client, path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    for r in (by_f, browser):
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        assert r.text.startswith("<!DOCTYPE html>") and "<script" not in r.text and "http" not in r.text.split(
            "<body>")[0]  # no CDN: nothing fetched from elsewhere


async def test_req_html_content(client, ogc_city, db):
    """/conf/html/content: the HTML carries the resource's content and links, values escaped."""
    from tests.builders import zone

    async with db.session() as session:
        await zone(session, "<b>Z&1", "community", False, (121.45, 31.2, 121.46, 31.21))
    page = (await get(client, "/collections/parcels/items", f="html")).text
    assert all(code in page for code in ("OGC-B1", "OGC-O1")) and "7 of 7 features" in page
    assert f'href="http://testserver/ogc/collections/parcels/items/{ogc_city.ids()[0]}?f=html"' in page
    zones = (await get(client, "/collections/zones/items", f="html")).text
    assert "&lt;b&gt;Z&amp;1" in zones and "<b>Z" not in zones
    landing = (await get(client, "", f="html")).text
    assert 'href="http://testserver/ogc/collections?f=html"' in landing
    one = (await get(client, f"/collections/parcels/items/{ogc_city.ids()[0]}", f="html")).text
    assert "MultiPolygon" in one and "planning_locked" in one


# ------------------------------------------------------------------------------------------ OpenAPI 3.0
async def test_req_oas30_oas_definition_1(client, ogc_city):
    """/conf/oas30/oas-definition-1: the service-desc is OpenAPI 3.0 JSON of that media type."""
    landing = (await get(client, "")).json()
    (desc,) = rel(landing, "service-desc")
    r = await client.get(desc["href"], headers=BUREAU)
    assert desc["type"] == r.headers["content-type"] == OPENAPI
    assert r.json()["openapi"] == "3.0.3" and r.json()["info"]["title"]


async def test_req_oas30_oas_definition_2(client, ogc_city):
    """/conf/oas30/oas-definition-2: the service-doc is an HTML page of the definition."""
    (doc,) = rel((await get(client, "")).json(), "service-doc")
    r = await client.get(doc["href"], headers=BUREAU)
    assert r.headers["content-type"].startswith("text/html") and "/collections/parcels/items" in r.text


async def test_req_oas30_oas_impl(client, ogc_city):
    """/conf/oas30/oas-impl: every GET in the definition answers 200 with a documented media type and, for
    JSON, a body its schema accepts."""
    api = await _api(client)
    ids = {"parcels": ogc_city.ids()[0], "zones": ogc_city.base_zone_id, "districts": "310115"}
    for path, ops in api["paths"].items():
        cid = path.split("/")[2] if path.startswith("/collections/") else None
        if "{featureId}" in path and cid not in ids:
            continue  # no exit candidate in this city
        url = path.replace("{featureId}", str(ids.get(cid, "")))
        r = await get(client, "" if url == "/" else url)
        assert r.status_code == 200, path
        media = r.headers["content-type"].split(";")[0]
        content = ops["get"]["responses"]["200"]["content"]
        documented = {m.split(";")[0]: spec for m, spec in content.items()}
        assert media in documented, (path, media)
        ref = documented[media]["schema"].get("$ref")
        if ref:
            assert validator(api, ref.rsplit("/", 1)[1]).is_valid(r.json()), path


async def test_req_oas30_completeness(client, ogc_city):
    """/conf/oas30/completeness: every resource the API links to is in the definition, with every
    parameter it takes (property filters by name)."""
    api = await _api(client)
    for c in (await get(client, "/collections")).json()["collections"]:
        for suffix in ("", "/items", "/items/{featureId}", "/queryables", "/sortables"):
            assert f"/collections/{c['id']}{suffix}" in api["paths"]
    params = api["paths"]["/collections/parcels/items"]["get"]["parameters"]
    names = {p.get("name") for p in params} | {p["$ref"].rsplit("/", 1)[1] for p in params if "$ref" in p}
    assert {"limit", "bbox", "bbox-crs", "crs", "datetime", "land_use", "tier", "district_code", "sortby"} <= names


async def test_req_oas30_exceptions_codes(client, ogc_city):
    """/conf/oas30/exceptions-codes: the error statuses answered are documented, as problem+json that the
    documented exception schema accepts."""
    api = await _api(client)
    check = validator(api, "exception")
    op = api["paths"]["/collections/parcels/items"]["get"]["responses"]
    for status, r in (("400", await get(client, "/collections/parcels/items", limit="x")),
                      ("404", await get(client, "/collections/rivers/items")),
                      ("401", await get(client, "/collections/parcels/items", user=None))):
        assert str(r.status_code) == status and status in op
        assert r.headers["content-type"] == "application/problem+json" and check.is_valid(r.json())


async def test_req_oas30_security(client, ogc_city):
    """/conf/oas30/security: the definition names HTTP Basic and Bearer, which the API takes; without
    credentials it is 401 with a challenge."""
    api = await _api(client)
    assert api["components"]["securitySchemes"] == {
        "basic": {"type": "http", "scheme": "basic"},
        "bearer": {"type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/auth/token"}}
    anonymous = await get(client, "", user=None)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
    token = (await client.post("/api/v1/auth/token", data={"username": "viewer",
                                                           "password": "test-password"})).json()["access_token"]
    bearer = await client.get(f"{OGC}/collections", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200


# ------------------------------------------------------------------------------------------ beyond Part 1
async def test_rec_core_fc_filters_on_whitelisted_properties(client, ogc_city):
    """/rec/core/fc-filters: property filters on the whitelist (WFS's), typed; several combine."""
    assert _ids((await get(client, "/collections/parcels/items", tier="community")).json()) == ogc_city.ids(
        tier="community")
    both = await get(client, "/collections/parcels/items", district_code="310115", land_use="industrial")
    assert _ids(both.json()) == ogc_city.ids(district_code="310115", land_use="industrial")
    locked = await get(client, "/collections/parcels/items", planning_locked="true")
    assert _ids(locked.json()) == ogc_city.ids(planning_locked=True)
    assert _ids((await get(client, "/collections/parcels/items", plot_ratio="4.0")).json()) == ogc_city.ids(
        land_use="office")
    assert [f["id"] for f in (await get(client, "/collections/zones/items", kind="base")).json()["features"]] == [
        ogc_city.base_zone_id]


async def test_sortby_orders_by_whitelisted_properties_and_pages_by_offset(client, ogc_city):
    """sortby (draft Part 8): +/- per property, the featureId breaking ties; next links page by offset."""
    codes = sorted(p["properties"]["code"] for p in ogc_city.parcels)
    body = (await get(client, "/collections/parcels/items", sortby="-code", limit=3)).json()
    assert [f["properties"]["code"] for f in body["features"]] == codes[::-1][:3]
    assert "after=" not in rel(body, "next")[0]["href"]
    walked = await _walk(client, body)
    assert len(walked) == 7 and len(set(walked)) == 7
    by_use = (await get(client, "/collections/parcels/items", sortby="land_use,-id")).json()
    expected = sorted(ogc_city.parcels, key=lambda p: (p["properties"]["land_use"], -p["id"]))
    assert _ids(by_use) == [p["id"] for p in expected]
    sortables = (await get(client, "/collections/parcels/sortables")).json()
    assert {"code", "land_use", "area_m2"} <= set(sortables["properties"])


async def test_a_page_answers_304_while_its_collection_is_unchanged(client, ogc_city):
    """As the REST list (SPEC §5): a weak ETag of the collection's version and the URL; If-None-Match with
    it is 304 until a feature changes; the HTML page has an ETag of its own."""
    first = await get(client, "/collections/parcels/items", limit=2)
    tag = first.headers["etag"]
    again = await get(client, "/collections/parcels/items", limit=2, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    as_html = await get(client, "/collections/parcels/items", limit=2, f="html", headers={"If-None-Match": tag})
    assert as_html.status_code == 200 and as_html.headers["etag"] != tag
    pid = ogc_city.ids()[0]
    r = await client.patch(f"/api/v1/parcels/{pid}", json={"properties": {"legacy_zone": "198"}}, headers=BUREAU)
    assert r.status_code == 200, r.text
    changed = await get(client, "/collections/parcels/items", limit=2, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.json()["features"][0]["properties"]["legacy_zone"] == "198"


async def test_properties_selects_the_members_written(client, ogc_city):
    """properties: only the named members, in schema order; the geometry stays."""
    body = (await get(client, "/collections/parcels/items", properties="tier,code")).json()
    assert all(list(f["properties"]) == ["code", "tier"] and f["geometry"] for f in body["features"])


async def test_exit_candidates_are_listed_only_for_their_readers(db, ogc_city):
    """SPEC §4: the public never learns of exit candidates; district officers read their district's."""
    from datetime import date

    from tests.builders import create_parcel
    from tests.contract_builders import contract, enterprise, organisation

    app = create_app(make_settings(public_read=True), db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        idle = await create_parcel(http, square(BZ[0] + 0.02, BZ[1] + 0.02), code="IDLE-OGC", plot_ratio=1.5)
        signed = await contract(http, idle["id"], await enterprise(http), await organisation(http, "310115"),
                                date(2024, 1, 1))
        public = (await http.get(f"{OGC}/collections")).json()
        assert [c["id"] for c in public["collections"]] == ["parcels", "zones", "districts"]
        assert (await http.get(f"{OGC}/collections/exit_candidates/items")).status_code == 404
        assert "exit_candidates" not in str((await http.get(f"{OGC}/api")).json()["paths"])
        east = (await http.get(f"{OGC}/collections/exit_candidates/items", headers=basic("officer.east"))).json()
        assert _ids(east) == [f"{signed['id']}-idle_land"]
        one = await http.get(f"{OGC}/collections/exit_candidates/items/{signed['id']}-idle_land",
                             headers=basic("officer.east"))
        assert one.status_code == 200 and one.json()["properties"]["parcel_code"] == "IDLE-OGC"
        west = await http.get(f"{OGC}/collections/exit_candidates/items", headers=basic("officer.west"))
        assert west.json()["features"] == []
        assert (await http.get(f"{OGC}/collections/exit_candidates/items/{signed['id']}-idle_land",
                               headers=basic("officer.west"))).status_code == 404
