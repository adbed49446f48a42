"""Import jobs: one row per file uploaded to POST /imports, its state, counts and refused rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

JOB_STATUSES = ("queued", "running", "succeeded", "refused", "failed", "cancelled")
IMPORT_KINDS = ("parcels", "zones", "districts")


class ImportJob(Base):
    """An import run in the background; its data writes commit together with `status = succeeded`."""

    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    phase: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[float | None] = mapped_column(Float)
    read_count: Mapped[int | None] = mapped_column(Integer)
    accepted_count: Mapped[int | None] = mapped_column(Integer)
    refused_count: Mapped[int | None] = mapped_column(Integer)
    committed: Mapped[bool] = mapped_column(Boolean, default=False)
    seconds: Mapped[float | None] = mapped_column(Float)
    # The refused rows: [{"row", "code", "reason", "key"}]; the error of a failed job as problem+json.
    refused: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    notes: Mapped[list[str] | None] = mapped_column(JSONB)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in JOB_STATUSES)})", name="status"),
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in IMPORT_KINDS)})", name="kind"),
        Index("ix_import_job_created_by", "created_by", "id"),
    )
