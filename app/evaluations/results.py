"""Recording evaluation results (rules 6–7) for one evaluation (REST) or thousands (a year's batch, the
demo history) through one path: load the facts of all of them in one query, compute their peer groups
in one query (app/evaluations/peers.py), score and decide in Python with the pure rules, write set-based.
Never commits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.permissions import Actor, require_contract_worker
from app.contracts.indicators import EFFICIENCY
from app.contracts.service import StateChange, set_states
from app.errors import DomainError, InvalidTransition, NotFound, Refusal, ValidationFailed
from app.evaluations import peers, scoring, workflow
from app.evaluations import service as schedules
from app.evaluations.bottom_line import PeerSums
from app.evaluations.peers import Point, Staged
from app.evaluations.workflow import Decision, Previous
from app.measurements import delivered, measured
from app.parcels import service as parcels
from app.policy import Policy
from models.base import current_sql


@dataclass(frozen=True)
class ResultInput:
    """A result as measured: `POST /evaluations/{id}/result`, or one row of a batch. `sources` per
    indicator as app/measurements/measured.py describes (None: not kept). With `from_delivered`, every
    indicator not in `measurements` is taken from the figures delivered for `year` (default: the calendar
    year of the evaluation's due date)."""

    evaluation_id: int
    evaluated_on: date
    measurements: dict[str, float]
    note: str | None = None
    sources: dict[str, Any] | None = None
    from_delivered: bool = False
    year: int | None = None


@dataclass
class _Facts:
    """One evaluation with its contract, as the rules need them."""

    id: int
    contract_id: int
    stage: str
    due_on: date
    done_on: date | None
    cancelled_on: date | None
    status: str | None
    signed_on: date
    expires_on: date
    ended_on: date | None
    rectify_by: date | None
    parcel_id: int
    industry_code: str
    district_code: str | None
    organisation_id: int
    targets: dict[str, float]
    previous: Previous | None


@dataclass
class Recorded:
    """What recording did (for the caller's report)."""

    outcomes: dict[str, int] = field(default_factory=dict)
    consequences: dict[str, int] = field(default_factory=dict)


@dataclass
class _Plan:
    """Everything a call writes, decided before the first write."""

    updates: list[dict[str, Any]] = field(default_factory=list)
    audited: list[tuple[int, None, dict[str, Any], None]] = field(default_factory=list)
    changes: list[StateChange] = field(default_factory=list)
    rectifications: list[dict[str, Any]] = field(default_factory=list)
    restored: dict[int, date] = field(default_factory=dict)  # contract → the day it passed
    parcel_statuses: dict[int, str] = field(default_factory=dict)
    done: Recorded = field(default_factory=Recorded)


async def record_results(session: AsyncSession, actor: Actor, policy: Policy, inputs: Sequence[ResultInput],
                         today: date, audit_each: bool = True, dry_run: bool = False) -> Recorded:
    """Score and record results; all or nothing (the first refusal is raised and audited). A bulk write
    (the demo, a year's record) may audit the results as one summary row naming every evaluation instead
    of one row each (`audit_each`); contract and parcel versions are audited one by one either way.
    `dry_run`: check, score and decide, write nothing."""
    if not inputs:
        return Recorded()
    ids = [i.evaluation_id for i in inputs]
    if len(set(ids)) != len(ids):
        raise ValidationFailed("an evaluation appears twice in one batch", field="evaluation_id")
    async with by_key(session, len(ids)):
        # Row locks: two writers of the same evaluation serialise; the second then sees it completed.
        await session.execute(_LOCK, {"ids": sorted(ids)})
        facts = await _load(session, inputs)
    inputs, missing = await _from_delivered(session, inputs, facts)
    seen: set[int] = set()
    for inp in inputs:
        try:
            _check(actor, inp, facts.get(inp.evaluation_id), today, seen, missing.get(inp.evaluation_id))
        except DomainError as exc:
            attempted = {"evaluated_on": inp.evaluated_on.isoformat(), "measurements": inp.measurements,
                         "note": inp.note}
            raise exc.with_refusal(Refusal("evaluation", inp.evaluation_id, "record_result",
                                           attempted)) from None
    sums = await peers.peer_sums(session, _points(inputs, facts), _staged(inputs, facts))
    plan = _decide(inputs, facts, sums, policy, audit_each)
    if dry_run:
        return plan.done
    await _write(session, actor, plan, facts, today, audit_each)
    return plan.done


def _staged(inputs: Sequence[ResultInput], facts: dict[int, _Facts]) -> Staged:
    return Staged([i.evaluation_id for i in inputs], [facts[i.evaluation_id].contract_id for i in inputs],
                  [i.evaluated_on for i in inputs],
                  [i.measurements.get("output_per_mu") for i in inputs],
                  [i.measurements.get("tax_per_mu") for i in inputs])


def _points(inputs: Sequence[ResultInput], facts: dict[int, _Facts]) -> list[Point]:
    """The peer groups asked for, each once (a year's record: thousands of results, a few hundred groups)."""
    groups = {(inp.evaluated_on, f.industry_code, f.district_code)
              for inp in inputs for f in (facts[inp.evaluation_id],)}
    return [p for g in groups for p in peers.points_for(*g)]


def _decide(inputs: Sequence[ResultInput], facts: dict[int, _Facts], sums: dict[Point, dict[str, PeerSums]],
            policy: Policy, audit_each: bool) -> _Plan:
    """Rules 4, 6 and 7 for every result (pure rules; no I/O)."""
    plan = _Plan()
    for inp in inputs:
        f = facts[inp.evaluation_id]
        own: dict[str, float | None] = {c: inp.measurements.get(c) for c in EFFICIENCY}
        groups = peers.groups_for(sums, inp.evaluated_on, f.industry_code, f.district_code, policy, own)
        result = scoring.score(f.targets, inp.measurements, groups)
        assert f.status is not None
        decision = workflow.consequence(f.status, f.rectify_by, f.stage, result.outcome, f.id,
                                        inp.evaluated_on, f.previous, policy)
        plan.updates.append(_row(inp, result, decision))
        if audit_each:
            plan.audited.append((f.id, None, {
                "evaluated_on": inp.evaluated_on.isoformat(), "outcome": result.outcome,
                "measurements": inp.measurements, "measurement_sources": inp.sources, "ratios": result.ratios,
                "consequence": decision.consequence, "exit_reason": decision.exit_reason,
                "evidence": list(decision.evidence) or None}, None))
        done = plan.done
        done.outcomes[result.outcome] = done.outcomes.get(result.outcome, 0) + 1
        done.consequences[decision.consequence] = done.consequences.get(decision.consequence, 0) + 1
        if (decision.status, decision.rectify_by) != (f.status, f.rectify_by):
            plan.changes.append(StateChange(f.contract_id, decision.status, decision.rectify_by, None,
                                            {"evaluation_id": f.id, "outcome": result.outcome,
                                             "consequence": decision.consequence}))
        if decision.rectification_due_on is not None:
            plan.rectifications.append({"contract_id": f.contract_id, "stage": "rectification",
                                        "due_on": decision.rectification_due_on})
            plan.parcel_statuses[f.parcel_id] = "rectification"
        if decision.cancel_rectification:
            plan.restored[f.contract_id] = inp.evaluated_on
    return plan


async def _write(session: AsyncSession, actor: Actor, plan: _Plan, facts: dict[int, _Facts], today: date,
                 audit_each: bool) -> None:
    """Set-based writes: results, contract versions, rectification evaluations, parcel versions, audit."""
    plan.updates.sort(key=lambda u: u["id"])  # the index probes in key order
    async with by_key(session, len(plan.updates)):
        await session.execute(_UPDATE, _columns(plan.updates, actor))
    await set_states(session, actor, plan.changes)
    new_ids = await schedules.add_rectifications(session, plan.rectifications)
    cancelled = await schedules.cancel_rectifications(session, plan.restored)
    restored_parcels = [f.parcel_id for f in facts.values() if f.contract_id in plan.restored]
    plan.parcel_statuses.update(await _restored_parcel_statuses(session, restored_parcels))
    await parcels.set_statuses(session, actor, plan.parcel_statuses, {"cause": "evaluation results (rule 7)"})
    if not audit_each:
        # Rule 10: the one row names every evaluation written (results, scheduled, cancelled).
        ids = sorted(u["id"] for u in plan.updates)
        await audit.record(session, actor, "record_results", "evaluation", None, detail={
            "results": len(ids), "first_id": ids[0], "last_id": ids[-1], "evaluation_ids": ids,
            "outcomes": plan.done.outcomes, "consequences": plan.done.consequences,
            "rectifications_scheduled": len(new_ids), "scheduled_ids": sorted(new_ids),
            "cancelled": len(cancelled), "cancelled_ids": sorted(i for i, _ in cancelled)})
        return
    await audit.record_many(session, actor, "record_result", "evaluation", plan.audited)
    await audit.record_many(session, actor, "schedule", "evaluation", [
        (i, None, {**r, "due_on": r["due_on"].isoformat()}, {"cause": "rectification (rule 7)"})
        for i, r in zip(new_ids, plan.rectifications, strict=True)])
    await audit.record_many(session, actor, "cancel", "evaluation", [
        (i, None, {"cancelled_on": on.isoformat()}, {"cause": "restored to active (rule 7)"})
        for i, on in cancelled])


# ------------------------------------------------------------------------------------------ the checks
def _check(actor: Actor, inp: ResultInput, f: _Facts | None, today: date, seen: set[int],
           missing: tuple[int, dict[str, list[str]]] | None) -> None:
    if f is None:
        raise NotFound(f"evaluation {inp.evaluation_id} does not exist", evaluation_id=inp.evaluation_id)
    require_contract_worker(actor, f.district_code, f.organisation_id, "record evaluation results")
    if f.done_on is not None:
        raise InvalidTransition(f"evaluation {f.id} was completed on {f.done_on.isoformat()}",
                                evaluation_id=f.id, evaluated_on=f.done_on)
    if f.cancelled_on is not None:
        raise InvalidTransition(f"evaluation {f.id} was cancelled on {f.cancelled_on.isoformat()}",
                                evaluation_id=f.id, cancelled_on=f.cancelled_on)
    if f.status not in workflow.IN_FORCE:
        raise InvalidTransition(f"contract {f.contract_id} is {f.status}; it takes no evaluation results",
                                contract_id=f.contract_id, status=f.status)
    if f.contract_id in seen:
        raise ValidationFailed(f"two results for contract {f.contract_id} in one batch; record them one "
                               "after the other", contract_id=f.contract_id)
    seen.add(f.contract_id)
    d = inp.evaluated_on
    if d > today:
        raise ValidationFailed(f"evaluated_on {d.isoformat()} is in the future", field="evaluated_on")
    if d < f.signed_on:
        raise ValidationFailed(f"evaluated_on {d.isoformat()} precedes the signing "
                               f"({f.signed_on.isoformat()})",
                               field="evaluated_on")
    end = min(x for x in (f.expires_on, f.ended_on) if x is not None)
    if d >= end:
        raise ValidationFailed(f"evaluated_on {d.isoformat()} is after the contract's force ended "
                               f"({end.isoformat()})", field="evaluated_on")
    if missing is not None:
        year, lacking = missing
        codes = ", ".join(sorted(lacking))
        raise ValidationFailed(f"measurements missing for {codes}: {measured.describe_missing(lacking, year)}; "
                               "measure them or deliver the figures", field="measurements",
                               missing=sorted(lacking), missing_figures=lacking, year=year)
    scoring.check_measurements(f.targets, inp.measurements)


# ------------------------------------------------------------------------------------------ loading
# A batch's evaluations are found by primary key, one index probe each. From this many rows on, the
# planner (costing each probe as a random read, random_page_cost 4) would rather hash the whole table —
# a seq scan of all evaluations for a year's 20,000 results, several times slower than the probes of
# the pages the batch touches (bench/RESULTS.md, "Year record from delivered figures"). The statements
# that look rows up by key run with hash and merge joins and seq scans off, this transaction only.
BY_KEY_FROM = 500
_PLANNER = ("enable_hashjoin", "enable_mergejoin", "enable_seqscan")


@asynccontextmanager
async def by_key(session: AsyncSession, rows: int) -> AsyncIterator[None]:
    """The statements inside look `rows` rows up by key: index probes, not a hash of the table (from
    BY_KEY_FROM rows; fewer are planned so anyway). The settings are set back after them (an error
    aborts the transaction, whose end drops them)."""
    if rows < BY_KEY_FROM:
        yield
        return
    names = list(_PLANNER)
    before = list((await session.execute(text("SELECT current_setting(n) FROM unnest(CAST(:n AS text[])) "
                                              "WITH ORDINALITY AS t(n, k) ORDER BY k"), {"n": names})).scalars())
    await session.execute(_SET_PLANNER, {"n": names, "v": ["off"] * len(names)})
    yield
    await session.execute(_SET_PLANNER, {"n": names, "v": before})


_SET_PLANNER = text("SELECT set_config(n, v, true) FROM unnest(CAST(:n AS text[]), CAST(:v AS text[])) AS t(n, v)")
_LOCK = text("""
SELECT e.id FROM unnest(CAST(:ids AS bigint[])) AS s(id) JOIN evaluation e ON e.id = s.id ORDER BY e.id FOR UPDATE OF e
""")
_FACTS = text(f"""
SELECT e.id, e.contract_id, e.stage, e.due_on, e.evaluated_on AS done_on, e.cancelled_on,
       c.status, c.signed_on, c.expires_on, c.ended_on, c.rectify_by, c.parcel_id,
       en.industry_code, p.district_code, c.responsible_org_id,
       (SELECT coalesce(jsonb_object_agg(i.code, i.target), '{{}}'::jsonb) FROM contract_indicator i
         WHERE i.contract_id = c.id AND i.contract_version = c.terms_version) AS targets,
       prev.id AS prev_id, prev.outcome AS prev_outcome, prev.evidence AS prev_evidence
  FROM unnest(CAST(:ids AS bigint[]), CAST(:days AS date[])) AS s(id, d)
  JOIN evaluation e ON e.id = s.id
  JOIN contract c ON c.id = e.contract_id AND {current_sql('c')}
  JOIN enterprise en ON en.id = c.enterprise_id
  LEFT JOIN parcel p ON p.id = c.parcel_id AND {current_sql('p')}
  LEFT JOIN LATERAL (
       SELECT x.id, x.outcome, x.evidence FROM evaluation x
        WHERE x.contract_id = e.contract_id AND x.evaluated_on IS NOT NULL AND x.evaluated_on <= s.d
        ORDER BY x.evaluated_on DESC, x.id DESC LIMIT 1) prev ON true
""")  # noqa: S608


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


async def _load(session: AsyncSession, inputs: Sequence[ResultInput]) -> dict[int, _Facts]:
    rows = await session.execute(_FACTS, {"ids": [i.evaluation_id for i in inputs],
                                          "days": [i.evaluated_on for i in inputs]})
    out: dict[int, _Facts] = {}
    for r in rows:
        previous = None if r.prev_id is None else Previous(r.prev_id, r.prev_outcome,
                                                           tuple(r.prev_evidence or ()))
        targets = {k: float(v) for k, v in _json(r.targets).items()}
        out[r.id] = _Facts(r.id, r.contract_id, r.stage, r.due_on, r.done_on, r.cancelled_on, r.status, r.signed_on,
                           r.expires_on, r.ended_on, r.rectify_by, r.parcel_id, r.industry_code,
                           r.district_code, r.responsible_org_id, targets, previous)
    return out


async def _from_delivered(session: AsyncSession, inputs: Sequence[ResultInput], facts: dict[int, _Facts]
                          ) -> tuple[list[ResultInput], dict[int, tuple[int, dict[str, list[str]]]]]:
    """Inputs `from_delivered` completed from the delivered figures of their year (one query per year);
    what could not be measured, per evaluation: (year, indicator → the figures not delivered)."""
    wanted: dict[int, dict[int, ResultInput]] = {}  # year → evaluation → input
    for inp in inputs:
        f = facts.get(inp.evaluation_id)
        if inp.from_delivered and f is not None and (set(f.targets) | set(EFFICIENCY)) - set(inp.measurements):
            wanted.setdefault(inp.year or f.due_on.year, {})[inp.evaluation_id] = inp
    if not wanted:
        return list(inputs), {}
    done: dict[int, ResultInput] = {}
    missing: dict[int, tuple[int, dict[str, list[str]]]] = {}
    for year, of_year in wanted.items():
        found = await delivered.latest(session, [facts[i].contract_id for i in of_year], year)
        for eid, inp in of_year.items():
            f = facts[eid]
            todo = (set(f.targets) | set(EFFICIENCY)) - set(inp.measurements)
            got = measured.measure(todo, found.get(f.contract_id) or measured.Delivered(f.contract_id, year))
            if got.missing:
                missing[eid] = (year, got.missing)
            done[eid] = replace(inp, measurements={**inp.measurements, **got.values},
                                sources={**(inp.sources or {}), **got.sources})
    return [done.get(i.evaluation_id, i) for i in inputs], missing


async def _restored_parcel_statuses(session: AsyncSession, parcel_ids: Sequence[int]) -> dict[int, str]:
    """Rule 7: a contract back to active gives its parcel the status it had before rectification."""
    if not parcel_ids:
        return {}
    rows = await session.execute(text("""
        SELECT DISTINCT ON (id) id, status FROM parcel
         WHERE id = ANY(CAST(:ids AS bigint[])) AND status <> 'rectification'
         ORDER BY id, version DESC
    """), {"ids": list(parcel_ids)})
    found = {r.id: r.status for r in rows}
    return {pid: found.get(pid, "operating") for pid in parcel_ids}


# ------------------------------------------------------------------------------------------ writing


def _row(inp: ResultInput, result: scoring.Result, decision: Decision) -> dict[str, Any]:
    dump = orjson.dumps
    return {
        "id": inp.evaluation_id, "evaluated_on": inp.evaluated_on.isoformat(), "outcome": result.outcome,
        "measurements": dump({k: float(v) for k, v in sorted(inp.measurements.items())}).decode(),
        "measurement_sources": None if inp.sources is None else dump(inp.sources).decode(),
        "attainment": dump(result.attainment).decode(), "ratios": dump(result.ratios).decode(),
        "peer_groups": dump(result.peer_groups).decode(), "consequence": decision.consequence,
        "exit_reason": decision.exit_reason, "evidence": list(decision.evidence) or None, "note": inp.note,
    }


def _columns(rows: list[dict[str, Any]], actor: Actor) -> dict[str, Any]:
    cols: dict[str, Any] = {k: [r[k] for r in rows] for k in rows[0]}
    cols["evaluated_on"] = [date.fromisoformat(d) for d in cols["evaluated_on"]]
    cols["evidence"] = ["{" + ",".join(map(str, e)) + "}" if e else None for e in cols["evidence"]]
    cols["actor"] = actor.username
    return cols


_UPDATE = text("""
UPDATE evaluation e
   SET evaluated_on = u.evaluated_on, outcome = u.outcome, measurements = u.measurements,
       measurement_sources = u.measurement_sources, attainment = u.attainment, ratios = u.ratios,
       peer_groups = u.peer_groups, consequence = u.consequence,
       exit_reason = u.exit_reason, evidence = CAST(u.evidence AS bigint[]), note = u.note,
       evaluated_by = :actor, recorded_at = now()
  FROM unnest(CAST(:id AS bigint[]), CAST(:evaluated_on AS date[]), CAST(:outcome AS text[]),
              CAST(:measurements AS jsonb[]), CAST(:measurement_sources AS jsonb[]),
              CAST(:attainment AS jsonb[]), CAST(:ratios AS jsonb[]),
              CAST(:peer_groups AS jsonb[]), CAST(:consequence AS text[]), CAST(:exit_reason AS text[]),
              CAST(:evidence AS text[]), CAST(:note AS text[]))
       AS u(id, evaluated_on, outcome, measurements, measurement_sources, attainment, ratios, peer_groups,
            consequence, exit_reason, evidence, note)
 WHERE e.id = u.id
""")
