"""WFS reads over HTTP, in process (each test rolled back): capabilities, schema, GetFeature, filters,
stored queries, exceptions. SPEC §5 "OGC WFS", §2 axis order."""

from __future__ import annotations

import pytest

from app.main import create_app
from tests.builders import BZ, CZ, basic, create_parcel, square
from tests.conftest import make_settings
from tests.wfs.helpers import (
    NS,
    equal_to,
    exception,
    fes,
    get_feature_20,
    kvp,
    members,
    poslist,
    post,
    prop,
    xml,
)


@pytest.fixture
async def parcels(client, city):
    """Five parcels: three in the base zone (east), two in the community (west)."""
    made = []
    for i in range(3):
        made.append(
            await create_parcel(
                client, square(BZ[0] + 0.01 + i * 0.002, BZ[1] + 0.01), code=f"E-{i}", plot_ratio=1.0 + i / 10
            )
        )
    for i in range(2):
        made.append(
            await create_parcel(
                client,
                square(CZ[0] + 0.01 + i * 0.002, CZ[1] + 0.01),
                code=f"W-{i}",
                land_use="rnd" if i else "industrial",
                plot_ratio=1.5,
            )
        )
    return made


# ------------------------------------------------------------------------------------------ capabilities
async def test_capabilities_20_advertise_paging_transactions_and_count_default(client, city, settings):
    root = xml(await kvp(client, request="GetCapabilities"))
    assert root.get("version") == "2.0.0"
    constraints = {
        c.get("name"): c.findtext("ows:DefaultValue", namespaces=NS)
        for c in root.findall("ows:OperationsMetadata/ows:Constraint", NS)
    }
    assert constraints["ImplementsResultPaging"] == "TRUE"
    assert constraints["ImplementsBasicWFS"] == "TRUE"
    assert constraints["ImplementsTransactionalWFS"] == "TRUE"
    assert constraints["CountDefault"] == str(settings.max_limit)
    names = [n.text for n in root.findall(".//wfs:FeatureType/wfs:Name", NS)]
    assert names == ["landcycle:parcels", "landcycle:zones", "landcycle:districts", "landcycle:exit_candidates"]
    ft = root.find(".//wfs:FeatureType", NS)
    assert ft.findtext("wfs:DefaultCRS", namespaces=NS) == "urn:ogc:def:crs:EPSG::4490"
    assert {e.text for e in ft.findall("wfs:OtherCRS", NS)} == {
        f"urn:ogc:def:crs:EPSG::{s}" for s in (4326, 3857, 4549, 4550, 4510)
    }


async def test_capabilities_bounds_are_the_data_extent_in_wgs84(client, parcels):
    root = xml(await kvp(client, request="GetCapabilities"))
    ft = root.find(".//wfs:FeatureType", NS)
    lower = [float(v) for v in ft.findtext(".//ows:LowerCorner", namespaces=NS).split()]
    upper = [float(v) for v in ft.findtext(".//ows:UpperCorner", namespaces=NS).split()]
    assert lower[0] == pytest.approx(CZ[0] + 0.01, abs=1e-5)  # lon first (WGS84BoundingBox)
    assert lower[1] == pytest.approx(31.06, abs=1e-5)
    assert upper[0] == pytest.approx(BZ[0] + 0.014 + 100 / 95_300, abs=1e-4)


async def test_filter_capabilities_list_exactly_the_implemented_operators(client, city):
    root = xml(await kvp(client, request="GetCapabilities"))
    ops = {e.get("name") for e in root.findall(".//fes:ComparisonOperator", NS)}
    assert ops == {
        "PropertyIsEqualTo",
        "PropertyIsNotEqualTo",
        "PropertyIsLessThan",
        "PropertyIsGreaterThan",
        "PropertyIsLessThanOrEqualTo",
        "PropertyIsGreaterThanOrEqualTo",
        "PropertyIsLike",
        "PropertyIsNull",
        "PropertyIsNil",
        "PropertyIsBetween",
    }
    spatial = {e.get("name") for e in root.findall(".//fes:SpatialOperator", NS)}
    assert spatial == {"BBOX", "Intersects", "Within", "Contains", "Disjoint"}


async def test_capabilities_urls_use_the_public_url(db, city):
    import httpx

    app = create_app(make_settings(public_url="https://gis.example.org/landcycle"), db)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as http:
        root = xml(await kvp(http, request="GetCapabilities"))
    hrefs = {e.get(f"{{{NS['xlink']}}}href") for e in root.findall(".//ows:Get", NS)}
    assert hrefs == {"https://gis.example.org/landcycle/wfs?"}


