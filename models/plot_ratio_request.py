"""Plot-ratio adjustment requests (SPEC rule 9); each transition is audited."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Index, Integer, Numeric, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

REQUEST_STATUSES = ("submitted", "public_notice", "approved", "rejected", "withdrawn")
OPEN_STATUSES = ("submitted", "public_notice")


class PlotRatioRequest(Base):
    """A district officer's (or the bureau's) request to raise a parcel's plot ratio."""

    __tablename__ = "plot_ratio_request"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(BigInteger)
    parcel_code: Mapped[str] = mapped_column(String(40))
    district_code: Mapped[str | None] = mapped_column(String(6))
    route: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    current_plot_ratio: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    requested_plot_ratio: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    default_cap: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    reference_parcel_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    notice_starts_on: Mapped[date | None] = mapped_column(Date)
    notice_ends_on: Mapped[date | None] = mapped_column(Date)
    notice_recorded_by: Mapped[str | None] = mapped_column(String(64))
    notice_recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    parcel_version_applied: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("route IN ('district', 'city')", name="route"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in REQUEST_STATUSES)})", name="status"),
        CheckConstraint("requested_plot_ratio > 0", name="requested_positive"),
        CheckConstraint("notice_ends_on IS NULL OR notice_ends_on >= notice_starts_on", name="notice_range"),
        # Rule 9: at most one open request per parcel, whatever the application does.
        Index("uq_plot_ratio_request_open_parcel", "parcel_id", unique=True,
              postgresql_where=text("status IN ('submitted', 'public_notice')")),
        Index("ix_plot_ratio_request_status", "status"),
        Index("ix_plot_ratio_request_district", "district_code"),
    )
