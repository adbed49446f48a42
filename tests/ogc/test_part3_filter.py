"""OGC API – Features Part 3 (OGC 19-079r2) and CQL2 (OGC 21-065r2), Annex A, requirement by requirement,
through /ogc on the small city of tests/ogc/conftest.py: queryables (/conf/queryables/...), the filter
parameters (/conf/filter/..., /conf/features-filter/...), and the CQL2 classes the server declares
(/conf/basic-cql2/..., /conf/advanced-comparison-operators/..., /conf/case-insensitive-comparison/...,
/conf/basic-spatial-functions/..., /conf/spatial-functions/..., /conf/temporal-functions/...). Each
test's docstring starts with its abstract test id; the expected features come from the REST bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jsonschema_rs
import pytest
from pyproj import Transformer

from app.ogc.cql2 import CQL2_CLASSES
from tests.builders import BZ, create_parcel
from tests.ogc.conftest import BUREAU, OGC, OgcCity, get, rel

CRS_4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
CRS_4549 = "http://www.opengis.net/def/crs/EPSG/0/4549"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
PROBLEM = "application/problem+json"


async def matched(client: httpx.AsyncClient, filter_: str | dict[str, Any], collection: str = "parcels",
                  **params: Any) -> list[Any]:
    """The ids of every feature the filter selects (cql2-json when given a dict), across all pages."""
    if isinstance(filter_, dict):
        params.update(filter=json.dumps(filter_), filter_lang="cql2-json")
    else:
        params["filter"] = filter_
    got = await get(client, f"/collections/{collection}/items", limit=100, **params)
    assert got.status_code == 200, got.text
    body = got.json()
    ids = [f["id"] for f in body["features"]]
    while nxt := rel(body, "next"):
        body = (await client.get(nxt[0]["href"], headers=BUREAU)).json()
        ids += [f["id"] for f in body["features"]]
    return ids


async def refusal(client: httpx.AsyncClient, status: int = 400, collection: str = "parcels",
                  **params: Any) -> dict[str, Any]:
    """The problem+json of a refused items request."""
    got = await get(client, f"/collections/{collection}/items", **params)
    assert got.status_code == status, got.text
    assert got.headers["content-type"] == PROBLEM
    return got.json()


def everything(city: OgcCity) -> list[int]:
    return [p["id"] for p in city.parcels]


def by_code(city: OgcCity, *codes: str) -> list[int]:
    return [p["id"] for p in city.parcels if p["properties"]["code"] in codes]


def inside(city: OgcCity, code: str) -> tuple[float, float]:
    """A point well inside the parcel `code` (its square's centre), lon/lat."""
    ring = next(p for p in city.parcels if p["properties"]["code"] == code)["geometry"]["coordinates"][0][0]
    xs, ys = [c[0] for c in ring], [c[1] for c in ring]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


# ------------------------------------------------------------------------------------------------ classes
async def test_conf_filter_conformance_declares_the_cql2_classes(client, ogc_city):
    """19-079r2 /conf/filter + /conf/features-filter, 21-065r2 /conf/cql2-text, /conf/cql2-json: /conformance
    lists Part 3's classes, every CQL2 class implemented, and the draft basic-spatial-operators name."""
    conforms = (await get(client, "/conformance")).json()["conformsTo"]
    assert set(CQL2_CLASSES) <= set(conforms)
    assert "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-operators" in conforms


# ------------------------------------------------------------------------------------------------ queryables
async def test_conf_queryables_get_queryables_uris(client, ogc_city):
    """/conf/queryables/get-queryables-uris: each collection links its queryables (rel …/queryables)."""
    for cid in ("parcels", "zones", "districts"):
        doc = (await get(client, f"/collections/{cid}")).json()
        links = rel(doc, "http://www.opengis.net/def/rel/ogc/1.0/queryables")
        assert links and links[0]["type"] == "application/schema+json"
        got = await client.get(links[0]["href"], headers=BUREAU)
        assert got.status_code == 200 and got.headers["content-type"].startswith("application/schema+json")


async def test_conf_queryables_get_queryables_response(client, ogc_city):
    """/conf/queryables/get-queryables-response: a JSON Schema 2020-12 object with its own URL as $id,
    the whitelist's properties typed as the features carry them, and the geometry."""
    url = "http://testserver/ogc/collections/parcels/queryables"
    doc = (await client.get(url, headers=BUREAU)).json()
    assert jsonschema_rs.meta.is_valid(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema" and doc["$id"] == url
    assert doc["type"] == "object" and doc["additionalProperties"] is False
    props = doc["properties"]
    assert props["geometry"]["format"] == "geometry-multipolygon"
    feature = (await get(client, "/collections/parcels/items", limit=1)).json()["features"][0]
    python = {"integer": int, "number": (int, float), "string": str, "boolean": bool}
    for name, value in feature["properties"].items():
        assert name in props, name
        if value is not None:
            assert isinstance(value, python[props[name]["type"]]), name


async def test_conf_queryables_every_queryable_can_be_filtered_on(client, ogc_city):
    """/conf/queryables/queryables-filter (19-079r2 /req/queryables/...): each property the schema lists is
    accepted in a filter, on every collection (one whitelist for the schema and the compiler)."""
    samples = {"string": "'x'", "integer": "1", "number": "1.5", "boolean": "TRUE"}
    for cid in ("parcels", "zones", "districts"):
        schema = (await get(client, f"/collections/{cid}/queryables")).json()
        for name, prop in schema["properties"].items():
            if name == "geometry":
                text = "S_INTERSECTS(geometry, POINT(121.5 31.1))"
            elif prop.get("format") == "date-time":
                text = f"{name} < TIMESTAMP('2000-01-01T00:00:00Z')"
            else:
                text = f"{name} = {samples[prop['type']]} OR {name} IS NULL"
            got = await get(client, f"/collections/{cid}/items", filter=text)
            assert got.status_code == 200, (cid, name, got.text)


# ------------------------------------------------------------------------------------------------ filter
async def test_conf_filter_filter_param(client, ogc_city):
    """/conf/filter/filter-param: `filter` selects the features it describes; numberMatched counts them."""
    industrial = ogc_city.ids(land_use="industrial")
    assert 0 < len(industrial) < len(ogc_city.parcels)
    assert await matched(client, "land_use = 'industrial'") == industrial
    body = (await get(client, "/collections/parcels/items", filter="land_use = 'industrial'", limit=2)).json()
    assert body["numberMatched"] == len(industrial) and body["numberReturned"] == 2


async def test_conf_filter_filter_lang_default_is_cql2_text_and_cql2_json_agrees(client, ogc_city):
    """/conf/filter/filter-lang-default: without filter-lang the filter is cql2-text; the same filter in
    cql2-json (filter-lang=cql2-json) selects the same features."""
    text = "land_use = 'rnd' OR plot_ratio > 3"
    same = {"op": "or", "args": [{"op": "=", "args": [{"property": "land_use"}, "rnd"]},
                                 {"op": ">", "args": [{"property": "plot_ratio"}, 3]}]}
    expected = [p["id"] for p in ogc_city.parcels
                if p["properties"]["land_use"] == "rnd" or p["properties"]["plot_ratio"] > 3]
    assert await matched(client, text) == expected == await matched(client, same)
    assert await matched(client, text, filter_lang="cql2-text") == expected
    # the drafts' name, which GDAL's OAPIF driver sends a -where as
    assert await matched(client, text, filter_lang="cql-text") == expected


async def test_conf_filter_filter_lang_unknown_is_400(client, ogc_city):
    """/req/filter/filter-lang-param: a language the server does not offer is refused."""
    problem = await refusal(client, filter="code = 'x'", filter_lang="ecql")
    assert problem["code"] == "VALIDATION_ERROR" and "filter-lang" in problem["detail"]


async def test_conf_filter_filter_crs_wgs84_is_the_default(client, ogc_city):
    """/conf/filter/filter-crs-wgs84: without filter-crs a geometry literal is CRS84, longitude first."""
    lon, lat = inside(ogc_city, "OGC-B2")
    assert await matched(client, f"S_INTERSECTS(geometry, POINT({lon} {lat}))") == by_code(ogc_city, "OGC-B2")
    crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert await matched(client, f"S_INTERSECTS(geometry, POINT({lon} {lat}))", **{"filter-crs": crs84}) == (
        by_code(ogc_city, "OGC-B2"))


@pytest.mark.parametrize("crs", [CRS_4490, CRS_4549, CRS_3857])
async def test_conf_filter_filter_crs_param(client, ogc_city, crs):
    """/conf/filter/filter-crs-param: literals in any listed CRS, in the axis order of its URI (latitude or
    northing first for EPSG:4490 and EPSG:4549, as QGIS sends them; easting first for EPSG:3857)."""
    lon, lat = inside(ogc_city, "OGC-C1")
    srid = int(crs.rsplit("/", 1)[1])
    first, second = Transformer.from_crs(4490, srid).transform(lat, lon)  # EPSG axis order
    point = f"POINT({first} {second})"
    assert await matched(client, f"S_INTERSECTS(geometry, {point})", **{"filter-crs": crs}) == (
        by_code(ogc_city, "OGC-C1"))


async def test_conf_filter_filter_crs_param_unknown_crs_is_400(client, ogc_city):
    """/req/filter/filter-crs-param: a CRS the collection does not list is CRS_UNSUPPORTED (400)."""
    problem = await refusal(client, filter="S_INTERSECTS(geometry, POINT(1 2))", **{"filter-crs": "EPSG:9999"})
    assert problem["code"] == "CRS_UNSUPPORTED"


async def test_conf_features_filter_response_combines_with_the_other_parameters(client, ogc_city):
    """/conf/features-filter/response: filter ANDs with bbox, datetime and the property filters, and the
    next links carry it, so paging walks exactly the filtered features."""
    east = [p["id"] for p in ogc_city.parcels if p["geometry"]["coordinates"][0][0][0][0] > 121.5]
    industrial_east = [i for i in east if i in ogc_city.ids(land_use="industrial")]
    bbox = "121.5,30.95,121.7,31.25"
    assert await matched(client, "land_use = 'industrial'", bbox=bbox) == industrial_east
    assert await matched(client, "plot_ratio < 2", bbox=bbox, land_use="industrial") == industrial_east
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    assert await matched(client, "land_use = 'industrial'", bbox=bbox, datetime=now) == industrial_east
    page = (await get(client, "/collections/parcels/items", filter="land_use = 'industrial'", limit=1)).json()
    assert "filter=" in rel(page, "next")[0]["href"]
    walked = []
    while True:
        walked += [f["id"] for f in page["features"]]
        if not rel(page, "next"):
            break
        page = (await client.get(rel(page, "next")[0]["href"], headers=BUREAU)).json()
    assert walked == ogc_city.ids(land_use="industrial")


async def test_conf_filter_filter_on_html_and_other_collections(client, ogc_city):
    """/conf/filter/filter-param on every collection and in the HTML encoding."""
    assert await matched(client, f"zone_id = {ogc_city.base_zone_id}") == [
        p["id"] for p in ogc_city.parcels if p["properties"]["zone_id"] == ogc_city.base_zone_id]
    assert await matched(client, "kind = 'base'", collection="zones") == [ogc_city.base_zone_id]
    assert await matched(client, "S_CONTAINS(geometry, POINT(121.6 31.0))", collection="districts") == ["310115"]
    page = await get(client, "/collections/parcels/items", filter="code = 'OGC-B1'", f="html")
    assert page.status_code == 200 and "OGC-B1" in page.text and "OGC-B2" not in page.text


# ------------------------------------------------------------------------------------------------ basic
async def test_conf_basic_cql2_comparison(client, ogc_city):
    """/conf/basic-cql2/comparison: = and <> are disjoint, < and >= too, and together hold every feature
    with a value; each matches what the REST bodies say."""
    ratios = {p["id"]: p["properties"]["plot_ratio"] for p in ogc_city.parcels}
    ops = {"=": lambda v: v == 1.2, "<>": lambda v: v != 1.2, "<": lambda v: v < 1.2, "<=": lambda v: v <= 1.2,
           ">": lambda v: v > 1.2, ">=": lambda v: v >= 1.2}
    found = {}
    for op, test in ops.items():
        found[op] = await matched(client, f"plot_ratio {op} 1.2")
        assert found[op] == [i for i, v in ratios.items() if test(v)], op
    assert not set(found["="]) & set(found["<>"]) and set(found["="]) | set(found["<>"]) == set(ratios)
    assert not set(found["<"]) & set(found[">="]) and set(found["<"]) | set(found[">="]) == set(ratios)
    # strings, integers, booleans, timestamps, and the literal on the left
    assert await matched(client, "'OGC-O1' = code") == by_code(ogc_city, "OGC-O1")
    first = ogc_city.parcels[0]["id"]
    assert await matched(client, f"id <= {first}") == [first]
    assert await matched(client, "planning_locked = FALSE") == ogc_city.ids(planning_locked=False)
    assert await matched(client, "valid_from < TIMESTAMP('2000-01-01T00:00:00Z')") == []


async def test_conf_basic_cql2_is_null(client, ogc_city):
    """/conf/basic-cql2/is-null: IS NULL and IS NOT NULL are disjoint and hold every feature."""
    null = await matched(client, "zone_id IS NULL")
    not_null = await matched(client, "zone_id IS NOT NULL")
    assert null == ogc_city.ids(zone_id=None) and sorted(null + not_null) == everything(ogc_city)
    assert await matched(client, "valid_to IS NULL") == everything(ogc_city)  # all current versions


async def test_conf_basic_cql2_boolean(client, ogc_city):
    """/conf/basic-cql2/boolean: TRUE selects every feature, FALSE none; a boolean property is a condition."""
    assert await matched(client, "TRUE") == everything(ogc_city)
    assert await matched(client, "FALSE") == []
    assert await matched(client, "NOT planning_locked") == ogc_city.ids(planning_locked=False)


async def test_conf_basic_cql2_logical(client, ogc_city):
    """/conf/basic-cql2/logical: (NOT (p2) AND p1) OR (p3 AND p4) OR NOT (p1 OR p4) as sets."""
    p = {1: "land_use = 'industrial'", 2: "plot_ratio > 1", 3: "code = 'OGC-O1'", 4: "zone_id IS NULL"}
    sets = {k: set(await matched(client, v)) for k, v in p.items()}
    every = set(everything(ogc_city))
    expected = ((every - sets[2]) & sets[1]) | (sets[3] & sets[4]) | (every - (sets[1] | sets[4]))
    combined = f"(NOT ({p[2]}) AND ({p[1]})) OR (({p[3]}) and ({p[4]})) or not (({p[1]}) OR ({p[4]}))"
    assert set(await matched(client, combined)) == expected


async def test_literals_are_parameters_not_sql(client, ogc_city):
    """A string literal is a value however it is quoted: nothing of it runs as SQL."""
    assert await matched(client, "code = 'x'' OR ''1''=''1'") == []
    assert await matched(client, "code = 'OGC-B1''; DELETE FROM parcel; --'") == []
    assert await matched(client, "TRUE") == everything(ogc_city)


# ------------------------------------------------------------------------------------------------ advanced
async def test_conf_advanced_comparison_operators_like(client, ogc_city):
    """/conf/advanced-comparison-operators/like: % and _; NOT LIKE is the complement."""
    b = by_code(ogc_city, "OGC-B1", "OGC-B2", "OGC-B3")
    assert await matched(client, "code LIKE 'OGC-B%'") == b
    assert await matched(client, "code LIKE 'OGC-_1'") == by_code(ogc_city, "OGC-B1", "OGC-C1", "OGC-F1", "OGC-O1")
    assert await matched(client, "code NOT LIKE 'OGC-B%'") == [i for i in everything(ogc_city) if i not in b]
    assert await matched(client, "code LIKE 'ogc-b%'") == []  # LIKE is case-sensitive


async def test_conf_advanced_comparison_operators_between(client, ogc_city):
    """/conf/advanced-comparison-operators/between: ends included."""
    assert await matched(client, "plot_ratio BETWEEN 1.2 AND 4") == everything(ogc_city)
    assert await matched(client, "plot_ratio BETWEEN 2 AND 4") == ogc_city.ids(land_use="office")
    assert await matched(client, "plot_ratio NOT BETWEEN 2 AND 4") == [
        i for i in everything(ogc_city) if i not in ogc_city.ids(land_use="office")]


async def test_conf_advanced_comparison_operators_in(client, ogc_city):
    """/conf/advanced-comparison-operators/in: strings and integers."""
    assert await matched(client, "land_use IN ('rnd', 'office')") == [
        p["id"] for p in ogc_city.parcels if p["properties"]["land_use"] in ("rnd", "office")]
    two = everything(ogc_city)[:2]
    assert await matched(client, f"id IN ({two[0]}, {two[1]}, 999999)") == two
    assert await matched(client, f"id NOT IN ({two[0]}, {two[1]})") == everything(ogc_city)[2:]


async def test_conf_case_insensitive_comparison_casei_and_casei_like(client, ogc_city):
    """/conf/case-insensitive-comparison/casei, /casei-like: CASEI on both sides ignores case."""
    assert await matched(client, "CASEI(code) = casei('ogc-b1')") == by_code(ogc_city, "OGC-B1")
    assert await matched(client, "CASEI(code) LIKE casei('ogc-c%')") == by_code(ogc_city, "OGC-C1", "OGC-C2")
    assert await matched(client, "CASEI(land_use) IN (casei('OFFICE'))") == ogc_city.ids(land_use="office")


# ------------------------------------------------------------------------------------------------ spatial
async def test_conf_basic_spatial_functions_point_and_bbox(client, ogc_city):
    """/conf/basic-spatial-functions/test-data: S_INTERSECTS with POINT and BBOX literals."""
    lon, lat = inside(ogc_city, "OGC-F1")
    assert await matched(client, f"S_INTERSECTS(geometry, POINT({lon} {lat}))") == by_code(ogc_city, "OGC-F1")
    in_base = by_code(ogc_city, "OGC-B1", "OGC-B2", "OGC-B3")
    assert await matched(client, f"S_INTERSECTS(geometry, BBOX({', '.join(map(str, BZ))}))") == in_base
    # QGIS's form: quoted names, BBOX in the layer CRS's axis order with filter-crs.
    lat_lon = f"{BZ[1]},{BZ[0]},{BZ[3]},{BZ[2]}"
    assert await matched(client, f'S_INTERSECTS("geometry",BBOX({lat_lon}))', **{"filter-crs": CRS_4490}) == in_base


async def test_conf_spatial_functions(client, ogc_city):
    """/conf/spatial-functions/test-data: S_CONTAINS, S_WITHIN, S_DISJOINT, S_EQUALS, S_TOUCHES,
    S_OVERLAPS, S_CROSSES against the parcels of the city (GeoJSON literals in cql2-json)."""
    lon, lat = inside(ogc_city, "OGC-B1")
    base = f"POLYGON(({BZ[0]} {BZ[1]},{BZ[2]} {BZ[1]},{BZ[2]} {BZ[3]},{BZ[0]} {BZ[3]},{BZ[0]} {BZ[1]}))"
    in_base = by_code(ogc_city, "OGC-B1", "OGC-B2", "OGC-B3")
    assert await matched(client, f"S_CONTAINS(geometry, POINT({lon} {lat}))") == by_code(ogc_city, "OGC-B1")
    assert await matched(client, f"S_WITHIN(geometry, {base})") == in_base
    assert await matched(client, f"S_DISJOINT(geometry, {base})") == [i for i in everything(ogc_city)
                                                                       if i not in in_base]
    # A parcel with coordinates the literals repeat exactly (output is rounded to ~1 cm, storage is not).
    x0, y0, x1, y1 = 121.66, 31.2, 121.661, 31.201
    exact = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}
    made = (await create_parcel(client, exact, code="OGC-EQ"))["id"]
    assert await matched(client, {"op": "s_equals", "args": [{"property": "geometry"}, exact]}) == [made]
    # A square sharing its east edge touches it; one over its east half overlaps it; a line crosses it.
    mid, far = (x0 + x1) / 2, x1 + 0.001
    east = f"POLYGON(({x1} {y0},{far} {y0},{far} {y1},{x1} {y1},{x1} {y0}))"
    half = f"POLYGON(({mid} {y0},{far} {y0},{far} {y1},{mid} {y1},{mid} {y0}))"
    assert await matched(client, f"S_TOUCHES(geometry, {east})") == [made]
    assert await matched(client, f"S_OVERLAPS(geometry, {half})") == [made]
    ymid = (y0 + y1) / 2
    assert await matched(client, f"S_CROSSES(geometry, LINESTRING({x0 - 0.001} {ymid}, {mid} {ymid}))") == [made]
    assert await matched(client, f"S_INTERSECTS(geometry, LINESTRING({far} {ymid}, {far + 0.001} {ymid}))") == []


async def test_conf_spatial_functions_logical(client, ogc_city):
    """/conf/spatial-functions/logical: spatial and scalar predicates combined."""
    base = f"BBOX({', '.join(map(str, BZ))})"
    assert await matched(client, f"S_INTERSECTS(geometry, {base}) AND land_use = 'rnd'") == by_code(ogc_city, "OGC-B3")
    assert await matched(client, f"NOT S_INTERSECTS(geometry, {base}) AND code LIKE 'OGC-C%'") == (
        by_code(ogc_city, "OGC-C1", "OGC-C2"))


async def test_invalid_geometry_literals_are_400_not_500(client, ogc_city):
    """A literal PostGIS would raise on (self-intersecting, unclosed, off the globe) is refused first."""
    for literal in ("POLYGON((121 31,122 32,122 31,121 32,121 31))", "POINT(200 95)", "POINT EMPTY"):
        problem = await refusal(client, filter=f"S_INTERSECTS(geometry, {literal})")
        assert problem["code"] == "VALIDATION_ERROR", literal
    unclosed = {"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": [
        [[121, 31], [122, 31], [122, 32], [121, 32]]]}]}
    problem = await refusal(client, filter=json.dumps(unclosed), filter_lang="cql2-json")
    assert "not closed" in problem["detail"]