async def test_capabilities_urls_follow_the_forwarded_host_of_a_trusted_proxy(client, city):
    headers = {"X-Forwarded-Host": "gis.example.org", "X-Forwarded-Proto": "https", **basic("bureau")}
    r = await client.get("/wfs", params={"SERVICE": "WFS", "REQUEST": "GetCapabilities"}, headers=headers)
    hrefs = {e.get(f"{{{NS['xlink']}}}href") for e in xml(r).findall(".//ows:Get", NS)}
    assert hrefs == {"https://gis.example.org/wfs?"}


async def test_capabilities_11_and_10_are_offered(client, city):
    root = xml(await kvp(client, request="GetCapabilities", version="1.1.0"))
    assert root.get("version") == "1.1.0"
    assert root.find(".//wfs1:FeatureType/wfs1:DefaultSRS", NS).text == "urn:ogc:def:crs:EPSG::4490"
    root = xml(await kvp(client, request="GetCapabilities", acceptversions="1.0.0"))
    assert root.get("version") == "1.0.0"
    assert root.find(".//wfs1:FeatureType/wfs1:SRS", NS).text == "EPSG:4490"


# ------------------------------------------------------------------------------------------ schema
async def test_describe_feature_type_has_the_real_property_types(client, city):
    root = xml(
        await kvp(client, version="2.0.0", request="DescribeFeatureType", typenames="landcycle:parcels")
    )
    types = {e.get("name"): e.get("type") for e in root.findall(".//xsd:element", NS) if e.get("type")}
    assert types["plot_ratio"] == "xsd:decimal"
    assert types["planning_locked"] == "xsd:boolean"
    assert types["zone_id"] == "xsd:long"
    assert types["valid_from"] == "xsd:dateTime"
    assert types["geometry"] == "gml:MultiSurfacePropertyType"
    assert root.get("targetNamespace") == NS["lc"]


# ------------------------------------------------------------------------------------------ GetFeature
async def test_get_feature_pages_by_primary_key_with_counts_and_next(client, parcels):
    r = await kvp(client, version="2.0.0", request="GetFeature", typenames="landcycle:parcels", count=2)
    root = xml(r)
    assert (root.get("numberMatched"), root.get("numberReturned")) == ("5", "2")
    ids = [m.get(f"{{{NS['gml']}}}id") for m in members(root)]
    assert ids == [f"parcels.{parcels[0]['id']}", f"parcels.{parcels[1]['id']}"]
    assert "STARTINDEX=2" in root.get("next")
    last = xml(
        await kvp(
            client,
            version="2.0.0",
            request="GetFeature",
            typenames="landcycle:parcels",
            count=2,
            startindex=4,
        )
    )
    assert last.get("numberReturned") == "1"
    assert last.get("next") is None


async def test_hits_count_without_features(client, parcels):
    root = xml(
        await kvp(
            client, version="2.0.0", request="GetFeature", typenames="landcycle:parcels", resulttype="hits"
        )
    )
    assert (root.get("numberMatched"), root.get("numberReturned")) == ("5", "0")
    assert members(root) == []
    root = xml(
        await kvp(
            client, version="1.1.0", request="GetFeature", typename="landcycle:parcels", resulttype="hits"
        )
    )
    assert root.get("numberOfFeatures") == "5"


async def test_count_is_capped_at_count_default(db, city):
    import httpx

    app = create_app(make_settings(max_limit=2), db)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        for i in range(3):
            await create_parcel(http, square(BZ[0] + 0.01 + i * 0.002, BZ[1] + 0.01), code=f"C-{i}")
        root = xml(
            await kvp(http, version="2.0.0", request="GetFeature", typenames="landcycle:parcels", count=1000)
        )
    assert root.get("numberReturned") == "2"


async def test_axis_order_follows_the_crs_name(client, parcels):
    lon, lat = BZ[0] + 0.01, BZ[1] + 0.01

    async def first_position(**srs: str) -> list[float]:
        one = await kvp(client, version="2.0.0", request="GetFeature", typenames="landcycle:parcels", count=1, **srs)
        return poslist(members(xml(one))[0])[:2]

    assert await first_position() == pytest.approx([lat, lon])
    assert await first_position(srsname="EPSG:4326") == pytest.approx([lon, lat], abs=1e-6)
    northing, easting = await first_position(srsname="urn:ogc:def:crs:EPSG::4549")
    assert northing > 3_000_000 > easting > 500_000
    gml2 = xml(
        await kvp(client, version="1.0.0", request="GetFeature", typename="landcycle:parcels", maxfeatures=1)
    )
    assert poslist(members(gml2)[0])[:2] == pytest.approx([lon, lat])


