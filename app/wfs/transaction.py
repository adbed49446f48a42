"""WFS-T Transaction (2.0.0, 1.1.0 and the 1.0.0 QGIS 3.22 sends): Insert, Update, Delete.

The request is read completely first (malformed → 400 InvalidValue/OperationParsingFailed); then every
action runs in ONE database transaction through `writers` (the REST services). The first refusal rolls
everything back and is answered as HTTP 200 with the SPEC code first in the text (QGIS shows it only
then); the refused attempt is audited after the rollback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import shapely
from lxml import etree
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Actor
from app.errors import GeometryInvalid
from app.policy import Policy
from app.wfs import writers
from app.wfs.filters import Translator
from app.wfs.model import VERSIONS, crs_param, default_crs
from app.wfs.ows import WfsError
from app.wfs.registry import GEOMETRY, FeatureType, find
from app.wfs.xmlsafe import children, local, text
from app.wfs.xmlsafe import ns as xml_ns
from gis.crs import CrsRef
from gis.errors import GeometryError
from gis.geometry import check_one
from gis.gml import GmlError, read_geometry, srs_name

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
GEOMETRY_NAMES = {GEOMETRY, "geom", "the_geom", "msGeometry", "wkb_geometry"}
MAX_ACTIONS = 5000


@dataclass
class Shape:
    """A client geometry as written, with the CRS its srsName (or the default) names."""

    geom: BaseGeometry
    crs: CrsRef


@dataclass
class Action:
    """One Insert feature, Update or Delete."""

    kind: str  # insert | update | delete
    ftype: FeatureType
    values: dict[str, Any] = field(default_factory=dict)
    shape: Shape | None = None
    clause: ColumnElement[bool] | None = None
    handle: str | None = None


@dataclass
class Transaction:
    """A parsed Transaction request."""

    version: str
    actions: list[Action]
    handle: str | None = None


def _invalid(message: str, locator: str = "Transaction") -> WfsError:
    return WfsError("InvalidValue", message, locator)


def _writable_type(name: str | None, locator: str) -> FeatureType:
    if not name:
        raise WfsError("MissingParameterValue", f"{locator} needs a typeName", locator)
    ftype = find(name, locator)
    if ftype.writer is None:
        raise WfsError(
            "OperationNotSupported",
            f"{ftype.qname} is read-only; WFS-T edits parcels and zones",
            locator,
            400,
        )
    return ftype


def _shape(el: etree._Element, fallback: CrsRef, version: str) -> Shape:
    srs = srs_name(el)
    crs = crs_param(srs, version, "srsName") if srs else fallback
    try:
        geom = read_geometry(el)
    except GmlError as exc:
        raise _invalid(f"geometry: {exc}", "geometry") from None
    return Shape(geom, crs)


def _value(el: etree._Element) -> Any:
    if el.get(XSI_NIL) in ("true", "1"):
        return None
    return text(el)


def parse(root: etree._Element) -> Transaction:
    """A Transaction element → actions (nothing touches the database here)."""
    version = (root.get("version") or "2.0.0").strip()
    if version not in VERSIONS:
        raise WfsError("InvalidParameterValue", f"version {version[:20]!r} is not offered", "version")
    actions: list[Action] = []
    for op in children(root):
        name = local(op.tag)
        if name == "Insert":
            fallback = crs_param(op.get("srsName"), version) if op.get("srsName") else default_crs(version)
            for feature in children(op):
                ftype = _writable_type(local(feature.tag), "Insert")
                action = Action("insert", ftype, handle=op.get("handle"))
                for prop in children(feature):
                    pname = local(prop.tag)
                    geoms = children(prop)
                    if pname in GEOMETRY_NAMES or geoms:
                        if len(geoms) != 1:
                            raise _invalid(f"{pname} must hold one GML geometry", pname)
                        action.shape = _shape(geoms[0], fallback, version)
                    elif xml_ns(prop.tag).startswith("http://www.opengis.net/gml"):
                        continue  # gml:name, gml:description, gml:boundedBy: not properties
                    else:
                        action.values[pname] = _value(prop)
                actions.append(action)
        elif name == "Update":
            ftype = _writable_type(op.get("typeName") or op.get("typeNames"), "Update")
            fallback = crs_param(op.get("srsName"), version) if op.get("srsName") else default_crs(version)
            action = Action("update", ftype, handle=op.get("handle"))
            for part in children(op):
                pname = local(part.tag)
                if pname == "Property":
                    key_el = next(
                        (c for c in children(part) if local(c.tag) in ("Name", "ValueReference")), None
                    )
                    val_el = next((c for c in children(part) if local(c.tag) == "Value"), None)
                    if key_el is None:
                        raise _invalid("Update/Property needs a Name (ValueReference)", "Property")
                    prop_name = text(key_el).split("/")[-1].split(":")[-1]
                    geoms = children(val_el) if val_el is not None else []
                    if prop_name in GEOMETRY_NAMES or geoms:
                        if len(geoms) != 1:
                            raise _invalid(f"{prop_name}: the new value must be one GML geometry", prop_name)
                        action.shape = _shape(geoms[0], fallback, version)
                    else:
                        action.values[prop_name] = None if val_el is None else _value(val_el)
                elif pname == "Filter":
                    action.clause = Translator(ftype, version).filter(part)
            if action.clause is None:
                raise WfsError("MissingParameterValue", "Update needs a Filter naming the features", "Filter")
            actions.append(action)
        elif name == "Delete":
            ftype = _writable_type(op.get("typeName") or op.get("typeNames"), "Delete")
            flt = next((c for c in children(op) if local(c.tag) == "Filter"), None)
            if flt is None:
                raise WfsError("MissingParameterValue", "Delete needs a Filter naming the features", "Filter")
            actions.append(
                Action(
                    "delete", ftype, clause=Translator(ftype, version).filter(flt), handle=op.get("handle")
                )
            )
        elif name in ("Replace", "Native"):
            raise WfsError("OperationNotSupported", f"{name} is not supported; use Update", name, 400)
        else:
            raise WfsError("OperationParsingFailed", f"unexpected element {name[:60]!r} in Transaction", name)
        if len(actions) > MAX_ACTIONS:
            raise WfsError(
                "OperationParsingFailed", f"more than {MAX_ACTIONS} actions in one Transaction", "Transaction"
            )
    return Transaction(version, actions, root.get("handle"))


def _storage(shape: Shape | None, policy: Policy) -> Any:
    if shape is None:
        return None
    geom = shape.geom
    if shape.crs.swaps_axes:
        geom = shapely.transform(geom, lambda c: c[:, ::-1].copy())
    try:
        return check_one(geom, CrsRef(shape.crs.srid), policy.extent)
    except GeometryError as exc:
        raise GeometryInvalid(str(exc), reason=str(exc)) from None


@dataclass
class Outcome:
    """What a successful Transaction did."""

    inserted: list[tuple[str, str | None]] = field(default_factory=list)  # (fid, handle)
    updated: int = 0
    deleted: int = 0


async def execute(session: AsyncSession, actor: Actor, policy: Policy, tx: Transaction) -> Outcome:
    """Run every action in the caller's transaction; a DomainError aborts the whole request."""
    out = Outcome()
    for action in tx.actions:
        kind = action.ftype.writer
        assert kind is not None
        if action.kind == "insert":
            new_id = await writers.insert(
                kind, session, actor, policy, action.values, _storage(action.shape, policy)
            )
            out.inserted.append((f"{action.ftype.name}.{new_id}", action.handle))
            continue
        assert action.clause is not None
        keys = list(await session.scalars(action.ftype.select([action.ftype.key], [action.clause])))
        for key in keys:
            if action.kind == "update":
                await writers.update(
                    kind, session, actor, policy, key, action.values, _storage(action.shape, policy)
                )
                out.updated += 1
            else:
                await writers.delete(kind, session, actor, policy, key)
                out.deleted += 1
    return out


