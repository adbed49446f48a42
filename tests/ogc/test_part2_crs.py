"""OGC API – Features Part 2, Coordinate Reference Systems by Reference (OGC 18-058r1), Annex A: the
abstract tests of /conf/crs, and the requirements they rest on, over SPEC §2's six CRSs and CRS84."""

from __future__ import annotations

import re

import pytest
from pyproj import Transformer
from sqlalchemy import text

from tests.builders import BZ, CZ
from tests.ogc.conftest import get

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
SIX = [EPSG.format(s) for s in (4490, 4326, 3857, 4549, 4550, 4510)]
SPATIAL = ["parcels", "zones", "districts"]  # exit candidates: none in this city
# OGC 09-048r5 http-URIs of CRSs: an authority, a version, a code.
OGC_CRS_URI = re.compile(r"^http://www\.opengis\.net/def/crs/(EPSG/0/\d+|OGC/1\.3/CRS84)$")


def _positions(feature):
    return [tuple(p) for polygon in feature["geometry"]["coordinates"] for ring in polygon for p in ring]


def _to_crs84(uri: str):
    """A transformer from `uri` (its EPSG axis order, as 18-058r1 writes coordinates) to CRS84 lon/lat."""
    source = "OGC:CRS84" if uri == CRS84 else "EPSG:" + uri.rsplit("/", 1)[1]
    return Transformer.from_crs(source, "OGC:CRS84")


def _from_crs84(uri: str):
    target = "OGC:CRS84" if uri == CRS84 else "EPSG:" + uri.rsplit("/", 1)[1]
    return Transformer.from_crs("OGC:CRS84", target)


async def _docs(client):
    listed = (await get(client, "/collections")).json()["collections"]
    return listed + [(await get(client, f"/collections/{c['id']}")).json() for c in listed]


# ------------------------------------------------------------------------------------------ discovery
async def test_conf_crs_crs_uri(client, ogc_city):
    """/conf/crs/crs-uri (/req/crs/crs-uri, /req/crs/fc-md-crs-list A, /req/crs/fc-md-storageCrs): every
    crs and storageCrs of /collections and /collections/{id} is an OGC CRS http-URI."""
    for doc in await _docs(client):
        for uri in [*doc["crs"], doc["storageCrs"]]:
            assert OGC_CRS_URI.match(uri), uri


async def test_conf_crs_default_crs(client, ogc_city):
    """/conf/crs/default-crs (/req/crs/fc-md-crs-list B): CRS84 is in every spatial collection's list."""
    for doc in await _docs(client):
        assert CRS84 in doc["crs"], doc["id"]


async def test_conf_crs_storage_crs(client, ogc_city):
    """/conf/crs/storageCrs (/req/crs/fc-md-storageCrs-valid-value): the storage CRS, EPSG:4490 (SPEC §2),
    is one of the listed CRSs, and in it the coordinates are the stored ones (lat/lon, EPSG order)."""
    for doc in await _docs(client):
        assert doc["storageCrs"] == EPSG.format(4490) and doc["storageCrs"] in doc["crs"]
    pid = ogc_city.ids()[0]
    r = await get(client, f"/collections/parcels/items/{pid}", crs=EPSG.format(4490))
    stored = (await get(client, f"/collections/parcels/items/{pid}")).json()
    assert _positions(r.json()) == [(y, x) for x, y in _positions(stored)]


async def test_req_crs_fc_md_crs_list_names_the_six_crss_of_spec_2(client, ogc_city):
    """/req/crs/fc-md-crs-list: each collection offers SPEC §2's six output CRSs, CRS84 first."""
    for doc in await _docs(client):
        assert doc["crs"] == [CRS84, *SIX]