@pytest.mark.parametrize(
    "bbox",
    [
        "31.05,121.55,31.1,121.6,urn:ogc:def:crs:EPSG::4490",  # QGIS: lat,lon with the URN as fifth item
        "121.55,31.05,121.6,31.1,EPSG:4490",  # short form: lon,lat
        "31.05,121.55,31.1,121.6",  # no CRS: the default CRS (URN, lat/lon) in 2.0
    ],
)
async def test_bbox_axis_order_per_crs_form(client, parcels, bbox):
    root = xml(
        await kvp(client, version="2.0.0", request="GetFeature", typenames="landcycle:parcels", bbox=bbox)
    )
    assert sorted(prop(m, "code") for m in members(root)) == ["E-0", "E-1", "E-2"]


async def test_property_name_and_sort_by(client, parcels):
    root = xml(
        await kvp(
            client,
            version="2.0.0",
            request="GetFeature",
            typenames="landcycle:parcels",
            propertyname="code,plot_ratio",
            sortby="plot_ratio DESC,code ASC",
        )
    )
    feats = members(root)
    assert [prop(f, "code") for f in feats] == ["W-0", "W-1", "E-2", "E-1", "E-0"]
    assert prop(feats[0], "tier") is None
    assert feats[0].find(f"{{{NS['lc']}}}geometry") is None


async def test_sorted_pages_slice_the_sorted_order(client, parcels):
    root = xml(await kvp(client, version="2.0.0", request="GetFeature", typenames="landcycle:parcels",
                         sortby="plot_ratio DESC,code ASC", startindex=1, count=3))
    assert [prop(f, "code") for f in members(root)] == ["W-1", "E-2", "E-1"]


async def test_json_output(client, parcels):
    r = await kvp(
        client,
        version="2.0.0",
        request="GetFeature",
        typenames="landcycle:parcels",
        outputformat="application/json",
        count=2,
    )
    body = r.json()
    assert r.headers["content-type"].startswith("application/json")
    assert body["numberMatched"] == 5 and body["numberReturned"] == 2
    assert body["features"][0]["id"] == f"parcels.{parcels[0]['id']}"
    assert body["features"][0]["geometry"]["coordinates"][0][0][0] == pytest.approx(
        [BZ[0] + 0.01, BZ[1] + 0.01]
    )


async def test_gml_311_for_version_110(client, parcels):
    r = await kvp(client, version="1.1.0", request="GetFeature", typename="landcycle:zones")
    root = xml(r)
    assert root.tag == f"{{{NS['wfs1']}}}FeatureCollection"
    assert root.find(".//gml1:MultiSurface", NS) is not None


