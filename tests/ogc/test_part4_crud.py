"""OGC API – Features Part 4 (OGC 20-002 draft, Create/Replace/Update/Delete) against /ogc, one test per
requirement (the ids of the draft's requirements and abstract tests in each name and docstring): CREATE,
REPLACE, DELETE, UPDATE with JSON Merge Patch, OPTIONS with the caller's Allow, Content-Crs, optimistic
locking with the REST ETags, and the rules of SPEC §3–4 refusing over /ogc with their SPEC codes and audit
rows, exactly as over /api/v1."""

from __future__ import annotations

import itertools
import json
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from gis.crs import transformer
from tests.builders import BZ, basic, create_parcel, square
from tests.contract_builders import operating_land

API = "/api/v1"
OGC = "/ogc"
GEOJSON = "application/geo+json"
MERGE = "application/merge-patch+json"
CONF = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf"
pytestmark = pytest.mark.settings(today=date(2026, 6, 1))

_spots = itertools.count()


def spot(district: str = "east") -> tuple[float, float]:
    """A free corner for a 100 m parcel outside every zone (a fragment) of the east or west district."""
    n = next(_spots)
    lon, lat = (121.62, 31.14) if district == "east" else (121.41, 31.14)
    return lon + (n % 20) * 0.002, lat + (n // 20) * 0.002


def parcel_feature(geometry: dict[str, Any] | None = None, **props: Any) -> dict[str, Any]:
    """A new parcel as a GeoJSON Feature (CRS84 coordinates unless the geometry says otherwise)."""
    props.setdefault("code", f"OGC4-{next(_spots)}")
    props.setdefault("land_use", "industrial")
    return {"type": "Feature", "geometry": geometry or square(*spot()), "properties": props}


def items(cid: str = "parcels") -> str:
    return f"{OGC}/collections/{cid}/items"


async def send(client: httpx.AsyncClient, method: str, path: str, body: Any = None, user: str | None = "bureau",
               media: str | None = GEOJSON, **headers: str) -> httpx.Response:
    """One request with a JSON body in `media` (None: no Content-Type), as `user` (None: no credentials)."""
    sent = {**(basic(user) if user else {}), **({"Content-Type": media} if media else {}),
            **{k.replace("_", "-"): v for k, v in headers.items()}}
    content = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    return await client.request(method, path, content=content, headers=sent)


async def created(client: httpx.AsyncClient, body: dict[str, Any], cid: str = "parcels", user: str = "bureau",
                  **headers: str) -> tuple[int, httpx.Response]:
    """POST a feature that must be created: its id (from the Location header) and the response."""
    r = await send(client, "POST", items(cid), body, user, **headers)
    assert r.status_code == 201, r.text
    return int(r.headers["location"].rsplit("/items/", 1)[1]), r


async def read(client: httpx.AsyncClient, fid: int, cid: str = "parcels", **params: str) -> httpx.Response:
    return await client.get(f"{items(cid)}/{fid}", params=params, headers=basic("viewer"))


_AUDIT_FLOOR = [0]  # the newest audit entry before the running test: the log is append-only, and live
                   # tests of other modules leave theirs committed


@pytest.fixture(autouse=True)
async def _audit_floor(conn: Any) -> None:
    _AUDIT_FLOOR[0] = int(await conn.scalar(text("SELECT coalesce(max(id), 0) FROM audit_log")) or 0)


async def audit(client: httpx.AsyncClient, entity: str, entity_id: int | None = None) -> list[dict[str, Any]]:
    """The audit entries of `entity` (and `entity_id`) this test wrote, newest first."""
    params: dict[str, Any] = {"entity": entity, "limit": 1000}
    if entity_id is not None:
        params["entity_id"] = entity_id
    r = await client.get(f"{API}/audit", params=params, headers=basic("bureau"))
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = [e for e in r.json()["items"] if e["id"] > _AUDIT_FLOOR[0]]
    return entries


def ring(feature: dict[str, Any]) -> list[list[float]]:
    """The outer ring of a (Multi)Polygon feature."""
    geometry = feature["geometry"]
    coords = geometry["coordinates"]
    return coords[0][0] if geometry["type"] == "MultiPolygon" else coords[0]


def assert_same_ring(got: list[list[float]], want: list[list[float]], tolerance: float = 1e-6) -> None:
    """Same positions (any start vertex; PostGIS may rotate a ring), within `tolerance` degrees."""
    assert len(got) == len(want)
    for corner in want[:-1]:
        assert any(abs(p[0] - corner[0]) < tolerance and abs(p[1] - corner[1]) < tolerance for p in got), (corner, got)


# ----------------------------------------------------------------------------------------------- CREATE
async def test_req_create_replace_delete_post_response(client, city):
    """/req/create-replace-delete/post-op, post-response, post-response-rid (/conf/create-replace-delete/create):
    201 with a Location of the new feature and its ETag; GET of the Location is the feature as sent."""
    geometry = square(*spot(), 120)
    body = parcel_feature(geometry, code="OGC4-NEW", land_use="industrial", plot_ratio=1.4)
    before = {f["id"] for f in (await client.get(items(), headers=basic("viewer"))).json()["features"]}
    r = await send(client, "POST", items(), body)
    assert r.status_code == 201, r.text
    assert r.headers["location"].startswith(f"http://testserver{items()}/")
    fid = int(r.headers["location"].rsplit("/", 1)[1])
    assert fid not in before and r.headers["etag"] == '"1"'
    got = await client.get(r.headers["location"], headers=basic("viewer"))
    assert got.status_code == 200 and got.headers["etag"] == r.headers["etag"]
    feature = got.json()
    assert feature["id"] == fid
    assert {k: feature["properties"][k] for k in ("code", "land_use", "plot_ratio", "status")} == {
        "code": "OGC4-NEW", "land_use": "industrial", "plot_ratio": 1.4, "status": "planned"}
    assert feature["properties"]["district_code"] == "310115" and feature["properties"]["tier"] == "fragment"
    assert_same_ring(ring(feature), geometry["coordinates"][0])
    rest = await client.get(f"{API}/parcels/{fid}", headers=basic("viewer"))
    assert rest.json()["properties"]["code"] == "OGC4-NEW" and rest.headers["etag"] == r.headers["etag"]


async def test_req_create_replace_delete_post_writes_the_audit_log(client, city):
    """Rule 10: a feature created over /ogc is audited as REST's (who, what, after)."""
    fid, _ = await created(client, parcel_feature(code="OGC4-AUD"), user="officer.east")
    (entry,) = await audit(client, "parcel", fid)
    assert (entry["action"], entry["outcome"], entry["actor"]) == ("create", "done", "officer.east")
    assert entry["after"]["code"] == "OGC4-AUD" and entry["after"]["version"] == 1


async def test_req_create_replace_delete_post_content_type(client, city):
    """/req/create-replace-delete/post-content-type (/conf/create-replace-delete/create-content-type): a body
    without a Content-Type is 400; one the operation does not read is 415; nothing is created."""
    body = parcel_feature(code="OGC4-CT")
    r = await send(client, "POST", items(), body, media=None)
    assert (r.status_code, r.json()["code"]) == (400, "VALIDATION_ERROR")
    assert r.headers["content-type"] == "application/problem+json"
    r = await send(client, "POST", items(), body, media="text/csv")
    assert (r.status_code, r.json()["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert "application/geo+json" in r.json()["detail"]
    r = await send(client, "POST", items(), body, media="application/json; charset=utf-8")
    assert r.status_code == 201, r.text  # the plain JSON media type is read too (OWSLib sends it)
    assert [e["after"]["code"] for e in await audit(client, "parcel") if e["action"] == "create"] == ["OGC4-CT"]


@pytest.mark.parametrize(("body", "status", "code", "where"), [
    (b"{not json", 400, "VALIDATION_ERROR", "JSON"),
    (b"[1, 2]", 422, "VALIDATION_ERROR", "object"),
    ({"type": "Feature", "geometry": square(121.63, 31.2), "properties": {"land_use": "industrial"}}, 422,
     "VALIDATION_ERROR", "properties.code"),
    ({"type": "Feature", "geometry": square(121.63, 31.2), "properties": {"code": "X", "land_use": "farm"}}, 422,
     "VALIDATION_ERROR", "properties.land_use"),
    ({"type": "Feature", "geometry": square(121.63, 31.2), "properties": {"code": "X", "land_use": "rnd",
                                                                          "colour": "red"}}, 422,
     "VALIDATION_ERROR", "colour"),
    ({"type": "Feature", "geometry": square(125.0, 31.2), "properties": {"code": "X", "land_use": "rnd"}}, 422,
     "GEOMETRY_INVALID", "outside"),
    ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [121.6, 31.2]},
      "properties": {"code": "X", "land_use": "rnd"}}, 422, "GEOMETRY_INVALID", "Point"),
])
async def test_req_create_replace_delete_post_body_refused(client, city, body, status, code, where):
    """/req/create-replace-delete/post-body: a body that is not a valid parcel is refused as the REST POST
    refuses it (problem+json, never a 500), and nothing is created."""
    r = await send(client, "POST", items(), body)
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert where in r.json()["detail"]
    assert not [e for e in await audit(client, "parcel") if e["action"] == "create"]


