"""Parcels: the unit that is supplied, contracted and evaluated (SPEC §1, §5)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    FetchedValue,
    Float,
    Index,
    Numeric,
    Sequence,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import CLOSED, CURRENT, Base, Versioned, multipolygon, web_mercator

parcel_id_seq = Sequence("parcel_id_seq", metadata=Base.metadata)

LAND_USES = ("industrial", "rnd", "office", "commercial", "other")
STATUSES = ("planned", "supplied", "under_construction", "operating", "rectification", "exiting", "recovered")
TIERS = ("base", "community", "fragment")
LEGACY_ZONES = ("104", "195", "198")
CAP_SOURCES = ("default", "zone", "reference")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Parcel(Versioned, Base):
    """One version of a parcel; derived columns (tier, zone, district, lock, cap) are set by the service."""

    __tablename__ = "parcel"

    code: Mapped[str] = mapped_column(String(40))
    land_use: Mapped[str] = mapped_column(String(16))
    plot_ratio: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    plot_ratio_reference_id: Mapped[int | None] = mapped_column(BigInteger)
    plot_ratio_cap: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    plot_ratio_cap_source: Mapped[str | None] = mapped_column(String(16))
    legacy_zone: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(24), default="planned")
    district_code: Mapped[str | None] = mapped_column(String(6))
    tier: Mapped[str | None] = mapped_column(String(16))
    zone_id: Mapped[int | None] = mapped_column(BigInteger)
    planning_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Measured by PostGIS on every write (triggers of migrations 0007 and 0008): SPEC §2's area on the
    # ellipsoid in m², and for vector tiles (app/tiles) the shape and a point on its surface in Web Mercator,
    # so a tile transforms nothing per request (bench/RESULTS.md, "Vector tiles"). Writers never set them (an
    # UPDATE that tries is measured again); the bulk insert alone brings them, computed by the same function
    # (app/parcels/bulk.py).
    area_m2: Mapped[float] = mapped_column(Float, FetchedValue(), nullable=False)
    geom = mapped_column(multipolygon(), nullable=False)
    # Deferred: nothing but the tile statements reads them.
    tile_geom = mapped_column(web_mercator("MULTIPOLYGON"), FetchedValue(), deferred=True)
    tile_point = mapped_column(web_mercator("POINT"), FetchedValue(), deferred=True)

    __table_args__ = (
        CheckConstraint(_in("land_use", LAND_USES), name="land_use"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(f"tier IS NULL OR {_in('tier', TIERS)}", name="tier"),
        CheckConstraint(f"legacy_zone IS NULL OR {_in('legacy_zone', LEGACY_ZONES)}", name="legacy_zone"),
        CheckConstraint(f"plot_ratio_cap_source IS NULL OR {_in('plot_ratio_cap_source', CAP_SOURCES)}",
                        name="cap_source"),
        CheckConstraint("plot_ratio IS NULL OR (plot_ratio > 0 AND plot_ratio < 100)", name="plot_ratio_range"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
        # Rule 10: exactly one current row per parcel; codes unique among current parcels.
        Index("uq_parcel_current_id", "id", unique=True, postgresql_where=CURRENT),
        Index("uq_parcel_current_code", "code", unique=True, postgresql_where=CURRENT),
        Index("ix_parcel_current_geom", "geom", postgresql_using="gist", postgresql_where=CURRENT),
        Index("ix_parcel_history_geom", "geom", postgresql_using="gist", postgresql_where=CLOSED),
        Index("ix_parcel_current_district", "district_code", postgresql_where=CURRENT),
        Index("ix_parcel_current_zone", "zone_id", postgresql_where=CURRENT),
        Index("ix_parcel_valid_from", "valid_from"),
    )
