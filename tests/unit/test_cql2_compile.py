"""The CQL2 compiler without a database (app/ogc/cql2.py, app/ogc/cql2_compile.py, gis/literal.py): what SQL
a filter becomes, that client values are bound parameters, and the 400s for everything not offered.

Named by the abstract tests of OGC 21-065r2 (CQL2, Annex A) and 19-079r2 (Part 3) they check."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql

from app.errors import CrsUnsupported
from app.ogc import cql2
from app.ogc.cql2 import CQL2_CLASSES, compile_filter, queryables_schema
from app.ogc.params import InvalidParameter
from app.wfs.registry import BY_NAME

PARCELS = BY_NAME["parcels"]
CRS_4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
CRS_4549 = "http://www.opengis.net/def/crs/EPSG/0/4549"


def sql(text: str, lang: str = "cql2-text", crs: str | None = None, collection: str = "parcels") -> str:
    """The compiled WHERE clause with its parameters written in (to read; the real SQL binds them)."""
    clause = compile_filter(text, lang, BY_NAME[collection], crs)
    return str(clause.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def refused(text: str, lang: str = "cql2-text", crs: str | None = None, collection: str = "parcels") -> str:
    """The detail of the 400 a filter gets."""
    with pytest.raises(InvalidParameter) as caught:
        compile_filter(text, lang, BY_NAME[collection], crs)
    problem = caught.value.problem()
    assert problem["status"] == 400 and problem["code"] == "VALIDATION_ERROR"
    assert problem["field"] in ("filter", "filter-lang")
    return caught.value.detail


# ------------------------------------------------------------------------------------------- conformance
def test_conformance_lists_the_cql2_classes_and_the_draft_name_qgis_looks_for():
    """17-069r4 /conf/core/conformance-success: CQL2 1.0 classes, Part 3's filter classes, and the draft
    basic-spatial-operators URI that QGIS < 3.44 requires before it sends S_INTERSECTS."""
    base = "http://www.opengis.net/spec/cql2/1.0/conf/"
    for name in ("cql2-text", "cql2-json", "basic-cql2", "advanced-comparison-operators",
                 "case-insensitive-comparison", "basic-spatial-functions", "basic-spatial-operators",
                 "spatial-functions", "temporal-functions"):
        assert base + name in CQL2_CLASSES
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in CQL2_CLASSES
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter" in CQL2_CLASSES
    assert base + "accent-insensitive-comparison" not in CQL2_CLASSES  # ACCENTI is refused, so not claimed
    assert len(set(CQL2_CLASSES)) == len(CQL2_CLASSES)


# ------------------------------------------------------------------------------------------- basic-cql2
@pytest.mark.parametrize("op", ["=", "<>", "<", "<=", ">", ">="])
def test_conf_basic_cql2_comparison_each_operator_on_a_property(op):
    """/conf/basic-cql2/comparison: the six operators, property against literal."""
    assert sql(f"plot_ratio {op} 1.5") == f"parcel.plot_ratio {'!=' if op == '<>' else op} 1.5"


def test_conf_basic_cql2_comparison_literal_first_and_property_property():
    """/conf/basic-cql2/comparison with the literal on the left; property-property (21-065r2 §7.4)."""
    assert sql("1.5 < plot_ratio") == "1.5 < parcel.plot_ratio"
    assert sql("plot_ratio >= plot_ratio_cap") == "parcel.plot_ratio >= parcel.plot_ratio_cap"


def test_conf_basic_cql2_logical_and_or_not_nest():
    """/conf/basic-cql2/logical: AND, OR, NOT combined with parentheses."""
    assert sql("(NOT (tier = 'fragment') AND land_use = 'industrial') OR (id = 3 AND planning_locked = TRUE)") == (
        "parcel.tier != 'fragment' AND parcel.land_use = 'industrial' "
        "OR parcel.id = 3 AND parcel.planning_locked = true")


def test_conf_basic_cql2_is_null_and_is_not_null():
    """/conf/basic-cql2/is-null."""
    assert sql("valid_to IS NULL") == "parcel.valid_to IS NULL"
    assert sql("zone_id IS NOT NULL") == "parcel.zone_id IS NOT NULL"
    assert sql("geometry IS NOT NULL") == "parcel.geom IS NOT NULL"


def test_conf_basic_cql2_boolean_literals_and_boolean_properties():
    """/conf/basic-cql2/boolean: TRUE matches all, FALSE none; a boolean property is a condition."""
    assert sql("TRUE") == "true"
    assert sql("FALSE") == "false"
    assert sql("planning_locked") == "parcel.planning_locked IS true"
    assert sql("1 = 1 AND code = 'A'") == "parcel.code = 'A'"  # literal-literal comparisons are folded


def test_conf_basic_cql2_dates_and_timestamps():
    """/conf/basic-cql2/basic-test: TIMESTAMP() literals against date-time properties, DATE() against dates."""
    assert sql("valid_from >= TIMESTAMP('2024-05-01T00:00:00Z')") == (
        "parcel.valid_from >= '2024-05-01 00:00:00+00:00'")
    assert sql("since < DATE('2024-05-01')", collection="exit_candidates") == "exit_candidate.since < '2024-05-01'"


def test_literals_are_bound_parameters_typed_by_the_property():
    """No client value is written into the SQL text: each is a parameter of the property's type."""
    clause = compile_filter("code = 'x''; DROP TABLE parcel; --' AND plot_ratio > 1.25 AND id IN (1, 2)",
                            "cql2-text", PARCELS, None)
    compiled = clause.compile(dialect=postgresql.dialect())
    assert "DROP" not in str(compiled)
    params = compiled.params
    assert "x'; DROP TABLE parcel; --" in params.values()
    types = {type(b.type).__name__ for b in compiled.binds.values()}
    assert {"String", "Numeric", "BigInteger"} <= types
    from decimal import Decimal
    assert Decimal("1.25") in params.values() and 1 in params.values()


