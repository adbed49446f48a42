"""The feature types /wfs serves: one small entry each (name, key, geometry, typed properties, the one
query of the resource, and the writer when WFS-T may change it).

Adding a type is one `FeatureType(...)` in `TYPES`; every operation (capabilities, DescribeFeatureType,
GetFeature, filters, Transaction) reads it from here. Property names double as the filter whitelist:
nothing a client names reaches SQL unless it is a key of `FeatureType.props`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, func, select

from app.auth.permissions import Actor, contract_scope, may_read
from app.exits import query as exits_query
from app.parcels import query as parcel_query
from app.parcels import service as parcel_service
from app.wfs.ows import WfsError
from app.zones import query as zone_query
from app.zones import service as zone_service
from models import Contract, District
from models.base import current

NAMESPACE = "http://landcycle.example.org/wfs"
PREFIX = "landcycle"
GEOMETRY = "geometry"  # the geometry property's name in every type


@dataclass(frozen=True)
class Prop:
    """One property: its name, XML Schema type, SQL expression, and whether WFS-T may write it.

    `plain`: a CHECK constraint keeps the values to plain words or digits (no `&`, `<`, `>`, `"`, `\\`), so
    encoders write them without escaping (escaping every string was ~10 % of a full GetFeature's SQL)."""

    name: str
    xsd: str
    column: ColumnElement[Any]
    writable: bool = False
    plain: bool = False


@dataclass(frozen=True)
class FeatureType:
    """One feature type. `select(columns, clauses)` is the resource's own query (current rows, ordered
    by primary key); `writer` names the module of write functions, None for read-only types."""

    name: str
    title: str
    abstract: str
    key: ColumnElement[Any]
    key_is_int: bool
    geom: ColumnElement[Any]
    props: tuple[Prop, ...]
    select: Callable[[Sequence[Any], Sequence[ColumnElement[bool]]], Select[Any]]
    writer: str | None = None
    keywords: tuple[str, ...] = field(default_factory=tuple)
    # Tables (collection_version names) whose writes change this type: they key the cached bounds.
    tables: tuple[str, ...] = ()
    # Confidential district data (SPEC §4): the column of a row's district, read within the actor's
    # `contract_scope` (app/auth/permissions.py); None for the public types (parcels, zones, districts).
    district: ColumnElement[Any] | None = None
    # The responsible organisation of a row's contract, for an org_manager's `contract_scope`.
    organisation: ColumnElement[Any] | None = None

    @property
    def qname(self) -> str:
        """`landcycle:parcels`."""
        return f"{PREFIX}:{self.name}"

    def prop(self, name: str) -> Prop | None:
        """The property called `name` (whitelist lookup)."""
        for p in self.props:
            if p.name == name:
                return p
        return None


def _parcels(columns: Sequence[Any], clauses: Sequence[ColumnElement[bool]]) -> Select[Any]:
    return parcel_query.select_rows(parcel_query.ParcelQuery(extra=list(clauses)), *columns)


def _zones(columns: Sequence[Any], clauses: Sequence[ColumnElement[bool]]) -> Select[Any]:
    return zone_query.select_rows(zone_query.ZoneQuery(), *columns).where(*clauses)


_district = District.__table__


def _districts(columns: Sequence[Any], clauses: Sequence[ColumnElement[bool]]) -> Select[Any]:
    return select(*columns).select_from(_district).where(*clauses).order_by(_district.c.code)


_parcel = parcel_query.parcel
_zone = zone_query.zone
# Exit candidates (rule 7): the contracts slice's one candidates query, each joined to its parcel's current
# row for the geometry. A contract may be a candidate for two reasons: one feature per (contract, reason).
_candidate = exits_query.live_candidates().subquery("exit_candidate")
_candidate_parcel = parcel_query.parcel.alias("candidate_parcel")
_candidate_key = func.concat(_candidate.c.contract_id, "-", _candidate.c.reason)
_contract = cast(Table, Contract.__table__)
_candidate_org = (select(_contract.c.responsible_org_id)
                  .where(_contract.c.id == _candidate.c.contract_id, current(_contract)).scalar_subquery())


def _exit_candidates(columns: Sequence[Any], clauses: Sequence[ColumnElement[bool]]) -> Select[Any]:
    joined = _candidate.join(_candidate_parcel, and_(_candidate_parcel.c.id == _candidate.c.parcel_id,
                                                     current(_candidate_parcel)))
    return select(*columns).select_from(joined).where(*clauses).order_by(_candidate_key)


# Columns whose CHECK constraints allow only fixed words (models/parcel.py, models/zone.py) or digits
# (models/district.py); tests/unit/test_wfs_registry.py holds these to the constraints.
PLAIN_COLUMNS = {
    "parcel": frozenset({"land_use", "status", "tier", "legacy_zone", "plot_ratio_cap_source"}),
    "zone": frozenset({"kind"}),
    "district": frozenset({"code"}),
}


def _resource_props(table: str, key: ColumnElement[Any], types: Sequence[tuple[str, str]],
                    columns: Sequence[tuple[str, ColumnElement[Any]]], writable: Sequence[str]) -> tuple[Prop, ...]:
    """The id, then a REST resource's properties (its names, SQL and XML Schema types); WFS-T writes what the
    REST API writes."""
    xsd = dict(types)
    return (
        Prop("id", "long", key),
        *(Prop(name, xsd[name], col, name in writable, plain=name in PLAIN_COLUMNS[table]) for name, col in columns),
    )


TYPES: tuple[FeatureType, ...] = (
    FeatureType(
        name="parcels",
        title="Industrial land parcels",
        abstract="Parcels with land use, tier (base/community/fragment), planning lock and plot-ratio cap "
        "(SPEC §1–§3). Editable with WFS-T under the same rules as the REST API.",
        key=_parcel.c.id,
        key_is_int=True,
        geom=_parcel.c.geom,
        props=_resource_props("parcel", _parcel.c.id, parcel_query.PROPERTIES, parcel_query.property_columns(),
                              parcel_service.WRITABLE),
        select=_parcels,
        writer="parcels",
        keywords=("industrial land", "parcels", "Shanghai"),
        tables=("parcel",),
    ),
    FeatureType(
        name="zones",
        title="Industrial zones (bases and communities)",
        abstract="Planning polygons of kind base or community that give parcels their tier.",
        key=_zone.c.id,
        key_is_int=True,
        geom=_zone.c.geom,
        props=_resource_props("zone", _zone.c.id, zone_query.PROPERTIES, zone_query.property_columns(),
                              zone_service.WRITABLE),
        select=_zones,
        writer="zones",
        keywords=("zones", "industrial base", "industrial community"),
        tables=("zone",),
    ),
    FeatureType(
        name="districts",
        title="Districts",
        abstract="The municipality's districts (GB/T 2260 codes).",
        key=_district.c.code,
        key_is_int=False,
        geom=_district.c.geom,
        props=(
            Prop("code", "string", _district.c.code, plain=True),
            Prop("name_zh", "string", _district.c.name_zh),
            Prop("name_en", "string", _district.c.name_en),
        ),
        select=_districts,
        keywords=("districts",),
        tables=("district",),
    ),
    FeatureType(
        name="exit_candidates",
        title="Exit candidates",
        abstract="Contracts whose land should exit (rule 7): repeated below the bottom line, failed "
        "rectification, expired without renewal, or idle land; with the evaluations that show it. Read-only.",
        key=_candidate_key,
        key_is_int=False,
        geom=_candidate_parcel.c.geom,
        props=(
            Prop("contract_id", "long", _candidate.c.contract_id),
            Prop("parcel_id", "long", _candidate.c.parcel_id),
            Prop("parcel_code", "string", _candidate_parcel.c.code),
            Prop("district_code", "string", _candidate_parcel.c.district_code),
            Prop("reason", "string", _candidate.c.reason),
            Prop("evidence", "string", func.array_to_string(_candidate.c.evidence, ",")),
            Prop("since", "date", _candidate.c.since),
        ),
        select=_exit_candidates,
        keywords=("exit", "evaluation", "contracts"),
        tables=("contract", "evaluation", "parcel"),
        district=_candidate_parcel.c.district_code,
        organisation=_candidate_org,
    ),
)

BY_NAME = {t.name: t for t in TYPES}


def readable_types(actor: Actor) -> tuple[FeatureType, ...]:
    """The types `actor` may read, which are the ones its capabilities list: a confidential type only
    within a read scope (`contract_scope`, SPEC §4), so the public is not even told of exit candidates."""
    return tuple(t for t in TYPES if t.district is None or may_read(actor, f"read {t.qname}"))


def check_readable(actor: Actor, ftype: FeatureType) -> None:
    """Refuse (as `contract_scope` does) a confidential type `actor` may not read."""
    if ftype.district is not None:
        contract_scope(actor, None, f"read {ftype.qname}")


def find(qname: str, locator: str = "typeNames") -> FeatureType:
    """`landcycle:parcels`, `parcels` or `{ns}parcels` → the type; InvalidParameterValue otherwise."""
    name = qname.strip()
    if name.startswith("{"):
        namespace, _, name = name[1:].partition("}")
        if namespace != NAMESPACE:
            raise WfsError("InvalidParameterValue", f"unknown namespace {namespace[:80]!r}", locator)
    elif ":" in name:
        prefix, _, name = name.partition(":")
        if prefix != PREFIX:
            raise WfsError("InvalidParameterValue", f"unknown feature type {qname[:80]!r}", locator)
    found = BY_NAME.get(name)
    if found is None:
        raise WfsError(
            "InvalidParameterValue",
            f"unknown feature type {qname[:80]!r}; offered: {', '.join(t.qname for t in TYPES)}",
            locator,
        )
    return found


def parse_resource_id(rid: str, locator: str = "resourceId") -> tuple[FeatureType, Any]:
    """`parcels.123` → (parcels, 123); `districts.310115` → (districts, '310115')."""
    name, dot, key = rid.strip().partition(".")
    if not dot or not key:
        raise WfsError("InvalidParameterValue", f"resource id {rid[:80]!r} is not <type>.<id>", locator)
    ftype = find(name, locator)
    if ftype.key_is_int:
        if not key.isdigit() or len(key) > 18:
            raise WfsError(
                "InvalidParameterValue", f"resource id {rid[:80]!r}: the id must be an integer", locator
            )
        return ftype, int(key)
    return ftype, key
