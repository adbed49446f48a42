"""Parcel writes: load, locate, apply the rules, write a new version, audit. Never commits.

Every path that changes a parcel (REST, WFS-T, import, plot-ratio approval, zone edits) comes through
`create_parcel`, `update_parcel`, `delete_parcel` or `reclassify_parcels`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, cast

import orjson
from geoalchemy2.shape import from_shape
from shapely import wkb as shapely_wkb
from shapely.geometry import MultiPolygon
from sqlalchemy import Table, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import locks
from app.audit import service as audit
from app.auth.permissions import Actor, require_override_rights, require_parcel_editor
from app.calendar import city_today
from app.context import request_id
from app.errors import DomainError, Refusal, ValidationFailed
from app.parcels import far, lifecycle, overlap, rules
from app.parcels.classify import NOWHERE, Location, locate_geometries, locate_parcels
from app.parcels.lifecycle import StatusChange
from app.parcels.rules import Cap, ContractInForce, LockState, Override
from app.policy import INDUSTRIAL_USES, Policy
from app.zones import dependants
from gis.crs import STORAGE_SRID
from gis.geometry import storage_ewkb
from models import Parcel
from models.base import current, current_sql
from models.parcel import STATUSES

parcel = cast(Table, Parcel.__table__)

WRITABLE = ("code", "land_use", "plot_ratio", "plot_ratio_reference_id", "legacy_zone", "status")
# The audit's view of a parcel version, in before/after of every parcel audit row (the geometry lives in the
# history rows): built in Python by `_State.snapshot`, in SQL by `snapshot_sql` (set_statuses).
SNAPSHOT = (*WRITABLE, "version", "district_code", "tier", "zone_id", "planning_locked", "plot_ratio_cap",
            "plot_ratio_cap_source")
# Not stored on the parcel: the date of a district's life-cycle step, recorded in the audit row (SPEC §4).
STATUS_ON = "status_on"


@dataclass(frozen=True)
class ParcelDraft:
    """A parcel as a write wants it: writable attributes and a storage-CRS geometry."""

    code: str
    land_use: str
    geom: MultiPolygon
    plot_ratio: float | None = None
    plot_ratio_reference_id: int | None = None
    legacy_zone: str | None = None
    status: str = "planned"


@dataclass(frozen=True)
class ParcelChanges:
    """What an update changes: `values` holds only members present (None clears; `status_on` dates a
    status step of the district); geom when moved."""

    values: dict[str, Any] = field(default_factory=dict)
    geom: MultiPolygon | None = None


@dataclass(frozen=True)
class ContractFacts:
    """What a parcel's contracts say to the parcel rules, gathered in one query: the day they were read
    for, the contract in force, when it was signed, and whether any contract ever named the parcel."""

    today: date | None = None
    in_force: ContractInForce | None = None
    signed_on: date | None = None
    ever: bool = False


NO_CONTRACT = ContractFacts()


@dataclass(frozen=True)
class _State:
    """One version of a parcel with everything the rules look at."""

    id: int
    version: int
    draft: ParcelDraft
    district_code: str | None
    tier: str | None
    zone_id: int | None
    planning_locked: bool
    cap: Cap

    def lock(self) -> LockState:
        return LockState(self.id, self.planning_locked, self.zone_id, self.draft.land_use)

    def snapshot(self) -> dict[str, Any]:
        """The audit's view of this version (SNAPSHOT): the draft's attributes and the derived facts."""
        derived = {"version": self.version, "district_code": self.district_code, "tier": self.tier,
                   "zone_id": self.zone_id, "planning_locked": self.planning_locked,
                   "plot_ratio_cap": self.cap.value, "plot_ratio_cap_source": self.cap.source}
        return {k: derived[k] if k in derived else getattr(self.draft, k) for k in SNAPSHOT}


def snapshot_sql(row: str, **exprs: str) -> str:
    """The audit's view of a parcel (SNAPSHOT) as a jsonb expression over the parcel row `row`, for writes
    done in SQL alone; `exprs` give a field's value where it is not that row's column of the same name."""
    pairs = ", ".join(f"'{k}', {exprs.get(k, f'{row}.{k}')}" for k in SNAPSHOT)
    return f"jsonb_build_object({pairs})"


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def geometry_of(row: Parcel) -> MultiPolygon:
    """A parcel row's geometry as shapely (storage CRS)."""
    geom: MultiPolygon = shapely_wkb.loads(bytes(row.geom.data))
    return geom


