"""Evaluations of contracts (rules 5–7): scheduled at signing, completed with a frozen result."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

STAGES = ("commissioning", "periodic", "rectification", "expiry")
OUTCOMES = ("pass", "below_bottom_line")
CONSEQUENCES = ("none", "rectification", "restored", "exit_candidate")
EXIT_REASONS = ("repeated_below_bottom_line", "failed_rectification", "expired", "idle_land")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Evaluation(Base):
    """One evaluation. Pending while `evaluated_on` and `cancelled_on` are null; overdue is derived from
    today. A result freezes the measurements, attainment, ratios and the peer groups it was scored on."""

    __tablename__ = "evaluation"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contract_id: Mapped[int] = mapped_column(BigInteger)
    stage: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    evaluated_on: Mapped[date | None] = mapped_column(Date)
    cancelled_on: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(24))
    measurements: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Per measured indicator, where its value came from: {"source": "entered"} when typed in, or the
    # departments, batches and year of the delivered figures it was derived from (app/measurements).
    measurement_sources: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    attainment: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    ratios: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    peer_groups: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    consequence: Mapped[str | None] = mapped_column(String(16))
    exit_reason: Mapped[str | None] = mapped_column(String(32))
    # For a below-bottom-line result: the consecutive below-bottom-line results ending with this one.
    evidence: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))
    note: Mapped[str | None] = mapped_column(Text)
    evaluated_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(_in("stage", STAGES), name="stage"),
        CheckConstraint(f"outcome IS NULL OR {_in('outcome', OUTCOMES)}", name="outcome"),
        CheckConstraint(f"consequence IS NULL OR {_in('consequence', CONSEQUENCES)}", name="consequence"),
        CheckConstraint(f"exit_reason IS NULL OR {_in('exit_reason', EXIT_REASONS)}", name="exit_reason"),
        CheckConstraint("(evaluated_on IS NULL) = (outcome IS NULL)", name="result_complete"),
        CheckConstraint("evaluated_on IS NULL OR cancelled_on IS NULL", name="completed_or_cancelled"),
        Index("ix_evaluation_contract_result", "contract_id", "evaluated_on"),
        Index("ix_evaluation_pending_due", "due_on",
              postgresql_where=text("evaluated_on IS NULL AND cancelled_on IS NULL")),
        # A schedule never holds the same evaluation twice.
        Index("uq_evaluation_contract_stage_seq", "contract_id", "stage", "seq", unique=True,
              postgresql_where=text("cancelled_on IS NULL")),
    )
