"""Safe XML reading for POST bodies: no entities, no network, no DTDs, bounded size and depth.

XXE through WFS bodies is a known server hole (GeoServer CVE-2025-30220, CVE-2025-58360); lxml is told
never to resolve an entity or fetch anything, and the body is refused before parsing when too big.
"""

from __future__ import annotations

from lxml import etree

from app.wfs.ows import WfsError

MAX_BODY_BYTES = 32 * 1024 * 1024  # a Transaction of a few thousand parcels
MAX_DEPTH = 64

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    huge_tree=False,
    load_dtd=False,
    dtd_validation=False,
    remove_comments=True,
    remove_pis=True,
)


def parse(body: bytes) -> etree._Element:
    """Bytes → root element, or OperationParsingFailed with the parser's reason."""
    if len(body) > MAX_BODY_BYTES:
        raise WfsError(
            "OperationParsingFailed", f"request body above {MAX_BODY_BYTES // 1_048_576} MiB", "body"
        )
    if b"<!DOCTYPE" in body[:4096].upper() or b"<!ENTITY" in body.upper():
        raise WfsError("OperationParsingFailed", "DTDs and entity declarations are not accepted", "body")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise WfsError(
            "OperationParsingFailed", f"the request is not well-formed XML: {exc.msg}"[:300], "body"
        ) from None
    if root is None:
        raise WfsError("OperationParsingFailed", "empty request body", "body")
    _check_depth(root)
    return root


def _check_depth(root: etree._Element) -> None:
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > MAX_DEPTH:
            raise WfsError("OperationParsingFailed", f"XML nested deeper than {MAX_DEPTH} levels", "body")


def local(tag: object) -> str:
    """Local name of an element tag (`{ns}Name` → `Name`); comments and PIs give ''."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def ns(tag: object) -> str:
    """Namespace of an element tag ('' when none)."""
    if isinstance(tag, str) and tag.startswith("{"):
        return tag[1:].split("}", 1)[0]
    return ""


def children(el: etree._Element) -> list[etree._Element]:
    """Element children only (no comments or processing instructions)."""
    return [c for c in el if isinstance(c.tag, str)]


def text(el: etree._Element | None) -> str:
    """Text content, stripped ('' for None)."""
    if el is None:
        return ""
    return "".join(el.itertext()).strip()