async def test_req_features_geojson_create_takes_defaults_for_nulls(client, city):
    """/req/create-replace-delete/post-body as QGIS writes a new feature: every attribute, null where left
    empty. A property with a default takes it (status planned, advanced_manufacturing false), derived ones are
    ignored; a required one left null is still refused."""
    nulls = {"plot_ratio": None, "plot_ratio_reference_id": None, "legacy_zone": None, "status": None,
             "tier": None, "zone_id": None, "area_m2": None, "version": None, "valid_from": None}
    fid, _ = await created(client, parcel_feature(code="OGC4-QGIS", **nulls))
    assert (await read(client, fid)).json()["properties"]["status"] == "planned"
    zone = {"type": "Feature", "geometry": square(*spot(), 300),
            "properties": {"code": "OGC4-ZQ", "name": "Z", "kind": "community", "advanced_manufacturing": None,
                           "far_cap": None, "district_code": None}}
    zid, _ = await created(client, zone, "zones")
    assert (await read(client, zid, "zones")).json()["properties"]["advanced_manufacturing"] is False
    r = await send(client, "POST", items(), parcel_feature(code=None))
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR") and "code" in r.json()["detail"]


async def test_req_features_geojson_create_ignores_derived_members(client, city):
    """/req/features/geojson-create-replace: a feature read with GET and sent back (id, links, derived
    properties such as tier and area_m2) is read like the REST POST reads it: the derived members are ignored."""
    fid, _ = await created(client, parcel_feature(code="OGC4-RT", plot_ratio=1.1))
    copy = (await read(client, fid)).json()
    copy["properties"]["code"] = "OGC4-RT2"
    copy["geometry"] = square(*spot())
    new_id, _ = await created(client, copy)
    assert new_id != fid
    assert (await read(client, new_id)).json()["properties"]["code"] == "OGC4-RT2"


