"""Declarative base, naming convention and the versioned-row columns of SPEC rule 10."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, ColumnElement, DateTime, FromClause, Integer, MetaData, String, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gis.crs import STORAGE_SRID, WEB_MERCATOR_SRID

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class Base(DeclarativeBase):
    """Base of every table."""

    metadata = metadata


def multipolygon() -> Geometry:
    """A storage MultiPolygon column (EPSG:4490); GiST indexes are declared explicitly per table."""
    return Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False)


def web_mercator(kind: str) -> Geometry:
    """A Web Mercator column of tile geometry (derived from the storage column, never written by hand)."""
    return Geometry(kind, srid=WEB_MERCATOR_SRID, spatial_index=False)


def current_sql(alias: str = "") -> str:
    """Rule 10's current version in SQL text: the row of the table `alias` (or of the only table) not yet
    closed. SQL over several versioned tables names each: `current_sql("p")` is `p.valid_to IS NULL`."""
    return f"{alias}.valid_to IS NULL" if alias else "valid_to IS NULL"


CURRENT = text(current_sql())
CLOSED = text("valid_to IS NOT NULL")  # the history of a versioned table


class Versioned:
    """Rule 10: a change closes the current row (`valid_to`) and opens the next version."""

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changed_by: Mapped[str | None] = mapped_column(String(64))


def current(of: FromClause | type[Versioned]) -> ColumnElement[bool]:
    """Rule 10's current version of a versioned class, table or alias (`of.valid_to IS NULL`), for a query."""
    column = of.c.valid_to if isinstance(of, FromClause) else of.valid_to
    return column.is_(None)
