"""`/wfs/project.qgs`: a QGIS project with the layers connected to this WFS, parcels styled by tier."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from gis.crs import STORAGE_SRID

Bounds = tuple[float, float, float, float]

# Tier colours (fill RGBA); reference uses (tier null) are grey.
TIERS = (
    ("base", "Base (industrial base)", "215,48,39,200"),
    ("community", "Community (industrial community)", "252,141,89,200"),
    ("fragment", "Fragment (outside zones)", "145,191,219,200"),
    ("", "Other use (no tier)", "190,190,190,160"),
)


def _fill(
    name: str, color: str, outline: str = "60,60,60,255", width: str = "0.1", style: str = "solid"
) -> str:
    props = {
        "color": color,
        "outline_color": outline,
        "outline_width": width,
        "outline_width_unit": "MM",
        "style": style,
        "outline_style": "solid",
        "joinstyle": "bevel",
    }
    inner = "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in props.items())
    return (
        f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
        f'<layer class="SimpleFill" enabled="1" locked="0" pass="0">{inner}</layer></symbol>'
    )


def _srs() -> str:
    return (
        f"<spatialrefsys><authid>EPSG:{STORAGE_SRID}</authid><srid>{STORAGE_SRID}</srid>"
        "<description>China Geodetic Coordinate System 2000</description><projectionacronym>longlat"
        "</projectionacronym><geographicflag>true</geographicflag></spatialrefsys>"
    )


def _layer(layer_id: str, name: str, url: str, typename: str, renderer: str, b: Bounds) -> str:
    source = (
        f"url='{url}' typename='{typename}' version='auto' pagingEnabled='true' restrictToRequestBBOX='0'"
    )
    return (
        f'<maplayer type="vector" geometry="Polygon" wkbType="MultiPolygon" autoRefreshEnabled="0">'
        f"<extent><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></extent>"
        f"<id>{layer_id}</id><datasource>{escape(source)}</datasource><layername>{escape(name)}</layername>"
        f'<srs>{_srs()}</srs><provider encoding="UTF-8">WFS</provider>{renderer}</maplayer>'
    )


def qgs(url: str, box: dict[str, Bounds]) -> bytes:
    """The project document (QGIS 3.x reads it; credentials are asked for on opening)."""
    cats = "".join(
        f'<category render="true" symbol="{i}" value={quoteattr(v)} label={quoteattr(label)}/>'
        for i, (v, label, _) in enumerate(TIERS)
    )
    syms = "".join(_fill(str(i), color) for i, (_, _, color) in enumerate(TIERS))
    parcels = (
        f'<renderer-v2 type="categorizedSymbol" attr="tier" symbollevels="0" enableorderby="0" '
        f'forceraster="0"><categories>{cats}</categories><symbols>{syms}</symbols></renderer-v2>'
    )
    zones = (
        '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0"><symbols>'
        + _fill("0", "0,0,0,0", "102,45,145,255", "0.6", "no")
        + "</symbols></renderer-v2>"
    )
    districts = (
        '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0"><symbols>'
        + _fill("0", "0,0,0,0", "80,80,80,255", "0.4", "no")
        + "</symbols></renderer-v2>"
    )
    layers = [
        ("landcycle_parcels", "Parcels (by tier)", "landcycle:parcels", parcels),
        ("landcycle_zones", "Zones", "landcycle:zones", zones),
        ("landcycle_districts", "Districts", "landcycle:districts", districts),
    ]
    tree = "".join(
        f'<layer-tree-layer id="{lid}" name={quoteattr(name)} providerKey="WFS" checked="Qt::Checked" '
        f'expanded="1" source={quoteattr(url)}><customproperties/></layer-tree-layer>'
        for lid, name, _, _ in layers
    )
    maps = "".join(_layer(lid, name, url, tn, r, box[tn.split(":")[1]]) for lid, name, tn, r in layers)
    b = box["districts"]
    order = "".join(f"<item>{lid}</item>" for lid, _, _, _ in layers)
    doc = (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis projectname="Landcycle" version="3.22.0">'
        "<title>Landcycle — Shanghai industrial land</title>"
        f"<projectCrs>{_srs()}</projectCrs>"
        f'<layer-tree-group><customproperties/>{tree}<custom-order enabled="0">{order}</custom-order>'
        "</layer-tree-group>"
        '<mapcanvas name="theMapCanvas" annotationsVisible="1"><units>degrees</units><extent>'
        f'<xmin>{b[0]}</xmin>'
        f"<ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></extent><rotation>0</rotation>"
        f"<destinationsrs>{_srs()}</destinationsrs></mapcanvas>"
        f"<projectlayers>{maps}</projectlayers>"
        "</qgis>"
    )
    return doc.encode()
