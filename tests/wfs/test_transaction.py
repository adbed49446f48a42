"""WFS-T over HTTP, in process: the REST rules through the same services, one transaction per request,
refusals as HTTP 200 reports whose text starts with the SPEC code (SPEC §3, §5)."""

from __future__ import annotations

import pytest

from tests.builders import BZ, CZ, EAST, M_LAT, M_LON, basic, create_parcel, square
from tests.wfs.helpers import NS, exception, kvp, members, post, prop, xml

WFS20 = (
    'xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:fes="http://www.opengis.net/fes/2.0" '
    'xmlns:gml="http://www.opengis.net/gml/3.2" xmlns:landcycle="http://landcycle.example.org/wfs"'
)
WFS11 = (
    'xmlns:wfs="http://www.opengis.net/wfs" xmlns:ogc="http://www.opengis.net/ogc" '
    'xmlns:gml="http://www.opengis.net/gml" xmlns:landcycle="http://landcycle.example.org/wfs"'
)


def ring(lon: float, lat: float, side_m: float = 100, latlon: bool = False) -> list[tuple[float, float]]:
    dx, dy = side_m * M_LON, side_m * M_LAT
    pts = [(lon, lat), (lon + dx, lat), (lon + dx, lat + dy), (lon, lat + dy), (lon, lat)]
    return [(y, x) for x, y in pts] if latlon else pts


def gml32(lon: float, lat: float) -> str:
    pos = " ".join(f"{a} {b}" for a, b in ring(lon, lat, latlon=True))
    return (
        f'<gml:MultiSurface gml:id="n1" srsName="urn:ogc:def:crs:EPSG::4490"><gml:surfaceMember>'
        f'<gml:Polygon gml:id="n2"><gml:exterior><gml:LinearRing><gml:posList>{pos}</gml:posList>'
        "</gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember></gml:MultiSurface>"
    )


def gml2(lon: float, lat: float, srs: str = "EPSG:4490") -> str:
    coords = " ".join(f"{a},{b}" for a, b in ring(lon, lat))
    return (
        f'<gml:MultiPolygon srsName="{srs}"><gml:polygonMember><gml:Polygon><gml:outerBoundaryIs>'
        f'<gml:LinearRing><gml:coordinates cs="," ts=" ">{coords}</gml:coordinates></gml:LinearRing>'
        "</gml:outerBoundaryIs></gml:Polygon></gml:polygonMember></gml:MultiPolygon>"
    )


def insert_20(*features: str) -> str:
    return (
        f'<wfs:Transaction service="WFS" version="2.0.0" {WFS20}><wfs:Insert>{"".join(features)}'
        "</wfs:Insert></wfs:Transaction>"
    )


def parcel_20(code: str, lon: float, lat: float, **props: object) -> str:
    values = {"code": code, "land_use": "industrial", **props}
    inner = "".join(f"<landcycle:{k}>{v}</landcycle:{k}>" for k, v in values.items())
    geometry = f"<landcycle:geometry>{gml32(lon, lat)}</landcycle:geometry>"
    return f"<landcycle:parcels>{inner}{geometry}</landcycle:parcels>"


async def codes(client) -> list[str]:
    r = await kvp(client, version="2.0.0", request="GetFeature", typenames="landcycle:parcels")
    return sorted(prop(m, "code") for m in members(xml(r)))


async def test_insert_20_returns_the_fid_getfeature_shows(client, city):
    r = await post(client, insert_20(parcel_20("T-1", BZ[0] + 0.01, BZ[1] + 0.01, plot_ratio=1.5)))
    assert r.status_code == 200, r.text
    root = xml(r)
    assert root.findtext(".//wfs:totalInserted", namespaces=NS) == "1"
    rid = root.find(".//fes:ResourceId", NS).get("rid")
    got = xml(await kvp(client, version="2.0.0", request="GetFeature", resourceid=rid))
    feat = members(got)[0]
    assert feat.get(f"{{{NS['gml']}}}id") == rid
    assert (prop(feat, "tier"), prop(feat, "planning_locked")) == ("base", "true")
    rest = (await client.get(f"/api/v1/parcels/{rid.split('.')[1]}", headers=basic("bureau"))).json()
    assert rest["geometry"]["coordinates"][0][0][0] == pytest.approx([BZ[0] + 0.01, BZ[1] + 0.01])


