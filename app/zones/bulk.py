"""Many zones at once (import): each through `create_zone`, the one write path of zones, in a savepoint,
so a refused row is reported and the others go on; the caller's transaction makes it all or nothing.

Zones are few (tens to thousands) and each re-derives the parcels it covers, so a loop over the service
is the right tool here, unlike parcels (app/parcels/bulk.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Actor, require_role
from app.errors import DomainError
from app.parcels.bulk import BulkResult, Progress, Refused, report
from app.policy import Policy
from app.zones.service import ZoneDraft, create_zone
from gis.geometry import problems


async def bulk_create_zones(
    session: AsyncSession,
    actor: Actor,
    policy: Policy,
    drafts: Sequence[ZoneDraft],
    *,
    progress: Progress | None = None,
    audit_detail: Mapping[str, Any] | None = None,
) -> BulkResult:
    """Create zones row by row with the REST rules; refused rows are returned, accepted ones written."""
    require_role(actor, ("bureau",), "import zones")
    result = BulkResult()
    reasons = await asyncio.to_thread(problems, [d.geom for d in drafts], policy.extent)
    seen = Counter(d.code for d in drafts)
    for i, draft in enumerate(drafts):
        await report(progress, "zones", i, len(drafts))
        if reasons[i]:
            result.refused.append(Refused(i, "GEOMETRY_INVALID", str(reasons[i])))
            continue
        if seen[draft.code] > 1:
            result.refused.append(
                Refused(
                    i, "VALIDATION_ERROR", f"code {draft.code} appears {seen[draft.code]} times in the file"
                )
            )
            continue
        try:
            async with session.begin_nested():
                result.ids.append(await create_zone(session, actor, policy, draft))
        except DomainError as exc:
            result.refused.append(Refused(i, exc.code, exc.detail))
    result.accepted = len(result.ids)
    await report(progress, "zones", len(drafts), len(drafts))
    return result
