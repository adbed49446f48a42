"""亩均 (per-mu) ratings: a year's A–D classes of enterprises, computed from the delivered figures with the
policy of that day and frozen (the policy numbers are kept with the run)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

CLASSES = ("A", "B", "C", "D")


class RatingRun(Base):
    """One rating of one year; rating the year again replaces it (audited with the counts it replaced)."""

    __tablename__ = "rating_run"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Weights, cut-offs, benchmark factor, cap, threshold and grouping the classes were made with.
    policy: Mapped[dict[str, Any]] = mapped_column(JSONB)
    enterprises: Mapped[int] = mapped_column(Integer)
    rated: Mapped[int] = mapped_column(Integer)
    rated_by: Mapped[str] = mapped_column(String(64))
    rated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("year BETWEEN 1990 AND 2100", name="year_range"),)


class Rating(Base):
    """One enterprise's rating in one year: its land, its figures, its indicator values, score and class.
    `class` is null for an enterprise not rated (`unrated_reason`: land below the threshold, no figures)."""

    __tablename__ = "rating"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, ForeignKey("rating_run.year", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("enterprise.id"))
    district_code: Mapped[str | None] = mapped_column(String(6))
    land_m2: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    land_mu: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB)
    indicators: Mapped[dict[str, Any]] = mapped_column(JSONB)
    score: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    rank: Mapped[int | None] = mapped_column(Integer)
    group_size: Mapped[int | None] = mapped_column(Integer)
    class_: Mapped[str | None] = mapped_column("class", String(1))
    unrated_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("class IS NULL OR class IN ('A', 'B', 'C', 'D')", name="class"),
        CheckConstraint("(class IS NULL) = (unrated_reason IS NOT NULL)", name="rated_or_reason"),
        Index("uq_rating_year_enterprise", "year", "enterprise_id", unique=True),
        Index("ix_rating_enterprise_year", "enterprise_id", "year"),
    )
