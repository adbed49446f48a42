"""Capabilities, GetFeature responses and exception reports validate against the OGC schemas (GML 3.2.1,
GML 3.1.1, OWS 1.1, FES 2.0; see ogc_schemas.py for where they come from and what is not covered)."""

from __future__ import annotations

import copy

import pytest
from lxml import etree

from tests.builders import BZ, CZ, create_parcel, square
from tests.wfs.helpers import NS, kvp, members, xml
from tests.wfs.ogc_schemas import compile_schema, schema_dir, wrapper


@pytest.fixture(scope="module")
def ogc():
    base = schema_dir()
    if base is None:
        pytest.skip("OGC schemas unavailable: pip could not fetch the pycsw wheel that carries them")
    return base


def _valid(schema: etree.XMLSchema, element: etree._Element) -> None:
    # A copy carrying every namespace of the document: QName values (gml:Envelope) need their prefixes.
    root = element.getroottree().getroot()
    standalone = etree.Element(
        element.tag, attrib=dict(element.attrib), nsmap={**root.nsmap, **element.nsmap}
    )
    standalone.text = element.text
    standalone.extend(copy.deepcopy(child) for child in element)
    doc = etree.ElementTree(standalone)
    assert schema.validate(doc), "\n".join(str(e) for e in schema.error_log)[:3000]


@pytest.fixture
async def some_parcels(client, city):
    from datetime import date

    from tests.contract_builders import contract, enterprise, organisation

    idle = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01), code="S-1", plot_ratio=1.5)
    # Signed in 2024 and never built on: an idle-land exit candidate (rule 7).
    await contract(client, idle["id"], await enterprise(client), await organisation(client, "310115"),
                   date(2024, 1, 1))
    await create_parcel(client, square(CZ[0] + 0.01, CZ[1] + 0.01), code="S-2")
    await create_parcel(client, square(121.36, 31.2), code="S-3", land_use="office", plot_ratio=4)


async def test_capabilities_20_sections_validate(client, city, ogc):
    root = xml(await kvp(client, request="GetCapabilities"))
    ows = wrapper(ogc, "ogc/ows/1.1.0/owsAll.xsd")
    for section in ("ServiceIdentification", "ServiceProvider", "OperationsMetadata"):
        _valid(ows, root.find(f"ows:{section}", NS))
    for ft in root.findall(".//wfs:FeatureType", NS):
        _valid(ows, ft.find("ows:WGS84BoundingBox", NS))
        _valid(ows, ft.find("ows:Keywords", NS))
    _valid(wrapper(ogc, "ogc/filter/2.0/filterAll.xsd"), root.find("fes:Filter_Capabilities", NS))


@pytest.mark.parametrize("srs", [None, "EPSG:4549", "urn:ogc:def:crs:EPSG::3857"])
async def test_get_feature_gml32_members_validate_against_the_described_schema(
    client, some_parcels, ogc, srs
):
    for type_name in ("parcels", "zones", "districts", "exit_candidates"):
        xsd = (
            await kvp(
                client, version="2.0.0", request="DescribeFeatureType", typenames=f"landcycle:{type_name}"
            )
        ).content
        schema = compile_schema(xsd, ogc)
        params = {"srsname": srs} if srs else {}
        root = xml(
            await kvp(
                client, version="2.0.0", request="GetFeature", typenames=f"landcycle:{type_name}", **params
            )
        )
        assert root.get("numberReturned") == str(len(members(root, type_name))) != "0"
        for feature in members(root, type_name):
            _valid(schema, feature)


async def test_multi_part_geometry_has_unique_gml_ids(client, city, ogc):
    from tests.builders import feature

    two = {
        "type": "MultiPolygon",
        "coordinates": [square(121.36, 31.2)["coordinates"], square(121.37, 31.2)["coordinates"]],
    }
    r = await client.post(
        "/api/v1/parcels",
        json=feature(two, code="MP-1", land_use="office"),
        headers={"Authorization": "Basic YnVyZWF1OnRlc3QtcGFzc3dvcmQ="},
    )
    assert r.status_code == 201, r.text
    schema = compile_schema(
        (
            await kvp(client, version="2.0.0", request="DescribeFeatureType", typenames="landcycle:parcels")
        ).content,
        ogc,
    )
    root = xml(await kvp(client, version="2.0.0", request="GetFeature", typenames="landcycle:parcels"))
    [feat] = members(root)
    ids = [e.get(f"{{{NS['gml']}}}id") for e in feat.iter() if e.get(f"{{{NS['gml']}}}id")]
    assert len(ids) == len(set(ids)) == 4  # feature, MultiSurface, two polygons
    # The polygons inherit the MultiSurface's srsName (a short `EPSG:4490` on them would mean lon/lat).
    assert [p.get("srsName") for p in feat.iter(f"{{{NS['gml']}}}Polygon")] == [None, None]
    _valid(schema, feat)


async def test_get_feature_gml311_members_validate(client, some_parcels, ogc):
    xsd = (
        await kvp(client, version="1.1.0", request="DescribeFeatureType", typename="landcycle:parcels")
    ).content
    schema = compile_schema(xsd, ogc)
    root = xml(await kvp(client, version="1.1.0", request="GetFeature", typename="landcycle:parcels"))
    for feature in members(root):
        _valid(schema, feature)


async def test_exception_report_validates(client, city, ogc):
    r = await kvp(client, version="2.0.0", request="GetFeature", typenames="landcycle:nope")
    _valid(wrapper(ogc, "ogc/ows/1.1.0/owsAll.xsd"), xml(r))
