"""Responsible organisations: whoever proposed a project manages it (谁提出、谁管理, SPEC §1)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

ORGANISATION_KINDS = ("district_government", "park_committee", "industry_department", "bureau")


class Organisation(Base):
    """A district government, park committee, industry department or the bureau."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(24))
    district_code: Mapped[str | None] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in ORGANISATION_KINDS)})", name="kind"),
        CheckConstraint("kind <> 'district_government' OR district_code IS NOT NULL",
                        name="district_government_district"),
        CheckConstraint("district_code IS NULL OR district_code ~ '^[0-9]{6}$'", name="district_code_format"),
    )
