"""Import job I/O (POST /imports answers one, GET /imports/{id} follows it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from app.parcels.schemas import Link

JobStatus = Literal["queued", "running", "succeeded", "refused", "failed", "cancelled"]
SHOWN_REFUSED = 1000  # the JSON carries the first refused rows; /report has them all


class RefusedRow(BaseModel):
    """One refused row of the file."""

    row: int
    code: str
    reason: str
    key: str | None = None


class Counts(BaseModel):
    """Rows read, accepted by the rules, refused."""

    read: int | None
    accepted: int | None
    refused: int | None


class ImportJobRead(BaseModel):
    """An import job: status, counts and the refused-rows report."""

    id: int
    kind: str
    filename: str
    status: JobStatus
    dry_run: bool
    committed: bool
    phase: str | None
    progress: float | None
    counts: Counts
    seconds: float | None
    options: dict[str, Any]
    notes: list[str]
    refused: list[RefusedRow]
    refused_truncated: bool
    error: dict[str, Any] | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: list[Link]


class ImportJobPage(BaseModel):
    """A page of import jobs, newest first."""

    items: list[ImportJobRead]
    numberMatched: int
    numberReturned: int
    links: list[Link]


def job_read(job: Any, base: str) -> ImportJobRead:
    """The API view of an ImportJob row; `base` is the job's URL."""
    refused = job.refused or []
    return ImportJobRead(
        id=job.id,
        kind=job.kind,
        filename=job.filename,
        status=job.status,
        dry_run=job.dry_run,
        committed=job.committed,
        phase=job.phase,
        progress=job.progress,
        counts=Counts(read=job.read_count, accepted=job.accepted_count, refused=job.refused_count),
        seconds=job.seconds,
        options=job.options or {},
        notes=job.notes or [],
        refused=[RefusedRow(**r) for r in refused[:SHOWN_REFUSED]],
        refused_truncated=(job.refused_count or 0) > min(len(refused), SHOWN_REFUSED),
        error=job.error,
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        links=[
            Link(href=base, rel="self", type="application/json"),
            Link(href=f"{base}/report?f=csv", rel="report", type="text/csv"),
        ],
    )
