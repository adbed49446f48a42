"""WFS limits: resource-id counts are capped, only XML is accepted by POST (no forged Transactions from a
browser form), and a bad filter literal or a slow query is a 400 / 503, never a 500 or "unreachable"."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.db import Database, create_engine
from app.main import create_app
from tests.builders import basic, build_city, create_parcel, square
from tests.conftest import TEST_URL, make_settings
from tests.wfs.helpers import exception, fes, get_feature_20, kvp, members, post, xml

WFS_NS = 'xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:fes="http://www.opengis.net/fes/2.0"'


@pytest.fixture
async def parcels(client, city):
    """Four parcels in the west district."""
    return [await create_parcel(client, square(121.36 + i * 0.003, 31.2), code=f"L-{i}") for i in range(4)]


def rids(made: list[dict]) -> list[str]:
    return [f"parcels.{p['id']}" for p in made]


# ------------------------------------------------------------------------------------------ resource ids
async def test_kvp_resource_ids_above_the_cap_are_refused(client, app, parcels):
    app.state.settings = make_settings(wfs_max_resource_ids=3)
    ok = await kvp(client, request="GetFeature", version="2.0.0", resourceId=",".join(rids(parcels)[:3]))
    assert ok.status_code == 200 and len(members(xml(ok))) == 3
    over = await kvp(client, request="GetFeature", version="2.0.0", resourceId=",".join(rids(parcels)))
    code, locator, message = exception(over)
    assert over.status_code == 400 and code == "InvalidParameterValue" and locator == "resourceId"
    assert "at most 3" in message


async def test_the_default_cap_is_ten_thousand(client, city, settings):
    assert settings.wfs_max_resource_ids == 10_000
    ids = "".join(f'<fes:ResourceId rid="parcels.{n}"/>' for n in range(1, 10_002))
    over = await post(client, get_feature_20("landcycle:parcels", fes(ids)))
    assert over.status_code == 400 and "10,001" in exception(over)[2]


async def test_xml_resource_ids_are_counted_wherever_they_stand(client, app, parcels):
    app.state.settings = make_settings(wfs_max_resource_ids=3)
    top = "".join(f'<fes:ResourceId rid="{r}"/>' for r in rids(parcels))
    nested = "<fes:Or>" + "".join(f'<fes:ResourceId rid="{r}"/>' for r in rids(parcels)) + "</fes:Or>"
    for inner in (top, nested):
        r = await post(client, get_feature_20("landcycle:parcels", fes(inner)))
        assert r.status_code == 400 and exception(r)[0] == "InvalidParameterValue", r.text
    three = "".join(f'<fes:ResourceId rid="{r}"/>' for r in rids(parcels)[:3])
    assert len(members(xml(await post(client, get_feature_20("landcycle:parcels", fes(three)))))) == 3


async def test_feature_ids_of_wfs_1_1_and_a_transaction_are_capped_too(client, app, parcels):
    app.state.settings = make_settings(wfs_max_resource_ids=3)
    fids = "".join(f'<ogc:FeatureId fid="{r}"/>' for r in rids(parcels))
    get_11 = ('<wfs:GetFeature service="WFS" version="1.1.0" xmlns:wfs="http://www.opengis.net/wfs" '
              'xmlns:ogc="http://www.opengis.net/ogc"><wfs:Query typeName="landcycle:parcels">'
              f'<ogc:Filter>{fids}</ogc:Filter></wfs:Query></wfs:GetFeature>')
    assert (await post(client, get_11)).status_code == 400
    delete = ('<wfs:Transaction service="WFS" version="1.1.0" xmlns:wfs="http://www.opengis.net/wfs" '
              'xmlns:ogc="http://www.opengis.net/ogc"><wfs:Delete typeName="landcycle:parcels">'
              f'<ogc:Filter>{fids}</ogc:Filter></wfs:Delete></wfs:Transaction>')
    refused = await post(client, delete)
    assert refused.status_code == 400 and exception(refused)[0] == "InvalidParameterValue"
    listed = await client.get("/api/v1/parcels", headers=basic("bureau"))
    assert listed.json()["numberMatched"] == 4  # nothing deleted


# ------------------------------------------------------------------------------------------ XML only
def delete_all(made: list[dict]) -> str:
    ids = "".join(f'<fes:ResourceId rid="{r}"/>' for r in rids(made))
    return (f'<wfs:Transaction service="WFS" version="2.0.0" {WFS_NS}>'
            f'<wfs:Delete typeName="landcycle:parcels"><fes:Filter>{ids}</fes:Filter></wfs:Delete>'
            "</wfs:Transaction>")


@pytest.mark.parametrize("content_type", [
    "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", None,
])
async def test_a_post_that_is_not_xml_is_refused_so_a_browser_form_cannot_forge_a_transaction(
        client, parcels, content_type):
    headers = basic("bureau")  # the credentials a browser would have cached
    if content_type:
        headers["Content-Type"] = content_type
    r = await client.post("/wfs", content=delete_all(parcels).encode(), headers=headers)
    _, locator, message = exception(r)
    assert r.status_code == 415 and locator == "Content-Type" and "text/xml" in message
    listed = await client.get("/api/v1/parcels", headers=basic("bureau"))
    assert listed.json()["numberMatched"] == 4


@pytest.mark.parametrize("content_type", ["text/xml", "application/xml; charset=UTF-8", "text/xml; subtype=gml/3.2"])
async def test_the_xml_types_qgis_gdal_and_owslib_send_are_accepted(client, parcels, content_type):
    r = await client.post("/wfs", content=get_feature_20("landcycle:parcels").encode(),
                          headers={**basic("bureau"), "Content-Type": content_type})
    assert r.status_code == 200 and len(members(xml(r))) == 4, r.text


# ------------------------------------------------------------------------------------------ database errors
@pytest.mark.parametrize("prop, literal", [
    ("id", "99999999999999999999"),  # beyond int8: asyncpg refuses to encode it
    ("plot_ratio", "1e1000000"),  # beyond PostgreSQL's numeric
    ("plot_ratio", "abc"),
])
async def test_a_filter_literal_the_database_cannot_take_is_invalid_parameter_value(client, parcels, prop, literal):
    flt = fes(f"<fes:PropertyIsEqualTo><fes:ValueReference>{prop}</fes:ValueReference>"
              f"<fes:Literal>{literal}</fes:Literal></fes:PropertyIsEqualTo>")
    r = await post(client, get_feature_20("landcycle:parcels", flt))
    code, _, message = exception(r)
    assert r.status_code == 400 and code == "InvalidParameterValue", r.text
    assert "not reachable" not in message


async def test_a_rest_filter_value_beyond_int8_is_a_validation_error_not_unreachable(client, parcels):
    r = await client.get("/api/v1/parcels", params={"zone_id": "99999999999999999999"}, headers=basic("bureau"))
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR"), r.text


@pytest.fixture
async def slow(live_db):
    """An app whose statements time out after 300 ms, over a committed city; and a connection of our own."""
    await build_city(live_db)
    setup = create_app(make_settings(), live_db)  # the parcel is written without the short timeout
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=setup), base_url="http://t") as http:
        await create_parcel(http, square(121.36, 31.2), code="SLOW-1")
    settings = make_settings(db_statement_timeout_ms=300)
    database = Database(create_engine(settings), settings)
    app = create_app(settings, database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http, live_db
    await database.dispose()


@pytest.mark.live
@pytest.mark.parametrize("path, params", [
    ("/wfs", {"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": "landcycle:parcels"}),
    ("/api/v1/parcels", {"limit": "5"}),
    ("/tiles/parcels/14/13715/6696.mvt", {}),
])
async def test_a_statement_timeout_on_a_read_is_503_with_retry_after(slow, path, params):
    client, _ = slow
    locked, release = asyncio.Event(), asyncio.Event()

    engine = create_async_engine(TEST_URL, poolclass=NullPool)

    async def hold() -> None:
        async with engine.connect() as conn:  # the parcel table locked: every read of it waits, then times out
            await conn.execute(text("LOCK TABLE parcel IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            await release.wait()
            await conn.rollback()

    holder = asyncio.create_task(hold())
    try:
        await asyncio.wait_for(locked.wait(), 10)
        r = await asyncio.wait_for(client.get(path, params=params, headers=basic("bureau")), 30)
    finally:
        release.set()
        await holder
        await engine.dispose()
    assert r.status_code == 503, r.text
    assert int(r.headers["retry-after"]) > 0
    body = r.text
    assert "took too long" in body and "not reachable" not in body