async def test_insert_10_as_qgis_322_sends_it(client, city):
    """QGIS 3.22: version 1.0.0, GML 2 coordinates in lon/lat under a URN srsName."""
    body = (
        '<Transaction xmlns="http://www.opengis.net/wfs" xmlns:gml="http://www.opengis.net/gml" '
        'service="WFS" version="1.0.0"><Insert><parcels xmlns="http://landcycle.example.org/wfs">'
        "<code>Q-1</code><land_use>industrial</land_use><plot_ratio>1.2</plot_ratio>"
        f"<geometry>{gml2(CZ[0] + 0.01, CZ[1] + 0.01, 'urn:ogc:def:crs:EPSG::4490')}</geometry>"
        "</parcels></Insert></Transaction>"
    )
    r = await post(client, body)
    root = xml(r)
    assert root.find(".//wfs1:SUCCESS", NS) is not None, r.text
    fid = root.find(".//ogc:FeatureId", NS).get("fid")
    assert fid.startswith("parcels.")
    got = members(xml(await kvp(client, version="1.0.0", request="GetFeature", featureid=fid)))
    assert prop(got[0], "tier") == "community"


async def test_update_and_delete_by_feature_id_11(client, city):
    made = await create_parcel(client, square(CZ[0] + 0.01, CZ[1] + 0.01), code="U-1", plot_ratio=1.0)
    fid = f"parcels.{made['id']}"
    body = (
        f'<wfs:Transaction service="WFS" version="1.1.0" {WFS11}><wfs:Update typeName="landcycle:parcels">'
        "<wfs:Property><wfs:Name>landcycle:plot_ratio</wfs:Name><wfs:Value>1.8</wfs:Value></wfs:Property>"
        "<wfs:Property><wfs:Name>legacy_zone</wfs:Name><wfs:Value>195</wfs:Value></wfs:Property>"
        f'<ogc:Filter><ogc:FeatureId fid="{fid}"/></ogc:Filter></wfs:Update></wfs:Transaction>'
    )
    r = await post(client, body)
    assert xml(r).findtext(".//wfs1:totalUpdated", namespaces=NS) == "1", r.text
    rest = (await client.get(f"/api/v1/parcels/{made['id']}", headers=basic("bureau"))).json()["properties"]
    assert (rest["plot_ratio"], rest["legacy_zone"], rest["version"]) == (1.8, "195", 2)
    body = (
        f'<wfs:Transaction service="WFS" version="1.1.0" {WFS11}><wfs:Delete typeName="landcycle:parcels">'
        f'<ogc:Filter><ogc:FeatureId fid="{fid}"/></ogc:Filter></wfs:Delete></wfs:Transaction>'
    )
    r = await post(client, body)
    assert xml(r).findtext(".//wfs1:totalDeleted", namespaces=NS) == "1"
    assert (await client.get(f"/api/v1/parcels/{made['id']}", headers=basic("bureau"))).status_code == 404


async def test_geometry_update_recomputes_the_tier(client, city):
    made = await create_parcel(client, square(CZ[0] + 0.01, CZ[1] + 0.01), code="G-1")
    body = (
        f'<wfs:Transaction service="WFS" version="2.0.0" {WFS20}><wfs:Update typeName="landcycle:parcels">'
        f"<wfs:Property><wfs:ValueReference>geometry</wfs:ValueReference><wfs:Value>"
        f"{gml32(BZ[0] + 0.02, BZ[1] + 0.02)}</wfs:Value></wfs:Property>"
        f'<fes:Filter><fes:ResourceId rid="parcels.{made["id"]}"/></fes:Filter></wfs:Update>'
        '</wfs:Transaction>'
    )
    r = await post(client, body)
    assert r.status_code == 200, r.text
    rest = (await client.get(f"/api/v1/parcels/{made['id']}", headers=basic("bureau"))).json()["properties"]
    assert (rest["tier"], rest["district_code"]) == ("base", EAST)