def _state_of(row: Parcel) -> _State:
    geom = geometry_of(row)
    draft = ParcelDraft(code=row.code, land_use=row.land_use, geom=geom, plot_ratio=_float(row.plot_ratio),
                        plot_ratio_reference_id=row.plot_ratio_reference_id, legacy_zone=row.legacy_zone,
                        status=row.status)
    return _State(row.id, row.version, draft, row.district_code, row.tier, row.zone_id, row.planning_locked,
                  Cap(_float(row.plot_ratio_cap), row.plot_ratio_cap_source, row.plot_ratio_reference_id
                      if row.plot_ratio_cap_source == "reference" else None))


async def load_current(session: AsyncSession, parcel_id: int, *, lock: bool = False) -> Parcel:
    """The current row of a parcel (NOT_FOUND otherwise); `lock` serialises writers of this parcel."""
    return await locks.current_row(session, Parcel, "parcel", parcel_id, lock=lock)


# ------------------------------------------------------------------------------------------ writes
async def create_parcel(session: AsyncSession, actor: Actor, policy: Policy, draft: ParcelDraft,
                        override: Override | None = None) -> int:
    """Create a parcel (version 1) after the rules; returns its id."""
    new_id = int(await session.scalar(select(func.nextval("parcel_id_seq"))) or 0)
    try:
        location = await _locate(session, draft.geom, policy)
        state = await _decide(session, actor, policy, None, new_id, draft, location, override, NO_CONTRACT)
        await _check_code_free(session, draft.code, new_id)
    except DomainError as exc:
        raise exc.with_refusal(Refusal("parcel", None, "create", _attempt(draft))) from None
    await _insert(session, [state], actor)
    await audit.record(session, actor, "create", "parcel", new_id, after=state.snapshot())
    return new_id


async def update_parcel(session: AsyncSession, actor: Actor, policy: Policy, parcel_id: int,
                        changes: ParcelChanges, override: Override | None = None,
                        if_match: int | None = None, cause: str = lifecycle.EDIT) -> int:
    """Apply changes as a new version after the rules; returns the new version number. `cause` says which
    procedure writes: a direct edit (REST, WFS-T, the page), signing, an exit case, or rule 9's approval."""
    row = await load_current(session, parcel_id, lock=True)
    locks.check_if_match("parcel", parcel_id, row.version, if_match)
    before = _state_of(row)
    values = dict(changes.values)
    status_on = values.pop(STATUS_ON, None)
    unknown = set(values) - set(WRITABLE)
    if unknown:
        raise ValidationFailed(f"not writable: {', '.join(sorted(unknown))}")
    draft = replace(before.draft, **values, **({"geom": changes.geom} if changes.geom is not None else {}))
    try:
        location = (await _locate(session, draft.geom, policy) if changes.geom is not None
                    else Location(before.district_code, await zone_facts(session, before.zone_id)))
        state = await _decide(session, actor, policy, before, parcel_id, draft, location, override,
                              await contract_facts(session, parcel_id, city_today(policy.today)),
                              geometry_changed=changes.geom is not None, cause=cause, status_on=status_on)
        if draft.code != before.draft.code:
            await _check_code_free(session, draft.code, parcel_id)
        if changes.geom is not None or {"land_use", "plot_ratio"} & set(values):  # rule 3: dependants
            await dependants.check_reference(session, actor, policy, parcel_id, draft.code, before.draft.land_use,
                                             (draft.land_use, draft.plot_ratio, draft.geom, state.zone_id), override)
    except DomainError as exc:
        attempt = _attempt(draft)
        if status_on is not None:
            attempt[STATUS_ON] = status_on.isoformat()
        raise exc.with_refusal(Refusal("parcel", parcel_id, "update", attempt)) from None
    state = replace(state, version=before.version + 1)
    await _close(session, parcel_id)
    await _insert(session, [state], actor)
    after = state.snapshot()
    if status_on is not None:  # SPEC §4: the district's construction start / start of operation
        after[STATUS_ON] = status_on.isoformat()
    await audit.record(session, actor, "update", "parcel", parcel_id, before=before.snapshot(), after=after,
                       detail=None if cause == lifecycle.EDIT else {"cause": cause})
    return state.version