# ------------------------------------------------------------------------------------------ query
@pytest.mark.parametrize("uri", [CRS84, *SIX])
async def test_conf_crs_crs_parameter(client, ogc_city, uri):
    """/conf/crs/crs-parameter (/req/crs/fc-crs-definition, fc-crs-valid-value B, ogc-crs-header,
    ogc-crs-header-value): items and a feature of every collection in every listed CRS: 200, a valid
    response, Content-Crs naming that CRS."""
    for cid in SPATIAL:
        items = await get(client, f"/collections/{cid}/items", crs=uri)
        assert items.status_code == 200 and items.headers["content-crs"] == f"<{uri}>", cid
        assert items.json()["type"] == "FeatureCollection" and items.json()["features"]
        fid = items.json()["features"][0]["id"]
        one = await get(client, f"/collections/{cid}/items/{fid}", crs=uri)
        assert one.status_code == 200 and one.headers["content-crs"] == f"<{uri}>"
        assert one.json()["geometry"] == items.json()["features"][0]["geometry"]
        assert all(f"crs={uri}".replace(":", "%3A").replace("/", "%2F") in link["href"]
                   for link in one.json()["links"][:2])


@pytest.mark.parametrize("uri", SIX)
async def test_conf_crs_crs_transform(client, ogc_city, uri):
    """/conf/crs/crs-transform (/req/crs/crs-action): the coordinates in each CRS, converted back to CRS84
    by PROJ (axis order of the CRS's EPSG definition), are the default response's within a centimetre."""
    default = {f["id"]: f for f in (await get(client, "/collections/parcels/items")).json()["features"]}
    back = _to_crs84(uri)
    for f in (await get(client, "/collections/parcels/items", crs=uri)).json()["features"]:
        for (a, b), (lon, lat) in zip(_positions(f), _positions(default[f["id"]]), strict=True):
            x, y = back.transform(a, b)
            assert abs(x - lon) < 2e-7 and abs(y - lat) < 2e-7, (uri, (a, b), (lon, lat))


@pytest.mark.parametrize("uri", SIX)
async def test_conf_crs_bbox_crs_parameter(client, ogc_city, uri):
    """/conf/crs/bbox-crs-parameter (/req/crs/fc-bbox-crs-definition, /req/crs/bbox-crs-action): a bbox in
    each CRS (its axis order) selects the features the same bbox in CRS84 does."""
    to = _from_crs84(uri)
    for box in (BZ, CZ, (121.3, 30.95, 121.5, 31.25)):
        expected = (await get(client, "/collections/parcels/items", bbox=",".join(map(str, box)))).json()
        corners = [to.transform(box[0], box[1]), to.transform(box[2], box[3])]
        lows = [min(c[i] for c in corners) for i in (0, 1)]
        highs = [max(c[i] for c in corners) for i in (0, 1)]
        # Shrunk a little: the box's edges are curves in the other CRS, the features lie well inside.
        inset = [(h - lo) * 0.001 for lo, h in zip(lows, highs, strict=True)]
        bbox = [lows[0] + inset[0], lows[1] + inset[1], highs[0] - inset[0], highs[1] - inset[1]]
        got = await get(client, "/collections/parcels/items", bbox=",".join(map(str, bbox)), bbox_crs=uri)
        assert got.status_code == 200, got.text
        assert [f["id"] for f in got.json()["features"]] == [f["id"] for f in expected["features"]], uri
        assert got.json()["features"], box


async def test_req_crs_fc_bbox_crs_default_value(client, ogc_city):
    """/req/crs/fc-bbox-crs-default-value: a bbox without bbox-crs is CRS84, lon/lat."""
    lon_lat = await get(client, "/collections/parcels/items", bbox=",".join(map(str, BZ)))
    named = await get(client, "/collections/parcels/items", bbox=",".join(map(str, BZ)), bbox_crs=CRS84)
    lat_lon = await get(client, "/collections/parcels/items", bbox=f"{BZ[1]},{BZ[0]},{BZ[3]},{BZ[2]}")
    assert lon_lat.json()["features"] == named.json()["features"] and len(lon_lat.json()["features"]) == 3
    assert lat_lon.json()["features"] == []
    by_epsg = await get(client, "/collections/parcels/items", bbox=f"{BZ[1]},{BZ[0]},{BZ[3]},{BZ[2]}",
                        bbox_crs=EPSG.format(4326))
    assert by_epsg.json()["features"] == lon_lat.json()["features"]


