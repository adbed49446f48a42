"""Helpers for the WFS tests: requests, XML parsing, namespaces."""

from __future__ import annotations

from typing import Any

import httpx
from lxml import etree

from tests.builders import basic

NS = {
    "wfs": "http://www.opengis.net/wfs/2.0",
    "wfs1": "http://www.opengis.net/wfs",
    "ows": "http://www.opengis.net/ows/1.1",
    "ows1": "http://www.opengis.net/ows",
    "fes": "http://www.opengis.net/fes/2.0",
    "ogc": "http://www.opengis.net/ogc",
    "gml": "http://www.opengis.net/gml/3.2",
    "gml1": "http://www.opengis.net/gml",
    "xsd": "http://www.w3.org/2001/XMLSchema",
    "lc": "http://landcycle.example.org/wfs",
    "xlink": "http://www.w3.org/1999/xlink",
}


async def kvp(client: httpx.AsyncClient, user: str | None = "bureau", **params: Any) -> httpx.Response:
    """GET /wfs with KVP params (SERVICE=WFS added)."""
    query = {"SERVICE": "WFS", **{k.upper(): str(v) for k, v in params.items()}}
    return await client.get("/wfs", params=query, headers=basic(user) if user else {})


async def post(client: httpx.AsyncClient, body: str, user: str | None = "bureau") -> httpx.Response:
    """POST an XML request to /wfs."""
    headers = {"Content-Type": "text/xml", **(basic(user) if user else {})}
    return await client.post("/wfs", content=body.encode(), headers=headers)


def xml(response: httpx.Response) -> etree._Element:
    """The response body as an lxml element."""
    return etree.fromstring(response.content)


def exception(response: httpx.Response) -> tuple[str, str | None, str]:
    """(exceptionCode, locator, text) of an ows:ExceptionReport."""
    root = xml(response)
    exc = root.find(".//{*}Exception")
    if exc is None:
        exc = root.find(".//{*}ServiceException")
        assert exc is not None, response.text
        return exc.get("code", ""), exc.get("locator"), (exc.text or "").strip()
    return exc.get("exceptionCode", ""), exc.get("locator"), "".join(exc.itertext()).strip()


def members(root: etree._Element, type_name: str = "parcels") -> list[etree._Element]:
    """The feature elements of a FeatureCollection."""
    return root.findall(f".//{{{NS['lc']}}}{type_name}")


def prop(feature: etree._Element, name: str) -> str | None:
    """A property's text (None when absent)."""
    el = feature.find(f"{{{NS['lc']}}}{name}")
    return None if el is None else (el.text or "")


def poslist(feature: etree._Element) -> list[float]:
    """The first posList (or coordinates) of a feature's geometry, as numbers."""
    for el in feature.iter():
        tag = etree.QName(el).localname
        if tag == "posList":
            return [float(v) for v in el.text.split()]
        if tag == "coordinates":
            return [float(v) for pair in el.text.split() for v in pair.split(",")]
    raise AssertionError("no coordinates")


FES = 'xmlns:fes="http://www.opengis.net/fes/2.0"'


def fes(inner: str) -> str:
    """A FES 2.0 filter."""
    return f"<fes:Filter {FES}>{inner}</fes:Filter>"


def equal_to(reference: str, literal: str) -> str:
    """A FES 2.0 PropertyIsEqualTo of a property (ValueReference) and a literal, for `fes(...)`."""
    return (f"<fes:PropertyIsEqualTo><fes:ValueReference>{reference}</fes:ValueReference>"
            f"<fes:Literal>{literal}</fes:Literal></fes:PropertyIsEqualTo>")


def get_feature_20(type_name: str, filter_xml: str = "", extra: str = "", attrs: str = "") -> str:
    """A WFS 2.0 GetFeature POST body."""
    return (
        f'<wfs:GetFeature service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0" '
        f'xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml/3.2" '
        f'xmlns:landcycle="http://landcycle.example.org/wfs" {attrs}>'
        f'<wfs:Query typeNames="{type_name}">{extra}{filter_xml}</wfs:Query></wfs:GetFeature>'
    )