# ------------------------------------------------------------------------------------------ filters
@pytest.mark.parametrize(
    "inner, expected",
    [
        (equal_to("code", "E-1"), ["E-1"]),
        (
            "<fes:PropertyIsGreaterThan><fes:ValueReference>plot_ratio</fes:ValueReference><fes:Literal>1.05</fes:Literal>"
            "</fes:PropertyIsGreaterThan>",
            ["E-1", "E-2", "W-0", "W-1"],
        ),
        (
            '<fes:PropertyIsLike wildCard="*" singleChar="?" escapeChar="\\">'
            '<fes:ValueReference>landcycle:code'
            "</fes:ValueReference><fes:Literal>W-?</fes:Literal></fes:PropertyIsLike>",
            ["W-0", "W-1"],
        ),
        (
            "<fes:PropertyIsBetween><fes:ValueReference>plot_ratio</fes:ValueReference><fes:LowerBoundary><fes:Literal>1.1"
            "</fes:Literal></fes:LowerBoundary><fes:UpperBoundary><fes:Literal>1.2</fes:Literal></fes:UpperBoundary>"
            "</fes:PropertyIsBetween>",
            ["E-1", "E-2"],
        ),
        (
            "<fes:PropertyIsNull><fes:ValueReference>legacy_zone</fes:ValueReference></fes:PropertyIsNull>",
            ["E-0", "E-1", "E-2", "W-0", "W-1"],
        ),
        (
            "<fes:And><fes:PropertyIsEqualTo><fes:ValueReference>tier</fes:ValueReference><fes:Literal>community"
            "</fes:Literal></fes:PropertyIsEqualTo><fes:Not><fes:PropertyIsEqualTo><fes:ValueReference>land_use"
            "</fes:ValueReference><fes:Literal>rnd</fes:Literal></fes:PropertyIsEqualTo></fes:Not></fes:And>",
            ["W-0"],
        ),
        (
            "<fes:Or><fes:PropertyIsEqualTo><fes:ValueReference>code</fes:ValueReference><fes:Literal>E-0</fes:Literal>"
            "</fes:PropertyIsEqualTo><fes:PropertyIsEqualTo><fes:ValueReference>planning_locked</fes:ValueReference>"
            "<fes:Literal>false</fes:Literal></fes:PropertyIsEqualTo></fes:Or>",
            ["E-0", "W-0", "W-1"],
        ),
        (
            '<fes:BBOX><fes:ValueReference>geometry</fes:ValueReference><gml:Envelope srsName="EPSG:4326">'
            "<gml:lowerCorner>121.3 31</gml:lowerCorner>"
            "<gml:upperCorner>121.5 31.2</gml:upperCorner></gml:Envelope>"
            "</fes:BBOX>",
            ["W-0", "W-1"],
        ),
        (
            '<fes:Within><fes:ValueReference>geometry</fes:ValueReference><gml:Polygon gml:id="p" '
            'srsName="urn:ogc:def:crs:EPSG::4490"><gml:exterior><gml:LinearRing>'
            '<gml:posList>31.05 121.55 31.05 121.6 '
            "31.1 121.6 31.1 121.55 31.05 121.55</gml:posList></gml:LinearRing></gml:exterior>"
            "</gml:Polygon></fes:Within>",
            ["E-0", "E-1", "E-2"],
        ),
        (
            '<fes:Intersects><fes:ValueReference>geometry</fes:ValueReference><gml:Point gml:id="q" '
            'srsName="http://www.opengis.net/def/crs/EPSG/0/4326">'
            '<gml:pos>31.0605 121.3605</gml:pos></gml:Point>'
            "</fes:Intersects>",
            ["W-0"],
        ),
    ],
)
async def test_filter_encoding_20(client, parcels, inner, expected):
    r = await post(client, get_feature_20("landcycle:parcels", fes(inner)))
    assert r.status_code == 200, r.text
    assert sorted(prop(m, "code") for m in members(xml(r))) == expected


async def test_resource_id_filter_and_kvp(client, parcels):
    rid = f"parcels.{parcels[3]['id']}"
    r = await post(client, get_feature_20("landcycle:parcels", fes(f'<fes:ResourceId rid="{rid}"/>')))
    assert [prop(m, "code") for m in members(xml(r))] == ["W-0"]
    r = await kvp(client, version="2.0.0", request="GetFeature", resourceid=rid)
    assert [prop(m, "code") for m in members(xml(r))] == ["W-0"]


async def test_filter_11_with_feature_id_and_ogc_namespace(client, parcels):
    body = (
        '<wfs:GetFeature service="WFS" version="1.1.0" xmlns:wfs="http://www.opengis.net/wfs" '
        'xmlns:ogc="http://www.opengis.net/ogc"><wfs:Query typeName="landcycle:parcels">'
        '<ogc:Filter><ogc:PropertyIsLike wildCard="%" singleChar="_" escape="\\">'
        "<ogc:PropertyName>code</ogc:PropertyName><ogc:Literal>E%</ogc:Literal></ogc:PropertyIsLike>"
        "</ogc:Filter></wfs:Query></wfs:GetFeature>"
    )
    r = await post(client, body)
    assert sorted(prop(m, "code") for m in members(xml(r))) == ["E-0", "E-1", "E-2"]


async def test_filter_names_outside_the_whitelist_are_refused(client, parcels):
    r = await post(client, get_feature_20("landcycle:parcels", fes(equal_to("code; DROP TABLE parcel", "x"))))
    assert r.status_code == 400
    assert exception(r)[:2] == ("InvalidParameterValue", "filter")


async def test_literals_are_bound_not_spliced(client, parcels):
    r = await post(client, get_feature_20("landcycle:parcels", fes(equal_to("code", "x' OR '1'='1"))))
    assert r.status_code == 200
    assert members(xml(r)) == []


async def test_xml_entities_are_not_resolved(client, city):
    body = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<wfs:GetFeature service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0">'
        '<wfs:Query typeNames="landcycle:parcels">&e;</wfs:Query></wfs:GetFeature>'
    )
    r = await post(client, body)
    assert r.status_code == 400
    code, _, text = exception(r)
    assert code == "OperationParsingFailed" and "root:" not in text


