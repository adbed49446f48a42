"""Delivered-figures I/O (`/api/v1/measurements`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.features.pages import Page
from app.parcels.schemas import Link
from models.measurement import FIGURES
from models.user import SOURCES

Source = Literal["tax", "statistics", "energy", "environment"]
assert set(SOURCES) == set(Source.__args__)  # type: ignore[attr-defined]


class BatchRowIn(BaseModel):
    """One value of a JSON batch: one subject (uscc or contract_code), a figure, its value (a JSON number
    or decimal text, read exactly)."""

    model_config = ConfigDict(extra="forbid")

    uscc: str | None = Field(default=None, max_length=40)
    contract_code: str | None = Field(default=None, max_length=40)
    figure: str = Field(description=f"one of {', '.join(FIGURES)}")
    value: Decimal | str = Field(description="≥ 0; 万元, persons, tce or kg as the figure's unit")


class BatchIn(BaseModel):
    """A JSON batch (`Content-Type: application/json`); a file goes as multipart/form-data instead (`file`
    .csv or .xlsx, with the form fields source, year, skip_invalid, dry_run)."""

    model_config = ConfigDict(extra="forbid")

    source: Source
    year: int
    skip_invalid: bool = False
    dry_run: bool = False
    rows: list[BatchRowIn]


class RefusedRow(BaseModel):
    """A refused value: the file's row (or the JSON row's 1-based index), its subject, figure, reason."""

    row: int
    subject: str | None
    figure: str | None
    reason: str


class BatchRead(BaseModel):
    """A delivered batch; on a dry run (`dry_run: true`) nothing was stored and `id` is null."""

    id: int | None
    source: str
    year: int
    format: str
    file_name: str | None
    skip_invalid: bool
    dry_run: bool = False
    rows: int
    accepted: int
    refused: int
    report: list[RefusedRow]
    delivered_by: str | None
    delivered_at: datetime | None
    links: list[Link] = []


class BatchSummary(BaseModel):
    """A batch in a list (its report by its own URL)."""

    id: int
    source: str
    year: int
    format: str
    file_name: str | None
    skip_invalid: bool
    rows: int
    accepted: int
    refused: int
    delivered_by: str
    delivered_at: datetime


class ValueRead(BaseModel):
    """One stored value with its source, year and batch; the subject by USCC or contract code."""

    id: int
    batch_id: int
    source: str
    year: int
    uscc: str | None
    contract_code: str | None
    figure: str
    value: Decimal


BatchPage = Page[BatchSummary]
ValuePage = Page[ValueRead]


def batch_body(batch: Any) -> dict[str, Any]:
    """A stored batch as JSON (without links)."""
    return {
        "id": batch.id, "source": batch.source, "year": batch.year, "format": batch.format,
        "file_name": batch.file_name, "skip_invalid": batch.skip_invalid, "rows": batch.rows,
        "accepted": batch.accepted, "refused": batch.refused, "delivered_by": batch.delivered_by,
        "delivered_at": batch.delivered_at,
    }
