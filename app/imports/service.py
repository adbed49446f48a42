"""An import from start to end: read the file (in a worker thread), check every row with the API's rules
through the bulk write paths, and commit all of it in one transaction, or nothing.

All or nothing (SPEC §5 CLI, `landcycle import`): one refused row refuses the import unless `skip_invalid`,
which commits the accepted rows and reports the others; `dry_run` does everything and rolls back.
Interrupting the process (Ctrl-C, kill -9, a lost connection) loses the one open transaction and with it
every row and every temporary staging table: the database is exactly as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.permissions import Actor, require_role
from app.db import Database
from app.districts.service import DistrictDraft, upsert_districts
from app.errors import DomainError, Refusal
from app.imports.source import ImportOptions, Source, load
from app.parcels.bulk import BulkResult, Progress, bulk_create, report
from app.parcels.service import ParcelDraft
from app.policy import INDUSTRIAL_USES, Policy
from app.settings import Settings
from app.zones.bulk import bulk_create_zones
from app.zones.service import ZoneDraft
from models.base import current_sql

# Who may import what (SPEC §4): parcels as REST writes them; zones and districts the bureau (and admin).
EDITORS = {"parcels": ("bureau", "district_officer"), "zones": ("bureau",), "districts": ("bureau", "admin")}
BATCH_TIMEOUT = "1h"  # statements of a big import outlast the API's 30 s

__all__ = ["EDITORS", "ImportOptions", "ImportOutcome", "RowRefusal", "check_rights", "run_import"]


@dataclass(frozen=True)
class RowRefusal:
    """A refused row: the file's row number, the SPEC code, the reason and the row's code."""

    row: int
    code: str
    reason: str
    key: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (job records and API answers)."""
        return {"row": self.row, "code": self.code, "reason": self.reason, "key": self.key}


@dataclass
class ImportOutcome:
    """What an import did."""

    kind: str
    filename: str
    dry_run: bool = False
    layer: str | None = None
    crs: str | None = None
    read: int = 0
    accepted: int = 0
    refused: list[RowRefusal] = field(default_factory=list)
    committed: bool = False
    seconds: float = 0.0
    created: int = 0
    notes: list[str] = field(default_factory=list)
    source: Source | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        """succeeded (committed, or a clean dry run) or refused (nothing written)."""
        return "succeeded" if self.committed or (self.dry_run and not self.refused) else "refused"

    def summary(self) -> str:
        """The line printed at the end: read, accepted, refused, seconds, and what happened."""
        if self.dry_run:
            what = "dry run: nothing written"
        elif self.committed:
            what = f"committed {self.created:,} {self.kind}"
        else:
            what = "refused: nothing written"
        return (
            f"read {self.read:,}, accepted {self.accepted:,}, refused {len(self.refused):,}, "
            f"{self.seconds:.1f} s; {what}"
        )


class _RollBack(Exception):
    """Leave the import's transaction without committing (a dry run)."""


class _Refused(DomainError):
    """The import is refused (rows refused and not skipped): rolled back, then audited as one refused write
    attempt naming the file and its first refused rows (SPEC rule 10)."""

    def __init__(self, outcome: ImportOutcome) -> None:
        first = outcome.refused[:20]
        super().__init__(f"{len(outcome.refused)} rows refused", refusal=Refusal(
            outcome.kind, None, "import", detail={
                "file": outcome.filename,
                "read": outcome.read,
                "accepted": outcome.accepted,
                "refused": len(outcome.refused),
                "rows": [r.as_dict() for r in first],
            }))
        self.code = first[0].code


Hook = Callable[[AsyncSession], Awaitable[None]]
FinalHook = Callable[[AsyncSession, "ImportOutcome"], Awaitable[None]]


def check_rights(actor: Actor, kind: str) -> None:
    """Refuse up front a user who may not import this kind at all (rows are checked again one by one)."""
    require_role(actor, EDITORS.get(kind, ("bureau",)), f"import {kind}")


async def run_import(
    db: Database,
    settings: Settings,
    actor: Actor,
    path: Path,
    options: ImportOptions,
    *,
    filename: str | None = None,
    progress: Progress | None = None,
    on_begin: Hook | None = None,
    before_commit: FinalHook | None = None,
) -> ImportOutcome:
    """Import one file; `on_begin`/`before_commit` run inside the import's transaction (a job's lock and
    final state commit with the data)."""
    started = time.perf_counter()
    check_rights(actor, options.kind)
    outcome = ImportOutcome(kind=options.kind, filename=filename or path.name, dry_run=options.dry_run)
    try:
        async with audit.audited_transaction(db, actor) as session:
            await session.execute(text(f"SET LOCAL statement_timeout = '{BATCH_TIMEOUT}'"))
            # The file is read (in a thread) inside this transaction: idle meanwhile, for as long as it takes.
            await session.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = '{BATCH_TIMEOUT}'"))
            await session.execute(text("SET LOCAL application_name = 'landcycle import'"))
            if on_begin is not None:
                await on_begin(session)
            await report(progress, "reading", 0, 0)
            source = await asyncio.to_thread(load, path, options, settings.policy, settings.zip_limits)
            outcome.source, outcome.layer, outcome.read = source, source.layer, len(source)
            outcome.crs, outcome.notes = f"EPSG:{source.crs.srid}", list(source.notes)
            refused = [
                RowRefusal(source.rows[i], code, reason, source.keys[i])
                for i, (code, reason) in source.refused.items()
            ]
            detail = {"file": outcome.filename, "layer": source.layer}
            accepted, created, more = await _write(
                session, actor, settings.policy, source, options, progress, detail
            )
            refused.extend(more)
            refused.sort(key=lambda r: r.row)
            outcome.accepted, outcome.refused = accepted, refused
            if options.dry_run:
                raise _RollBack
            if refused and not options.skip_invalid:
                raise _Refused(outcome)
            outcome.committed, outcome.created = True, created
            outcome.seconds = time.perf_counter() - started
            if before_commit is not None:
                await before_commit(session, outcome)
    except (_RollBack, _Refused):
        pass
    outcome.seconds = time.perf_counter() - started
    return outcome