# ------------------------------------------------------------------------------------------------ temporal
async def test_conf_temporal_functions_over_the_versions(client, ogc_city):
    """/conf/temporal-functions/test-data: T_AFTER, T_BEFORE, T_INTERSECTS, T_DURING over rule 10's validity
    (valid_from; INTERVAL(valid_from, valid_to) open while current). A parcel edited after `mark` has a
    version that starts after it."""
    mark = datetime.now(UTC)
    edited = ogc_city.parcels[0]["id"]
    r = await client.patch(f"/api/v1/parcels/{edited}", json={"properties": {"legacy_zone": "195"}}, headers=BUREAU)
    assert r.status_code == 200, r.text
    stamp = mark.isoformat().replace("+00:00", "Z")
    assert await matched(client, f"T_AFTER(valid_from, TIMESTAMP('{stamp}'))") == [edited]
    assert await matched(client, f"T_BEFORE(valid_from, TIMESTAMP('{stamp}'))") == everything(ogc_city)[1:]
    later = (mark + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    everyone = await matched(client, f"T_INTERSECTS(INTERVAL(valid_from, valid_to), INTERVAL('{later}', '..'))")
    assert everyone == everything(ogc_city)  # current versions are open-ended
    assert await matched(client, f"T_DURING(INTERVAL(valid_from, valid_to), INTERVAL('..', '{later}'))") == []
    # An open validity is started by the same start and any later end.
    assert await matched(client, f"T_STARTEDBY(INTERVAL(valid_from, valid_to), INTERVAL(valid_from, '{later}'))") == (
        everything(ogc_city))


async def test_conf_temporal_functions_logical_with_datetime(client, ogc_city):
    """/conf/temporal-functions/logical: a temporal filter ANDs with `datetime` (an earlier instant reads the
    versions valid then, whose valid_from is before it)."""
    mark = datetime.now(UTC)
    edited = ogc_city.parcels[0]["id"]
    r = await client.patch(f"/api/v1/parcels/{edited}", json={"properties": {"legacy_zone": "195"}}, headers=BUREAU)
    assert r.status_code == 200, r.text
    stamp = mark.isoformat().replace("+00:00", "Z")
    assert await matched(client, f"T_AFTER(valid_from, TIMESTAMP('{stamp}'))", datetime=stamp) == []
    assert await matched(client, f"T_BEFORE(valid_from, TIMESTAMP('{stamp}')) AND legacy_zone IS NULL",
                         datetime=stamp) == everything(ogc_city)


# ------------------------------------------------------------------------------------------------ refusals
async def test_req_filter_filter_param_unknown_property_is_400_naming_the_queryables(client, ogc_city):
    """/req/filter/filter-param: a filter naming a property that is not a queryable is refused with a 400
    that names it and the queryables (no identifier reaches SQL)."""
    problem = await refusal(client, filter="owner = 'x'")
    assert problem["code"] == "VALIDATION_ERROR" and problem["status"] == 400
    assert "'owner'" in problem["detail"] and "land_use" in problem["detail"]
    assert "'geom'" in (await refusal(client, filter="geom IS NULL"))["detail"]


@pytest.mark.parametrize(("text", "says"), [
    ("pg_sleep(5) = 1", "unknown operator or function 'pg_sleep'"),
    ("ACCENTI(code) = accenti('x')", "ACCENTI"),
    ("plot_ratio * 2 > 3", "arithmetic"),
    ("code = 1", "cannot be compared"),
    ("id = 1.5", "not an integer"),
    ("code = ", "not cql2-text"),
    ("(" * 150 + "TRUE" + ")" * 150, "deeper than"),
    ("NOT " * 500 + "TRUE", "chains more than"),
    (" OR ".join(["code = 'a'"] * 700), "more than 500"),
])
async def test_filters_not_offered_are_400_problems(client, ogc_city, text, says):
    """Unknown functions, operators, types and over-deep filters: 400 problem+json, never a 500 (nor a crash
    of the parser: the deep ones are measured before it runs)."""
    problem = await refusal(client, filter=text)
    assert problem["code"] == "VALIDATION_ERROR" and says in problem["detail"]


async def test_filter_on_a_confidential_collection_keeps_the_readers_scope(client, ogc_city):
    """SPEC §4: a filter cannot widen what a reader sees; exit candidates stay hidden from the public."""
    got = await get(client, "/collections/exit_candidates/items", user=None, filter="TRUE")
    assert got.status_code in (401, 404)
    got = await get(client, "/collections/exit_candidates/items", user="officer.west", filter="TRUE OR FALSE")
    assert got.status_code == 200 and got.json()["features"] == []


async def test_ogc_filter_reached_through_the_http_client_url(client, ogc_city):
    """The filter as QGIS and GDAL send it: percent-encoded in the URL, with filter-lang and filter-crs."""
    url = httpx.URL(f"http://testserver{OGC}/collections/parcels/items",
                    params={"filter": "(\"land_use\" = 'industrial') AND (\"plot_ratio\" >= 1.2)",
                            "filter-lang": "cql2-text", "limit": "100"})
    got = await client.get(url, headers=BUREAU)
    assert got.status_code == 200
    assert [f["id"] for f in got.json()["features"]] == ogc_city.ids(land_use="industrial")
