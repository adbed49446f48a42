"""Responsible-organisation I/O (SPEC §5 `/organisations`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.features.pages import Page

Kind = Literal["district_government", "park_committee", "industry_department", "bureau"]


class OrganisationCreate(BaseModel):
    """A new responsible organisation; a district government names its district."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    district_code: str | None = Field(None, pattern=r"^\d{6}$")


class OrganisationRead(BaseModel):
    """A responsible organisation."""

    id: int
    name: str
    kind: Kind
    district_code: str | None
    created_at: datetime
    created_by: str | None


OrganisationPage = Page[OrganisationRead]
