"""Industrial zones (`base`, `community`): planning polygons that give parcels their tier."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Index, Numeric, Sequence, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import CURRENT, Base, Versioned, multipolygon

zone_id_seq = Sequence("zone_id_seq", metadata=Base.metadata)


class Zone(Versioned, Base):
    """One version of a zone; the current one has `valid_to IS NULL`."""

    __tablename__ = "zone"

    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    advanced_manufacturing: Mapped[bool] = mapped_column(Boolean, default=False)
    far_cap: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    far_min: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    district_code: Mapped[str | None] = mapped_column(String(6))
    geom = mapped_column(multipolygon(), nullable=False)

    __table_args__ = (
        CheckConstraint("kind IN ('base', 'community')", name="kind"),
        CheckConstraint("far_cap IS NULL OR far_cap > 0", name="far_cap_positive"),
        CheckConstraint("far_min IS NULL OR far_min >= 0", name="far_min_nonnegative"),
        CheckConstraint("far_cap IS NULL OR far_min IS NULL OR far_min <= far_cap", name="far_min_below_cap"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
        Index("uq_zone_current_id", "id", unique=True, postgresql_where=CURRENT),
        Index("uq_zone_current_code", "code", unique=True, postgresql_where=CURRENT),
        Index("ix_zone_current_geom", "geom", postgresql_using="gist", postgresql_where=CURRENT),
    )
