"""Exit cases (rule 8): the bureau takes land back from an exit candidate."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

METHODS = ("recovery", "buyback", "transfer")


class ExitCase(Base):
    """An exit case, open until completed; `reasons` and `evidence` are the candidate's at opening."""

    __tablename__ = "exit_case"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contract_id: Mapped[int] = mapped_column(BigInteger)
    parcel_id: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(16))
    decision_ref: Mapped[str] = mapped_column(Text)
    reasons: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    evidence: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    status: Mapped[str] = mapped_column(String(16))
    opened_on: Mapped[date] = mapped_column(Date)
    opened_by: Mapped[str | None] = mapped_column(String(64))
    completed_on: Mapped[date | None] = mapped_column(Date)
    completed_by: Mapped[str | None] = mapped_column(String(64))
    transfer_contract_id: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("method IN ('recovery', 'buyback', 'transfer')", name="method"),
        CheckConstraint("status IN ('open', 'completed')", name="status"),
        CheckConstraint("(status = 'completed') = (completed_on IS NOT NULL)",
                        name="completed_on_iff_completed"),
        CheckConstraint("completed_on IS NULL OR completed_on >= opened_on", name="completed_after_opened"),
        Index("uq_exit_case_open_contract", "contract_id", unique=True,
              postgresql_where=text("status = 'open'")),
        Index("ix_exit_case_contract_id", "contract_id"),
    )
