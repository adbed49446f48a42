"""A year's record (rules 6–7): every pending evaluation due in a year that the caller may record, measured
from the figures delivered for that year (app/measurements/delivered.py), recorded in one call through
`record_results` — peer groups, consequences, rectification scheduling and exit candidacy as for one result.
`POST /api/v1/evaluations/results` and `landcycle evaluations record`. Never commits.

Chosen: an evaluation is due in the year when its due date falls in it, on or before `evaluated_on`; a
contract with two such evaluations has its earliest recorded (the next one is recorded after it, on a later
call, as one by one); the results are audited as one summary row naming every evaluation it wrote (rule 10;
one row per result would be most of the time at 100,000 contracts)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Actor, contract_scope, require_role
from app.contracts.indicators import EFFICIENCY
from app.errors import ValidationFailed
from app.evaluations import workflow
from app.evaluations.results import ResultInput, record_results
from app.measurements import delivered, measured
from app.policy import Policy
from models.base import current_sql

SHOWN_SKIPPED = 100  # the skipped evaluations listed in the answer (all are counted)
WORKERS = ("bureau", "district_officer", "evaluator", "org_manager")
# From this many due evaluations the cyclic garbage collector waits for the record (collector_paused).
PAUSE_COLLECTOR_FROM = 1_000


@dataclass
class YearRecord:
    """What a year's record did (or, dry, would do)."""

    year: int
    evaluated_on: date
    dry_run: bool
    district_code: str | None
    due: int = 0
    recorded: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    consequences: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    skipped_items: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"year": self.year, "evaluated_on": self.evaluated_on.isoformat(), "dry_run": self.dry_run,
                "district_code": self.district_code, "due": self.due, "recorded": self.recorded,
                "outcomes": self.outcomes, "consequences": self.consequences, "skipped": self.skipped,
                "skipped_items": self.skipped_items}


_DUE = text(f"""
SELECT e.id, e.contract_id, c.code AS contract_code, e.due_on, c.signed_on, c.expires_on, c.ended_on,
       ARRAY(SELECT i.code FROM contract_indicator i
              WHERE i.contract_id = c.id AND i.contract_version = c.terms_version) AS targets
  FROM evaluation e
  JOIN contract c ON c.id = e.contract_id AND {current_sql('c')}
  LEFT JOIN parcel p ON p.id = c.parcel_id AND {current_sql('p')}
 WHERE e.evaluated_on IS NULL AND e.cancelled_on IS NULL
   AND e.due_on BETWEEN :first AND :last
   AND c.status = ANY(CAST(:in_force AS text[]))
   AND (CAST(:district AS text) IS NULL OR p.district_code = CAST(:district AS text))
   AND (CAST(:org AS bigint) IS NULL OR c.responsible_org_id = CAST(:org AS bigint))
 ORDER BY e.contract_id, e.due_on, e.id
""")  # noqa: S608


async def record_year(session: AsyncSession, actor: Actor, policy: Policy, year: int, evaluated_on: date,
                      today: date, district_code: str | None = None, dry_run: bool = False) -> YearRecord:
    """Record (or with `dry_run` only score) the year's due evaluations in the caller's scope that the
    delivered figures measure whole; the others are skipped with what was missing."""
    require_role(actor, WORKERS, "record evaluation results")
    scope = contract_scope(actor, district_code, "record evaluation results")
    if evaluated_on > today:
        raise ValidationFailed(f"evaluated_on {evaluated_on.isoformat()} is in the future", field="evaluated_on")
    if evaluated_on < date(year, 1, 1):
        raise ValidationFailed(f"evaluated_on {evaluated_on.isoformat()} precedes the year {year}: nothing of "
                               "it is due yet", field="evaluated_on")
    out = YearRecord(year, evaluated_on, dry_run, scope.district_code)
    rows = (await session.execute(_DUE, {
        "first": date(year, 1, 1), "last": min(date(year, 12, 31), evaluated_on),
        "in_force": list(workflow.IN_FORCE), "district": scope.district_code,
        "org": scope.organisation_id})).all()
    out.due = len(rows)
    with collector_paused(len(rows)):
        found = await delivered.latest(session, sorted({r.contract_id for r in rows}), year)
        inputs: list[ResultInput] = []
        skipped: list[dict[str, Any]] = []
        first_of: dict[int, int] = {}
        for r in rows:
            item = {"evaluation_id": r.id, "contract_id": r.contract_id, "contract_code": r.contract_code,
                    "due_on": r.due_on.isoformat()}
            if r.contract_id in first_of:
                skipped.append({**item, "reason": f"evaluation {first_of[r.contract_id]} of the contract is "
                                                  "comes first; record this one after it"})
                continue
            first_of[r.contract_id] = r.id
            end = min(x for x in (r.expires_on, r.ended_on) if x is not None)
            if not r.signed_on <= evaluated_on < end:
                skipped.append({**item, "reason": f"the contract is not in force on {evaluated_on.isoformat()}"})
                continue
            got = measured.measure(set(r.targets) | set(EFFICIENCY),
                                   found.get(r.contract_id) or measured.Delivered(r.contract_id, year))
            if got.missing:
                skipped.append({**item, "reason": measured.describe_missing(got.missing, year),
                                "missing": got.missing})
                continue
            inputs.append(ResultInput(r.id, evaluated_on, got.values, sources=got.sources))
        done = await record_results(session, actor, policy, inputs, today, audit_each=False, dry_run=dry_run)
    out.recorded, out.outcomes, out.consequences = len(inputs), done.outcomes, done.consequences
    out.skipped, out.skipped_items = len(skipped), skipped[:SHOWN_SKIPPED]
    return out


@contextmanager
def collector_paused(rows: int) -> Iterator[None]:
    """A record of many results allocates a million small containers that live until it returns (figures,
    measurements, their sources, the facts): every full pass of the cyclic garbage collector meanwhile
    walks all of them again, ~2 s of a year's record at 100,000 contracts (bench/RESULTS.md). From
    PAUSE_COLLECTOR_FROM rows it is paused until the record returns — reference counting still frees what
    the record lets go, and cycles left by other work wait until then; left alone when already paused."""
    if rows < PAUSE_COLLECTOR_FROM or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
