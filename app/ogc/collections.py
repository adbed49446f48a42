"""The OGC API collections: the WFS feature types (app/wfs/registry.py), one whitelist for both surfaces.

Each collection is a registry `FeatureType` (its props are what items show, filter and sort on, and what
CQL2 may name) plus what OGC API – Features adds: whether rule 10's versions make it temporal, its ids in
paths, and its metadata document (OGC 17-069r4 §7.14, 18-058r1 §6.2). Confidential types follow
`readable_types` (SPEC §4): a reader who may not read exit candidates is not told they exist (404).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, func, select

from app.auth.permissions import Actor
from app.errors import NotFound
from app.parcels import query as parcel_query
from app.wfs.capabilities import Bounds
from app.wfs.registry import BY_NAME, FeatureType, Prop, readable_types
from app.zones import query as zone_query
from gis.crs import STORAGE_SRID, SUPPORTED_SRIDS, crs_uri

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# OGC 18-058r1 §6.2.1: CRS84 (the default, /req/crs/fc-md-crs-list B) and SPEC §2's six, storage first.
CRS_URIS: tuple[str, ...] = (CRS84, *(crs_uri(srid) for srid in SUPPORTED_SRIDS))
STORAGE_CRS = crs_uri(STORAGE_SRID)
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"


@dataclass(frozen=True)
class Collection:
    """A feature type served as an OGC API collection. `table`: the versioned table (rule 10) whose
    `valid_from`/`valid_to` the `datetime` parameter reads; None for types without versions (districts,
    exit candidates, whose registry query already picks the live rows)."""

    ftype: FeatureType
    table: FromClause | None = None
    # The collection_version counter of `table`: the ETag and the cached counts follow its writes.
    counter: str | None = None

    @property
    def id(self) -> str:
        """The collectionId in paths (`parcels`)."""
        return self.ftype.name

    @property
    def writable(self) -> bool:
        """Whether Part 4 writes apply (the registry names a writer)."""
        return self.ftype.writer is not None

    @property
    def key(self) -> ColumnElement[Any]:
        """The featureId column."""
        return self.ftype.key

    def props(self) -> tuple[Prop, ...]:
        """The properties a feature shows: the whitelist without the id, which is the feature's `id`."""
        return tuple(p for p in self.ftype.props if not (p.name == "id" and self.ftype.key_is_int))

    def prop(self, name: str) -> Prop | None:
        """A whitelisted property by name (the id included, for equality filters)."""
        return self.ftype.prop(name)

    def rows(self, columns: Sequence[Any], clauses: Sequence[ColumnElement[bool]]) -> Select[Any]:
        """SELECT columns of the collection's rows WHERE clauses, in featureId order. A versioned table is read
        without the registry's `current` restriction: the caller's clauses pick the versions (rule 10)."""
        if self.table is None:
            return self.ftype.select(columns, clauses)
        return select(*columns).select_from(self.table).where(*clauses).order_by(self.key)

    def feature_id(self, text: str) -> Any:
        """A path's featureId as the key's type; None when it cannot name a feature (so: 404)."""
        if not self.ftype.key_is_int:
            return text if 0 < len(text) <= 80 else None
        return int(text) if text.isdigit() and len(text) <= 18 else None


COLLECTIONS: tuple[Collection, ...] = (
    Collection(BY_NAME["parcels"], parcel_query.parcel, "parcel"),
    Collection(BY_NAME["zones"], zone_query.zone, "zone"),
    Collection(BY_NAME["districts"], None, "district"),
    Collection(BY_NAME["exit_candidates"]),  # live candidates depend on the date too: never cached
)
_BY_ID = {c.id: c for c in COLLECTIONS}


def readable(actor: Actor) -> tuple[Collection, ...]:
    """The collections `actor` may read, in registry order (SPEC §4)."""
    names = {t.name for t in readable_types(actor)}
    return tuple(c for c in COLLECTIONS if c.id in names)


def collection_for(actor: Actor, cid: str) -> Collection:
    """The collection `cid` if `actor` may read it; NOT_FOUND otherwise (unknown and unreadable alike)."""
    found = _BY_ID.get(cid)
    if found is None or found not in readable(actor):
        raise NotFound(f"no collection {cid[:60]!r}; see /ogc/collections", collection=cid[:60])
    return found


def temporal_start(c: Collection) -> Select[Any] | None:
    """The earliest `valid_from` of a versioned collection (indexed), for its temporal extent."""
    return None if c.table is None else select(func.min(c.table.c.valid_from))


def link(href: str, rel: str, media: str, title: str | None = None) -> dict[str, Any]:
    """An OGC link object (17-069r4 §7.3, /req/core/fc-rel-type: rel and type on every link)."""
    out: dict[str, Any] = {"href": href, "rel": rel, "type": media}
    if title:
        out["title"] = title
    return out


def collection_doc(c: Collection, base: str, bounds: Bounds, start: datetime | None) -> dict[str, Any]:
    """The collection object (17-069r4 §7.14 collection.yaml; 18-058r1 §6.2 crs and storageCrs, 19-079r2
    §6.2 queryables), `base` the public URL of /ogc."""
    url = f"{base}/collections/{c.id}"
    links = [
        link(url, "self", JSON, "this collection"),
        link(f"{url}?f=html", "alternate", HTML, "this collection as HTML"),
        link(f"{url}/items", "items", GEOJSON, "the features"),
        link(f"{url}/items?f=html", "items", HTML, "the features as HTML"),
        link(f"{url}/sortables", "http://www.opengis.net/def/rel/ogc/1.0/sortables", "application/schema+json",
             "the properties sortby may name"),
    ]
    links.append(link(f"{url}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                      "application/schema+json", "the properties filters may name"))
    extent: dict[str, Any] = {"spatial": {"bbox": [_outward(bounds)], "crs": CRS84}}
    if c.table is not None:
        # Rule 10: versions from the first valid_from on; the current ones are open-ended (null).
        extent["temporal"] = {"interval": [[_rfc3339(start), None]], "trs": GREGORIAN}
    return {
        "id": c.id,
        "title": c.ftype.title,
        "description": c.ftype.abstract,
        "keywords": list(c.ftype.keywords),
        "itemType": "feature",
        "extent": extent,
        "crs": list(CRS_URIS),
        "storageCrs": STORAGE_CRS,
        "links": links,
    }


def _outward(bounds: Bounds) -> list[float]:
    """The bounds rounded outward to the 7 decimals features are written with (~1 cm), so the extent holds
    every coordinate as served (/req/core/fc-md-extent)."""
    x0, y0, x1, y1 = bounds
    scale = 10**7
    return [math.floor(x0 * scale) / scale, math.floor(y0 * scale) / scale,
            math.ceil(x1 * scale) / scale, math.ceil(y1 * scale) / scale]


def _rfc3339(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def sortables_schema(c: Collection, url: str) -> dict[str, Any]:
    """The properties `sortby` takes (OGC 19-079r2-style JSON Schema, draft Part 8 /sortables)."""
    props = {p.name: {"title": p.name, "type": _json_type(p.xsd)} for p in c.ftype.props}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": url, "type": "object",
            "title": c.ftype.title, "properties": props}


_JSON_TYPES = {"long": "integer", "int": "integer", "decimal": "number", "double": "number", "boolean": "boolean"}


def _json_type(xsd: str) -> str:
    return _JSON_TYPES.get(xsd, "string")
