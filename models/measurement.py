"""Indicator figures delivered by the tax, statistics, energy and environment departments: one batch per
delivery (a file or a JSON body), one row per (subject, figure) value, each keeping its source, year and
batch. A batch is all or nothing: rows refused under `skip_invalid` are kept in its report, never stored."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
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
from models.user import SOURCES

# What a department delivers, in these units (app/measurements/figures.py describes each).
FIGURES = ("tax_paid", "output_value", "value_added", "rnd_spending", "jobs", "fixed_investment", "energy_use",
           "emissions")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class MeasurementBatch(Base):
    """One delivery of one department's figures for one year."""

    __tablename__ = "measurement_batch"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    # json, csv or xlsx: how it arrived; file_name as the sender named it (never a path on this server).
    format: Mapped[str] = mapped_column(String(8))
    file_name: Mapped[str | None] = mapped_column(Text)
    skip_invalid: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    rows: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    refused: Mapped[int] = mapped_column(Integer)
    # The refused rows (row number, subject, figure, reason) under skip_invalid; empty otherwise.
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    delivered_by: Mapped[str] = mapped_column(String(64))
    delivered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(_in("source", SOURCES), name="source"),
        CheckConstraint(_in("format", ("json", "csv", "xlsx")), name="format"),
        CheckConstraint("year BETWEEN 1990 AND 2100", name="year_range"),
        CheckConstraint("accepted + refused = rows", name="counts"),
        Index("ix_measurement_batch_year_source", "year", "source"),
    )


class Measurement(Base):
    """One delivered value: a figure of one enterprise (by USCC) or one contract (by code) for one year.
    The latest batch's value of a (subject, figure, year) is the one evaluations and ratings read."""

    __tablename__ = "measurement"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("measurement_batch.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    enterprise_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("enterprise.id"))
    contract_id: Mapped[int | None] = mapped_column(BigInteger)
    figure: Mapped[str] = mapped_column(String(24))
    value: Mapped[Decimal] = mapped_column(Numeric(20, 4))

    __table_args__ = (
        CheckConstraint(_in("figure", FIGURES), name="figure"),
        CheckConstraint("value >= 0", name="value_nonnegative"),
        CheckConstraint("(enterprise_id IS NULL) <> (contract_id IS NULL)", name="one_subject"),
        Index("ix_measurement_enterprise", "year", "enterprise_id", "figure", "batch_id",
              postgresql_where="enterprise_id IS NOT NULL"),
        Index("ix_measurement_contract", "year", "contract_id", "figure", "batch_id",
              postgresql_where="contract_id IS NOT NULL"),
        Index("ix_measurement_batch", "batch_id"),
    )