def test_numbers_take_the_property_type_exactly():
    """Integers stay integers, decimals stay as written; a fraction for an integer property is refused."""
    assert sql("id = 12") == "parcel.id = 12"
    assert sql("plot_ratio = 0.1") == "parcel.plot_ratio = 0.1"
    assert "not an integer" in refused("zone_id = 1.5")
    assert "below 2^53" in refused("id = 9007199254740993")


# ----------------------------------------------------------------------------------- advanced comparisons
def test_conf_advanced_comparison_operators_like():
    """/conf/advanced-comparison-operators/like: % and _ wildcards."""
    assert sql("code LIKE 'OGC-B_'") == "parcel.code LIKE 'OGC-B_'"
    assert sql("code NOT LIKE 'OGC%'") == "parcel.code NOT LIKE 'OGC%%'"


def test_conf_advanced_comparison_operators_between():
    """/conf/advanced-comparison-operators/between (both ends included)."""
    assert sql("plot_ratio BETWEEN 1 AND 2.5") == "parcel.plot_ratio BETWEEN 1.0 AND 2.5"
    assert sql("zone_id NOT BETWEEN 1 AND 3") == "parcel.zone_id NOT BETWEEN 1 AND 3"


def test_conf_advanced_comparison_operators_in():
    """/conf/advanced-comparison-operators/in."""
    assert sql("land_use IN ('industrial', 'rnd')") == "parcel.land_use IN ('industrial', 'rnd')"
    assert sql("id NOT IN (1, 2)") == "(parcel.id NOT IN (1, 2))"


def test_conf_case_insensitive_comparison_casei_and_casei_like():
    """/conf/case-insensitive-comparison/casei and /casei-like: CASEI is lower() on both sides."""
    assert sql("CASEI(code) = casei('ogc-b1')") == "lower(parcel.code) = lower('ogc-b1')"
    assert sql("CASEI(code) LIKE CASEI('ogc-%')") == "lower(parcel.code) LIKE lower('ogc-%%')"
    assert sql("CASEI(code) IN (CASEI('A'), CASEI('b'))") == "lower(parcel.code) IN (lower('A'), lower('b'))"


