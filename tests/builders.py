"""Builders for test data: a small two-district city, users of every role, parcels and zones."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
from argon2 import PasswordHasher
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from models import AppUser, District, Zone, metadata

PASSWORD = "test-password"
WEST, EAST = "310112", "310115"  # Minhang, Pudong
M_LON = 1 / 95_300.0  # degrees of longitude per metre near 31°N
M_LAT = 1 / 110_900.0

# Where things are (lon/lat). Base zone BZ (advanced manufacturing) in the east district, community CZ
# in the west district; each about 4.7 × 5.5 km.
BZ = (121.55, 31.05, 121.60, 31.10)
CZ = (121.35, 31.05, 121.40, 31.10)


@cache
def _hash() -> str:
    # Verification cost follows the parameters stored in the hash: cheap ones keep tests fast
    # (production hashes use argon2-cffi's defaults through app.auth.security.hash_password).
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


def basic(username: str, password: str = PASSWORD) -> dict[str, str]:
    """An HTTP Basic Authorization header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def square(lon: float, lat: float, side_m: float = 100.0) -> dict[str, Any]:
    """A GeoJSON Polygon: a square of `side_m` metres with its south-west corner at lon/lat."""
    dx, dy = side_m * M_LON, side_m * M_LAT
    ring = [[lon, lat], [lon + dx, lat], [lon + dx, lat + dy], [lon, lat + dy], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    """A GeoJSON Feature body."""
    return {"type": "Feature", "geometry": geometry, "properties": properties}


@dataclass
class City:
    """What build_city made."""

    base_zone_id: int
    community_zone_id: int
    users: dict[str, str] = field(default_factory=dict)  # username -> role


USERS = {
    "admin": ("admin", None),
    "bureau": ("bureau", None),
    "viewer": ("viewer", None),
    "officer.east": ("district_officer", EAST),
    "officer2.east": ("district_officer", EAST),
    "officer.west": ("district_officer", WEST),
    "evaluator.east": ("evaluator", EAST),
    "evaluator.west": ("evaluator", WEST),
}


async def build_city(db: Database) -> City:
    """Two districts split at lon 121.5, a locked base zone, a community, users of every role."""
    async with db.session() as session:
        session.add(District(code=WEST, name_zh="闵行区", name_en="Minhang",
                             geom=from_shape(MultiPolygon([box(121.3, 30.95, 121.5, 31.25)]), srid=4490)))
        session.add(District(code=EAST, name_zh="浦东新区", name_en="Pudong",
                             geom=from_shape(MultiPolygon([box(121.5, 30.95, 121.7, 31.25)]), srid=4490)))
        base_id = await zone(session, "BZ", "base", True, BZ, district=EAST)
        community_id = await zone(session, "CZ", "community", False, CZ, district=WEST)
        for name, (role, district) in USERS.items():
            session.add(AppUser(username=name, password_hash=_hash(), role=role, district_code=district))
        await session.flush()
    return City(base_id, community_id, {name: role for name, (role, _) in USERS.items()})


async def zone(session: AsyncSession, code: str, kind: str, am: bool, bounds: tuple[float, float, float, float],
               district: str | None = None, far_cap: float | None = None, far_min: float | None = None) -> int:
    """Insert a zone row directly (setup; the zone API is tested on its own)."""
    zone_id = int(await session.scalar(select(func.nextval("zone_id_seq"))) or 0)
    session.add(Zone(id=zone_id, version=1, code=code, name=f"Zone {code}", kind=kind, advanced_manufacturing=am,
                     far_cap=far_cap, far_min=far_min, district_code=district,
                     geom=from_shape(MultiPolygon([box(*bounds)]), srid=4490)))
    await session.flush()
    return zone_id


async def create_parcel(client: httpx.AsyncClient, geometry: dict[str, Any], user: str = "bureau",
                        expect: int = 201, headers: dict[str, str] | None = None, **properties: Any) -> dict[str, Any]:
    """POST a parcel through the API and return the response body."""
    properties.setdefault("code", f"T-{abs(hash(str(geometry))) % 10**8}")
    properties.setdefault("land_use", "industrial")
    response = await client.post("/api/v1/parcels", json=feature(geometry, **properties),
                                 headers={**basic(user), **(headers or {})})
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def truncate(session: AsyncSession) -> None:
    """Empty the data tables (live tests); the audit log is append-only and stays."""
    tables = [t.name for t in metadata.sorted_tables if t.name != "audit_log"]
    await session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
