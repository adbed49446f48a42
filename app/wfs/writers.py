"""WFS-T writes go through the same services as REST, with the same input validation (the REST
pydantic models), so a rule refused over REST is refused over WFS-T with the same code and numbers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from shapely.geometry import MultiPolygon
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Actor
from app.errors import ValidationFailed
from app.parcels import service as parcels
from app.parcels.schemas import ParcelPropertiesIn, ParcelPropertiesPatch
from app.policy import Policy
from app.zones import service as zones
from app.zones.schemas import ZonePropertiesIn, ZonePropertiesPatch


def _validate(model: type[BaseModel], values: dict[str, Any], what: str) -> BaseModel:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        raise ValidationFailed(f"{what}: {where}: {err.get('msg', 'invalid')}"[:300], field=where) from None


def _need_geometry(geom: MultiPolygon | None, what: str) -> MultiPolygon:
    if geom is None:
        raise ValidationFailed(f"{what}: a new feature needs a geometry", field="geometry")
    return geom


async def insert(
    kind: str,
    session: AsyncSession,
    actor: Actor,
    policy: Policy,
    values: dict[str, Any],
    geom: MultiPolygon | None,
) -> int:
    """Create one feature; returns its id."""
    if kind == "parcels":
        p = _validate(ParcelPropertiesIn, values, "new parcel")
        assert isinstance(p, ParcelPropertiesIn)
        draft = parcels.ParcelDraft(**p.model_dump(), geom=_need_geometry(geom, "new parcel"))
        return await parcels.create_parcel(session, actor, policy, draft)
    z = _validate(ZonePropertiesIn, values, "new zone")
    assert isinstance(z, ZonePropertiesIn)
    zdraft = zones.ZoneDraft(**z.model_dump(), geom=_need_geometry(geom, "new zone"))
    return await zones.create_zone(session, actor, policy, zdraft)


async def update(
    kind: str,
    session: AsyncSession,
    actor: Actor,
    policy: Policy,
    key: int,
    values: dict[str, Any],
    geom: MultiPolygon | None,
) -> None:
    """Change members of one feature (a new version)."""
    model = ParcelPropertiesPatch if kind == "parcels" else ZonePropertiesPatch
    patch = _validate(model, values, f"{kind}.{key}")
    changed = patch.model_dump(include=patch.model_fields_set)
    if kind == "parcels":
        await parcels.update_parcel(
            session, actor, policy, key, parcels.ParcelChanges(values=changed, geom=geom)
        )
    else:
        await zones.update_zone(session, actor, policy, key, zones.ZoneChanges(values=changed, geom=geom))


async def delete(kind: str, session: AsyncSession, actor: Actor, policy: Policy, key: int) -> None:
    """Retire one feature (its history stays)."""
    if kind == "parcels":
        await parcels.delete_parcel(session, actor, policy, key)
    else:
        await zones.delete_zone(session, actor, policy, key)
