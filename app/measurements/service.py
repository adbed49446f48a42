"""Delivering a department's figures (SPEC §4 data_provider, §5 batches): check every value, then store
the batch and all its values in one set-based statement, or nothing.

All or nothing (as `landcycle import`): one refused value refuses the batch (VALIDATION_ERROR 422 with
the refused rows; the attempt is audited, nothing is stored) unless `skip_invalid`, which stores the
accepted values and keeps the refused rows in the batch's `report`. `dry_run` checks and stores nothing.
An accepted batch is one audit row (`deliver` of `measurement_batch`), not one per value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.permissions import Actor, require_role
from app.errors import ForbiddenRole, NotFound, Refusal, ValidationFailed
from app.measurements import rules
from app.measurements.rules import REPORT_CAP, Checked, Entry
from models import MeasurementBatch
from models.base import current_sql

DELIVERERS = ("data_provider", "bureau")  # the bureau delivers on a department's behalf
READERS = ("data_provider", "bureau", "admin", "viewer")
FORMATS = ("json", "csv", "xlsx")
AUDITED_ROWS = 20  # refused rows named in a refused attempt's audit row (the answer carries up to REPORT_CAP)

__all__ = ["DELIVERERS", "READERS", "Delivered", "deliver", "require_deliverer", "require_department"]


@dataclass
class Delivered:
    """What a delivery did: the stored batch (None on a dry run) and its counts and refused rows."""

    source: str
    year: int
    format: str
    file_name: str | None
    skip_invalid: bool
    dry_run: bool
    rows: int
    accepted: int
    refused: list[dict[str, Any]] = field(default_factory=list)
    batch: MeasurementBatch | None = None


def require_deliverer(actor: Actor, source: str | None = None) -> None:
    """A data_provider delivers its own department's batches only; the bureau any (FORBIDDEN_ROLE)."""
    require_role(actor, DELIVERERS, "deliver figures")
    if actor.role == "data_provider" and source is not None and source != actor.source:
        raise ForbiddenRole(
            f"{actor.username} delivers for the {actor.source} department and may not deliver {source} figures",
            role=actor.role, your_source=actor.source, source=source)


def require_department(actor: Actor, source: str, year: int | None, file_name: str | None) -> None:
    """`require_deliverer` for one batch; a department delivering another's is a refused attempt, audited
    (SPEC rule 10)."""
    try:
        require_deliverer(actor, source)
    except ForbiddenRole as exc:
        raise exc.with_refusal(Refusal("measurement_batch", None, "deliver", detail={
            "detail": exc.detail, "source": source, "year": year, "file": file_name})) from None


def require_reader(actor: Actor) -> None:
    """Batches are read by their departments, the bureau, admins and viewers (FORBIDDEN_ROLE otherwise)."""
    require_role(actor, READERS, "read delivered figures")


def read_source(actor: Actor) -> str | None:
    """The one source a reader may see (a data_provider's own), or None for every source."""
    require_reader(actor)
    return actor.source if actor.role == "data_provider" else None


async def deliver(session: AsyncSession, actor: Actor, source: str, year: int, entries: Sequence[Entry],
                  fmt: str, file_name: str | None, skip_invalid: bool, this_year: int,
                  dry_run: bool = False) -> Delivered:
    """Check and store one batch in the caller's transaction (see the module's docstring)."""
    require_deliverer(actor)
    problem = rules.source_problem(source)
    if problem is not None:
        raise ValidationFailed(problem, field="source")
    require_department(actor, source, year, file_name)
    problem = rules.year_problem(year, this_year)
    if problem is not None:
        raise ValidationFailed(problem, field="year")
    if fmt not in FORMATS:
        raise ValidationFailed(f"format must be one of {', '.join(FORMATS)}", field="format")
    if actor.role == "data_provider":
        foreign = rules.foreign_figures(source, entries)
        if foreign:
            raise ForbiddenRole(
                f"{actor.username} delivers {source} figures only; "
                + ", ".join(f"{code} is delivered by {owner}" for code, owner in foreign),
                role=actor.role, your_source=actor.source, figures=[code for code, _ in foreign],
            ).with_refusal(Refusal("measurement_batch", None, "deliver", detail={
                "source": source, "year": year, "file": file_name, "figures": [c for c, _ in foreign]}))
    if not entries:
        raise ValidationFailed("the batch holds no values", field="rows")
    checked = rules.check(source, entries, *await _registry(session, entries))
    refused = [r.as_dict() for r in checked.refused]
    out = Delivered(source, year, fmt, file_name, skip_invalid, dry_run, checked.rows, len(checked.accepted),
                    refused)
    if dry_run:
        return out
    if refused and not skip_invalid:
        raise ValidationFailed(
            f"{len(refused):,} of {checked.rows:,} values refused: nothing stored; correct them, or send the "
            "batch with skip_invalid to store the others",
            rows=checked.rows, accepted=len(checked.accepted), refused_total=len(refused),
            refused=refused[:REPORT_CAP],
        ).with_refusal(Refusal("measurement_batch", None, "deliver", detail={
            "source": source, "year": year, "format": fmt, "file": file_name, "rows": checked.rows,
            "accepted": len(checked.accepted), "refused": len(refused), "refused_rows": refused[:AUDITED_ROWS]}))
    out.batch = await _store(session, actor, out, checked)
    return out


