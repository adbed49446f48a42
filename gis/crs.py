"""Coordinate reference systems: the only place SRIDs are spelled (SPEC §2).

Storage is EPSG:4490 (CGCS2000 lon/lat). Clients name a CRS as `EPSG:4549`, an OGC URI
(`http://www.opengis.net/def/crs/EPSG/0/4549`), a URN (`urn:ogc:def:crs:EPSG::4549`), the old GML form
(`http://www.opengis.net/gml/srs/epsg.xml#4549`) or `CRS84`. The form decides the axis order a WFS
client expects: URIs and URNs follow the EPSG database (lat/lon for 4490/4326, northing/easting for
the Gauss-Krüger systems), the short `EPSG:` form and the old GML form are lon/lat (x/y) by tradition
(WFS 1.1 / 2.0 practice, OGC 09-025 §7.9.2.4.3). GeoJSON is always x/y (RFC 7946 §3.1.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from pyproj import CRS, Transformer

from gis.errors import CrsError

STORAGE_SRID = 4490
WEB_MERCATOR_SRID = 3857  # vector tiles (XYZ scheme) are cut in Web Mercator
SUPPORTED_SRIDS: tuple[int, ...] = (4490, 4326, 3857, 4549, 4550, 4510)

_PATTERNS = (
    (re.compile(r"^EPSG:(\d+)$", re.I), False),
    (re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/[^/]+/(\d+)$", re.I), True),
    (re.compile(r"^urn:(?:x-)?ogc:def:crs:EPSG:[^:]*:(\d+)$", re.I), True),
    (re.compile(r"^https?://www\.opengis\.net/gml/srs/epsg\.xml#(\d+)$", re.I), False),
)
_CRS84 = re.compile(
    r"^(?:https?://www\.opengis\.net/def/crs/OGC/1\.3/CRS84|urn:ogc:def:crs:OGC:1\.3:CRS84|CRS84|OGC:CRS84)$", re.I)


@dataclass(frozen=True, slots=True)
class CrsRef:
    """A supported CRS as a client named it: the EPSG code and whether the name implies EPSG axis order."""

    srid: int
    authority_axes: bool = False

    @property
    def swaps_axes(self) -> bool:
        """True when coordinates must be written y/x (lat/lon, northing/easting) for this name."""
        return self.authority_axes and northing_first(self.srid)

    @property
    def is_geographic(self) -> bool:
        """Degrees (geographic) rather than metres."""
        return geographic(self.srid)

    @property
    def uri(self) -> str:
        """The OGC URI (`http://www.opengis.net/def/crs/EPSG/0/N`), as OGC API and REST headers use."""
        return crs_uri(self.srid)

    @property
    def decimals(self) -> int:
        """Output precision of about a centimetre: 7 decimals of a degree, 3 of a metre."""
        return 7 if self.is_geographic else 3


STORAGE = CrsRef(STORAGE_SRID)


def parse_crs(text: str | None, default: CrsRef = STORAGE) -> CrsRef:
    """Name → CrsRef; raises CrsError for malformed names and for EPSG codes outside SUPPORTED_SRIDS."""
    if text is None or not text.strip():
        return default
    value = text.strip()
    if _CRS84.match(value):
        return CrsRef(4326, authority_axes=False)
    for pattern, authority in _PATTERNS:
        match = pattern.match(value)
        if match:
            srid = int(match.group(1))
            if srid not in SUPPORTED_SRIDS:
                raise CrsError(f"EPSG:{srid} is not offered; use one of {supported_names()}")
            return CrsRef(srid, authority_axes=authority)
    raise CrsError(f"cannot read CRS {value[:80]!r}; use one of {supported_names()}")


def from_definition(definition: str | None) -> CrsRef | None:
    """The CRS a file declares (WKT, PROJ string or authority code) → CrsRef, None when it declares none;
    CrsError when it is not one of SUPPORTED_SRIDS (ESRI-flavoured WKT from .prj files is identified too)."""
    if definition is None or not str(definition).strip():
        return None
    try:
        crs = CRS.from_user_input(definition)
    except Exception:  # pyproj raises CRSError and friends for text it cannot read
        raise CrsError(f"cannot read the file's CRS; name it (one of {supported_names()})") from None
    srid = crs.to_epsg(min_confidence=70)
    if srid is None or srid not in SUPPORTED_SRIDS:
        name = f"EPSG:{srid}" if srid else repr(crs.name)
        raise CrsError(f"the file's CRS {name} is not offered; reproject to one of {supported_names()}")
    return CrsRef(srid)


def supported_names() -> str:
    """The supported CRSs, for error messages."""
    return ", ".join(f"EPSG:{srid}" for srid in SUPPORTED_SRIDS)


def crs_uri(srid: int) -> str:
    """OGC URI of an EPSG code."""
    return f"http://www.opengis.net/def/crs/EPSG/0/{srid}"


def crs_urn(srid: int) -> str:
    """OGC URN of an EPSG code, as WFS 1.1/2.0 capabilities name them."""
    return f"urn:ogc:def:crs:EPSG::{srid}"


@cache
def northing_first(srid: int) -> bool:
    """Whether the EPSG definition lists the north (latitude/northing) axis first."""
    axes = CRS.from_epsg(srid).axis_info
    return bool(axes) and axes[0].direction.lower() in {"north", "south"}


@cache
def geographic(srid: int) -> bool:
    """Whether the CRS is in degrees."""
    return bool(CRS.from_epsg(srid).is_geographic)


@cache
def transformer(source: int, target: int) -> Transformer:
    """A cached x/y (lon/lat, easting/northing) transformer between two EPSG codes."""
    return Transformer.from_crs(source, target, always_xy=True)
