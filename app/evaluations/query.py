"""The one evaluation query: filters, the derived status (`overdue` from today), the contract, parcel,
organisation and enterprise beside it. Used by `/evaluations`, `/reports/evaluations-due` and
`landcycle evaluations due`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, case, func, select, true

from models import Contract, Enterprise, Evaluation, Organisation, Parcel
from models.base import current

evaluation = cast(Table, Evaluation.__table__)
contract = cast(Table, Contract.__table__)
parcel = cast(Table, Parcel.__table__)
organisation = cast(Table, Organisation.__table__)
enterprise = cast(Table, Enterprise.__table__)
STATUSES = ("scheduled", "overdue", "completed", "cancelled")


def status_of(today: date) -> ColumnElement[str]:
    """completed | cancelled | overdue (due before today, no result) | scheduled."""
    return case(
        (evaluation.c.evaluated_on.is_not(None), "completed"),
        (evaluation.c.cancelled_on.is_not(None), "cancelled"),
        (evaluation.c.due_on < today, "overdue"),
        else_="scheduled",
    )


@dataclass(frozen=True)
class EvaluationQuery:
    """What a reader asked for."""

    today: date
    ids: Sequence[int] | None = None
    statuses: Sequence[str] | None = None
    stage: str | None = None
    due_before: date | None = None  # due_on < due_before
    due_until: date | None = None  # due_on <= due_until
    district_code: str | None = None
    organisation_id: int | None = None  # an org_manager's scope (SPEC §4): its organisation's contracts
    contract_id: int | None = None
    parcel_id: int | None = None


def source() -> Any:
    return (evaluation
            .join(contract, and_(contract.c.id == evaluation.c.contract_id, current(contract)))
            .outerjoin(parcel, and_(parcel.c.id == contract.c.parcel_id, current(parcel)))
            .outerjoin(organisation, organisation.c.id == contract.c.responsible_org_id)
            .join(enterprise, enterprise.c.id == contract.c.enterprise_id))


def where(q: EvaluationQuery) -> list[ColumnElement[bool]]:
    """WHERE clauses of an EvaluationQuery."""
    clauses: list[ColumnElement[bool]] = []
    if q.ids is not None:
        clauses.append(evaluation.c.id.in_(list(q.ids)))
    if q.statuses:
        clauses.append(status_of(q.today).in_(list(q.statuses)))
    if q.stage is not None:
        clauses.append(evaluation.c.stage == q.stage)
    if q.due_before is not None:
        clauses.append(evaluation.c.due_on < q.due_before)
    if q.due_until is not None:
        clauses.append(evaluation.c.due_on <= q.due_until)
    if q.district_code is not None:
        clauses.append(parcel.c.district_code == q.district_code)
    if q.organisation_id is not None:
        clauses.append(contract.c.responsible_org_id == q.organisation_id)
    if q.contract_id is not None:
        clauses.append(evaluation.c.contract_id == q.contract_id)
    if q.parcel_id is not None:
        clauses.append(contract.c.parcel_id == q.parcel_id)
    return clauses


def select_evaluations(q: EvaluationQuery) -> Select[Any]:
    """Evaluations ordered by due date (then id), with what a queue shows beside each."""
    return (select(evaluation, status_of(q.today).label("status"), contract.c.code.label("contract_code"),
                   contract.c.parcel_id, parcel.c.code.label("parcel_code"), parcel.c.district_code,
                   contract.c.responsible_org_id, organisation.c.name.label("responsible_org_name"),
                   contract.c.enterprise_id, enterprise.c.name.label("enterprise_name"))
            .select_from(source()).where(*where(q)).order_by(evaluation.c.due_on, evaluation.c.id))


def count(q: EvaluationQuery) -> Select[Any]:
    """SELECT count(*) for numberMatched."""
    return select(func.count()).select_from(source()).where(*where(q) or [true()])


def as_json(row: Any, today: date) -> dict[str, Any]:
    """The SPEC §5 evaluation resource."""
    m = row._mapping
    pending = m["evaluated_on"] is None and m["cancelled_on"] is None
    return {
        "id": m["id"], "contract_id": m["contract_id"], "contract_code": m["contract_code"],
        "parcel_id": m["parcel_id"], "parcel_code": m["parcel_code"], "district_code": m["district_code"],
        "responsible_org_id": m["responsible_org_id"], "responsible_org_name": m["responsible_org_name"],
        "enterprise_id": m["enterprise_id"], "enterprise_name": m["enterprise_name"],
        "stage": m["stage"], "seq": m["seq"], "due_on": m["due_on"], "status": m["status"],
        "overdue": m["status"] == "overdue",
        "days_overdue": (today - m["due_on"]).days if pending and m["due_on"] < today else 0,
        "evaluated_on": m["evaluated_on"], "cancelled_on": m["cancelled_on"], "outcome": m["outcome"],
        "measurements": m["measurements"], "measurement_sources": m["measurement_sources"],
        "attainment": m["attainment"], "ratios": m["ratios"],
        "peer_groups": m["peer_groups"], "consequence": m["consequence"], "exit_reason": m["exit_reason"],
        "evidence": m["evidence"], "note": m["note"], "evaluated_by": m["evaluated_by"],
        "recorded_at": m["recorded_at"],
    }