def test_accenti_is_refused_since_the_class_is_not_offered():
    """accent-insensitive-comparison is not declared: ACCENTI is a 400 that says so."""
    assert "ACCENTI" in refused("ACCENTI(code) = accenti('é')")


# ------------------------------------------------------------------------------------------------ spatial
def test_conf_basic_spatial_functions_point_and_bbox_in_crs84():
    """/conf/basic-spatial-functions/test-data: S_INTERSECTS with POINT and BBOX, CRS84 lon/lat by default
    (19-079r2 /req/filter/filter-crs-wgs84), bound as a storage EPSG:4490 geometry."""
    assert sql("S_INTERSECTS(geometry, POINT(121.5 31.2))") == (
        "ST_Intersects(parcel.geom, ST_GeomFromEWKT('SRID=4490;POINT (121.5 31.2)'))")
    assert sql("S_INTERSECTS(geometry, BBOX(121.2, 31.1, 121.5, 31.3))") == (
        "ST_Intersects(parcel.geom, ST_GeomFromEWKT('SRID=4490;POLYGON ((121.5 31.1, 121.5 31.3, 121.2 31.3, "
        "121.2 31.1, 121.5 31.1))'))")


def test_conf_filter_filter_crs_param_epsg_uri_takes_latitude_first():
    """19-079r2 /conf/filter/filter-crs-param: EPSG:4490's URI orders latitude first (as QGIS sends it)."""
    assert sql("S_INTERSECTS(geometry, POINT(31.2 121.5))", crs=CRS_4490) == (
        "ST_Intersects(parcel.geom, ST_GeomFromEWKT('SRID=4490;POINT (121.5 31.2)'))")
    bbox = sql("S_INTERSECTS(geometry, BBOX(31.1, 121.2, 31.3, 121.5))", crs=CRS_4490)
    assert "POLYGON ((121.5 31.1, 121.5 31.3, 121.2 31.3, 121.2 31.1, 121.5 31.1))" in bbox
    # lon/lat under a lat/lon URI is off the globe: a 400 that says which order was expected.
    assert "latitude first" in refused("S_INTERSECTS(geometry, POINT(121.5 31.2))", crs=CRS_4490)


def test_conf_filter_filter_crs_param_projected_crs_is_transformed_to_storage():
    """A Gauss-Krüger literal (EPSG:4549, northing first in its URI) arrives in storage lon/lat."""
    text = sql("S_INTERSECTS(geometry, POINT(3456000 500000))", crs=CRS_4549)
    lon, lat = (float(v) for v in text.split("POINT (")[1].split(")")[0].split())
    assert lon == pytest.approx(120.0) and lat == pytest.approx(31.2257, abs=1e-4)  # 4549's central meridian


def test_an_unknown_filter_crs_is_crs_unsupported():
    """19-079r2 /req/filter/filter-crs-param: only the collection's CRSs (SPEC §2's six and CRS84)."""
    with pytest.raises(CrsUnsupported):
        compile_filter("S_INTERSECTS(geometry, POINT(1 2))", "cql2-text", PARCELS, "EPSG:9999")


@pytest.mark.parametrize(("name", "function"), [
    ("S_INTERSECTS", "ST_Intersects"), ("S_CONTAINS", "ST_Contains"), ("S_WITHIN", "ST_Within"),
    ("S_DISJOINT", "ST_Disjoint"), ("S_EQUALS", "ST_Equals"), ("S_TOUCHES", "ST_Touches"),
    ("S_OVERLAPS", "ST_Overlaps"), ("S_CROSSES", "ST_Crosses")])
def test_conf_spatial_functions_each_relation(name, function):
    """/conf/spatial-functions/test-data: the eight DE-9IM functions, in their argument order."""
    assert sql(f"{name}(geometry, LINESTRING(121 31, 122 32))") == (
        f"{function}(parcel.geom, ST_GeomFromEWKT('SRID=4490;LINESTRING (121 31, 122 32)'))")
    assert sql(f"{name}(POINT(121 31), geometry)").startswith(f"{function}(ST_GeomFromEWKT(")