# ----------------------------------------------------------------------------------------------- REPLACE
async def test_req_create_replace_delete_put_response(client, city):
    """/req/create-replace-delete/put-op, put-body, put-response, put-rid (/conf/create-replace-delete/replace,
    replace-rid): every writable property and the geometry are replaced; 204 with the new ETag; an id in the
    body is ignored (the path names the feature)."""
    fid, _ = await created(client, parcel_feature(code="OGC4-PUT", plot_ratio=1.2, legacy_zone="195"))
    other, _ = await created(client, parcel_feature(code="OGC4-OTHER"))
    geometry = square(*spot(), 80)
    body = {"type": "Feature", "id": other, "geometry": geometry,
            "properties": {"code": "OGC4-PUT2", "land_use": "rnd", "plot_ratio": 2.5}}
    r = await send(client, "PUT", f"{items()}/{fid}", body)
    assert r.status_code == 204, r.text
    assert r.headers["etag"] == '"2"' and not r.content
    got = await read(client, fid)
    props = got.json()["properties"]
    assert got.headers["etag"] == '"2"'
    assert (props["code"], props["land_use"], props["plot_ratio"], props["legacy_zone"]) == (
        "OGC4-PUT2", "rnd", 2.5, None)  # a replacement: what the body leaves out is gone
    assert_same_ring(ring(got.json()), geometry["coordinates"][0])
    assert (await read(client, other)).json()["properties"]["code"] == "OGC4-OTHER"


async def test_req_create_replace_delete_put_content_type(client, city):
    """/req/create-replace-delete/put-content-type (/conf/create-replace-delete/replace-content-type): a PUT
    without a Content-Type is 400, a merge patch is not a replacement (415); the feature is unchanged."""
    fid, _ = await created(client, parcel_feature(code="OGC4-PUTCT"))
    body = parcel_feature(code="OGC4-PUTCT2")
    assert (await send(client, "PUT", f"{items()}/{fid}", body, media=None)).status_code == 400
    assert (await send(client, "PUT", f"{items()}/{fid}", body, media=MERGE)).status_code == 415
    assert (await read(client, fid)).json()["properties"]["code"] == "OGC4-PUTCT"


async def test_req_create_replace_delete_put_rid_exception(client, city):
    """/req/create-replace-delete/put-rid-exception (/conf/create-replace-delete/replace-exceptions): ids are
    the server's, so a PUT to a feature that does not exist is 404, with or without an If-Match."""
    body = parcel_feature(code="OGC4-NONE")
    for path in (f"{items()}/987654", f"{items()}/not-an-id"):
        r = await send(client, "PUT", path, body)
        assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND"), path
    r = await send(client, "PUT", f"{items()}/987655", body, If_Match='"xyz"')
    assert r.status_code == 404
    assert (await read(client, 987654)).status_code == 404


# ----------------------------------------------------------------------------------------------- DELETE
async def test_req_create_replace_delete_delete_response(client, city):
    """/req/create-replace-delete/delete-op, delete-response (/conf/create-replace-delete/delete): 204; the
    feature is gone from /ogc and /api/v1, its versions stay in the history (rule 10), the deletion audited."""
    fid, _ = await created(client, parcel_feature(code="OGC4-DEL"))
    r = await send(client, "DELETE", f"{items()}/{fid}", media=None)
    assert r.status_code == 204 and not r.content
    assert (await read(client, fid)).status_code == 404
    assert (await client.get(f"{API}/parcels/{fid}", headers=basic("viewer"))).status_code == 404
    history = (await client.get(f"{API}/parcels/{fid}/history", headers=basic("viewer"))).json()["features"]
    assert len(history) == 1 and history[0]["properties"]["valid_to"] is not None
    assert [e["action"] for e in await audit(client, "parcel", fid)] == ["delete", "create"]
    assert (await send(client, "DELETE", f"{items()}/{fid}", media=None)).status_code == 404


# ----------------------------------------------------------------------------------------------- UPDATE
async def test_req_update_patch_response(client, city):
    """/req/update/patch-op, patch-body, patch-response (/conf/update/update) and /req/features/update-json-
    merge-patch A, D: the members named change, null removes an optional property, the rest is unchanged."""
    geometry = square(*spot(), 90)
    fid, _ = await created(client, parcel_feature(geometry, code="OGC4-PATCH", plot_ratio=1.3, legacy_zone="195"))
    before = (await read(client, fid)).json()
    patch = {"properties": {"code": "OGC4-PATCHED", "legacy_zone": None}}
    r = await send(client, "PATCH", f"{items()}/{fid}", patch, media=MERGE)
    assert r.status_code == 204, r.text
    assert r.headers["etag"] == '"2"'
    after = (await read(client, fid)).json()
    assert (after["properties"]["code"], after["properties"]["legacy_zone"]) == ("OGC4-PATCHED", None)
    unchanged = ("land_use", "plot_ratio", "status", "tier", "district_code", "area_m2")
    assert {k: after["properties"][k] for k in unchanged} == {k: before["properties"][k] for k in unchanged}
    assert after["geometry"] == before["geometry"]


async def test_req_features_update_json_merge_patch_geometry(client, city):
    """/req/features/update-json-merge-patch C: a geometry in the patch is a GeoJSON geometry that replaces
    the feature's (QGIS sends a geometry change alone); the properties stay."""
    fid, _ = await created(client, parcel_feature(code="OGC4-MOVE", plot_ratio=1.3))
    moved = square(*spot(), 70)
    r = await send(client, "PATCH", f"{items()}/{fid}", {"geometry": moved}, media=MERGE)
    assert r.status_code == 204, r.text
    got = (await read(client, fid)).json()
    assert_same_ring(ring(got), moved["coordinates"][0])
    assert (got["properties"]["code"], got["properties"]["plot_ratio"]) == ("OGC4-MOVE", 1.3)
    assert got["properties"]["area_m2"] == pytest.approx(4900, rel=0.01)


@pytest.mark.parametrize(("patch", "field"), [
    ({"id": 1, "properties": {"code": "Y"}}, "id"),
    ({"geometry": None}, "geometry"),
    ({"properties": None}, "properties"),
    ({"properties": {"code": None}}, "properties.code"),
    ({"properties": {"land_use": None}}, "properties.land_use"),
    ({"properties": {"plot_ratio": "high"}}, "properties.plot_ratio"),
    ({"properties": {"colour": "red"}}, "properties.colour"),
])
async def test_req_features_update_json_merge_patch_refused(client, city, patch, field):
    """/req/features/update-json-merge-patch B (the id cannot change), D (null removes only what may be
    absent: the geometry and required properties stay), and the REST schema's own checks: 422, unchanged."""
    fid, _ = await created(client, parcel_feature(code="OGC4-REF"))
    if "id" in patch:
        patch = {**patch, "id": fid + 1}
    r = await send(client, "PATCH", f"{items()}/{fid}", patch, media=MERGE)
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR"), r.text
    assert field.rsplit(".", 1)[-1] in r.json()["detail"]
    got = await read(client, fid)
    assert got.headers["etag"] == '"1"' and got.json()["properties"]["code"] == "OGC4-REF"


