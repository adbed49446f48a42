"""The one contract query (filters, as_of, history, paging) and the JSON shape every reader gets.

Status `expired` is derived: a contract past `expires_on` that was neither renewed nor exited still holds
its parcel (it is an exit candidate, rule 7) and reads as `expired`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, case, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by

from app.contracts.indicators import CATALOGUE
from app.parcels.query import alive_at
from models import Contract, ContractIndicator, Enterprise, Parcel

contract = cast(Table, Contract.__table__)
indicator = cast(Table, ContractIndicator.__table__)
enterprise = cast(Table, Enterprise.__table__)
parcel = Parcel.__table__.alias("p")

FILTERS = ("parcel_id", "enterprise_id", "responsible_org_id", "kind")


def effective_status(day: date | ColumnElement[Any]) -> ColumnElement[str]:
    """The stored status, or `expired` for a contract in force past its expiry on `day`."""
    return case(
        (and_(contract.c.status.in_(("active", "rectification")), contract.c.expires_on <= day), "expired"),
        else_=contract.c.status,
    )


def in_force_on(day: date | ColumnElement[Any], table: Any = contract) -> ColumnElement[bool]:
    """Rule 4's "in force" on a date: signed, not expired, not ended (exit case opened, renewed, ended)."""
    return and_(table.c.signed_on <= day, table.c.expires_on > day,
                or_(table.c.ended_on.is_(None), table.c.ended_on > day))


def in_force_sql(c: str = "c", day: str = ":day") -> str:
    """`in_force_on` as an SQL fragment, for the reports' and ratings' hand-written statements: contract
    alias `c` in force on the SQL date expression `day`."""
    return f"{c}.signed_on <= {day} AND {c}.expires_on > {day} AND ({c}.ended_on IS NULL OR {c}.ended_on > {day})"


@dataclass(frozen=True)
class ContractQuery:
    """What a client asked for; `today` decides the derived `expired`."""

    today: date
    ids: Sequence[int] | None = None
    filters: Mapping[str, Any] = field(default_factory=dict)
    status: str | None = None
    district_code: str | None = None
    organisation_id: int | None = None  # an org_manager's scope (SPEC §4): its organisation's contracts
    industry_code: str | None = None
    as_of: datetime | None = None
    history_of: int | None = None


def _indicators() -> Any:
    pair = func.jsonb_build_object("code", indicator.c.code, "target", indicator.c.target)
    agg = func.jsonb_agg(aggregate_order_by(pair, indicator.c.code))
    same_version = and_(indicator.c.contract_id == contract.c.id,
                        indicator.c.contract_version == contract.c.terms_version)
    return select(func.coalesce(agg, literal([], JSONB), type_=JSONB)).where(same_version).scalar_subquery()


def _day(q: ContractQuery) -> date:
    return q.as_of.date() if q.as_of is not None else q.today


def where(q: ContractQuery) -> list[ColumnElement[bool]]:
    """WHERE clauses of a ContractQuery."""
    clauses: list[ColumnElement[bool]] = []
    if q.history_of is not None:
        clauses.append(contract.c.id == q.history_of)
    else:
        clauses.append(alive_at(contract, q.as_of))
    if q.ids is not None:
        clauses.append(contract.c.id.in_(list(q.ids)))
    for name in FILTERS:
        if q.filters.get(name) is not None:
            clauses.append(contract.c[name] == q.filters[name])
    if q.status is not None:
        clauses.append(effective_status(_day(q)) == q.status)
    if q.district_code is not None:
        clauses.append(parcel.c.district_code == q.district_code)
    if q.organisation_id is not None:
        clauses.append(contract.c.responsible_org_id == q.organisation_id)
    if q.industry_code is not None:
        clauses.append(enterprise.c.industry_code == q.industry_code)
    return clauses


def _from(q: ContractQuery) -> Any:
    return (contract.join(enterprise, enterprise.c.id == contract.c.enterprise_id)
            .outerjoin(parcel, and_(parcel.c.id == contract.c.parcel_id, alive_at(parcel, q.as_of))))


def select_contracts(q: ContractQuery) -> Select[Any]:
    """The contracts with their parcel's code and district, enterprise and indicator targets."""
    return (select(contract, effective_status(_day(q)).label("effective_status"),
                   parcel.c.code.label("parcel_code"), parcel.c.district_code,
                   enterprise.c.name.label("enterprise_name"), enterprise.c.industry_code,
                   _indicators().label("indicators"))
            .select_from(_from(q)).where(*where(q)).order_by(contract.c.id, contract.c.version))


def count(q: ContractQuery) -> Select[Any]:
    """SELECT count(*) for numberMatched."""
    return select(func.count()).select_from(_from(q)).where(*where(q) or [true()])


def as_json(row: Any) -> dict[str, Any]:
    """The SPEC §5 contract resource (plus what a reader needs beside it: parcel code, district, names)."""
    m = row._mapping
    return {
        "id": m["id"], "version": m["version"], "code": m["code"], "parcel_id": m["parcel_id"],
        "parcel_code": m["parcel_code"], "district_code": m["district_code"],
        "enterprise_id": m["enterprise_id"], "enterprise_name": m["enterprise_name"],
        "industry_code": m["industry_code"], "responsible_org_id": m["responsible_org_id"],
        "kind": m["kind"], "supply_method": m["supply_method"], "signed_on": m["signed_on"],
        "term_years": m["term_years"], "evaluation_interval_years": m["evaluation_interval_years"],
        "commissioning_years": m["commissioning_years"], "start_by": m["start_by"],
        "expires_on": m["expires_on"], "status": m["effective_status"], "stored_status": m["status"],
        "rectify_by": m["rectify_by"], "ended_on": m["ended_on"],
        "indicators": [{"code": i["code"], "target": float(i["target"]), "unit": CATALOGUE[i["code"]].unit,
                        "comparator": CATALOGUE[i["code"]].comparator} for i in m["indicators"]],
        "valid_from": m["valid_from"], "valid_to": m["valid_to"], "changed_by": m["changed_by"],
    }
