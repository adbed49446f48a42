"""Zone writes: versioned like parcels; every change re-derives the tiers it touches, in the same
transaction; rule 1 refuses a change that would take locked land out of its lock, and rule 3 one that would
leave a parcel above its zone's cap or below its minimum (`app.zones.dependants`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any, cast

from geoalchemy2.shape import from_shape
from shapely import wkb as shapely_wkb
from shapely.geometry import MultiPolygon
from sqlalchemy import Table, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import locks
from app.audit import service as audit
from app.auth.permissions import Actor, require_override_rights, require_role
from app.errors import DomainError, Refusal, ValidationFailed
from app.parcels.classify import locate_geometries
from app.parcels.rules import Override
from app.parcels.service import reclassify_parcels
from app.policy import Policy
from app.zones import dependants
from gis.crs import STORAGE_SRID
from gis.geometry import storage_ewkb
from models import Parcel, Zone
from models.base import current, current_sql

zone = cast(Table, Zone.__table__)
WRITABLE = ("code", "name", "kind", "advanced_manufacturing", "far_cap", "far_min")
EDITORS = ("bureau",)  # SPEC §5: the bureau edits zones


@dataclass(frozen=True)
class ZoneDraft:
    """A zone as a write wants it."""

    code: str
    name: str
    kind: str
    geom: MultiPolygon
    advanced_manufacturing: bool = False
    far_cap: float | None = None
    far_min: float | None = None

    def snapshot(self) -> dict[str, Any]:
        """Audit view without the geometry."""
        return {k: v for k, v in asdict(self).items() if k != "geom"}


@dataclass(frozen=True)
class ZoneChanges:
    """Members present change (None clears); geom when moved."""

    values: dict[str, Any] = field(default_factory=dict)
    geom: MultiPolygon | None = None


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _draft_of(row: Zone) -> ZoneDraft:
    return ZoneDraft(code=row.code, name=row.name, kind=row.kind, advanced_manufacturing=row.advanced_manufacturing,
                     far_cap=_float(row.far_cap), far_min=_float(row.far_min),
                     geom=shapely_wkb.loads(bytes(row.geom.data)))


async def load_current(session: AsyncSession, zone_id: int, *, lock: bool = False) -> Zone:
    """The current row of a zone (NOT_FOUND otherwise)."""
    return await locks.current_row(session, Zone, "zone", zone_id, lock=lock)


async def create_zone(session: AsyncSession, actor: Actor, policy: Policy, draft: ZoneDraft,
                      override: Override | None = None) -> int:
    """Create a zone and re-derive the parcels it covers."""
    zone_id = int(await session.scalar(select(func.nextval("zone_id_seq"))) or 0)
    try:
        _check(actor, draft, override)
        await _check_code_free(session, draft.code, zone_id)
        district = await _district(session, draft.geom, policy)
        await _insert(session, zone_id, 1, draft, district, actor)
        touched = await _touched(session, [draft.geom], zone_id)
        await reclassify_parcels(session, actor, policy, touched, override)
        await dependants.check_zone(session, actor, policy, zone_id, draft.code, touched, override)
    except DomainError as exc:
        raise exc.with_refusal(Refusal("zone", None, "create", draft.snapshot(),
                                       related=dependants.affected(exc))) from None
    await audit.record(session, actor, "create", "zone", zone_id, after={**draft.snapshot(), "version": 1})
    return zone_id


async def update_zone(session: AsyncSession, actor: Actor, policy: Policy, zone_id: int, changes: ZoneChanges,
                      override: Override | None = None, if_match: int | None = None) -> int:
    """Change a zone (a new version) and re-derive every parcel in its old or new footprint."""
    row = await load_current(session, zone_id, lock=True)
    locks.check_if_match("zone", zone_id, row.version, if_match)
    before = _draft_of(row)
    unknown = set(changes.values) - set(WRITABLE)
    if unknown:
        raise ValidationFailed(f"not writable: {', '.join(sorted(unknown))}")
    after = replace(before, **changes.values, **({"geom": changes.geom} if changes.geom is not None else {}))
    version = row.version + 1
    try:
        _check(actor, after, override)
        if after.code != before.code:
            await _check_code_free(session, after.code, zone_id)
        district = (await _district(session, after.geom, policy) if changes.geom is not None
                    else row.district_code)
        touched = await _touched(session, [before.geom, after.geom], zone_id)
        await _close(session, zone_id)
        await _insert(session, zone_id, version, after, district, actor)
        await reclassify_parcels(session, actor, policy, touched, override)
        if changes.geom is not None or (after.far_cap, after.far_min) != (before.far_cap, before.far_min):
            # Rule 3: a lower cap, a higher minimum or a new footprint re-checks the parcels it binds.
            await dependants.check_zone(session, actor, policy, zone_id, after.code, touched, override)
    except DomainError as exc:
        raise exc.with_refusal(Refusal("zone", zone_id, "update", after.snapshot(),
                                       related=dependants.affected(exc))) from None
    await audit.record(session, actor, "update", "zone", zone_id,
                       before={**before.snapshot(), "version": row.version},
                       after={**after.snapshot(), "version": version, "geometry_changed": changes.geom is not None})
    return version


async def delete_zone(session: AsyncSession, actor: Actor, policy: Policy, zone_id: int,
                      override: Override | None = None, if_match: int | None = None) -> None:
    """Retire a zone: its parcels fall to another zone or become fragments (rule 1 permitting)."""
    row = await load_current(session, zone_id, lock=True)
    locks.check_if_match("zone", zone_id, row.version, if_match)
    before = _draft_of(row)
    try:
        _check(actor, before, override)
        touched = await _touched(session, [before.geom], zone_id)
        await _close(session, zone_id)
        await reclassify_parcels(session, actor, policy, touched, override)
        # Rule 3: a parcel the zone held may now fall in another zone with its own cap or minimum.
        await dependants.check_zone(session, actor, policy, zone_id, before.code, touched, override)
    except DomainError as exc:
        raise exc.with_refusal(Refusal("zone", zone_id, "delete", {}, related=dependants.affected(exc))) from None
    await audit.record(session, actor, "delete", "zone", zone_id, before={**before.snapshot(), "version": row.version})


def require_zone_editor(actor: Actor) -> None:
    """Zones are edited by the bureau alone (FORBIDDEN_ROLE otherwise)."""
    require_role(actor, EDITORS, "edit zones")


def _check(actor: Actor, draft: ZoneDraft, override: Override | None) -> None:
    require_zone_editor(actor)
    if override is not None:
        require_override_rights(actor)
    if draft.far_cap is not None and draft.far_min is not None and draft.far_min > draft.far_cap:
        raise ValidationFailed(f"far_min {draft.far_min} is above far_cap {draft.far_cap}",
                               far_min=draft.far_min, far_cap=draft.far_cap)


async def _check_code_free(session: AsyncSession, code: str, zone_id: int) -> None:
    other = await session.scalar(select(Zone.id).where(Zone.code == code, current(Zone), Zone.id != zone_id))
    if other is not None:
        raise ValidationFailed(f"code {code} is already used by zone {other}", field="code", existing_id=other)


async def _district(session: AsyncSession, geom: MultiPolygon, policy: Policy) -> str | None:
    found = await locate_geometries(session, {"z": storage_ewkb(geom)}, policy.tier_majority_share)
    return found["z"].district_code if "z" in found else None


async def _touched(session: AsyncSession, geoms: list[MultiPolygon], zone_id: int) -> list[int]:
    """Current parcels a zone change may re-derive: those in its old/new footprint or assigned to it."""
    parcel = Parcel.__table__
    shapes = [func.ST_GeomFromEWKB(storage_ewkb(g)) for g in geoms]
    inside = [func.ST_Intersects(parcel.c.geom, shape) for shape in shapes]
    rows = await session.scalars(
        select(parcel.c.id).where(current(parcel), or_(parcel.c.zone_id == zone_id, *inside)))
    return list(rows)


async def _close(session: AsyncSession, zone_id: int) -> None:
    at = await locks.change_time(session)
    await session.execute(update(zone).where(zone.c.id == zone_id, current(zone)).values(valid_to=at))


async def _insert(session: AsyncSession, zone_id: int, version: int, draft: ZoneDraft, district: str | None,
                  actor: Actor) -> None:
    await session.execute(zone.insert().values(
        id=zone_id, version=version, code=draft.code, name=draft.name, kind=draft.kind,
        advanced_manufacturing=draft.advanced_manufacturing, far_cap=draft.far_cap, far_min=draft.far_min,
        district_code=district, geom=from_shape(draft.geom, srid=STORAGE_SRID), changed_by=actor.username,
        valid_from=await locks.change_time(session),
    ))


async def zone_exists(session: AsyncSession, zone_id: int) -> bool:
    """Whether a current zone has this id."""
    found = await session.scalar(text(f"SELECT 1 FROM zone WHERE id = :id AND {current_sql()}"),  # noqa: S608
                                 {"id": zone_id})
    return bool(found)