async def test_req_update_patch_same_id_is_no_change_of_id(client, city):
    """/req/update/rid: an id member equal to the path's is not a change of id and is accepted."""
    fid, _ = await created(client, parcel_feature(code="OGC4-SAME"))
    r = await send(client, "PATCH", f"{items()}/{fid}", {"id": fid, "properties": {"plot_ratio": 1.7}}, media=MERGE)
    assert r.status_code == 204, r.text
    assert (await read(client, fid)).json()["properties"]["plot_ratio"] == 1.7


async def test_req_update_patch_content_type(client, city):
    """/req/update/patch-content-type (/conf/update/update-content-type): no Content-Type is 400; a PATCH
    reads JSON Merge Patch only (415 for another media type); the feature is unchanged."""
    fid, _ = await created(client, parcel_feature(code="OGC4-PCT"))
    patch = {"properties": {"code": "OGC4-PCT2"}}
    assert (await send(client, "PATCH", f"{items()}/{fid}", patch, media=None)).status_code == 400
    for media in (GEOJSON, "application/json", "application/json-patch+json"):
        r = await send(client, "PATCH", f"{items()}/{fid}", patch, media=media)
        assert (r.status_code, r.json()["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE"), media
    assert (await read(client, fid)).json()["properties"]["code"] == "OGC4-PCT"


# ----------------------------------------------------------------------------------------------- locking
async def test_req_optimistic_locking_etags_get_etag_response(client, city):
    """/req/optimistic-locking-etags/get-etag-response: a feature's GET carries its ETag, the REST one."""
    fid, _ = await created(client, parcel_feature(code="OGC4-TAG"))
    rest = await client.get(f"{API}/parcels/{fid}", headers=basic("viewer"))
    assert (await read(client, fid)).headers["etag"] == rest.headers["etag"] == '"1"'


@pytest.mark.parametrize(("method", "body", "media"), [
    ("PUT", parcel_feature(square(121.45, 31.2), code="OGC4-LOCKED"), GEOJSON),
    ("PATCH", {"properties": {"plot_ratio": 1.9}}, MERGE),
    ("DELETE", None, None),
])
async def test_req_optimistic_locking_etags_ifmatch_eval(client, city, method, body, media):
    """/req/optimistic-locking-etags/ifmatch-put-eval, ifmatch-patch-eval, ifmatch-delete-eval and put/patch-
    etag-response (/conf/optimistic-locking-etags/replace, update, delete): an If-Match of another version
    (a stale one, or a tag that is none of ours) is 412 VERSION_CONFLICT and changes nothing; the current
    ETag succeeds with a new ETag; without If-Match the write is unconditional (/per/…/ifmatch-missing)."""
    fid, _ = await created(client, parcel_feature(code="OGC4-LOCK"))
    url = f"{items()}/{fid}"
    await send(client, "PATCH", url, {"properties": {"plot_ratio": 1.2}}, media=MERGE)  # now at version 2
    for stale in ('"1"', '"0"', '"xyz"'):
        r = await send(client, method, url, body, media=media, If_Match=stale)
        assert (r.status_code, r.json()["code"]) == (412, "VERSION_CONFLICT"), (stale, r.text)
        assert r.json()["current_version"] == 2 and '"2"' in r.json()["detail"]
    got = await read(client, fid)
    assert got.headers["etag"] == '"2"' and got.json()["properties"]["code"] == "OGC4-LOCK"
    r = await send(client, method, url, body, media=media, If_Match='"2"')
    assert r.status_code == 204, r.text
    if method == "DELETE":
        assert (await read(client, fid)).status_code == 404
        return
    assert r.headers["etag"] == '"3"'
    r = await send(client, method, url, body, media=media)
    assert r.status_code == 204 and r.headers["etag"] == '"4"'


async def test_req_optimistic_locking_etags_shared_with_rest(client, city):
    """SPEC §5: the version is one ETag on both surfaces: a REST change makes the /ogc ETag stale."""
    fid, _ = await created(client, parcel_feature(code="OGC4-BOTH"))
    tag = (await read(client, fid)).headers["etag"]
    r = await client.patch(f"{API}/parcels/{fid}", json={"properties": {"plot_ratio": 1.6}}, headers=basic("bureau"))
    assert r.status_code == 200, r.text
    r = await send(client, "PATCH", f"{items()}/{fid}", {"properties": {"plot_ratio": 1.8}}, media=MERGE, If_Match=tag)
    assert r.status_code == 412
    assert (await client.get(f"{API}/parcels/{fid}", headers=basic("viewer"))).json()["properties"]["plot_ratio"] == 1.6


# ----------------------------------------------------------------------------------------------- CRS
async def test_req_features_crs_other_crs_content_crs_uri(client, city):
    """/req/features/content-crs-header, crs-other-crs A (/conf/features/crs): a body in EPSG:4549 named by its
    URI, in the EPSG axis order (northing, easting) as Part 2 writes it, lands where the CRS84 one does."""
    lonlat = square(*spot("west"), 100)["coordinates"][0]
    to_gk = transformer(4326, 4549)
    northing_easting = [[n, e] for e, n in (to_gk.transform(x, y) for x, y in lonlat)]
    body = parcel_feature({"type": "Polygon", "coordinates": [northing_easting]}, code="OGC4-GK")
    fid, _ = await created(client, body, Content_Crs="<http://www.opengis.net/def/crs/EPSG/0/4549>")
    got = (await read(client, fid)).json()
    assert_same_ring(ring(got), lonlat, 1e-6)
    assert got["properties"]["district_code"] == "310112"
    assert got["properties"]["area_m2"] == pytest.approx(10_000, rel=0.01)


async def test_req_features_crs_other_crs_short_form_and_lat_lon(client, city):
    """Content-Crs `EPSG:4549` (the short form /api/v1 reads: easting, northing) and the EPSG:4326 URI
    (latitude first, as EPSG orders it) land in the same place as CRS84."""
    lonlat = square(*spot("west"), 100)["coordinates"][0]
    easting_northing = [list(transformer(4326, 4549).transform(x, y)) for x, y in lonlat]
    fid, _ = await created(client, parcel_feature({"type": "Polygon", "coordinates": [easting_northing]}),
                           Content_Crs="EPSG:4549")
    assert_same_ring(ring((await read(client, fid)).json()), lonlat, 1e-6)
    other = square(*spot("west"), 100)["coordinates"][0]
    latlon = [[y, x] for x, y in other]
    fid, _ = await created(client, parcel_feature({"type": "Polygon", "coordinates": [latlon]}),
                           Content_Crs="http://www.opengis.net/def/crs/EPSG/0/4326")
    assert_same_ring(ring((await read(client, fid)).json()), other, 1e-6)


async def test_req_features_crs_other_crs_on_patch(client, city):
    """/req/features/crs-other-crs A: a PATCH's geometry is read in its Content-Crs too (QGIS sends one)."""
    fid, _ = await created(client, parcel_feature(code="OGC4-GKPATCH"))
    target = square(*spot("east"), 60)["coordinates"][0]
    to_gk = transformer(4326, 4550)
    moved = [[n, e] for e, n in (to_gk.transform(x, y) for x, y in target)]
    r = await send(client, "PATCH", f"{items()}/{fid}", {"geometry": {"type": "Polygon", "coordinates": [moved]}},
                   media=MERGE, Content_Crs="<http://www.opengis.net/def/crs/EPSG/0/4550>")
    assert r.status_code == 204, r.text
    assert_same_ring(ring((await read(client, fid)).json()), target, 1e-6)


@pytest.mark.parametrize("crs", ["EPSG:2000", "http://www.opengis.net/def/crs/EPSG/0/27700", "lat-lon please"])
async def test_req_features_crs_other_crs_unsupported(client, city, crs):
    """/req/features/crs-other-crs B: a Content-Crs the collection does not offer is 400 CRS_UNSUPPORTED."""
    r = await send(client, "POST", items(), parcel_feature(code="OGC4-BADCRS"), Content_Crs=crs)
    assert (r.status_code, r.json()["code"]) == (400, "CRS_UNSUPPORTED"), r.text
    assert not [e for e in await audit(client, "parcel") if e["action"] == "create"]


# ----------------------------------------------------------------------------------------------- rules
async def test_rule_district_scope_refuses_an_officer_outside_its_district(client, city):
    """SPEC §4 over /ogc: a district officer creates parcels in its own district only (403
    FORBIDDEN_DISTRICT); the refused attempt is audited with its actor, as over /api/v1."""
    r = await send(client, "POST", items(), parcel_feature(square(*spot("west")), code="OGC4-WEST"),
                   user="officer.east")
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_DISTRICT"), r.text
    refused = [e for e in await audit(client, "parcel") if e["outcome"] == "refused"]
    assert [(e["actor"], e["code"], e["after"]["code"]) for e in refused] == [
        ("officer.east", "FORBIDDEN_DISTRICT", "OGC4-WEST")]
    fid, _ = await created(client, parcel_feature(square(*spot("east")), code="OGC4-EAST"), user="officer.east")
    r = await send(client, "PATCH", f"{items()}/{fid}", {"properties": {"code": "X2"}}, user="officer.west",
                   media=MERGE)
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_DISTRICT")


async def test_rule_overlap_refuses_parcel_overlap(client, city):
    """SPEC §2: industrial parcels may not overlap by more than 1 m² (409 PARCEL_OVERLAP)."""
    corner = spot()
    await created(client, parcel_feature(square(*corner, 100), code="OGC4-A"))
    r = await send(client, "POST", items(), parcel_feature(square(corner[0] + 0.0002, corner[1], 100), code="OGC4-B"))
    assert (r.status_code, r.json()["code"]) == (409, "PARCEL_OVERLAP"), r.text


async def test_rule_3_far_cap_refuses_a_ratio_above_the_cap(client, city):
    """Rule 3 over /ogc: an industrial plot ratio above the default cap 2.0 without a reference parcel is 409
    FAR_CAP_EXCEEDED with the cap and the request, on create and on change."""
    r = await send(client, "POST", items(), parcel_feature(code="OGC4-FAR", plot_ratio=2.6))
    assert (r.status_code, r.json()["code"], r.json()["cap"], r.json()["requested"]) == (
        409, "FAR_CAP_EXCEEDED", 2.0, 2.6), r.text
    fid, _ = await created(client, parcel_feature(code="OGC4-FAR2", plot_ratio=1.5))
    r = await send(client, "PATCH", f"{items()}/{fid}", {"properties": {"plot_ratio": 2.6}}, media=MERGE)
    assert (r.status_code, r.json()["code"]) == (409, "FAR_CAP_EXCEEDED")
    assert (await read(client, fid)).json()["properties"]["plot_ratio"] == 1.5


async def test_rule_9_plot_ratio_of_contracted_land_only_by_request(client, city):
    """SPEC §4 / rule 9 over /ogc: a district officer cannot change the plot ratio of land under a contract
    in force (409 PLOT_RATIO_REQUEST_REQUIRED, by PATCH or PUT); the attempt is audited; other members change."""
    land = await operating_land(client)
    fid = land["parcel"]["id"]
    before = (await read(client, fid)).json()
    r = await send(client, "PATCH", f"{items()}/{fid}", {"properties": {"plot_ratio": 1.95}}, user="officer.east",
                   media=MERGE)
    assert (r.status_code, r.json()["code"], r.json()["contract_id"]) == (
        409, "PLOT_RATIO_REQUEST_REQUIRED", land["contract"]["id"]), r.text
    replacement = {"type": "Feature", "geometry": before["geometry"],
                   "properties": {**before["properties"], "plot_ratio": 1.95}}
    r = await send(client, "PUT", f"{items()}/{fid}", replacement, user="officer.east")
    assert (r.status_code, r.json()["code"]) == (409, "PLOT_RATIO_REQUEST_REQUIRED"), r.text
    refused = [e for e in await audit(client, "parcel", fid) if e["outcome"] == "refused"]
    assert [(e["actor"], e["code"]) for e in refused] == [("officer.east", "PLOT_RATIO_REQUEST_REQUIRED")] * 2
    now = (await read(client, fid)).json()
    assert now["properties"] == before["properties"]
    r = await send(client, "PUT", f"{items()}/{fid}", {**replacement, "properties": {**before["properties"],
                                                                                  "code": "OGC4-RENAMED"}},
                   user="officer.east")
    assert r.status_code == 204, r.text


async def test_rule_legacy_zone_is_the_bureaus(client, city):
    """SPEC §4 over /ogc: the legacy zone is the bureau's to set (403 FORBIDDEN_ROLE for a district officer)."""
    fid, _ = await created(client, parcel_feature(code="OGC4-LEG"), user="officer.east")
    r = await send(client, "PATCH", f"{items()}/{fid}", {"properties": {"legacy_zone": "198"}}, user="officer.east",
                   media=MERGE)
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_ROLE"), r.text
    r = await send(client, "PATCH", f"{items()}/{fid}", {"properties": {"legacy_zone": "198"}}, media=MERGE)
    assert r.status_code == 204


async def test_rule_life_cycle_refuses_a_status_jump(client, city):
    """SPEC §4 over /ogc: status follows the life cycle; a planned parcel cannot be made operating by an edit
    (409 INVALID_TRANSITION)."""
    fid, _ = await created(client, parcel_feature(code="OGC4-LIFE"))
    r = await send(client, "PATCH", f"{items()}/{fid}", {"properties": {"status": "operating"}}, media=MERGE)
    assert (r.status_code, r.json()["code"]) == (409, "INVALID_TRANSITION"), r.text


async def test_rule_1_planning_lock_refuses_leaving_the_base(client, city):
    """Rule 1 over /ogc: a locked base parcel cannot change its land use (409 LOCKUP_PLANNING) — unless the
    bureau sends an override with its decision, which is audited."""
    fid, _ = await created(client, parcel_feature(square(BZ[0] + 0.01, BZ[1] + 0.01), code="OGC4-LOCKED"))
    assert (await read(client, fid)).json()["properties"]["planning_locked"] is True
    r = await send(client, "PATCH", f"{items()}/{fid}", {"properties": {"land_use": "office"}}, media=MERGE)
    assert (r.status_code, r.json()["code"]) == (409, "LOCKUP_PLANNING"), r.text
    override = {"decision_ref": "沪规划资源〔2026〕12号", "reason": "approved conversion"}
    r = await send(client, "PATCH", f"{items()}/{fid}", {"properties": {"land_use": "office"}, "override": override},
                   media=MERGE)
    assert r.status_code == 204, r.text
    overridden = [e for e in await audit(client, "parcel", fid) if e["outcome"] == "overridden"]
    assert [(e["code"], e["detail"]["decision_ref"]) for e in overridden] == [
        ("LOCKUP_PLANNING", override["decision_ref"])]


async def test_rule_contracted_land_is_not_deleted(client, city):
    """SPEC §4 over /ogc: land that had a contract leaves only through an exit case, never by DELETE (409
    INVALID_TRANSITION, audited); the feature stays as it was."""
    land = await operating_land(client)
    fid = land["parcel"]["id"]
    before = (await read(client, fid)).json()
    r = await send(client, "DELETE", f"{items()}/{fid}", media=None)
    assert (r.status_code, r.json()["code"]) == (409, "INVALID_TRANSITION"), r.text
    assert "exit case" in r.json()["detail"]
    assert (await read(client, fid)).json() == before
    refused = [e for e in await audit(client, "parcel", fid) if e["outcome"] == "refused"]
    assert [(e["action"], e["code"]) for e in refused] == [("delete", "INVALID_TRANSITION")]


async def test_rule_3_a_zone_cap_below_its_parcels_is_refused(client, city):
    """Rule 3's dependants over /ogc: lowering a zone's cap below a parcel it covers is 409 FAR_CAP_EXCEEDED
    listing that parcel, and the zone keeps its cap."""
    corner = spot()
    zone = {"type": "Feature", "geometry": square(*corner, 600),
            "properties": {"code": "OGC4-ZCAP", "name": "Capped community", "kind": "community"}}
    zid, _ = await created(client, zone, "zones")
    inside, _ = await created(client, parcel_feature(square(corner[0] + 0.001, corner[1] + 0.001), code="OGC4-ZIN",
                                                     plot_ratio=1.8))
    r = await send(client, "PATCH", f"{items('zones')}/{zid}", {"properties": {"far_cap": 1.6}}, media=MERGE)
    assert (r.status_code, r.json()["code"], r.json()["parcel_ids"]) == (409, "FAR_CAP_EXCEEDED", [inside]), r.text
    assert (await read(client, zid, "zones")).json()["properties"]["far_cap"] is None


async def test_roles_viewer_and_public_cannot_write(client, city):
    """SPEC §4: every write needs a user with a writing role: a viewer is 403 FORBIDDEN_ROLE, no credentials
    401 UNAUTHENTICATED."""
    r = await send(client, "POST", items(), parcel_feature(code="OGC4-VIEW"), user="viewer")
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_ROLE")
    r = await send(client, "POST", items(), parcel_feature(code="OGC4-ANON"), user=None)
    assert (r.status_code, r.json()["code"]) == (401, "UNAUTHENTICATED")


# ----------------------------------------------------------------------------------------------- zones
async def test_req_create_replace_delete_zones(client, city):
    """/conf/create-replace-delete/create, replace, delete and /conf/update/update on zones, the bureau's:
    a new zone re-derives the parcels it covers (SPEC §2) in the same transaction; a district officer is 403."""
    corner = spot()
    inside, _ = await created(client, parcel_feature(square(corner[0] + 0.001, corner[1] + 0.001), code="OGC4-IN"))
    zone = {"type": "Feature", "geometry": square(*corner, 600),
            "properties": {"code": "OGC4-Z", "name": "New community", "kind": "community"}}
    r = await send(client, "POST", items("zones"), zone, user="officer.east")
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_ROLE")
    zid, r = await created(client, zone, "zones")
    assert r.headers["etag"] == '"1"'
    props = (await read(client, inside)).json()["properties"]
    assert (props["tier"], props["zone_id"]) == ("community", zid)
    r = await send(client, "PATCH", f"{items('zones')}/{zid}", {"properties": {"far_cap": 1.8, "name": "Renamed"}},
                   media=MERGE)
    assert r.status_code == 204 and r.headers["etag"] == '"2"'
    got = (await read(client, zid, "zones")).json()["properties"]
    assert (got["far_cap"], got["name"], got["kind"]) == (1.8, "Renamed", "community")
    r = await send(client, "PUT", f"{items('zones')}/{zid}", {**zone, "properties": {**zone["properties"],
                                                                                   "kind": "base"}})
    assert r.status_code == 204, r.text
    assert (await read(client, zid, "zones")).json()["properties"]["far_cap"] is None  # replaced
    assert (await read(client, inside)).json()["properties"]["tier"] == "base"
    assert (await send(client, "DELETE", f"{items('zones')}/{zid}", media=None, If_Match='"3"')).status_code == 204
    assert (await read(client, zid, "zones")).status_code == 404
    assert (await read(client, inside)).json()["properties"]["tier"] == "fragment"
    assert [e["action"] for e in await audit(client, "zone", zid)] == ["delete", "update", "update", "create"]


async def test_read_only_collections_answer_405(client, city):
    """20-002 §6 HTTP status codes: a write to a read-only collection is 405 with its Allow header."""
    for method, path in (("POST", items("districts")), ("PUT", f"{items('districts')}/310115"),
                         ("PATCH", f"{items('exit_candidates')}/1"), ("DELETE", f"{items('districts')}/310115")):
        r = await send(client, method, path, {"properties": {}}, media=GEOJSON if method != "PATCH" else MERGE)
        assert (r.status_code, r.json()["code"]) == (405, "METHOD_NOT_ALLOWED"), (method, path, r.text)
        assert r.headers["allow"] == "GET, HEAD, OPTIONS"
    r = await send(client, "POST", items("farms"), parcel_feature())
    assert r.status_code == 404


# ----------------------------------------------------------------------------------------------- OPTIONS
WRITE_ITEMS = "GET, HEAD, POST, OPTIONS"
WRITE_ITEM = "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"
READ = "GET, HEAD, OPTIONS"


@pytest.mark.parametrize(("user", "cid", "on_items", "on_item"), [
    ("bureau", "parcels", WRITE_ITEMS, WRITE_ITEM),
    ("bureau", "zones", WRITE_ITEMS, WRITE_ITEM),
    ("bureau", "districts", READ, READ),
    ("bureau", "exit_candidates", READ, READ),
    ("officer.east", "parcels", WRITE_ITEMS, WRITE_ITEM),
    ("officer.east", "zones", READ, READ),
    ("evaluator.west", "parcels", READ, READ),
    ("viewer", "parcels", READ, READ),
    ("viewer", "zones", READ, READ),
    ("admin", "parcels", READ, READ),
])
async def test_req_create_replace_delete_options_response(client, city, user, cid, on_items, on_item):
    """/req/core/methods B, /req/create-replace-delete/options-op, options-response, options-accept-post and
    /req/update/options-accept-patch (/conf/create-replace-delete/options, /conf/update/options): 200 with the
    methods the caller may use on the collection; Accept-Post and Accept-Patch name the media types read."""
    fid = (await create_parcel(client, square(*spot()), code=f"OGC4-OPT-{next(_spots)}"))["id"]
    r = await client.options(items(cid), headers=basic(user))
    assert (r.status_code, r.headers["allow"]) == (200, on_items)
    assert ("accept-post" in r.headers) == ("POST" in on_items)
    if "POST" in on_items:
        assert r.headers["accept-post"] == "application/geo+json, application/json"
    r = await client.options(f"{items(cid)}/{fid}", headers=basic(user))
    assert (r.status_code, r.headers["allow"]) == (200, on_item)
    assert r.headers.get("accept-patch") == (MERGE if "PATCH" in on_item else None)


async def test_req_create_replace_delete_options_for_an_unknown_feature(client, city):
    """QGIS's OAPIF provider probes OPTIONS on `…/items/unknown_id` when the layer is empty, and takes its
    Allow for the layer's editability: the answer is the collection's, whether the feature exists or not."""
    r = await client.options(f"{items()}/unknown_id", headers=basic("officer.west"))
    assert (r.status_code, r.headers["allow"]) == (200, WRITE_ITEM)


async def test_req_create_replace_delete_options_needs_the_caller(client, city):
    """Without credentials and without public read, OPTIONS is 401 like every other request; an unknown
    collection is 404."""
    r = await client.options(items())
    assert (r.status_code, r.json()["code"]) == (401, "UNAUTHENTICATED")
    assert (await client.options(items("farms"), headers=basic("bureau"))).status_code == 404


@pytest.mark.settings(today=date(2026, 6, 1), public_read=True)
async def test_req_create_replace_delete_options_public(client, city):
    """LANDCYCLE_PUBLIC_READ: the public is told it may read parcels, zones and districts (no writes), and is
    not told of exit candidates (404, SPEC §4)."""
    for cid in ("parcels", "zones", "districts"):
        r = await client.options(items(cid))
        assert (r.status_code, r.headers["allow"]) == (200, READ), cid
    assert (await client.options(items("exit_candidates"))).status_code == 404
    r = await send(client, "POST", items(), parcel_feature(code="OGC4-PUB"), user=None)
    assert r.status_code == 401


# ----------------------------------------------------------------------------------------------- declarations
async def test_conformance_declares_part_4(client, city):
    """20-002 §2: the conformance declaration lists the classes implemented here."""
    body = (await client.get(f"{OGC}/conformance", headers=basic("viewer"))).json()
    assert {f"{CONF}/create-replace-delete", f"{CONF}/update", f"{CONF}/optimistic-locking-etags",
            f"{CONF}/features"} <= set(body["conformsTo"])


async def test_api_definition_describes_the_writes(client, city):
    """/req/oas30 with Part 4: the API definition describes POST, PUT, PATCH, DELETE and OPTIONS of the
    writable collections (and none of the read-only ones): each operation with its responses, a templated
    path's operations declaring its featureId, every $ref resolving in the document."""
    doc = (await client.get(f"{OGC}/api", headers=basic("bureau"))).json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["responses"], (path, method)
            if "{featureId}" in path:
                params = [_resolve(doc, p["$ref"]) if "$ref" in p else p for p in op.get("parameters", [])]
                assert [p["name"] for p in params if p["in"] == "path"] == ["featureId"], (path, method)
    for ref in _refs(doc):
        assert _resolve(doc, ref), ref
    for cid in ("parcels", "zones"):
        assert {"get", "post", "options"} <= set(doc["paths"][f"/collections/{cid}/items"])
        item_ops = doc["paths"][f"/collections/{cid}/items/{{featureId}}"]
        assert {"get", "put", "patch", "delete", "options"} <= set(item_ops)
    assert "post" not in doc["paths"]["/collections/districts/items"]
    patch = doc["paths"]["/collections/parcels/items/{featureId}"]["patch"]
    assert set(patch["requestBody"]["content"]) == {MERGE} and "412" in patch["responses"]


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    """Every $ref in a JSON document."""
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


# ----------------------------------------------------------------------------------------------- live
def _port() -> int:
    """A free port of this suite's live range (19000–19099)."""
    import socket

    for port in range(19000, 19100):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 19000-19099")


@pytest.mark.live
async def test_live_writes_commit_before_answering_and_owslib_round_trip(live_db):
    """Through a real `landcycle serve` (reads on other connections than the write's): a created feature
    answers its Location at once, a change is visible with its new ETag, a refusal is committed to the audit
    log; OWSLib's ogcapi.features creates, replaces and deletes, and raises on a rule refusal."""
    import asyncio

    from tests.builders import build_city
    from tests.servers import start_server, stop_server

    await build_city(live_db)
    port = _port()
    proc = start_server(port)
    try:
        await asyncio.to_thread(_round_trip, f"http://127.0.0.1:{port}")
    finally:
        stop_server(proc)


def _round_trip(root: str) -> None:
    """The live test's client side (blocking clients, run in a thread)."""
    from owslib.ogcapi.features import Features

    from tests.builders import PASSWORD

    base = f"{root}/ogc"
    with httpx.Client(auth=("bureau", PASSWORD), timeout=30) as http:
        assert http.options(f"{base}/collections/parcels/items").headers["allow"] == WRITE_ITEMS
        body = parcel_feature(square(121.63, 31.17), code="LIVE-OGC-1", plot_ratio=1.2)
        r = http.post(f"{base}/collections/parcels/items", json=body, headers={"Content-Type": GEOJSON})
        assert r.status_code == 201, r.text
        url = r.headers["location"]
        got = http.get(url)
        assert got.status_code == 200 and got.json()["properties"]["code"] == "LIVE-OGC-1"
        r = http.patch(url, content=json.dumps({"properties": {"plot_ratio": 1.6}}),
                       headers={"Content-Type": MERGE, "If-Match": got.headers["etag"]})
        assert (r.status_code, r.headers["etag"]) == (204, '"2"')
        again = http.get(url)
        assert again.headers["etag"] == '"2"' and again.json()["properties"]["plot_ratio"] == 1.6
        r = http.patch(url, content=json.dumps({"properties": {"plot_ratio": 2.6}}),
                       headers={"Content-Type": MERGE})
        assert (r.status_code, r.json()["code"]) == (409, "FAR_CAP_EXCEEDED")
        rows = http.get(f"{root}/api/v1/audit", params={"entity": "parcel", "entity_id": url.rsplit("/", 1)[1]})
        assert [(e["action"], e["outcome"]) for e in rows.json()["items"]] == [
            ("update", "refused"), ("update", "done"), ("create", "done")]

    api = Features(base, headers={"Authorization": basic("bureau")["Authorization"]})
    api.collection_item_create("parcels", parcel_feature(square(121.65, 31.17), code="LIVE-OGC-2"))
    fid = api.response_headers["Location"].rsplit("/", 1)[1]
    api.collection_item_update("parcels", fid, parcel_feature(square(121.65, 31.17), code="LIVE-OGC-2B",
                                                               land_use="rnd"))
    assert api.collection_item("parcels", fid)["properties"]["code"] == "LIVE-OGC-2B"
    with pytest.raises(RuntimeError, match="PARCEL_OVERLAP"):
        api.collection_item_create("parcels", parcel_feature(square(121.6501, 31.1701), code="LIVE-OGC-3"))
    api.collection_item_delete("parcels", fid)
    assert httpx.get(f"{base}/collections/parcels/items/{fid}", auth=("viewer", PASSWORD)).status_code == 404
