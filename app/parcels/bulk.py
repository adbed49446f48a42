"""Many parcels in one statement: stage with COPY, locate in SQL, decide with the same pure rules as a
single REST write, insert set-based. Used by `demo load` and `import`; never a loop of single INSERTs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.permissions import Actor, require_parcel_editor
from app.errors import DomainError, ParcelOverlap, ValidationFailed
from app.parcels import rules
from app.parcels.classify import Location, locate
from app.parcels.rules import Cap
from app.parcels.service import ParcelDraft, nearest_reference, reference_facts
from app.policy import INDUSTRIAL_USES, Policy
from gis.geometry import problems

STAGE = "bulk_parcel_stage"
_FROM_STAGE = f"SELECT key::text AS key, geom FROM {STAGE}"  # noqa: S608 (constant)


@dataclass(frozen=True)
class Refused:
    """A row the rules refused: its index in the input, the SPEC code and the reason."""

    row: int
    code: str
    reason: str


@dataclass
class BulkResult:
    """What a bulk write did."""

    ids: list[int] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session's transaction (for COPY)."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver


async def stage(session: AsyncSession, drafts: Sequence[ParcelDraft], keys: Sequence[int]) -> None:
    """COPY the drafts at `keys` into a private temporary table (dropped at commit, invisible to others)."""
    await session.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    await session.execute(text(f"""
        CREATE TEMP TABLE {STAGE} (
            key integer NOT NULL, code text, land_use text, plot_ratio numeric, legacy_zone text,
            status text, g bytea, geom geometry(MultiPolygon, 4490) GENERATED ALWAYS AS (ST_GeomFromEWKB(g)) STORED
        ) ON COMMIT DROP
    """))
    geoms = shapely.set_srid(np.asarray([drafts[i].geom for i in keys], dtype=object), 4490)
    wkbs = shapely.to_wkb(geoms, include_srid=True)
    records = [(i, drafts[i].code, drafts[i].land_use, drafts[i].plot_ratio, drafts[i].legacy_zone,
                drafts[i].status, wkbs[n]) for n, i in enumerate(keys)]
    apg = await driver_connection(session)
    await apg.copy_records_to_table(STAGE, records=records,
                                    columns=["key", "code", "land_use", "plot_ratio", "legacy_zone", "status", "g"])
    await session.execute(text(f"CREATE INDEX ON {STAGE} USING gist (geom)"))
    await session.execute(text(f"ANALYZE {STAGE}"))


async def overlaps_in_stage(session: AsyncSession, policy: Policy) -> dict[int, str]:
    """SPEC §2 for a whole batch: each staged industrial row overlapping an existing parcel or an earlier
    staged row by more than the tolerance, with the reason naming the other one."""
    rows = await session.execute(text(f"""
        SELECT s.key, 'parcel ' || p.id || ' (' || p.code || ')' AS other,
               ST_Area(ST_Intersection(s.geom, p.geom)::geography) AS m2
          FROM {STAGE} s JOIN parcel p ON p.valid_to IS NULL AND p.land_use IN ('industrial', 'rnd')
                                      AND ST_Intersects(s.geom, p.geom) AND NOT ST_Touches(s.geom, p.geom)
         WHERE s.land_use IN ('industrial', 'rnd')
        UNION ALL
        SELECT b.key, 'row ' || (a.key + 1) || ' (' || a.code || ')' AS other,
               ST_Area(ST_Intersection(a.geom, b.geom)::geography) AS m2
          FROM {STAGE} a JOIN {STAGE} b ON a.key < b.key AND ST_Intersects(a.geom, b.geom)
                                       AND NOT ST_Touches(a.geom, b.geom)
         WHERE a.land_use IN ('industrial', 'rnd') AND b.land_use IN ('industrial', 'rnd')
    """))  # noqa: S608 (constant table name)
    found: dict[int, str] = {}
    for key, other, m2 in rows:
        if m2 > policy.overlap_tolerance_m2 and key not in found:
            found[key] = f"overlaps {other} by {m2:.1f} m²"
    return found


async def bulk_create(session: AsyncSession, actor: Actor, policy: Policy, drafts: Sequence[ParcelDraft],
                      *, action: str = "bulk_create", all_or_nothing: bool = True) -> BulkResult:
    """Create many parcels. With `all_or_nothing`, any refused row leaves the database untouched and the
    refusals are returned (nothing inserted); otherwise the accepted rows are inserted."""
    result = BulkResult()
    if not drafts:
        return result
    # SPEC §2 first: invalid rows are refused and never reach PostGIS's geometry functions.
    reasons = problems([d.geom for d in drafts], policy.extent)
    result.refused.extend(Refused(i, "GEOMETRY_INVALID", r) for i, r in enumerate(reasons) if r)
    valid = [i for i, r in enumerate(reasons) if r is None]
    await stage(session, drafts, valid)
    located = {int(k): v for k, v in (await locate(session, _FROM_STAGE, {}, policy.tier_majority_share)).items()}
    overlaps = await overlaps_in_stage(session, policy)
    taken = set(await session.scalars(text("SELECT code FROM parcel WHERE valid_to IS NULL AND code = ANY(:c)"),
                                      {"c": [d.code for d in drafts]}))
    seen = Counter(d.code for d in drafts)

    decided: list[tuple[int, Location, rules.Classification, Cap]] = []
    for i in valid:
        draft = drafts[i]
        loc = located.get(i, Location(None, None))
        try:
            require_parcel_editor(actor, [loc.district_code], "create parcels")
            if draft.code in taken:
                raise ValidationFailed(f"code {draft.code} is already used by a current parcel")
            if seen[draft.code] > 1:
                raise ValidationFailed(f"code {draft.code} appears {seen[draft.code]} times in the batch")
            cap = await _cap(session, policy, draft, loc)
            if i in overlaps:
                raise ParcelOverlap(overlaps[i])
        except DomainError as exc:
            result.refused.append(Refused(i, exc.code, exc.detail))
            continue
        decided.append((i, loc, rules.classify(draft.land_use, loc.zone), cap))
    result.refused.sort(key=lambda r: r.row)
    if result.refused and all_or_nothing:
        await session.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
        return result

    ids = list(await session.scalars(text("SELECT nextval('parcel_id_seq') FROM generate_series(1, :n)"),
                                     {"n": len(decided)}))
    derived = [
        (key, ids[n], loc.district_code, cls.tier, cls.zone_id, cls.planning_locked, cap.value, cap.source,
         cap.reference_id)
        for n, (key, loc, cls, cap) in enumerate(decided)
    ]
    await session.execute(text("DROP TABLE IF EXISTS bulk_parcel_derived"))
    await session.execute(text("""
        CREATE TEMP TABLE bulk_parcel_derived (key integer PRIMARY KEY, id bigint, district_code text, tier text,
            zone_id bigint, planning_locked boolean, cap numeric, cap_source text, reference_id bigint) ON COMMIT DROP
    """))
    apg = await driver_connection(session)
    await apg.copy_records_to_table("bulk_parcel_derived", records=derived)
    await session.execute(text(f"""
        INSERT INTO parcel (id, version, code, land_use, plot_ratio, plot_ratio_reference_id, plot_ratio_cap,
                            plot_ratio_cap_source, legacy_zone, status, district_code, tier, zone_id,
                            planning_locked, geom, changed_by)
        SELECT d.id, 1, s.code, s.land_use, s.plot_ratio, d.reference_id, d.cap, d.cap_source, s.legacy_zone,
               s.status, d.district_code, d.tier, d.zone_id, d.planning_locked, s.geom, :actor
          FROM {STAGE} s JOIN bulk_parcel_derived d USING (key)
         ORDER BY d.id
    """), {"actor": actor.username})  # noqa: S608 (constant table name)
    await session.execute(text(f"DROP TABLE {STAGE}"))
    await session.execute(text("DROP TABLE bulk_parcel_derived"))
    result.ids = ids
    await audit.record(session, actor, action, "parcel", None, outcome="done",
                       detail={"created": len(ids), "refused": len(result.refused),
                               "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None})
    return result


async def _cap(session: AsyncSession, policy: Policy, draft: ParcelDraft, loc: Location) -> Cap:
    """Rule 3 for one staged row; reference parcels are looked up only for the rare rows above the cap."""
    base = rules.base_cap(draft.land_use, loc.zone, policy)
    requested = draft.plot_ratio
    if requested is None or base.value is None or requested <= base.value or draft.land_use not in INDUSTRIAL_USES:
        return rules.check_far(draft.land_use, requested, loc.zone, policy)
    zone_id = loc.zone.id if loc.zone else None
    named = nearest = None
    if draft.plot_ratio_reference_id is not None:
        named = await reference_facts(session, draft.geom, zone_id, draft.plot_ratio_reference_id)
    else:
        nearest = await nearest_reference(session, policy, draft.geom, zone_id, requested)
    return rules.check_far(draft.land_use, requested, loc.zone, policy, reference=named, nearest=nearest)