async def _registry(session: AsyncSession, entries: Sequence[Entry]) -> tuple[dict[str, int], dict[str, int]]:
    """USCC → id of the registered enterprises, and code → id of the current contracts, among those named."""
    usccs = sorted({u for e in entries if (u := rules.normalised_uscc(e))})
    codes = sorted({c for e in entries if (c := rules.normalised_code(e))})
    enterprises: dict[str, int] = {}
    contracts: dict[str, int] = {}
    if usccs:
        # One array parameter: an IN list of bound values stops at 32,767 (the protocol's limit).
        rows = await session.execute(text("SELECT uscc, id FROM enterprise WHERE uscc = ANY(:usccs)"),
                                     {"usccs": usccs})
        enterprises = {u: i for u, i in rows}
    if codes:
        rows = await session.execute(
            text(f"SELECT code, id FROM contract WHERE {current_sql()} AND code = ANY(:codes)"),  # noqa: S608
            {"codes": codes})
        contracts = {c: i for c, i in rows}
    return enterprises, contracts


_VALUES = text("""
INSERT INTO measurement (batch_id, source, year, enterprise_id, contract_id, figure, value)
SELECT :batch, :source, :year, v.enterprise_id, v.contract_id, v.figure, v.value
  FROM unnest(CAST(:enterprises AS bigint[]), CAST(:contracts AS bigint[]), CAST(:figures AS text[]),
              CAST(:values AS numeric[])) AS v(enterprise_id, contract_id, figure, value)
""")


async def _store(session: AsyncSession, actor: Actor, out: Delivered, checked: Checked) -> MeasurementBatch:
    batch = MeasurementBatch(source=out.source, year=out.year, format=out.format, file_name=out.file_name,
                             skip_invalid=out.skip_invalid, rows=out.rows, accepted=out.accepted,
                             refused=len(out.refused), report=out.refused, delivered_by=actor.username)
    session.add(batch)
    await session.flush()
    accepted = checked.accepted
    if accepted:
        await session.execute(_VALUES, {
            "batch": batch.id, "source": out.source, "year": out.year,
            "enterprises": [a.enterprise_id for a in accepted], "contracts": [a.contract_id for a in accepted],
            "figures": [a.figure for a in accepted], "values": [a.value for a in accepted]})
    await session.refresh(batch)
    await audit.record(session, actor, "deliver", "measurement_batch", batch.id, detail={
        "source": out.source, "year": out.year, "format": out.format, "file": out.file_name,
        "rows": out.rows, "accepted": out.accepted, "refused": len(out.refused)})
    return batch


# ------------------------------------------------------------------------------------------------ reads
async def list_batches(session: AsyncSession, actor: Actor, limit: int, offset: int, source: str | None,
                       year: int | None) -> tuple[int, list[MeasurementBatch]]:
    """A page of batches, newest first; a data_provider's own department's only."""
    own = read_source(actor)
    stmt = select(MeasurementBatch)
    if own is not None:
        stmt = stmt.where(MeasurementBatch.source == own)
    if source is not None:
        stmt = stmt.where(MeasurementBatch.source == source)
    if year is not None:
        stmt = stmt.where(MeasurementBatch.year == year)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(stmt.order_by(MeasurementBatch.id.desc()).limit(limit).offset(offset))
    return total, list(rows)


async def get_batch(session: AsyncSession, actor: Actor, batch_id: int) -> MeasurementBatch:
    """One batch; NOT_FOUND also for another department's batch (a data_provider sees its own only)."""
    own = read_source(actor)
    batch = await session.get(MeasurementBatch, batch_id)
    if batch is None or (own is not None and batch.source != own):
        raise NotFound(f"measurement batch {batch_id} does not exist", batch_id=batch_id)
    return batch


_VALUE_ROWS = """
SELECT m.id, m.batch_id, m.source, m.year, e.uscc, c.code AS contract_code, m.figure, m.value
  FROM measurement m
  LEFT JOIN enterprise e ON e.id = m.enterprise_id
  LEFT JOIN LATERAL (SELECT code FROM contract WHERE id = m.contract_id ORDER BY version DESC LIMIT 1) c
    ON m.contract_id IS NOT NULL
 WHERE m.batch_id = :batch
 ORDER BY m.id
"""


async def list_values(session: AsyncSession, batch_id: int, limit: int | None,
                      offset: int) -> tuple[int, list[dict[str, Any]]]:
    """A page of a batch's values (all of them when `limit` is None), in the order delivered."""
    total = int(await session.scalar(text("SELECT count(*) FROM measurement WHERE batch_id = :b"),
                                     {"b": batch_id}) or 0)
    sql = _VALUE_ROWS + (" LIMIT :limit OFFSET :offset" if limit is not None else "")
    params: dict[str, Any] = {"batch": batch_id}
    if limit is not None:
        params |= {"limit": limit, "offset": offset}
    rows = await session.execute(text(sql), params)
    return total, [dict(r._mapping) for r in rows]
