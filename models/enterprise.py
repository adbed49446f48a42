"""Enterprises: the other party of a land contract (SPEC §5), identified by their USCC."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Enterprise(Base):
    """A company holding (or applying for) industrial land; `industry_code` picks its peer group (rule 4)."""

    __tablename__ = "enterprise"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    # GB 32100-2015 unified social credit code, upper case, check digit verified by the service.
    uscc: Mapped[str] = mapped_column(String(18))
    # GB/T 4754 industry code (e.g. C39): the bottom line compares enterprises of one industry.
    industry_code: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'", name="uscc_format"),
        CheckConstraint("industry_code ~ '^[A-Z]?[0-9]{2,4}$'", name="industry_code_format"),
        Index("uq_enterprise_uscc", "uscc", unique=True),
        Index("ix_enterprise_industry_code", "industry_code"),
    )
