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
    """POST /evaluations/{id}/result: what was measured, in the catalogue's units. Every contract and
    efficiency indicator not given is measured from the figures delivered for `year`."""

    model_config = ConfigDict(extra="forbid")

    evaluated_on: date
    measurements: dict[str, Measured] = Field(
        default_factory=dict, description="indicator code → measured value (typed in: source `entered`); "
                                          "the others from the delivered figures")
    year: int | None = Field(None, ge=1990, le=2100, description="the year whose delivered figures measure "
                                                                 "the indicators not given; default: the "
                                                                 "calendar year of the due date")
    note: str | None = Field(None, max_length=2000)


class YearRecordIn(BaseModel):
    """POST /evaluations/results: record a year's due evaluations from the delivered figures."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=1990, le=2100, description="evaluations due in this year, measured from its figures")
    evaluated_on: date | None = Field(None, description="the results' date; default today. Evaluations due "
                                                        "after it are left for later")
    district_code: str | None = Field(None, pattern=r"^\d{6}$", description="only this district's")
    dry_run: bool = Field(False, description="score and count, write nothing")


class SkippedRead(BaseModel):
    """A due evaluation the year's record left pending, and why."""

    evaluation_id: int
    contract_id: int
    contract_code: str
    due_on: date
    reason: str
    missing: dict[str, list[str]] | None = Field(None, description="indicator → the figures of the year "
                                                                   "nobody delivered")


class YearRecordRead(BaseModel):
    """What a year's record did (or with dry_run would do)."""

    year: int
    evaluated_on: date
    dry_run: bool
    district_code: str | None
    due: int = Field(description="pending evaluations due in the year (up to evaluated_on) in the scope")
    recorded: int
    outcomes: dict[str, int]
    consequences: dict[str, int]
    skipped: int
    skipped_items: list[SkippedRead] = Field(description="the first 100 skipped")


class FigureSourceRead(BaseModel):
    """One delivered figure an indicator was derived from."""

    source: str = Field(description="tax, statistics, energy or environment")
    batch_id: int
    subject: Literal["contract", "enterprise"] = Field(
        description="the contract's own value, or its enterprise's apportioned by land")
    share: float = Field(description="the contract's share of its enterprise's land (1 for its own value)")


class MeasurementSourceRead(BaseModel):
    """Where a measured value came from: typed in (`entered`, `by`), or delivered (`year`, `batches`,
    `figures`). `source` of a delivered value names its departments, sorted and joined by "+" when it is
    derived from two (energy per value added: `energy+statistics`)."""

    source: str = Field(description='"entered", a department, or two joined by "+"')
    by: str | None = Field(None, description="who typed it in")
    year: int | None = None
    batches: list[int] | None = None
    figures: dict[str, FigureSourceRead] | None = None


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
    measurement_sources: dict[str, MeasurementSourceRead] | None = Field(
        description="per measured indicator, where its value came from (null: recorded before sources were "
                    "kept)")
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
