"""Pure pieces of the WFS: GML reading, Like patterns, KVP names, safe XML (no database)."""

from __future__ import annotations

import pytest
from lxml import etree

from app.wfs import xmlsafe
from app.wfs.filters import like_pattern
from app.wfs.kvp import params, version_of
from app.wfs.model import GML32, GML311, JSON, output_format
from app.wfs.ows import WfsError
from gis.gml import GmlError, read_geometry

G32 = 'xmlns:gml="http://www.opengis.net/gml/3.2"'
G2 = 'xmlns:gml="http://www.opengis.net/gml"'


def _geom(text: str):
    return read_geometry(etree.fromstring(text))


def test_gml2_coordinates_with_custom_separators():
    geom = _geom(
        f'<gml:Polygon {G2}><gml:outerBoundaryIs><gml:LinearRing><gml:coordinates cs=";" ts="|" '
        'decimal=",">1,5;2|3;2|3;4|1,5;2</gml:coordinates></gml:LinearRing></gml:outerBoundaryIs>'
        "</gml:Polygon>"
    )
    assert next(iter(geom.exterior.coords)) == (1.5, 2.0)


def test_gml32_multisurface_with_holes_and_3d_poslist():
    geom = _geom(
        f"<gml:MultiSurface {G32}><gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing>"
        '<gml:posList srsDimension="3">0 0 9 10 0 9 10 10 9 0 10 9 0 0 9</gml:posList></gml:LinearRing>'
        "</gml:exterior><gml:interior><gml:LinearRing><gml:posList>2 2 3 2 3 3 2 2</gml:posList>"
        "</gml:LinearRing></gml:interior></gml:Polygon></gml:surfaceMember></gml:MultiSurface>"
    )
    assert geom.geom_type == "MultiPolygon" and geom.area == pytest.approx(99.5)


def test_envelope_point_and_unclosed_ring():
    env = _geom(
        f"<gml:Envelope {G32}><gml:lowerCorner>1 2</gml:lowerCorner><gml:upperCorner>3 4</gml:upperCorner>"
        "</gml:Envelope>"
    )
    assert env.bounds == (1, 2, 3, 4)
    assert _geom(f"<gml:Point {G32}><gml:pos>5 6</gml:pos></gml:Point>").coords[0] == (5, 6)
    with pytest.raises(GmlError, match="not closed"):
        _geom(
            f"<gml:Polygon {G32}><gml:exterior><gml:LinearRing><gml:posList>0 0 1 0 1 1 0 1</gml:posList>"
            "</gml:LinearRing></gml:exterior></gml:Polygon>"
        )


@pytest.mark.parametrize("text", ["1 2 x", "1 2 nan", "1 2 3"])
def test_bad_numbers_are_refused(text):
    with pytest.raises(GmlError):
        _geom(f"<gml:LineString {G32}><gml:posList>{text}</gml:posList></gml:LineString>")


def test_like_pattern_escapes_sql_wildcards():
    assert like_pattern("a*b?c%d_e!*", "*", "?", "!") == "a%b_c\\%d\\_e*"


def test_kvp_names_are_case_insensitive_and_versions_negotiated():
    p = params([("service", "WFS"), ("Request", "GetCapabilities"), ("AcceptVersions", "3.0.0,1.1.0")])
    assert version_of(p, p["REQUEST"]) == "1.1.0"


@pytest.mark.parametrize(
    "value, version, expected",
    [
        (None, "2.0.0", GML32),
        ("application/gml xml; version=3.2", "2.0.0", GML32),
        ("GML3", "2.0.0", GML311),
        ("text/xml", "1.1.0", GML311),
        ("application/json", "1.1.0", JSON),
    ],
)
def test_output_formats(value, version, expected):
    assert output_format(value, version) == expected


def test_safe_parser_refuses_entities_and_deep_nesting():
    with pytest.raises(WfsError, match="DTDs"):
        xmlsafe.parse(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')
    with pytest.raises(WfsError, match="deeper"):
        xmlsafe.parse(b"<a>" * 100 + b"</a>" * 100)
