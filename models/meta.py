"""Change counters per collection, bumped by triggers; they key caches of counts and ETags."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class CollectionVersion(Base):
    """How many write statements one session (`slot`: its backend pid) has made to a table (statement-level
    trigger). Readers use the view `collection_version` (name, version = the sum, changed_at), migration 0010:
    sessions writing at once never wait for each other's counter row."""

    __tablename__ = "collection_version_slot"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
