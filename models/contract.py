"""Land contracts (SPEC §5) and their indicator targets; versioned like parcels (rule 10)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    Sequence,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import CURRENT, Base, Versioned, current_sql

contract_id_seq = Sequence("contract_id_seq", metadata=Base.metadata)

KINDS = ("new_supply", "renewal", "transfer")
SUPPLY_METHODS = ("grant", "lease", "lease_then_grant")
STATUSES = ("active", "rectification", "exiting", "terminated", "expired")
# A contract in one of these holds its parcel: at most one per parcel (SPEC §6 CONTRACT_CONFLICT).
HOLDING = ("active", "rectification", "exiting")
INDICATOR_CODES = ("investment_intensity", "output_per_mu", "tax_per_mu", "energy_per_value_added",
                   "emissions_per_value_added", "rnd_intensity", "jobs")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Contract(Versioned, Base):
    """One version of a contract. `expires_on` is derived by PostgreSQL from the signing date and term;
    `ended_on` is the day it stopped being in force (exit case opened, renewal took over)."""

    __tablename__ = "contract"

    code: Mapped[str] = mapped_column(String(40))
    parcel_id: Mapped[int] = mapped_column(BigInteger)
    enterprise_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("enterprise.id"))
    responsible_org_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("organisation.id"))
    kind: Mapped[str] = mapped_column(String(16))
    supply_method: Mapped[str] = mapped_column(String(20))
    signed_on: Mapped[date] = mapped_column(Date)
    term_years: Mapped[int] = mapped_column(Integer)
    evaluation_interval_years: Mapped[int] = mapped_column(Integer)
    commissioning_years: Mapped[int] = mapped_column(Integer)
    start_by: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(
        Date, Computed("(signed_on + make_interval(years => term_years))::date", persisted=True))
    status: Mapped[str] = mapped_column(String(16))
    rectify_by: Mapped[date | None] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    # The version whose indicator rows hold the targets: a status change makes a version, not new terms.
    terms_version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint(_in("kind", KINDS), name="kind"),
        CheckConstraint(_in("supply_method", SUPPLY_METHODS), name="supply_method"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint("term_years BETWEEN 1 AND 50", name="term_range"),
        CheckConstraint("evaluation_interval_years BETWEEN 3 AND 5", name="interval_range"),
        CheckConstraint("commissioning_years BETWEEN 1 AND 10", name="commissioning_range"),
        CheckConstraint("(status = 'rectification') = (rectify_by IS NOT NULL)",
                        name="rectify_by_iff_rectification"),
        CheckConstraint("(status IN ('active', 'rectification')) = (ended_on IS NULL)",
                        name="ended_iff_out_of_force"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
        CheckConstraint("terms_version BETWEEN 1 AND version", name="terms_version_range"),
        Index("uq_contract_current_id", "id", unique=True, postgresql_where=CURRENT),
        Index("uq_contract_current_code", "code", unique=True, postgresql_where=CURRENT),
        # The database's own guarantee behind CONTRACT_CONFLICT: one holding contract per parcel.
        Index("uq_contract_holding_parcel", "parcel_id", unique=True,
              postgresql_where=text(f"{current_sql()} AND {_in('status', HOLDING)}")),
        Index("ix_contract_parcel_id", "parcel_id"),
        Index("ix_contract_current_enterprise", "enterprise_id", postgresql_where=CURRENT),
        Index("ix_contract_valid_from", "valid_from"),
    )


class ContractIndicator(Base):
    """A target set by one contract version (its `terms_version`), in the catalogue's unit (SPEC §5)."""

    __tablename__ = "contract_indicator"

    contract_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contract_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    target: Mapped[Decimal] = mapped_column(Numeric(16, 4))

    __table_args__ = (
        ForeignKeyConstraint(["contract_id", "contract_version"], ["contract.id", "contract.version"],
                             ondelete="CASCADE"),
        CheckConstraint(_in("code", INDICATOR_CODES), name="code"),
        CheckConstraint("target >= 0", name="target_nonnegative"),
    )