def test_conf_basic_spatial_functions_plus_every_geometry_type_in_wkt_and_geojson():
    """/conf/basic-spatial-functions-plus: WKT in cql2-text, GeoJSON in cql2-json, every type."""
    for wkt in ("MULTIPOINT((121 31),(121.1 31.1))", "MULTILINESTRING((121 31,122 32))",
                "POLYGON((121 31,122 31,122 32,121 31))", "MULTIPOLYGON(((121 31,122 31,122 32,121 31)))",
                "GEOMETRYCOLLECTION(POINT(121 31),LINESTRING(121 31,122 32))"):
        kind = wkt.split("(")[0]
        assert f"SRID=4490;{kind} " in sql(f"S_INTERSECTS(geometry, {wkt})")
    body = {"op": "s_within", "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": [
        [[121, 31], [122, 31], [122, 32], [121, 31]]]}]}
    assert sql(json.dumps(body), "cql2-json") == (
        "ST_Within(parcel.geom, ST_GeomFromEWKT('SRID=4490;POLYGON ((121 31, 122 31, 122 32, 121 31))'))")


@pytest.mark.parametrize(("literal", "reason"), [
    ("POLYGON((121 31,122 32,122 31,121 32,121 31))", "Self-intersection"),
    ("BBOX(122, 31, 121, 32)", "lower corner first"),
    ("POINT(200 31)", "not a longitude/latitude"),
    ("POINT EMPTY", "two or more elements"),
])
def test_geometry_literals_postgis_would_raise_on_are_refused(literal, reason):
    """Nothing is repaired or sent for PostGIS to fail on: each gets a 400 with its reason."""
    assert reason in refused(f"S_INTERSECTS(geometry, {literal})")


def test_unclosed_and_short_rings_in_geojson_are_refused():
    """cql2-json rings must be closed and have four positions (RFC 7946 §3.1.6)."""
    ring = [[121, 31], [122, 31], [122, 32], [121, 32]]
    body = {"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": [ring]}]}
    assert "not closed" in refused(json.dumps(body), "cql2-json")
    body["args"][1]["coordinates"] = [ring[:2] + ring[:1]]
    assert "at least 4" in refused(json.dumps(body), "cql2-json")


def test_spatial_functions_take_only_the_geometry_or_a_geometry_literal():
    assert "spatial functions take geometry" in refused("S_INTERSECTS(code, POINT(121 31))")
    assert "S_ functions" in refused("code = POINT(121 31)")


# ----------------------------------------------------------------------------------------------- temporal
def test_conf_temporal_functions_instants():
    """/conf/temporal-functions/test-data with instants: T_AFTER, T_BEFORE, T_EQUALS, T_INTERSECTS."""
    assert sql("T_AFTER(valid_from, TIMESTAMP('2024-01-01T00:00:00Z'))") == (
        "parcel.valid_from > '2024-01-01 00:00:00+00:00'")
    assert sql("T_BEFORE(since, DATE('2024-01-01'))", collection="exit_candidates") == (
        "exit_candidate.since < '2024-01-01'")
    assert sql("T_EQUALS(since, DATE('2024-01-01'))", collection="exit_candidates") == (
        "exit_candidate.since = '2024-01-01' AND exit_candidate.since = '2024-01-01'")


def test_conf_temporal_functions_intervals_of_validity():
    """Rule 10's validity as INTERVAL(valid_from, valid_to): an open valid_to (the current version) and `..`
    ends are infinite."""
    assert sql("T_INTERSECTS(INTERVAL(valid_from, valid_to), INTERVAL('2024-01-01T00:00:00Z', '..'))") == (
        "coalesce(parcel.valid_from, CAST('-infinity' AS TIMESTAMP WITH TIME ZONE)) <= "
        "CAST('infinity' AS TIMESTAMP WITH TIME ZONE) AND coalesce(parcel.valid_to, "
        "CAST('infinity' AS TIMESTAMP WITH TIME ZONE)) >= '2024-01-01 00:00:00+00:00'")
    assert sql("T_DURING(INTERVAL(valid_from, valid_to), INTERVAL('2023-01-01T00:00:00Z', '2025-01-01T00:00:00Z'))")


