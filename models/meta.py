"""Change counters per collection, bumped by triggers; they key caches of counts and ETags."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class CollectionVersion(Base):
    """How many write statements a table has seen (statement-level trigger)."""

    __tablename__ = "collection_version"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
