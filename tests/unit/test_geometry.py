"""SPEC §2 at the edge: parsing, CRS, validity with a reason, extent."""

import math

import pytest
import shapely

from gis.crs import CrsRef, parse_crs
from gis.errors import CrsError, GeometryError
from gis.geometry import from_geojson, problems, storage_ewkb

EXTENT = (120.8, 30.6, 122.2, 31.9)
WGS = CrsRef(4490)


def poly(*ring):
    return {"type": "Polygon", "coordinates": [list(ring)]}


SQUARE = poly([121.5, 31.2], [121.501, 31.2], [121.501, 31.201], [121.5, 31.201], [121.5, 31.2])


def test_a_polygon_becomes_a_storage_multipolygon():
    geom = from_geojson(SQUARE, WGS, EXTENT)
    assert geom.geom_type == "MultiPolygon" and geom.is_valid


def test_a_storage_geometry_goes_to_sql_as_ewkb_carrying_the_storage_srid():
    geom = from_geojson(SQUARE, WGS, EXTENT)
    back = shapely.from_wkb(storage_ewkb(geom))
    assert (shapely.get_srid(back), back.equals(geom)) == (4490, True)


def test_a_self_intersecting_polygon_is_refused_with_its_reason():
    bowtie = poly([121.5, 31.2], [121.501, 31.201], [121.501, 31.2], [121.5, 31.201], [121.5, 31.2])
    with pytest.raises(GeometryError, match="Self-intersection"):
        from_geojson(bowtie, WGS, EXTENT)


def test_an_unclosed_ring_is_refused_not_repaired():
    with pytest.raises(GeometryError, match="not closed"):
        from_geojson(poly([121.5, 31.2], [121.501, 31.2], [121.501, 31.201], [121.5, 31.201]), WGS, EXTENT)


def test_nan_and_infinity_are_refused():
    for bad in (math.nan, math.inf):
        with pytest.raises(GeometryError, match="finite"):
            from_geojson(poly([121.5, 31.2], [bad, 31.2], [121.501, 31.201], [121.5, 31.2]), WGS, EXTENT)


def test_points_lines_and_empty_geometries_are_refused():
    with pytest.raises(GeometryError, match="not a polygon"):
        from_geojson({"type": "Point", "coordinates": [121.5, 31.2]}, WGS, EXTENT)
    with pytest.raises(GeometryError, match="empty"):
        from_geojson({"type": "Polygon", "coordinates": []}, WGS, EXTENT)


def test_geometry_outside_the_service_extent_is_refused():
    beijing = poly([116.4, 39.9], [116.41, 39.9], [116.41, 39.91], [116.4, 39.9])
    with pytest.raises(GeometryError, match="outside the service extent"):
        from_geojson(beijing, WGS, EXTENT)


def test_gauss_krueger_input_is_transformed_to_lon_lat():
    # EPSG:4549 (CM 120E) easting/northing of a point near 121.0E 31.2N, given x=easting, y=northing.
    from pyproj import Transformer

    e, n = Transformer.from_crs(4490, 4549, always_xy=True).transform(121.0, 31.2)
    ring = [[e, n], [e + 100, n], [e + 100, n + 100], [e, n + 100], [e, n]]
    geom = from_geojson({"type": "Polygon", "coordinates": [ring]}, CrsRef(4549), EXTENT)
    x, y = geom.geoms[0].exterior.coords[0]
    assert abs(x - 121.0) < 1e-7 and abs(y - 31.2) < 1e-7


def test_problems_is_vectorised_and_names_each_failure():
    good = shapely.box(121.0, 31.0, 121.01, 31.01)
    line = shapely.LineString([(121, 31), (121.1, 31.1)])
    out = problems([good, None, line, shapely.box(0, 0, 1, 1)], EXTENT)
    assert out[0] is None
    assert out[1] == "empty geometry"
    assert out[2].startswith("not a polygon")
    assert out[3].startswith("outside the service extent")


@pytest.mark.parametrize("name,srid,swaps", [
    ("EPSG:4490", 4490, False),
    ("urn:ogc:def:crs:EPSG::4490", 4490, True),
    ("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True),
    ("EPSG:4326", 4326, False),
    ("urn:ogc:def:crs:EPSG::4549", 4549, True),
    ("http://www.opengis.net/gml/srs/epsg.xml#4549", 4549, False),
    ("urn:ogc:def:crs:EPSG::3857", 3857, False),
    ("CRS84", 4326, False),
])
def test_crs_names_and_their_axis_order(name, srid, swaps):
    ref = parse_crs(name)
    assert (ref.srid, ref.swaps_axes) == (srid, swaps)


@pytest.mark.parametrize("name", ["EPSG:2000", "EPSG:abc", "urn:ogc:def:crs:EPSG::32651", "WGS84"])
def test_unsupported_or_malformed_crs_is_refused(name):
    with pytest.raises(CrsError):
        parse_crs(name)
