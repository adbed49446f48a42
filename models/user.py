"""Users of the service and their role and district scope (SPEC §4)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

ROLES = ("admin", "bureau", "district_officer", "evaluator", "viewer", "org_manager", "data_provider")
# The departments that deliver indicator figures (app/measurements/figures.py names what each delivers).
SOURCES = ("tax", "statistics", "energy", "environment")


class AppUser(Base):
    """A login; passwords are stored as argon2 hashes only."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(24))
    district_code: Mapped[str | None] = mapped_column(String(6))
    # org_manager: the one responsible organisation whose contracts it works (SPEC §1 谁提出、谁管理).
    organisation_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("organisation.id"))
    # data_provider: the one department whose figures it delivers.
    source: Mapped[str | None] = mapped_column(String(16))
    full_name: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="role"),
        CheckConstraint(
            "(role IN ('district_officer', 'evaluator')) = (district_code IS NOT NULL)",
            name="district_scope",
        ),
        CheckConstraint("(role = 'org_manager') = (organisation_id IS NOT NULL)", name="organisation_scope"),
        CheckConstraint("(role = 'data_provider') = (source IS NOT NULL)", name="source_scope"),
        CheckConstraint(f"source IS NULL OR source IN ({', '.join(repr(s) for s in SOURCES)})", name="source"),
        Index("uq_app_user_username", text("lower(username)"), unique=True),
    )