async def _write(
    session: AsyncSession,
    actor: Actor,
    policy: Policy,
    source: Source,
    options: ImportOptions,
    progress: Progress | None,
    detail: dict[str, Any],
) -> tuple[int, int, list[RowRefusal]]:
    """Write the rows through the kind's bulk path: (accepted, created, refused rows)."""
    todo = [i for i in range(len(source)) if i not in source.refused]
    if options.kind == "parcels":
        return await _parcels(session, actor, policy, source, todo, options, progress, detail)
    values = [source.values[i] or {} for i in todo]
    result: BulkResult
    if options.kind == "zones":
        zones = [
            ZoneDraft(
                code=v["code"],
                name=v["name"],
                kind=v["kind"],
                geom=source.geoms[i],
                advanced_manufacturing=v["advanced_manufacturing"],
                far_cap=v["far_cap"],
                far_min=v["far_min"],
            )
            for i, v in zip(todo, values, strict=True)
        ]
        result = await bulk_create_zones(
            session, actor, policy, zones, progress=progress, audit_detail=detail
        )
    else:
        districts = [
            DistrictDraft(code=v["code"], name_zh=v["name_zh"], name_en=v["name_en"], geom=source.geoms[i])
            for i, v in zip(todo, values, strict=True)
        ]
        result = await upsert_districts(session, actor, policy, districts, progress=progress)
    return result.accepted, result.accepted, _refusals(source, todo, result)


async def _parcels(
    session: AsyncSession,
    actor: Actor,
    policy: Policy,
    source: Source,
    todo: list[int],
    options: ImportOptions,
    progress: Progress | None,
    detail: dict[str, Any],
) -> tuple[int, int, list[RowRefusal]]:
    """When industrial rows name a parcel of the same file as their rule-3 reference (by code), reference
    land (office, commercial, other) goes first, so the reference exists when they are decided; the overlap
    rule concerns industrial/R&D rows only, which all go in the second batch, so splitting loses no check.
    Otherwise all rows go in one batch."""
    values = source.values
    first = [i for i in todo if (values[i] or {}).get("land_use") not in INDUSTRIAL_USES]
    second = [i for i in todo if (values[i] or {}).get("land_use") in INDUSTRIAL_USES]
    named = {c for i in second if (c := (values[i] or {}).get("plot_ratio_reference_code"))}
    if not named & {(values[i] or {}).get("code") for i in first}:
        first, second = [], todo  # no row names another of the file: one batch does
    refused: list[RowRefusal] = []
    accepted = created = 0
    for batch, last in ((first, False), (second, True)):
        if not batch:
            continue
        batch, missing = await _resolve_references(session, source, batch)
        refused.extend(missing)
        drafts = [_parcel_draft(source, i) for i in batch]
        result = await bulk_create(
            session,
            actor,
            policy,
            drafts,
            action="import",
            row_numbers=[source.rows[i] for i in batch],
            progress=progress,
            audit_detail=detail,
            # The first batch is always written, so the second sees it; the transaction decides at the end.
            all_or_nothing=last and not options.skip_invalid,
        )
        refused.extend(_refusals(source, batch, result))
        accepted += result.accepted
        created += len(result.ids)
    return accepted, created, refused


def _parcel_draft(source: Source, i: int) -> ParcelDraft:
    v = source.values[i] or {}
    return ParcelDraft(
        code=v["code"],
        land_use=v["land_use"],
        geom=source.geoms[i],
        plot_ratio=v.get("plot_ratio"),
        plot_ratio_reference_id=v.get("plot_ratio_reference_id"),
        legacy_zone=v.get("legacy_zone"),
        status=v.get("status") or "planned",
    )


async def _resolve_references(
    session: AsyncSession, source: Source, batch: list[int]
) -> tuple[list[int], list[RowRefusal]]:
    """`plot_ratio_reference_code` → the id of the current parcel with that code (an export names its
    references by code, since ids differ between databases); the code wins over an id."""
    wanted = {str(c) for i in batch if (c := (source.values[i] or {}).get("plot_ratio_reference_code"))}
    if not wanted:
        return batch, []
    rows = await session.execute(
        text(f"SELECT code, id FROM parcel WHERE {current_sql()} AND code = ANY(:c)"),  # noqa: S608
        {"c": sorted(wanted)},
    )
    ids = {code: pid for code, pid in rows}
    kept: list[int] = []
    refused: list[RowRefusal] = []
    for i in batch:
        values = source.values[i] or {}
        code = values.get("plot_ratio_reference_code")
        if code is None:
            kept.append(i)
        elif code in ids:
            values["plot_ratio_reference_id"] = ids[code]
            kept.append(i)
        else:
            refused.append(
                RowRefusal(
                    source.rows[i], "NOT_FOUND", f"reference parcel {code} does not exist", source.keys[i]
                )
            )
    return kept, refused


def _refusals(source: Source, batch: Sequence[int], result: BulkResult) -> list[RowRefusal]:
    return [
        RowRefusal(source.rows[batch[r.row]], r.code, r.reason, source.keys[batch[r.row]])
        for r in result.refused
    ]
