"""DescribeFeatureType: an XML Schema per version with the real property types (WFS 2.0 §9)."""

from __future__ import annotations

from app.wfs.registry import GEOMETRY, NAMESPACE, PREFIX, TYPES, FeatureType

_GML = {
    "2.0.0": (
        "http://www.opengis.net/gml/3.2",
        "http://schemas.opengis.net/gml/3.2.1/gml.xsd",
        "gml:AbstractFeatureType",
        "gml:AbstractFeature",
        "gml:MultiSurfacePropertyType",
    ),
    "1.1.0": (
        "http://www.opengis.net/gml",
        "http://schemas.opengis.net/gml/3.1.1/base/gml.xsd",
        "gml:AbstractFeatureType",
        "gml:_Feature",
        "gml:MultiSurfacePropertyType",
    ),
    "1.0.0": (
        "http://www.opengis.net/gml",
        "http://schemas.opengis.net/gml/2.1.2/feature.xsd",
        "gml:AbstractFeatureType",
        "gml:_Feature",
        "gml:MultiPolygonPropertyType",
    ),
}
MEDIA = {
    "2.0.0": "application/gml+xml; version=3.2",
    "1.1.0": "text/xml; subtype=gml/3.1.1",
    "1.0.0": "text/xml",
}


def schema(version: str, types: list[FeatureType] | None = None, gml_version: str | None = None) -> bytes:
    """The application schema of `types` (all when None). `gml_version` picks the GML of another
    version (a 2.0 client asking for GML 3.1.1)."""
    gml_ns, gml_loc, base, group, geom_type = _GML[gml_version or version]
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:gml="{gml_ns}" '
        f'xmlns:{PREFIX}="{NAMESPACE}" targetNamespace="{NAMESPACE}" elementFormDefault="qualified" '
        'version="1.0">'
        f'<xsd:import namespace="{gml_ns}" schemaLocation="{gml_loc}"/>'
    ]
    for t in types or list(TYPES):
        elements = "".join(
            f'<xsd:element name="{p.name}" type="xsd:{p.xsd}" minOccurs="0" maxOccurs="1" nillable="true"/>'
            for p in t.props
        )
        elements += f'<xsd:element name="{GEOMETRY}" type="{geom_type}" minOccurs="0" maxOccurs="1"/>'
        parts.append(
            f'<xsd:complexType name="{t.name}Type"><xsd:complexContent><xsd:extension base="{base}">'
            f"<xsd:sequence>{elements}</xsd:sequence></xsd:extension></xsd:complexContent></xsd:complexType>"
            f'<xsd:element name="{t.name}" type="{PREFIX}:{t.name}Type" substitutionGroup="{group}"/>'
        )
    parts.append("</xsd:schema>")
    return "".join(parts).encode()
