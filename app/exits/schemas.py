"""Exit I/O (SPEC §5 `/exit-candidates`, `/exit-cases`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.contracts.schemas import ContractTerms
from app.features.pages import Page

Reason = Literal["repeated_below_bottom_line", "failed_rectification", "expired", "idle_land", "repeated_class_d"]
Method = Literal["recovery", "buyback", "transfer"]


class ExitCandidateRead(BaseModel):
    """A contract that rule 7 makes an exit candidate, for one reason, with its evidence."""

    contract_id: int
    contract_code: str
    contract_status: str
    parcel_id: int
    parcel_code: str | None
    district_code: str | None
    enterprise_id: int
    enterprise_name: str
    industry_code: str
    responsible_org_id: int
    reason: Reason
    evidence: list[int] = Field(description="the evaluation ids that show it")
    since: date


ExitCandidatePage = Page[ExitCandidateRead]


class ExitCaseCreate(BaseModel):
    """POST /exit-cases (bureau)."""

    model_config = ConfigDict(extra="forbid")

    contract_id: int = Field(ge=1, le=2**62)
    method: Method
    decision_ref: str = Field(min_length=1, max_length=200, description="the municipal decision")
    opened_on: date | None = Field(None, description="default today")
    note: str | None = Field(None, max_length=2000)


class ExitCaseComplete(BaseModel):
    """POST /exit-cases/{id}/complete (bureau); a transfer names the new enterprise's contract."""

    model_config = ConfigDict(extra="forbid")

    completed_on: date | None = Field(default=None, description="default today")
    note: str | None = Field(default=None, max_length=2000)
    transfer_contract: ContractTerms | None = Field(
        default=None, description="method transfer only: the `transfer` contract of the new enterprise "
                                  "(signed_on defaults to completed_on)")


class ExitCaseRead(BaseModel):
    """An exit case."""

    id: int
    contract_id: int
    parcel_id: int
    method: Method
    decision_ref: str
    reasons: list[Reason]
    evidence: list[int]
    status: Literal["open", "completed"]
    opened_on: date
    opened_by: str | None
    completed_on: date | None
    completed_by: str | None
    transfer_contract_id: int | None
    note: str | None
    created_at: datetime


ExitCasePage = Page[ExitCaseRead]
