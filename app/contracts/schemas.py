"""Contract I/O (SPEC §5 `/contracts`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.contracts.service import ContractDraft
from app.features.pages import Page
from app.features.schemas import WritableMembers

Kind = Literal["new_supply", "renewal", "transfer"]
SupplyMethod = Literal["grant", "lease", "lease_then_grant"]
Status = Literal["active", "rectification", "exiting", "terminated", "expired"]
IndicatorCode = Literal["investment_intensity", "output_per_mu", "tax_per_mu", "energy_per_value_added",
                        "emissions_per_value_added", "rnd_intensity", "jobs"]
CODE = r"^[\w.\-/]+$"
# Derived members a client may send back unchanged from a GET; they are ignored.
READ_ONLY = frozenset({"id", "version", "expires_on", "stored_status", "rectify_by", "ended_on", "valid_from",
                       "valid_to", "changed_by", "parcel_code", "district_code", "enterprise_name",
                       "industry_code"})


class IndicatorIn(BaseModel):
    """A target from the catalogue, in the catalogue's unit."""

    model_config = ConfigDict(extra="ignore")

    code: IndicatorCode
    target: float = Field(ge=0, allow_inf_nan=False)


def _targets(indicators: list[IndicatorIn] | None) -> dict[str, float]:
    targets: dict[str, float] = {}
    for i in indicators or []:
        if i.code in targets:
            raise ValueError(f"indicator {i.code} appears twice")
        targets[i.code] = i.target
    return targets


class _Body(WritableMembers):
    read_only = READ_ONLY

    @field_validator("indicators", check_fields=False)
    @classmethod
    def _unique(cls, value: list[IndicatorIn] | None) -> list[IndicatorIn] | None:
        _targets(value)
        return value


class ContractTerms(_Body):
    """What a contract commits to, beside its parcel and kind."""

    code: str = Field(min_length=1, max_length=40, pattern=CODE)
    enterprise_id: int = Field(ge=1, le=2**62)
    responsible_org_id: int = Field(ge=1, le=2**62, description="the organisation that proposed the project")
    supply_method: SupplyMethod = "grant"
    signed_on: date | None = None
    term_years: int | None = Field(None, ge=1, le=50, description="default 20")
    evaluation_interval_years: int | None = Field(None, ge=3, le=5, description="default 5")
    commissioning_years: int | None = Field(None, ge=1, le=10, description="default 3")
    start_by: date | None = Field(None,
                                  description="agreed construction start (default: 6 months after signing)")
    indicators: list[IndicatorIn] = Field(default_factory=list)

    def draft(self, parcel_id: int, kind: str, default_signed_on: date) -> ContractDraft:
        """As the service sees it."""
        return ContractDraft(
            code=self.code, parcel_id=parcel_id, enterprise_id=self.enterprise_id,
            responsible_org_id=self.responsible_org_id, signed_on=self.signed_on or default_signed_on,
            kind=kind, supply_method=self.supply_method, term_years=self.term_years,
            evaluation_interval_years=self.evaluation_interval_years,
            commissioning_years=self.commissioning_years, start_by=self.start_by,
            indicators=_targets(self.indicators))


class ContractCreate(ContractTerms):
    """POST /contracts."""

    parcel_id: int = Field(ge=1, le=2**62)
    kind: Kind = "new_supply"
    signed_on: date


class ContractPatch(_Body):
    """PATCH /contracts/{id}: only members present change. The parcel, enterprise and kind of a contract do
    not change (that is another contract); its status follows evaluations and exit cases."""

    code: str | None = Field(None, min_length=1, max_length=40, pattern=CODE)
    responsible_org_id: int | None = Field(None, ge=1, le=2**62)
    supply_method: SupplyMethod | None = None
    signed_on: date | None = None
    term_years: int | None = Field(None, ge=1, le=50)
    evaluation_interval_years: int | None = Field(None, ge=3, le=5)
    commissioning_years: int | None = Field(None, ge=1, le=10)
    start_by: date | None = None
    indicators: list[IndicatorIn] | None = None
    status: Any = Field(None, description="not writable: it follows evaluation results and exit cases")

    def changes(self) -> dict[str, Any]:
        """The members the client sent (nulls for required members refused)."""
        if "status" in self.model_fields_set:
            raise ValueError("status is not writable: it follows evaluation results (rule 7) and exit cases "
                             "(rule 8)")
        out: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if value is None:
                raise ValueError(f"{name} cannot be cleared")
            out[name] = _targets(value) if name == "indicators" else value
        return out


class IndicatorRead(BaseModel):
    """A target with its unit and comparator."""

    code: IndicatorCode
    target: float
    unit: str
    comparator: Literal[">=", "<="]


class ContractRead(BaseModel):
    """A contract (one version)."""

    id: int
    version: int
    code: str
    parcel_id: int
    parcel_code: str | None
    district_code: str | None
    enterprise_id: int
    enterprise_name: str
    industry_code: str
    responsible_org_id: int
    kind: Kind
    supply_method: SupplyMethod
    signed_on: date
    term_years: int
    evaluation_interval_years: int
    commissioning_years: int
    start_by: date
    expires_on: date
    status: Status = Field(description="`expired` when past expires_on and neither renewed nor exited")
    stored_status: Status
    rectify_by: date | None
    ended_on: date | None = Field(description="when it stopped being in force (exit case opened, renewed)")
    indicators: list[IndicatorRead]
    valid_from: datetime
    valid_to: datetime | None
    changed_by: str | None


ContractPage = Page[ContractRead]
