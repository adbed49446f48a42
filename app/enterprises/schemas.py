"""Enterprise I/O (SPEC §5 `/enterprises`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.features.pages import Page

INDUSTRY_CODE = r"^[A-Z]?[0-9]{2,4}$"


class EnterpriseCreate(BaseModel):
    """A new enterprise; the USCC is checked (GB 32100-2015 check character)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    uscc: str = Field(min_length=1, max_length=40, description="18-character unified social credit code")
    industry_code: str = Field(pattern=INDUSTRY_CODE, description="GB/T 4754 industry code, e.g. C39")


class EnterpriseRead(BaseModel):
    """An enterprise."""

    id: int
    name: str
    uscc: str
    industry_code: str
    created_at: datetime
    created_by: str | None


EnterprisePage = Page[EnterpriseRead]