# ------------------------------------------------------------------------------------------ stored queries
async def test_get_feature_by_id_returns_the_bare_feature_or_not_found(client, parcels):
    sq = "urn:ogc:def:query:OGC-WFS::GetFeatureById"
    r = await kvp(
        client, version="2.0.0", request="GetFeature", storedquery_id=sq, id=f"parcels.{parcels[0]['id']}"
    )
    root = xml(r)
    assert root.tag == f"{{{NS['lc']}}}parcels" and prop(root, "code") == "E-0"
    r = await kvp(client, version="2.0.0", request="GetFeature", storedquery_id=sq, id="parcels.999999")
    assert r.status_code == 404 and exception(r)[0] == "NotFound"
    listed = xml(await kvp(client, version="2.0.0", request="ListStoredQueries"))
    assert listed.find("wfs:StoredQuery", NS).get("id") == sq
    described = xml(await kvp(client, version="2.0.0", request="DescribeStoredQueries", storedquery_id=sq))
    assert described.find("wfs:StoredQueryDescription/wfs:Parameter", NS).get("name") == "ID"


# ------------------------------------------------------------------------------------------ exceptions
@pytest.mark.parametrize(
    "params, code, locator",
    [
        ({}, "MissingParameterValue", "request"),
        ({"request": "GetFeature", "version": "2.0.0"}, "MissingParameterValue", "typeNames"),
        ({"request": "GetMap"}, "OperationNotSupported", "request"),
        (
            {"request": "GetFeature", "version": "3.0.0", "typenames": "landcycle:parcels"},
            "InvalidParameterValue",
            "version",
        ),
        (
            {"request": "GetCapabilities", "acceptversions": "3.0.0"},
            "VersionNegotiationFailed",
            "AcceptVersions",
        ),
        (
            {"request": "GetFeature", "version": "2.0.0", "typenames": "landcycle:parcels", "count": "-1"},
            "InvalidParameterValue",
            "COUNT",
        ),
        (
            {
                "request": "GetFeature",
                "version": "2.0.0",
                "typenames": "landcycle:parcels",
                "srsname": "EPSG:2000",
            },
            "InvalidParameterValue",
            "srsName",
        ),
        (
            {"request": "GetFeature", "version": "2.0.0", "typenames": "landcycle:parcels", "bbox": "1,2,3"},
            "InvalidParameterValue",
            "bbox",
        ),
        (
            {
                "request": "GetFeature",
                "version": "2.0.0",
                "typenames": "landcycle:parcels",
                "filter": "<fes:Filter",
            },
            "OperationParsingFailed",
            "body",
        ),
        (
            {
                "request": "GetFeature",
                "version": "2.0.0",
                "typenames": "landcycle:parcels",
                "outputformat": "shape-zip",
            },
            "InvalidParameterValue",
            "outputFormat",
        ),
    ],
)
async def test_bad_requests_answer_exception_reports(client, city, params, code, locator):
    r = await kvp(client, **params)
    assert r.status_code == 400, r.text
    assert exception(r)[:2] == (code, locator)


async def test_reads_need_authentication(client, city):
    r = await kvp(client, user=None, request="GetCapabilities")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    assert exception(r)[0] == "NoApplicableCode"


async def test_exit_candidates_are_a_read_only_layer_with_their_evidence(client, city):
    from datetime import date

    from tests.contract_builders import contract, enterprise, organisation

    idle = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01), code="IDLE-1", plot_ratio=1.5)
    signed = await contract(client, idle["id"], await enterprise(client), await organisation(client, "310115"),
                            date(2024, 1, 1))
    r = await kvp(client, version="2.0.0", request="GetFeature", typenames="landcycle:exit_candidates",
                  outputformat="application/json")
    features = r.json()["features"]
    assert [(f["id"], f["properties"]["reason"], f["properties"]["parcel_code"]) for f in features] == [
        (f"exit_candidates.{signed['id']}-idle_land", "idle_land", "IDLE-1")]
    assert features[0]["geometry"]["type"] == "MultiPolygon"
    rest = (await client.get("/api/v1/exit-candidates", headers=basic("bureau"))).json()["items"]
    assert [(c["contract_id"], c["reason"]) for c in rest] == [(signed["id"], "idle_land")]
    flt = fes(equal_to("reason", "expired"))
    assert members(xml(await post(client, get_feature_20("landcycle:exit_candidates", flt))),
                   "exit_candidates") == []
    delete = ('<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0" '
              'xmlns:fes="http://www.opengis.net/fes/2.0"><wfs:Delete typeName="landcycle:exit_candidates">'
              f'<fes:Filter><fes:ResourceId rid="exit_candidates.{signed["id"]}-idle_land"/></fes:Filter>'
              "</wfs:Delete></wfs:Transaction>")
    r = await post(client, delete)
    assert (r.status_code, exception(r)[:2]) == (400, ("OperationNotSupported", "Delete")), r.text