async def delete_parcel(session: AsyncSession, actor: Actor, policy: Policy, parcel_id: int,
                        override: Override | None = None, if_match: int | None = None) -> None:
    """Close the current version without a successor (history keeps it); rule 1 guards locked land, and
    land that has had a contract leaves by an exit case (rule 8), never by deletion."""
    row = await load_current(session, parcel_id, lock=True)
    locks.check_if_match("parcel", parcel_id, row.version, if_match)
    before = _state_of(row)
    try:
        require_parcel_editor(actor, [before.district_code], "delete parcels")
        if override is not None:
            require_override_rights(actor)
        held = await contract_facts(session, parcel_id, city_today(policy.today))
        lifecycle.check_retire(parcel_id, before.draft.status, held.ever)
        overridden = rules.check_planning_lock([(before.lock(), None)], override, actor.is_bureau)
        await dependants.check_reference(session, actor, policy, parcel_id, before.draft.code,
                                         before.draft.land_use, None, override)  # rule 3: its dependants
    except DomainError as exc:
        raise exc.with_refusal(Refusal("parcel", parcel_id, "delete", {})) from None
    await _close(session, parcel_id)
    await _audit_override(session, actor, "parcel", parcel_id, overridden, override)
    await audit.record(session, actor, "delete", "parcel", parcel_id, before=before.snapshot())


async def reclassify_parcels(session: AsyncSession, actor: Actor, policy: Policy, parcel_ids: list[int],
                             override: Override | None = None) -> list[int]:
    """After a zone edit: locate the touched parcels again, apply rule 1 to all of them at once, and
    write a new version of each whose tier, zone, lock or cap changed. Returns the changed ids."""
    if not parcel_ids:
        return []
    rows = list(await session.scalars(
        select(Parcel).where(Parcel.id.in_(parcel_ids), current(Parcel)).order_by(Parcel.id)))
    located = await locate_parcels(session, [r.id for r in rows], policy.tier_majority_share)
    changes: list[tuple[_State, _State]] = []
    for row in rows:
        before = _state_of(row)
        loc = located.get(row.id, NOWHERE)
        after = _derive(policy, before.id, before.version + 1, before.draft, loc, keep=before.cap)
        if (after.tier, after.zone_id, after.planning_locked, after.district_code, after.cap) != (
                before.tier, before.zone_id, before.planning_locked, before.district_code, before.cap):
            changes.append((before, after))
    if override is not None:
        require_override_rights(actor)
    overridden = rules.check_planning_lock([(b.lock(), a.lock()) for b, a in changes], override,
                                           actor.is_bureau)
    ids = [b.id for b, _ in changes]
    if ids:
        at = await locks.change_time(session)
        await session.execute(update(parcel).where(parcel.c.id.in_(ids), current(parcel))
                              .values(valid_to=at))
        await _insert(session, [after for _, after in changes], actor)
        for before, after in changes:
            await audit.record(session, actor, "reclassify", "parcel", before.id, before=before.snapshot(),
                               after=after.snapshot())
    for pid, why in overridden:
        await _audit_override(session, actor, "parcel", pid, [(pid, why)], override)
    return ids


async def set_statuses(session: AsyncSession, actor: Actor, statuses: dict[int, str], cause: dict[str, Any]
                       ) -> list[int]:
    """Status changes that follow from a contract event (rules 7–8: rectification, restoration) for many
    parcels in one statement: each changed parcel gets a new version and the same audit row as
    `update_parcel`. No parcel rule looks at the status, and the cause was authorised by its own rules
    (an evaluator's result may put a parcel into rectification), so no parcel-editor check applies.
    Returns the ids whose status changed."""
    if not statuses:
        return []
    if set(statuses.values()) - set(STATUSES):
        raise ValidationFailed(f"unknown parcel status in {sorted(set(statuses.values()))}")
    before = snapshot_sql("c")
    after = snapshot_sql("c", status="c.new_status", version="c.version + 1")
    sql = text(f"""
        WITH ch AS (SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS text[])) AS t(id, status)),
        closed AS (
            UPDATE parcel p SET valid_to = :at FROM ch
             WHERE p.id = ch.id AND {current_sql('p')} AND p.status <> ch.status
            RETURNING p.*, ch.status AS new_status),
        opened AS (
            INSERT INTO parcel (id, version, code, land_use, plot_ratio, plot_ratio_reference_id,
                                plot_ratio_cap, plot_ratio_cap_source, legacy_zone, status, district_code,
                                tier, zone_id, planning_locked, geom, area_m2, tile_geom, tile_point,
                                changed_by, valid_from)
            SELECT id, version + 1, code, land_use, plot_ratio, plot_ratio_reference_id, plot_ratio_cap,
                   plot_ratio_cap_source, legacy_zone, new_status, district_code, tier, zone_id,
                   planning_locked, geom, area_m2, tile_geom, tile_point, :actor, :at
              FROM closed
            RETURNING id)
        INSERT INTO audit_log (actor, actor_role, action, entity, entity_id, outcome, before, after, detail,
                               request_id)
        SELECT :actor, :role, 'update', 'parcel', c.id::text, 'done', {before}, {after},
               CAST(:cause AS jsonb), :rid
          FROM closed c
        RETURNING entity_id
    """)  # noqa: S608 (the snapshot expressions are constants)
    # The geometry is unchanged, so are its measures: the new versions bring the old ones (trigger
    # parcel_measures, migration 0007, skips rows that do) instead of measuring every parcel again.
    measures = await session.scalar(text("SELECT coalesce(current_setting('landcycle.parcel_measures', true), '')"))
    await session.execute(text("SELECT set_config('landcycle.parcel_measures', 'supplied', true)"))
    rows = await session.execute(sql, {
        "ids": list(statuses), "statuses": list(statuses.values()), "actor": actor.username,
        "role": actor.role, "cause": orjson.dumps(cause).decode(), "rid": request_id.get(),
        "at": await locks.change_time(session)})
    changed = sorted(int(r) for r in rows.scalars())
    await session.execute(text("SELECT set_config('landcycle.parcel_measures', :v, true)"), {"v": measures})
    return changed