@pytest.mark.parametrize("name", ["T_CONTAINS", "T_DURING", "T_FINISHEDBY", "T_FINISHES", "T_MEETS", "T_METBY",
                                  "T_OVERLAPPEDBY", "T_OVERLAPS", "T_STARTEDBY", "T_STARTS"])
def test_conf_temporal_functions_interval_relations_take_intervals(name):
    """Allen's interval relations compile over intervals and refuse instants."""
    both = f"{name}(INTERVAL(valid_from, valid_to), INTERVAL('2023-01-01T00:00:00Z', '2025-01-01T00:00:00Z'))"
    assert "parcel.valid_" in sql(both)
    assert "takes two intervals" in refused(f"{name}(valid_from, TIMESTAMP('2024-01-01T00:00:00Z'))")


def test_temporal_values_of_another_granularity_are_refused():
    """A date-time property is compared with TIMESTAMP(), a date property with DATE()."""
    assert "cannot be compared" in refused("valid_from > DATE('2024-01-01')")
    no_time = {"op": ">", "args": [{"property": "valid_from"}, {"timestamp": "yesterday"}]}
    assert "TIMESTAMP takes an RFC 3339" in refused(json.dumps(no_time), "cql2-json")
    assert "DATE takes YYYY-MM-DD" in refused("valid_from > DATE('2024-13-01')")
    assert "ends before it starts" in refused(
        "T_INTERSECTS(valid_from, INTERVAL('2025-01-01T00:00:00Z', '2024-01-01T00:00:00Z'))")
    assert "temporal functions take" in refused("T_AFTER(code, TIMESTAMP('2024-01-01T00:00:00Z'))")


# -------------------------------------------------------------------------------------------- refusals
def test_conf_filter_filter_param_unknown_property_names_the_queryables():
    """19-079r2 /req/filter/filter-param: an unknown property is a 400 naming it and the allowed ones."""
    detail = refused("owner_name = 'x'")
    assert "'owner_name'" in detail and "code, land_use" in detail and "geometry" in detail
    # Columns of the table that are not queryables are unknown too (no identifier passes through).
    assert "unknown property 'geom'" in refused("geom IS NULL")
    assert "unknown property 'parcel.code'" in refused('"parcel.code" = \'x\'')


def test_unknown_functions_and_operators_name_the_offered_ones():
    detail = refused("pg_sleep(10) = 1")
    assert "'pg_sleep'" in detail and "S_INTERSECTS" in detail and "like" in detail
    assert "arithmetic" in refused("plot_ratio * 2 > 3")
    assert "array functions" in refused("A_CONTAINS(code, ('a'))")


def test_ill_typed_literals_are_refused():
    assert "code (string) cannot be compared with 1 (number)" in refused("code = 1")
    assert "IS NULL" in refused("code = NULL")
    assert "booleans compare with = or <>" in refused("planning_locked > TRUE")
    assert "LIKE compares strings" in refused("plot_ratio LIKE '1%'")
    assert "BETWEEN takes numbers" in refused("code BETWEEN 'a' AND 'b'")
    assert "not a condition" in refused("code")
    assert "NUL" in refused(json.dumps({"op": "=", "args": [{"property": "code"}, "a\u0000b"]}), "cql2-json")


def test_cql2_text_and_json_that_do_not_parse_are_400():
    """/conf/cql2-text and /conf/cql2-json: malformed input is the client's error, with the parser's reason."""
    assert "not cql2-text" in refused("code = ")
    assert "not JSON" in refused('{"op": "="', "cql2-json")
    assert "not cql2-json" in refused('{"op": "s_intersects", "args": [{"property": "geometry"}, '
                                      '{"type": "Point", "coordinates": [1]}]}', "cql2-json")
    assert "filter-lang" in refused("TRUE", "ecql")


# -------------------------------------------------------------------------------------------- bounds
def test_deep_or_long_filters_are_refused_before_the_parser_recurses():
    """The parser would overflow its stack on these (a crash of the server): each is a 400 instead."""
    assert "deeper than 100" in refused("(" * 101 + "TRUE" + ")" * 101)
    assert "more than 500" in refused(" AND ".join(["code = 'a'"] * 502))
    assert "chains more than 20" in refused("NOT " * 21 + "TRUE")
    assert "chains more than 20" in refused("plot_ratio = " + "-" * 25 + "1")
    nested: Any = True
    for _ in range(101):
        nested = {"op": "not", "args": [nested]}
    assert "deeper than 100" in refused(json.dumps(nested), "cql2-json")
    assert "longer than" in refused("code = '" + "a" * 70_000 + "'")


