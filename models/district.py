"""Districts of the municipality (reference data; GB/T 2260 codes)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, multipolygon


class District(Base):
    """A district polygon; parcels and zones take their district from the largest share."""

    __tablename__ = "district"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    geom = mapped_column(multipolygon(), nullable=False)

    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{6}$'", name="code_six_digits"),
        Index("ix_district_geom", "geom", postgresql_using="gist"),
    )