# ------------------------------------------------------------------------------------------ the rules
async def _decide(session: AsyncSession, actor: Actor, policy: Policy, before: _State | None, parcel_id: int,
                  draft: ParcelDraft, location: Location, override: Override | None, held: ContractFacts,
                  geometry_changed: bool = True, cause: str = lifecycle.EDIT,
                  status_on: date | None = None) -> _State:
    """Permissions, the legacy zone and the life cycle (SPEC §4), rule 1, the plot ratio of contracted land
    (rule 9), rule 3 and the overlap check for one parcel write; the resulting state."""
    districts = [location.district_code] + ([before.district_code] if before else [])
    require_parcel_editor(actor, districts, "edit parcels" if before else "create parcels")
    if override is not None:
        require_override_rights(actor)
    if cause == lifecycle.EDIT:
        rules.check_legacy_zone(before.draft.legacy_zone if before else None, draft.legacy_zone, actor.is_bureau)
    lifecycle.check_transition(
        StatusChange(before.draft.status if before else None, before.draft.land_use if before else None,
                     draft.status, draft.land_use),
        cause, status_on, held.today, held.signed_on)
    after = _derive(policy, parcel_id, 1, draft, location, keep=before.cap if before else None)
    overridden: list[tuple[int, str]] = []
    ratio_overridden = False
    if before is not None:
        overridden = rules.check_planning_lock([(before.lock(), after.lock())], override, actor.is_bureau)
        if cause == lifecycle.EDIT:
            ratio_overridden = rules.check_contracted_plot_ratio(
                parcel_id, before.draft.plot_ratio, draft.plot_ratio, held.in_force, override, actor.is_bureau)
    far_inputs_changed = before is None or geometry_changed or any(
        getattr(draft, k) != getattr(before.draft, k) for k in ("plot_ratio", "plot_ratio_reference_id", "land_use"))
    if far_inputs_changed:
        after = replace(after, cap=await far.far_cap(
            session, policy, land_use=draft.land_use, requested=draft.plot_ratio, zone=location.zone,
            geom=draft.geom, reference_id=draft.plot_ratio_reference_id, exclude_id=parcel_id))
    if draft.land_use in INDUSTRIAL_USES and (before is None or geometry_changed
                                              or before.draft.land_use not in INDUSTRIAL_USES):
        await overlap.check_overlap(session, policy, parcel_id, draft.geom)
    await _audit_override(session, actor, "parcel", parcel_id, overridden, override)
    if ratio_overridden and override is not None and before is not None and held.in_force is not None:
        await audit.record(session, actor, "override", "parcel", parcel_id, outcome="overridden",
                           code="PLOT_RATIO_REQUEST_REQUIRED",
                           detail={"decision_ref": override.decision_ref, "reason": override.reason,
                                   "contract_id": held.in_force.id, "plot_ratio_before": before.draft.plot_ratio,
                                   "plot_ratio_after": draft.plot_ratio})
    return after