async def test_req_crs_fc_crs_default_value(client, ogc_city):
    """/req/crs/fc-crs-default-value: without crs the coordinates are CRS84 (lon/lat), and said so."""
    for path in ("/collections/parcels/items", f"/collections/parcels/items/{ogc_city.ids()[0]}"):
        r = await get(client, path)
        assert r.headers["content-crs"] == f"<{CRS84}>"
    lon, lat = _positions((await get(client, "/collections/parcels/items")).json()["features"][0])[0]
    assert 121 < lon < 122 and 30 < lat < 32


@pytest.mark.parametrize("name", ["crs", "bbox-crs"])
@pytest.mark.parametrize("value", ["http://www.opengis.net/def/crs/EPSG/0/2000", "EPSG:4549",
                                   "urn:ogc:def:crs:EPSG::4326", "not a crs"])
async def test_req_crs_fc_crs_valid_value_others_are_400(client, ogc_city, name, value):
    """/req/crs/fc-crs-valid-value, /req/crs/fc-bbox-crs-valid-value: a CRS not in the collection's list
    (another code, or a listed one spelled otherwise) is 400 CRS_UNSUPPORTED."""
    params = {"crs" if name == "crs" else "bbox_crs": value}
    if name == "bbox-crs":
        params["bbox"] = ",".join(map(str, BZ))
    r = await get(client, "/collections/parcels/items", **params)
    assert (r.status_code, r.json()["code"]) == (400, "CRS_UNSUPPORTED"), r.text
    assert name in r.json()["detail"]


async def test_req_crs_ogc_crs_header(client, ogc_city):
    """/req/crs/ogc-crs-header: Content-Crs in angle brackets on every body with coordinates (items,
    feature, the HTML pages of them, a streamed large page)."""
    pid = ogc_city.ids()[0]
    for path, params in (("/collections/zones/items", {"crs": EPSG.format(3857)}),
                         (f"/collections/parcels/items/{pid}", {"f": "html", "crs": EPSG.format(4549)}),
                         ("/collections/parcels/items", {"limit": 5000, "crs": EPSG.format(4510)})):
        r = await get(client, path, **params)
        assert r.headers["content-crs"] == f"<{params['crs']}>", path


async def test_req_crs_geojson(client, ogc_city):
    """/req/crs/geojson: by prior arrangement (RFC 7946 §4) GeoJSON in EPSG:4326's URI is lat/lon, its
    EPSG order, with no `crs` member; CRS84 stays lon/lat."""
    pid = ogc_city.ids()[0]
    lat_lon = (await get(client, f"/collections/parcels/items/{pid}", crs=EPSG.format(4326))).json()
    lon_lat = (await get(client, f"/collections/parcels/items/{pid}", crs=CRS84)).json()
    assert _positions(lat_lon) == [(y, x) for x, y in _positions(lon_lat)]
    assert "crs" not in lat_lon
    mercator = (await get(client, f"/collections/parcels/items/{pid}", crs=EPSG.format(3857))).json()
    x, y = _positions(mercator)[0]
    assert 1.3e7 < x < 1.4e7 and 3.5e6 < y < 3.8e6  # easting first in EPSG:3857


async def test_crs84_output_is_what_postgis_transforms_to(client, ogc_city, conn):
    """CRS84 is served from the stored coordinates: PostGIS's own ST_Transform to EPSG:4326 (PROJ's
    CGCS2000 → WGS 84) gives the very same numbers, so no transform is spent per row."""
    pid = ogc_city.ids()[0]
    served = (await get(client, f"/collections/parcels/items/{pid}")).json()["geometry"]
    transformed = await conn.scalar(text(
        "SELECT ST_AsGeoJSON(ST_Transform(geom, 4326), 7, 0) FROM parcel WHERE id = :id AND valid_to IS NULL"),
        {"id": pid})
    import json

    assert served == json.loads(transformed)
