"""What rests on a zone or a reference parcel (rule 3), gathered in one query and checked by the pure rule
`app.zones.rules.check_dependants`. Zone writes (`create_zone`, `update_zone`, `delete_zone`: REST, WFS-T
and the zones import) and parcel writes of an office/commercial parcel (`update_parcel`, `delete_parcel`:
REST, WFS-T, the page) call it inside their rule section, so a refusal rolls the whole write back."""

from __future__ import annotations

from collections.abc import Sequence

from shapely.geometry import MultiPolygon
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.permissions import Actor
from app.errors import DomainError
from app.parcels.rules import Override, ZoneFacts
from app.policy import Policy
from app.zones import rules
from app.zones.rules import Breach, Dependant, ReferenceChange, ZoneChange
from gis.geometry import storage_ewkb
from models.base import current_sql

REFERENCE_USES = ("office", "commercial")  # rule 3: what a reference parcel is

# One statement for both kinds: the touched parcels with the zone each lies in now (`:ids`), or the parcels
# that name `:ref` as their reference, with their distance to its geometry as changed (`:g`, NULL when
# deleted) and whether they share its zone (`:ref_zone`).
_GATHER = text(f"""
SELECT p.id, p.code, p.land_use, p.plot_ratio::float8 AS plot_ratio,
       z.id AS zone_id, z.code AS zone_code, z.kind, z.advanced_manufacturing,
       z.far_cap::float8 AS far_cap, z.far_min::float8 AS far_min,
       CASE WHEN CAST(:g AS bytea) IS NOT NULL
            THEN ST_Distance(p.geom::geography, ST_GeomFromEWKB(CAST(:g AS bytea))::geography) END AS distance_m,
       (CAST(:ref_zone AS bigint) IS NOT NULL AND p.zone_id = CAST(:ref_zone AS bigint)) AS same_zone
  FROM parcel p
  LEFT JOIN zone z ON z.id = p.zone_id AND {current_sql('z')}
 WHERE {current_sql('p')} AND p.land_use IN ('industrial', 'rnd') AND p.plot_ratio IS NOT NULL
   AND (p.id = ANY(CAST(:ids AS bigint[]))
        OR (p.plot_ratio_cap_source = 'reference' AND p.plot_ratio_reference_id = CAST(:ref AS bigint)))
 ORDER BY p.id
""")  # noqa: S608


async def gather(session: AsyncSession, *, parcel_ids: Sequence[int] = (), reference_id: int | None = None,
                 reference_geom: MultiPolygon | None = None, reference_zone_id: int | None = None
                 ) -> list[Dependant]:
    """The dependants of a zone write (`parcel_ids`: the parcels it touched, as they are now) or of a
    reference parcel's write (`reference_id`, with its geometry and zone after the write)."""
    g = None if reference_geom is None else storage_ewkb(reference_geom)
    rows = await session.execute(_GATHER, {"ids": list(parcel_ids), "ref": reference_id, "g": g,
                                           "ref_zone": reference_zone_id})
    return [Dependant(r.id, r.code, r.land_use, r.plot_ratio,
                      None if r.zone_id is None else ZoneFacts(r.zone_id, r.zone_code, r.kind,
                                                               r.advanced_manufacturing, r.far_cap, r.far_min),
                      r.distance_m, r.same_zone)
            for r in rows]


async def check_zone(session: AsyncSession, actor: Actor, policy: Policy, zone_id: int, zone_code: str,
                     touched: Sequence[int], override: Override | None) -> None:
    """After a zone write re-derived `touched`: rule 3 for each of them against the zone it now lies in."""
    if not touched:
        return
    change = ZoneChange(zone_id, zone_code)
    found = rules.check_dependants(change, await gather(session, parcel_ids=touched), policy, override,
                                   actor.is_bureau)
    await _audit_override(session, actor, "zone", zone_id, found, override)


async def check_reference(session: AsyncSession, actor: Actor, policy: Policy, parcel_id: int, code: str,
                          land_use_before: str, after: tuple[str, float | None, MultiPolygon, int | None] | None,
                          override: Override | None) -> None:
    """Before a write of parcel `parcel_id` (`after`: its land use, plot ratio, geometry and zone after
    the write; None: deleted): rule 3 for every parcel that names it as reference."""
    if land_use_before not in REFERENCE_USES:
        return  # only office/commercial parcels are references (rule 3)
    if after is None:
        change = ReferenceChange(parcel_id, code, None, None)
        found_in = await gather(session, reference_id=parcel_id)
    else:
        land_use, plot_ratio, geom, zone_id = after
        change = ReferenceChange(parcel_id, code, land_use, plot_ratio)
        found_in = await gather(session, reference_id=parcel_id, reference_geom=geom, reference_zone_id=zone_id)
    found = rules.check_dependants(change, found_in, policy, override, actor.is_bureau)
    await _audit_override(session, actor, "parcel", parcel_id, found, override)


def affected(error: DomainError) -> tuple[tuple[str, int], ...]:
    """The parcels a refused zone write would have left outside a rule (rules 1 and 3), to audit the
    refusal against each of them too."""
    ids = error.numbers.get("parcel_ids") or []
    return tuple(("parcel", int(i)) for i in ids)


async def _audit_override(session: AsyncSession, actor: Actor, entity: str, entity_id: int,
                          found: list[Breach], override: Override | None) -> None:
    """An override that lifts rule 3 for dependants is audited on the changed row and on each dependant."""
    if not found or override is None:
        return
    code = "FAR_CAP_EXCEEDED" if any(b.kind == "cap" for b in found) else "VALIDATION_ERROR"
    detail = {"decision_ref": override.decision_ref, "reason": override.reason,
              "breaches": [b.as_dict() for b in found]}
    await audit.record(session, actor, "override", entity, entity_id, outcome="overridden", code=code,
                       detail=detail)
    await audit.record_many(session, actor, "override", "parcel", [
        (b.parcel_id, None, None, {"decision_ref": override.decision_ref, "reason": override.reason,
                                   "why": b.why, "changed": {"entity": entity, "id": entity_id}})
        for b in found if not (entity == "parcel" and b.parcel_id == entity_id)], outcome="overridden", code=code)
