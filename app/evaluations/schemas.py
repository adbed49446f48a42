"""Evaluation I/O (SPEC §5 `/evaluations`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.features.pages import Page

Stage = Literal["commissioning", "periodic", "rectification", "expiry"]
Status = Literal["scheduled", "overdue", "completed", "cancelled"]
Measured = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ResultIn(BaseModel):
    """POST /evaluations/{id}/result: what was measured, in the catalogue's units."""

    model_config = ConfigDict(extra="forbid")

    evaluated_on: date
    measurements: dict[str, Measured] = Field(description="indicator code → measured value")
    note: str | None = Field(None, max_length=2000)


class PeerGroupRead(BaseModel):
    """The bottom line of one efficiency indicator and the peer group it came from (frozen)."""

    bottom_line: float
    source: Literal["district", "city", "floor"]
    mean: float | None
    n: int
    group: dict[str, Any] = Field(description="industry_code, district_code (null: city-wide), year, as_of")


class EvaluationRead(BaseModel):
    """An evaluation: scheduled, overdue, completed (with its frozen result) or cancelled."""

    id: int
    contract_id: int
    contract_code: str
    parcel_id: int
    parcel_code: str | None
    district_code: str | None
    responsible_org_id: int
    responsible_org_name: str | None
    enterprise_id: int
    enterprise_name: str
    stage: Stage
    seq: int
    due_on: date
    status: Status
    overdue: bool
    days_overdue: int
    evaluated_on: date | None
    cancelled_on: date | None
    outcome: Literal["pass", "below_bottom_line"] | None
    measurements: dict[str, float] | None
    attainment: dict[str, dict[str, Any]] | None
    ratios: dict[str, float | None] | None
    peer_groups: dict[str, PeerGroupRead] | None
    consequence: Literal["none", "rectification", "restored", "exit_candidate"] | None
    exit_reason: str | None
    evidence: list[int] | None = Field(description="below-bottom-line results in a row, ending with this one")
    note: str | None
    evaluated_by: str | None
    recorded_at: datetime | None


EvaluationPage = Page[EvaluationRead]
