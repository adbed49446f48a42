"""Small HTML pages of the OGC API resources (17-069r4 §7.9, /req/html/definition and /req/html/content).

Server-rendered, one page per resource, every value escaped, no script and nothing fetched from a CDN:
a person with a browser sees what a client reads from the JSON, with its links.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

import orjson

_STYLE = ("body{font:15px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:70em;padding:0 1em;color:#222}"
          "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;"
          "text-align:left;vertical-align:top}th{background:#f3f3f3}code,pre{font-size:13px}"
          "nav a{margin-right:1em}pre{white-space:pre-wrap;word-break:break-all;max-height:12em;overflow:auto}")


def _e(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def page(title: str, body: str, links: list[dict[str, Any]]) -> bytes:
    """A whole page: the title, the resource's links as a list, the body."""
    items = "".join(f'<li><a href="{_e(link["href"])}">{_e(link.get("title") or link["rel"])}</a> '
                    f'<small>({_e(link["rel"])}, {_e(link.get("type", ""))})</small></li>' for link in links)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>'
            f'<body><h1>{_e(title)}</h1>{body}<h2>Links</h2><ul>{items}</ul></body></html>').encode()


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _a(href: str, text: Any) -> str:
    return f'<a href="{_e(href)}">{_e(text)}</a>'


def landing(doc: dict[str, Any]) -> bytes:
    """The landing page."""
    return page(doc["title"], f"<p>{_e(doc.get('description'))}</p>", doc["links"])


def conformance(doc: dict[str, Any]) -> bytes:
    """The conformance declaration."""
    items = "".join(f"<li><code>{_e(uri)}</code></li>" for uri in doc["conformsTo"])
    return page("Conformance", f"<ul>{items}</ul>", doc.get("links", []))


def collections(doc: dict[str, Any]) -> bytes:
    """The list of collections."""
    rows = [[_a(_href(c, "self"), c["id"]), _e(c["title"]), _e(c["description"]), _a(_href(c, "items", "text/html"),
                                                                                       "items")]
            for c in doc["collections"]]
    return page("Collections", _table(["id", "title", "description", ""], rows), doc["links"])


def collection(doc: dict[str, Any]) -> bytes:
    """One collection's metadata."""
    spatial = doc["extent"]["spatial"]["bbox"][0]
    rows = [["id", _e(doc["id"])], ["description", _e(doc["description"])], ["item type", _e(doc["itemType"])],
            ["spatial extent (CRS84)", _e(", ".join(f"{v:.6f}" for v in spatial))],
            ["storage CRS", f"<code>{_e(doc['storageCrs'])}</code>"],
            ["CRSs", "<br>".join(f"<code>{_e(uri)}</code>" for uri in doc["crs"])]]
    temporal = doc["extent"].get("temporal")
    if temporal:
        start, end = temporal["interval"][0]
        rows.append(["temporal extent", f"{_e(start)} – {_e(end or 'now')}"])
    return page(doc["title"], _table(["", ""], rows), doc["links"])


def items(title: str, features_json: str, matched: int | None, links: list[dict[str, Any]], item_url: str) -> bytes:
    """A page of features: their ids (linked), properties, and the geometry type."""
    features = orjson.loads(f"[{features_json}]") if features_json else []
    names: list[str] = []
    for f in features:
        names.extend(n for n in f["properties"] if n not in names)
    rows = [[_a(f"{item_url}/{quote(str(f['id']), safe='')}?f=html", f["id"]),
             _e((f.get("geometry") or {}).get("type")), *(_e(f["properties"].get(n)) for n in names)]
            for f in features]
    shown = f"<p>{len(features)} of {_e(matched)} features</p>"
    return page(title, shown + _table(["id", "geometry", *names], rows), links)


def item(title: str, feature: dict[str, Any]) -> bytes:
    """One feature: its properties and its geometry as GeoJSON text."""
    rows = [[_e(k), _e(v)] for k, v in feature["properties"].items()]
    geometry = orjson.dumps(feature.get("geometry")).decode()
    body = _table(["property", "value"], rows) + f"<h2>Geometry</h2><pre>{_e(geometry)}</pre>"
    return page(title, body, feature.get("links", []))


def schema(title: str, doc: dict[str, Any], links: list[dict[str, Any]]) -> bytes:
    """Queryables or sortables: each property with its type."""
    rows = [[_e(name), _e(spec.get("type") or spec.get("format") or spec.get("$ref") or "")]
            for name, spec in doc.get("properties", {}).items()]
    return page(title, _table(["property", "type"], rows), links)


def api(doc: dict[str, Any], links: list[dict[str, Any]]) -> bytes:
    """The API definition as a list of its operations."""
    rows = [[f"<code>{_e(method.upper())}</code>", f"<code>{_e(path)}</code>", _e(op.get("summary"))]
            for path, ops in doc["paths"].items() for method, op in ops.items() if method != "parameters"]
    return page(doc["info"]["title"] + " — API definition", _table(["method", "path", "summary"], rows), links)


def _href(doc: dict[str, Any], rel: str, media: str | None = None) -> str:
    for link in doc["links"]:
        if link["rel"] == rel and (media is None or link.get("type") == media):
            return str(link["href"])
    return ""
