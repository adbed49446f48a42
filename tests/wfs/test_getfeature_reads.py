"""How GetFeature reads (bench/RESULTS.md "WFS"): a large key-ordered page is read as key blocks by two
connections in one snapshot and answers exactly as one cursor does (members, order, counts, paging, filters,
every format); a failing statement inside a test's transaction leaves it usable."""

import re

import httpx
import pytest

from app.main import create_app
from app.wfs import getfeature
from tests.builders import BZ, basic, create_parcel, square
from tests.conftest import make_settings
from tests.wfs.helpers import NS, exception, fes, get_feature_20, kvp, members, post, xml

BUREAU = basic("bureau")
REQUESTS = {
    "GML 3.2": {"version": "2.0.0", "typenames": "landcycle:parcels"},
    "GML 3.1.1": {"version": "1.1.0", "typename": "landcycle:parcels"},
    "GML 2": {"version": "1.0.0", "typename": "landcycle:parcels"},
    "GeoJSON": {"version": "2.0.0", "typenames": "landcycle:parcels", "outputformat": "application/json"},
}


def _steady(body: bytes) -> bytes:
    """The body without its time stamp (the one part that differs between two reads)."""
    return re.sub(rb'timeStamp"?[=:]"[^"]*"', b"", body)


@pytest.mark.live
async def test_large_pages_read_on_two_connections_answer_as_one_cursor(live_db, monkeypatch):
    from tests.builders import build_city

    await build_city(live_db)
    app = create_app(make_settings(), live_db)
    blocks: list[list[tuple[int, int]]] = []
    original = getfeature.alternating
    monkeypatch.setattr(getfeature, "alternating",
                        lambda conns, keys, *a: blocks.append(list(keys)) or original(conns, keys, *a))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        ids = [(await create_parcel(http, square(BZ[0] + 0.002 * i, BZ[1] + 0.001), code=f"B-{i}"))["id"]
               for i in range(9)]
        cases = [*REQUESTS.values(),
                 {**REQUESTS["GML 3.2"], "startindex": 2, "count": 6},
                 {**REQUESTS["GeoJSON"], "startindex": 1, "count": 7},
                 {**REQUESTS["GML 3.2"], "bbox": f"{BZ[1]},{BZ[0]},{BZ[1] + 0.002},{BZ[0] + 0.011}"},
                 {**REQUESTS["GML 3.2"], "propertyname": "code,geometry", "srsname": "EPSG:4326"}]
        one_cursor = [(await kvp(http, request="GetFeature", **case)).content for case in cases]
        assert blocks == []
        monkeypatch.setattr(getfeature, "_BLOCK_ROWS", 2)  # a few blocks from a handful of parcels
        two_connections = [(await kvp(http, request="GetFeature", **case)).content for case in cases]
    assert len(blocks) == len(cases) and all(len(b) >= 2 for b in blocks)  # every case ran in blocks
    # the whole layer: ranges of 2 keys from the lowest to the highest (no bounds query)
    assert blocks[0] == [(lo, min(lo + 2, ids[-1] + 1)) for lo in range(ids[0], ids[-1] + 1, 2)]
    assert blocks[4] == [(ids[2], ids[4]), (ids[4], ids[6]), (ids[6], ids[7] + 1)]  # a page: its own keys
    for case, cursor_body, blocks_body in zip(cases, one_cursor, two_connections, strict=True):
        assert _steady(blocks_body) == _steady(cursor_body), case
    full = xml_of(two_connections[0])
    assert [m.get(f"{{{NS['gml']}}}id") for m in members(full)] == [f"parcels.{i}" for i in ids]
    assert (full.get("numberMatched"), full.get("numberReturned")) == ("9", "9")
    page = xml_of(two_connections[4])
    assert [m.get(f"{{{NS['gml']}}}id") for m in members(page)] == [f"parcels.{i}" for i in ids[2:8]]
    assert (page.get("numberMatched"), page.get("numberReturned")) == ("9", "6")
    assert "STARTINDEX=8" in page.get("next")


def xml_of(body: bytes):
    from lxml import etree

    return etree.fromstring(body)


async def test_a_failing_statement_leaves_the_test_transaction_usable(client, city):
    await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01), code="S-1")
    huge = fes("<fes:PropertyIsGreaterThan><fes:ValueReference>plot_ratio</fes:ValueReference>"
               "<fes:Literal>1e300</fes:Literal></fes:PropertyIsGreaterThan>")
    r = await post(client, get_feature_20("landcycle:parcels", huge))
    assert (r.status_code, exception(r)[0]) == (400, "InvalidParameterValue"), r.text
    assert exception(r)[2] == "VALIDATION_ERROR: a value is out of range or malformed for its field"
    r = await kvp(client, version="2.0.0", request="GetFeature", typenames="landcycle:parcels")
    assert r.status_code == 200 and len(members(xml(r))) == 1