def test_many_terms_are_refused():
    """At most MAX_NODES terms (a large IN list is the way to name many values)."""
    assert "more than 1000 terms" in refused("id IN (" + ",".join(str(i) for i in range(1200)) + ")")
    assert sql("id IN (" + ",".join(str(i) for i in range(500)) + ")").startswith("parcel.id IN (0, 1, 2")


def test_the_largest_allowed_filter_parses_on_a_two_megabyte_stack():
    """The limits hold with room: a filter at every limit at once parses in a thread with a 2 MB stack
    (Linux gives threads 8 MB), in a child process so that a crash would fail this test, not the suite."""
    worst = ("(" * 100 + "NOT " * 20 + " AND ".join(["code = 'a'"] * 480) + ")" * 100)
    code = ("import threading, sys\nfrom app.ogc.cql2 import parse\nthreading.stack_size(2 * 1024 * 1024)\n"
            "t = threading.Thread(target=lambda: parse(sys.stdin.read()))\nt.start(); t.join()\nprint('parsed')\n")
    done = subprocess.run([sys.executable, "-c", code], input=worst, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "parsed" in done.stdout, done.stderr[-500:]


# -------------------------------------------------------------------------------------------- queryables
def test_conf_queryables_get_queryables_response_is_the_whitelist_as_json_schema():
    """19-079r2 /conf/queryables/get-queryables-response: JSON Schema 2020-12, typed properties, the
    geometry (with the GeoJSON $ref QGIS recognises), nothing else (additionalProperties false)."""
    doc = queryables_schema(PARCELS, "http://example.org/ogc/collections/parcels/queryables")
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"] == "http://example.org/ogc/collections/parcels/queryables"
    assert doc["type"] == "object" and doc["additionalProperties"] is False
    props = doc["properties"]
    assert set(props) == {"geometry", *(p.name for p in PARCELS.props)}
    assert props["geometry"]["format"] == "geometry-multipolygon"
    assert props["geometry"]["$ref"].startswith("https://geojson.org/schema/")
    assert props["id"] == {"title": "id", "type": "integer", "x-ogc-role": "id"}
    assert props["plot_ratio"]["type"] == "number" and props["planning_locked"]["type"] == "boolean"
    assert props["valid_from"] == {"title": "valid_from", "type": "string", "format": "date-time",
                                   "x-ogc-role": "primary-interval-start"}
    assert queryables_schema(BY_NAME["exit_candidates"])["properties"]["since"]["format"] == "date"


def test_every_queryable_of_every_collection_compiles():
    """The schema and the compiler read one whitelist: each property it lists can be filtered on."""
    samples = {"string": "'x'", "integer": "1", "number": "1.5", "boolean": "TRUE"}
    for ftype in BY_NAME.values():
        for name, schema in queryables_schema(ftype)["properties"].items():
            if name == "geometry":
                value = sql("S_INTERSECTS(geometry, POINT(121 31))", collection=ftype.name)
            elif schema.get("format") == "date-time":
                value = sql(f"{name} < TIMESTAMP('2024-01-01T00:00:00Z')", collection=ftype.name)
            elif schema.get("format") == "date":
                value = sql(f"{name} < DATE('2024-01-01')", collection=ftype.name)
            else:
                value = sql(f"{name} = {samples[schema['type']]}", collection=ftype.name)
            assert value, name


def test_parse_gives_the_cql2_json_tree_of_either_encoding():
    """cql2-text and cql2-json of one filter give one tree (the compiler reads only that)."""
    text = cql2.parse("land_use = 'industrial' AND S_INTERSECTS(geometry, POINT(121 31))")
    same = cql2.parse(json.dumps(text), "cql2-json")
    assert text == same and text["op"] == "and"