def response(version: str, out: Outcome) -> bytes:
    """The success document of the request's version."""
    if version == "1.0.0":
        inserted = "".join(
            f"<wfs:InsertResult><ogc:FeatureId fid={quoteattr(fid)}/></wfs:InsertResult>"
            for fid, _ in out.inserted
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<wfs:WFS_TransactionResponse version="1.0.0" '
            'xmlns:wfs="http://www.opengis.net/wfs" xmlns:ogc="http://www.opengis.net/ogc">'
            f"{inserted}<wfs:TransactionResult><wfs:Status><wfs:SUCCESS/></wfs:Status></wfs:TransactionResult>"
            "</wfs:WFS_TransactionResponse>"
        ).encode()
    summary = (
        f"<wfs:TransactionSummary><wfs:totalInserted>{len(out.inserted)}</wfs:totalInserted>"
        f"<wfs:totalUpdated>{out.updated}</wfs:totalUpdated>"
        + ("<wfs:totalReplaced>0</wfs:totalReplaced>" if version == "2.0.0" else "")
        + f"<wfs:totalDeleted>{out.deleted}</wfs:totalDeleted></wfs:TransactionSummary>"
    )
    # Each version names the inserted features its own way: fes:ResourceId rid (2.0), ogc:FeatureId fid (1.1).
    doc, namespaces, id_tag, id_attr = (
        ("2.0.0", 'xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:fes="http://www.opengis.net/fes/2.0"',
         "fes:ResourceId", "rid")
        if version == "2.0.0" else
        ("1.1.0", 'xmlns:wfs="http://www.opengis.net/wfs" xmlns:ogc="http://www.opengis.net/ogc"',
         "ogc:FeatureId", "fid")
    )
    feats = "".join(
        f"<wfs:Feature{' handle=' + quoteattr(h) if h else ''}><{id_tag} {id_attr}={quoteattr(fid)}/>"
        "</wfs:Feature>"
        for fid, h in out.inserted
    )
    results = f"<wfs:InsertResults>{feats}</wfs:InsertResults>" if out.inserted else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<wfs:TransactionResponse version="{doc}" {namespaces}>'
        f"{summary}{results}</wfs:TransactionResponse>"
    ).encode()


def failed_10(message: str, locator: str | None) -> bytes:
    """1.0.0: a refusal is a FAILED status with the message (QGIS 3.22 shows it in its save dialog)."""
    loc = f"<wfs:Locator>{escape(locator)}</wfs:Locator>" if locator else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<wfs:WFS_TransactionResponse version="1.0.0" '
        'xmlns:wfs="http://www.opengis.net/wfs" xmlns:ogc="http://www.opengis.net/ogc">'
        f"<wfs:TransactionResult><wfs:Status><wfs:FAILED/></wfs:Status>{loc}"
        f"<wfs:Message>{escape(message)}</wfs:Message></wfs:TransactionResult>"
        "</wfs:WFS_TransactionResponse>"
    ).encode()
