"""Plot-ratio request I/O."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.parcels.schemas import Link

RequestStatus = Literal["submitted", "public_notice", "approved", "rejected", "withdrawn"]
Route = Literal["district", "city"]


class RequestCreate(BaseModel):
    """POST /plot-ratio-requests."""

    model_config = ConfigDict(extra="forbid")

    parcel_id: int = Field(ge=1, le=2**62)
    requested_plot_ratio: float = Field(gt=0, lt=100)
    reason: str = Field(min_length=1, max_length=4000)
    reference_parcel_id: int | None = Field(None, ge=1, le=2**62,
                                            description="Office/commercial reference (rule 3); found when omitted")


class NoticeIn(BaseModel):
    """POST /plot-ratio-requests/{id}/notice: the public notice's first and last day."""

    model_config = ConfigDict(extra="forbid")

    starts_on: date
    ends_on: date


class DecisionIn(BaseModel):
    """POST /plot-ratio-requests/{id}/decision."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    note: str | None = Field(None, max_length=4000)


class RequestRead(BaseModel):
    """A plot-ratio request with its route, status, people and dates."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    parcel_id: int
    parcel_code: str
    district_code: str | None
    route: Route
    status: RequestStatus
    current_plot_ratio: float | None
    requested_plot_ratio: float
    default_cap: float
    reference_parcel_id: int | None
    reason: str
    submitted_by: str
    submitted_at: datetime
    notice_starts_on: date | None
    notice_ends_on: date | None
    notice_recorded_by: str | None
    notice_recorded_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    withdrawn_at: datetime | None
    parcel_version_applied: int | None
    version: int
    updated_at: datetime
    age_days: int


class RequestPage(BaseModel):
    """A page of the queue."""

    items: list[RequestRead]
    numberMatched: int
    numberReturned: int
    links: list[Link]
