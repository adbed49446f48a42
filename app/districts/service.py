"""District writes (import only): districts are reference data, replaced by code; every parcel whose
district may change is located again in the same transaction (SPEC §2: the largest share)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.permissions import Actor, require_role
from app.parcels.bulk import BulkResult, Progress, Refused, report
from app.parcels.service import reclassify_parcels
from app.policy import Policy
from gis.crs import STORAGE_SRID
from gis.geometry import problems
from models import District
from models.base import current_sql


@dataclass(frozen=True)
class DistrictDraft:
    """A district as an import gives it."""

    code: str
    name_zh: str
    name_en: str
    geom: MultiPolygon


async def upsert_districts(
    session: AsyncSession,
    actor: Actor,
    policy: Policy,
    drafts: Sequence[DistrictDraft],
    *,
    progress: Progress | None = None,
) -> BulkResult:
    """Insert new districts and replace existing ones (by code); then re-derive the parcels concerned."""
    require_role(actor, ("bureau", "admin"), "import districts")
    result = BulkResult()
    reasons = await asyncio.to_thread(problems, [d.geom for d in drafts], policy.extent)
    seen = Counter(d.code for d in drafts)
    accepted: list[DistrictDraft] = []
    for i, draft in enumerate(drafts):
        if reasons[i]:
            result.refused.append(Refused(i, "GEOMETRY_INVALID", str(reasons[i])))
        elif seen[draft.code] > 1:
            result.refused.append(
                Refused(
                    i, "VALIDATION_ERROR", f"code {draft.code} appears {seen[draft.code]} times in the file"
                )
            )
        else:
            accepted.append(draft)
    result.accepted = len(accepted)
    await report(progress, "districts", 0, len(drafts))
    codes = [d.code for d in accepted]
    found = await session.scalars(select(District).where(District.code.in_(codes)))
    before = {row.code: row for row in found}
    for draft in accepted:
        row = before.get(draft.code)
        old = None if row is None else {"name_zh": row.name_zh, "name_en": row.name_en}
        if row is None:
            session.add(
                District(
                    code=draft.code,
                    name_zh=draft.name_zh,
                    name_en=draft.name_en,
                    geom=from_shape(draft.geom, srid=STORAGE_SRID),
                )
            )
        else:
            row.name_zh, row.name_en = draft.name_zh, draft.name_en
            row.geom = from_shape(draft.geom, srid=STORAGE_SRID)
        await audit.record(
            session,
            actor,
            "import",
            "district",
            draft.code,
            before=old,
            after={"name_zh": draft.name_zh, "name_en": draft.name_en},
        )
    await session.flush()
    if accepted:
        await _rederive(session, actor, policy, codes)
    await report(progress, "districts", len(drafts), len(drafts))
    return result


async def _rederive(session: AsyncSession, actor: Actor, policy: Policy, codes: list[str]) -> None:
    """Parcels and zones in or formerly of the imported districts take their district again."""
    touched = list(
        await session.scalars(
            text(f"""
        SELECT p.id FROM parcel p
         WHERE {current_sql('p')}
           AND (p.district_code = ANY(:codes)
                OR EXISTS (SELECT 1 FROM district d
                            WHERE d.code = ANY(:codes) AND ST_Intersects(d.geom, p.geom)))
    """),  # noqa: S608
            {"codes": codes},
        )
    )
    await reclassify_parcels(session, actor, policy, touched)
    # A zone's district is a derived label of its current row (as the demo loader sets it).
    await session.execute(
        text(f"""
        UPDATE zone z SET district_code = (
          SELECT d.code FROM district d WHERE ST_Intersects(d.geom, z.geom)
           ORDER BY ST_Area(ST_Intersection(d.geom, z.geom)::geography) DESC, d.code LIMIT 1)
         WHERE {current_sql('z')}
           AND (z.district_code = ANY(:codes)
                OR EXISTS (SELECT 1 FROM district d
                            WHERE d.code = ANY(:codes) AND ST_Intersects(d.geom, z.geom)))
    """),  # noqa: S608
        {"codes": codes},
    )