async def test_far_cap_refusal_is_a_200_report_with_code_and_numbers(client, city):
    r = await post(client, insert_20(parcel_20("F-1", CZ[0] + 0.01, CZ[1] + 0.01, plot_ratio=9.9)))
    assert r.status_code == 200
    code, _, text = exception(r)
    assert code == "OperationProcessingFailed"
    assert text.startswith("FAR_CAP_EXCEEDED: plot ratio 9.9 above cap 2.0 for industrial land")
    assert await codes(client) == []
    audit = (await client.get("/api/v1/audit?entity=parcel", headers=basic("bureau"))).json()["items"]
    assert audit[0]["outcome"] == "refused" and audit[0]["code"] == "FAR_CAP_EXCEEDED"


async def test_one_refused_feature_rolls_the_whole_transaction_back(client, city):
    ok = parcel_20("A-1", CZ[0] + 0.01, CZ[1] + 0.01)
    overlapping = parcel_20("A-2", CZ[0] + 0.0101, CZ[1] + 0.0101)
    r = await post(client, insert_20(ok, overlapping))
    assert exception(r)[2].startswith("PARCEL_OVERLAP: ")
    assert await codes(client) == []


async def test_planning_lock_refuses_deleting_a_locked_parcel(client, city):
    made = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01), code="L-1")
    body = (
        f'<wfs:Transaction service="WFS" version="2.0.0" {WFS20}><wfs:Delete typeName="landcycle:parcels">'
        f'<fes:Filter><fes:ResourceId rid="parcels.{made["id"]}"/></fes:Filter></wfs:Delete>'
        '</wfs:Transaction>'
    )
    r = await post(client, body)
    assert exception(r)[2].startswith("LOCKUP_PLANNING: ")
    assert await codes(client) == ["L-1"]


async def test_version_100_refusal_is_a_failed_transaction_response(client, city):
    body = (
        '<Transaction xmlns="http://www.opengis.net/wfs" xmlns:gml="http://www.opengis.net/gml" '
        'service="WFS" version="1.0.0"><Insert><parcels xmlns="http://landcycle.example.org/wfs">'
        "<code>Q-9</code><land_use>industrial</land_use><plot_ratio>9.9</plot_ratio>"
        f"<geometry>{gml2(CZ[0] + 0.01, CZ[1] + 0.01)}</geometry></parcels></Insert></Transaction>"
    )
    r = await post(client, body)
    assert r.status_code == 200
    root = xml(r)
    assert root.find(".//wfs1:FAILED", NS) is not None
    assert root.findtext(".//wfs1:Message", namespaces=NS).startswith("FAR_CAP_EXCEEDED: plot ratio 9.9")


@pytest.mark.parametrize("user, code", [("viewer", "FORBIDDEN_ROLE"), ("officer.west", "FORBIDDEN_DISTRICT")])
async def test_roles_and_districts_scope_edits(client, city, user, code):
    r = await post(client, insert_20(parcel_20("R-1", BZ[0] + 0.01, BZ[1] + 0.01)), user=user)
    assert r.status_code == 200
    assert exception(r)[2].startswith(f"{code}: ")


async def test_district_officer_edits_inside_the_district(client, city):
    r = await post(client, insert_20(parcel_20("D-1", BZ[0] + 0.01, BZ[1] + 0.01)), user="officer.east")
    assert xml(r).findtext(".//wfs:totalInserted", namespaces=NS) == "1", r.text