async def contract_facts(session: AsyncSession, parcel_id: int, today: date) -> ContractFacts:
    """The contract in force on a parcel on `today` and whether it ever had one, in one query. In force:
    the holding contract (active, rectification, exiting) unless active/rectification past its expiry
    (then it reads `expired`, app/contracts/query.py `effective_status`)."""
    row = (await session.execute(text(f"""
        SELECT h.id, h.code, h.status, h.signed_on, h.expires_on,
               EXISTS (SELECT 1 FROM contract c WHERE c.parcel_id = :id) AS ever
          FROM (SELECT 1) AS one
          LEFT JOIN LATERAL (
               SELECT id, code, status, signed_on, expires_on FROM contract
                WHERE parcel_id = :id AND {current_sql()} AND status IN ('active', 'rectification', 'exiting')
                ORDER BY id LIMIT 1) h ON true
    """), {"id": parcel_id})).one()  # noqa: S608
    in_force = None
    if row.id is not None and (row.status == "exiting" or row.expires_on > today):
        in_force = ContractInForce(row.id, row.code, row.status)
    return ContractFacts(today, in_force, row.signed_on, bool(row.ever))


def _derive(policy: Policy, parcel_id: int, version: int, draft: ParcelDraft, location: Location,
            keep: Cap | None) -> _State:
    """Tier, zone, lock and cap from the location (a reference-backed cap is kept while it applies)."""
    cls = rules.classify(draft.land_use, location.zone)
    cap = rules.base_cap(draft.land_use, location.zone, policy)
    if keep is not None and keep.source == "reference" and cap.source == "default":
        cap = keep
    return _State(parcel_id, version, draft, location.district_code, cls.tier, cls.zone_id,
                  cls.planning_locked, cap)


async def _check_code_free(session: AsyncSession, code: str, parcel_id: int) -> None:
    other = await session.scalar(select(Parcel.id).where(Parcel.code == code, current(Parcel),
                                                         Parcel.id != parcel_id))
    if other is not None:
        raise ValidationFailed(f"code {code} is already used by parcel {other}", field="code", existing_id=other)


async def zone_facts(session: AsyncSession, zone_id: int | None) -> rules.ZoneFacts | None:
    """The rule-3 facts of a current zone (None for no zone)."""
    if zone_id is None:
        return None
    row = (await session.execute(text(f"""
        SELECT id, code, kind, advanced_manufacturing, far_cap::float8 AS far_cap, far_min::float8 AS far_min
          FROM zone WHERE id = :id AND {current_sql()}
    """), {"id": zone_id})).first()  # noqa: S608
    if row is None:
        return None
    return rules.ZoneFacts(row.id, row.code, row.kind, row.advanced_manufacturing, row.far_cap, row.far_min)


async def _locate(session: AsyncSession, geom: MultiPolygon, policy: Policy) -> Location:
    found = await locate_geometries(session, {"g": storage_ewkb(geom)}, policy.tier_majority_share)
    return found.get("g", NOWHERE)


# ------------------------------------------------------------------------------------------ persistence
async def _close(session: AsyncSession, parcel_id: int) -> None:
    at = await locks.change_time(session)
    await session.execute(update(parcel).where(parcel.c.id == parcel_id, current(parcel))
                          .values(valid_to=at))


async def _insert(session: AsyncSession, states: list[_State], actor: Actor) -> None:
    """Insert versions in one statement (the overlap guard then runs once for all of them)."""
    at = await locks.change_time(session)
    rows = []
    for state in states:
        d = state.draft
        rows.append(dict(
            id=state.id, version=state.version, code=d.code, land_use=d.land_use, plot_ratio=d.plot_ratio,
            plot_ratio_reference_id=state.cap.reference_id if state.cap.source == "reference" else None,
            plot_ratio_cap=state.cap.value, plot_ratio_cap_source=state.cap.source, legacy_zone=d.legacy_zone,
            status=d.status, district_code=state.district_code, tier=state.tier, zone_id=state.zone_id,
            planning_locked=state.planning_locked, geom=from_shape(d.geom, srid=STORAGE_SRID),
            changed_by=actor.username, valid_from=at,
        ))
    for start in range(0, len(rows), 1000):  # asyncpg takes at most 32,767 parameters a statement
        await session.execute(parcel.insert().values(rows[start:start + 1000]))


async def _audit_override(session: AsyncSession, actor: Actor, entity: str, entity_id: int,
                          overridden: list[tuple[int, str]], override: Override | None) -> None:
    """Rule 1: an overridden lock is audited with the decision and the reason."""
    if not overridden or override is None:
        return
    await audit.record(session, actor, "override", entity, entity_id, outcome="overridden",
                       code="LOCKUP_PLANNING",
                       detail={"decision_ref": override.decision_ref, "reason": override.reason,
                               "breaches": [{"parcel_id": pid, "why": why} for pid, why in overridden]})


def _attempt(draft: ParcelDraft) -> dict[str, Any]:
    data = {k: v for k, v in asdict(draft).items() if k != "geom"}
    data["geometry_wkt"] = draft.geom.wkt[:2000]
    return data
