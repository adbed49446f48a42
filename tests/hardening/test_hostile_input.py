"""Hostile input on /wfs and REST: entities, billion laughs, deep nesting, huge documents,
attribute floods, deep filters, and injection payloads in every place a client can put text. Each is
refused with an OWS exception (or problem+json), reads no file, and leaves the database as it was."""

import pytest
from sqlalchemy import text

from tests.builders import BZ, basic, create_parcel, square
from tests.wfs.helpers import exception, fes, get_feature_20, kvp, members, post, xml

WFS = 'xmlns:wfs="http://www.opengis.net/wfs/2.0"'


async def _intact(conn, expected: int) -> None:
    assert (await conn.execute(text("SELECT count(*) FROM parcel WHERE valid_to IS NULL"))).scalar() == expected
    assert (await conn.execute(text("SELECT to_regclass('parcel') IS NOT NULL"))).scalar()


@pytest.fixture
async def two_parcels(client, city):
    return [await create_parcel(client, square(BZ[0] + 0.01 * i, BZ[1] + 0.01), code=f"H-{i}") for i in range(2)]


@pytest.mark.parametrize("body", [
    # XXE: a local file and a URL
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    f'<wfs:GetFeature service="WFS" version="2.0.0" {WFS}><wfs:Query typeNames="landcycle:parcels">&e;'
    '</wfs:Query></wfs:GetFeature>',
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:1/x">]><x>&e;</x>',
    # billion laughs
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + ']><lolz>&lol9;</lolz>',
    # parameter entities
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/hostname"> %p;]><x/>',
])
async def test_entities_and_dtds_are_refused_without_reading_anything(client, two_parcels, conn, body):
    r = await post(client, body)
    assert r.status_code == 400
    code, _, _message = exception(r)
    assert code == "OperationParsingFailed"
    assert "root:" not in r.text and "lollollol" not in r.text
    await _intact(conn, 2)


async def test_deeply_nested_xml_is_refused(client, two_parcels, conn):
    body = f'<wfs:GetFeature service="WFS" version="2.0.0" {WFS}>' + "<a>" * 500 + "</a>" * 500 + "</wfs:GetFeature>"
    r = await post(client, body)
    assert r.status_code == 400 and exception(r)[0] == "OperationParsingFailed"


async def test_a_filter_with_too_many_predicates_is_refused(client, two_parcels, conn):
    one = ("<fes:PropertyIsEqualTo><fes:ValueReference>code</fes:ValueReference>"
           "<fes:Literal>x</fes:Literal></fes:PropertyIsEqualTo>")
    r = await post(client, get_feature_20("landcycle:parcels", fes("<fes:Or>" + one * 300 + "</fes:Or>")))
    assert r.status_code == 400
    code, _locator, message = exception(r)
    assert code == "InvalidParameterValue" and "predicates" in message


async def test_an_attribute_flood_is_handled_without_harm(client, two_parcels, conn):
    attrs = " ".join(f'a{i}="{i}"' for i in range(20_000))
    r = await post(client, f'<wfs:GetFeature service="WFS" version="2.0.0" {WFS} {attrs}>'
                           '<wfs:Query typeNames="landcycle:parcels"/></wfs:GetFeature>')
    assert r.status_code == 200, r.text  # attributes on the request element are ignored, not refused
    assert len(members(xml(r))) == 2
    await _intact(conn, 2)


async def test_a_huge_wfs_document_is_refused_before_parsing(client, two_parcels, conn):
    from app.wfs import xmlsafe

    body = f'<wfs:GetFeature service="WFS" version="2.0.0" {WFS}><!--' + "x" * (xmlsafe.MAX_BODY_BYTES + 10) + "-->"
    r = await post(client, body + "</wfs:GetFeature>")
    # refused at the edge, before any XML parsing, as the ExceptionReport a WFS client reads
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("text/xml")
    assert exception(r)[0] == "OperationParsingFailed" and "limit" in exception(r)[2]


INJECTIONS = ["code; DROP TABLE parcel--", "code' OR '1'='1", "1); DELETE FROM parcel; --",
              "pg_sleep(10)", "(SELECT password_hash FROM app_user)", "code\x00; DROP TABLE parcel"]


@pytest.mark.parametrize("payload", INJECTIONS)
async def test_injection_through_property_names_is_refused(client, two_parcels, conn, payload):
    flt = fes(f"<fes:PropertyIsEqualTo><fes:ValueReference>{payload.replace(chr(0), '')}</fes:ValueReference>"
              "<fes:Literal>x</fes:Literal></fes:PropertyIsEqualTo>")
    r = await post(client, get_feature_20("landcycle:parcels", flt))
    assert r.status_code == 400 and exception(r)[0] == "InvalidParameterValue"
    for param in ("sortby", "propertyname"):
        r = await kvp(client, service="WFS", version="2.0.0", request="GetFeature", typenames="landcycle:parcels",
                      **{param: payload})
        assert r.status_code == 400, (param, r.text)
    await _intact(conn, 2)


@pytest.mark.parametrize("payload", INJECTIONS)
async def test_injection_through_literals_is_just_a_value(client, two_parcels, conn, payload):
    flt = fes("<fes:PropertyIsEqualTo><fes:ValueReference>code</fes:ValueReference>"
              f"<fes:Literal>{payload.replace(chr(0), '')}</fes:Literal></fes:PropertyIsEqualTo>")
    r = await post(client, get_feature_20("landcycle:parcels", flt))
    assert r.status_code == 200 and members(xml(r)) == []
    await _intact(conn, 2)


@pytest.mark.parametrize("payload", INJECTIONS)
async def test_injection_through_rest_filters_is_refused_or_harmless(client, two_parcels, conn, payload):
    for name, status, code in (("district_code", 422, "VALIDATION_ERROR"), ("tier", 422, "VALIDATION_ERROR"),
                               ("bbox", 422, "VALIDATION_ERROR"), ("crs", 400, "CRS_UNSUPPORTED"),
                               ("as_of", 422, "VALIDATION_ERROR")):
        r = await client.get("/api/v1/parcels", params={name: payload}, headers=basic("bureau"))
        assert (r.status_code, r.json()["code"]) == (status, code), (name, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    await _intact(conn, 2)