async def test_transactions_need_authentication(client, city):
    r = await post(client, insert_20(parcel_20("N-1", BZ[0] + 0.01, BZ[1] + 0.01)), user=None)
    assert r.status_code == 401


async def test_invalid_geometry_is_refused_with_the_reason(client, city):
    bow = "31.06 121.36 31.07 121.37 31.06 121.37 31.07 121.36 31.06 121.36"
    feature = (
        "<landcycle:parcels><landcycle:code>B-1</landcycle:code><landcycle:land_use>industrial"
        '</landcycle:land_use><landcycle:geometry><gml:Polygon gml:id="b" srsName="urn:ogc:def:crs:'
        f'EPSG::4490"><gml:exterior><gml:LinearRing><gml:posList>{bow}</gml:posList></gml:LinearRing>'
        "</gml:exterior></gml:Polygon></landcycle:geometry></landcycle:parcels>"
    )
    r = await post(client, insert_20(feature))
    assert r.status_code == 200
    assert exception(r)[2].startswith("GEOMETRY_INVALID: Self-intersection")


@pytest.mark.parametrize(
    "body, code",
    [
        ("<wfs:Transaction", "OperationParsingFailed"),
        (
            f'<wfs:Transaction service="WFS" version="2.0.0" {WFS20}><wfs:Insert>'
            '<landcycle:districts/></wfs:Insert>'
            "</wfs:Transaction>",
            "OperationNotSupported",
        ),
        (
            f'<wfs:Transaction service="WFS" version="2.0.0" {WFS20}>'
            '<wfs:Delete typeName="landcycle:parcels"/>'
            "</wfs:Transaction>",
            "MissingParameterValue",
        ),
        (
            f'<wfs:Transaction service="WFS" version="2.0.0" {WFS20}><wfs:Insert><landcycle:parcels>'
            "<landcycle:geometry><gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>1 2 x</gml:posList>"
            "</gml:LinearRing></gml:exterior></gml:Polygon></landcycle:geometry></landcycle:parcels></wfs:Insert>"
            "</wfs:Transaction>",
            "InvalidValue",
        ),
    ],
)
async def test_malformed_transactions_are_400(client, city, body, code):
    r = await post(client, body)
    assert r.status_code == 400, r.text
    assert exception(r)[0] == code


async def test_zones_are_editable_by_the_bureau_with_tier_recomputed(client, city):
    made = await create_parcel(client, square(CZ[0] - 0.05, CZ[1] + 0.01), code="Z-P")
    lon, lat = CZ[0] - 0.052, CZ[1] + 0.008
    pos = " ".join(
        f"{b} {a}"
        for a, b in [(lon, lat), (lon + 0.01, lat), (lon + 0.01, lat + 0.01), (lon, lat + 0.01), (lon, lat)]
    )
    body = (
        f'<wfs:Transaction service="WFS" version="2.0.0" {WFS20}><wfs:Insert><landcycle:zones>'
        "<landcycle:code>NZ</landcycle:code><landcycle:name>New zone</landcycle:name>"
        "<landcycle:kind>community"
        '</landcycle:kind><landcycle:geometry><gml:Polygon gml:id="z" srsName="urn:ogc:def:crs:EPSG::4490">'
        f"<gml:exterior><gml:LinearRing><gml:posList>{pos}</gml:posList></gml:LinearRing></gml:exterior>"
        "</gml:Polygon></landcycle:geometry></landcycle:zones></wfs:Insert></wfs:Transaction>"
    )
    r = await post(client, body)
    assert r.status_code == 200 and "zones." in r.text, r.text
    rest = (await client.get(f"/api/v1/parcels/{made['id']}", headers=basic("bureau"))).json()["properties"]
    assert rest["tier"] == "community"
    r = await post(client, body.replace(">NZ<", ">NZ2<"), user="officer.west")
    assert exception(r)[2].startswith("FORBIDDEN_ROLE: ")
