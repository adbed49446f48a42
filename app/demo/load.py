"""`landcycle demo load`: replace the data with the generated city, through the same bulk path as imports."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from geoalchemy2.shape import from_shape
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Actor
from app.auth.security import hash_password
from app.db import Database
from app.demo import contracts as demo_contracts
from app.demo import figures as demo_figures
from app.demo.city import generate
from app.parcels.bulk import bulk_create
from app.parcels.service import ParcelDraft
from app.settings import Settings
from gis.crs import STORAGE_SRID
from gis.geometry import as_multipolygon
from models import AppUser, District, Zone
from models.user import SOURCES

DEMO_PASSWORD = "landcycle"  # documented in the README; demo only
SYSTEM = Actor(id=0, username="demo-loader", role="bureau")

# Tables the demo replaces, children first. Later slices add theirs here.
DEMO_TABLES: list[str] = ["parcel", "zone", "district"]


async def load_demo(db: Database, settings: Settings, parcels: int = 5000, seed: int = 2018,
                    if_empty: bool = False, progress: Callable[[str], None] = print) -> None:
    """Generate and load the demo city in one transaction (all or nothing)."""
    if if_empty:
        async with db.session() as session:
            if await session.scalar(select(func.count()).select_from(District)):
                progress("districts exist already: demo data not reloaded (drop --if-empty to replace it)")
                return
    started = time.perf_counter()
    progress(f"generating the demo city: {parcels:,} industrial parcels, seed {seed}")
    city = generate(parcels=parcels, seed=seed)
    async with db.session() as session:
        await session.execute(text(f"TRUNCATE {', '.join(DEMO_TABLES)} RESTART IDENTITY CASCADE"))
        await session.execute(text("ALTER SEQUENCE parcel_id_seq RESTART"))
        await session.execute(text("ALTER SEQUENCE zone_id_seq RESTART"))
        session.add_all(District(code=a.code, name_zh=a.name_zh, name_en=a.name_en,
                                 geom=from_shape(g, srid=STORAGE_SRID)) for a, g in city.districts)
        for z in city.zones:
            zone_id = await session.scalar(select(func.nextval("zone_id_seq")))
            session.add(Zone(id=zone_id, version=1, code=z.code, name=z.name, kind=z.kind,
                             advanced_manufacturing=z.advanced_manufacturing, far_cap=z.far_cap, far_min=z.far_min,
                             geom=from_shape(z.geom, srid=STORAGE_SRID), changed_by=SYSTEM.username))
        await session.flush()
        await session.execute(text("""
            UPDATE zone z SET district_code = (
              SELECT d.code FROM district d WHERE ST_Intersects(d.geom, z.geom)
               ORDER BY ST_Area(ST_Intersection(d.geom, z.geom)::geography) DESC LIMIT 1)
        """))
        progress(f"{len(city.districts)} districts, {len(city.zones)} zones; loading parcels")
        p = city.parcels
        # Industrial and R&D parcels first (ids 1…N), then the office/commercial reference parcels.
        order = sorted(range(len(p.codes)), key=lambda i: p.land_uses[i] not in ("industrial", "rnd"))
        drafts = [ParcelDraft(code=p.codes[i], land_use=p.land_uses[i], geom=as_multipolygon(p.geoms[i]),
                              plot_ratio=p.plot_ratios[i], legacy_zone=p.legacy_zones[i], status=p.statuses[i])
                  for i in order]
        result = await bulk_create(session, SYSTEM, settings.policy, drafts, action="demo_load", seed=True)
        if result.refused:
            first = result.refused[0]
            raise RuntimeError(f"demo generator made {len(result.refused)} invalid parcels, e.g. row {first.row}: "
                               f"{first.code} {first.reason}")
        progress(f"{len(result.ids):,} parcels loaded; adding demo users")
        await _users(session, [a.code for a, _ in city.districts], {a.code: a.name_en for a, _ in city.districts})
        for hook in EXTENSIONS:
            await hook(session, settings, seed, progress)
    async with db.connection() as conn:
        for table in DEMO_TABLES:
            await conn.execute(text(f"ANALYZE {table}"))
    progress(f"done in {time.perf_counter() - started:.1f} s; log in as bureau / {DEMO_PASSWORD}")


# Later slices (contracts, evaluations, requests) append async hooks(session, settings, seed, progress).
EXTENSIONS: list[Callable[..., Awaitable[None]]] = []

# The contracts slice: enterprises, organisations, contracts and their evaluation history.
DEMO_TABLES[:0] = demo_contracts.TABLES
EXTENSIONS.append(demo_contracts.load)

# Delivered figures and 亩均 ratings of the last three years, from the contracts' history.
DEMO_TABLES[:0] = demo_figures.TABLES
EXTENSIONS.append(demo_figures.load)


async def _users(session: AsyncSession, district_codes: list[str], names: dict[str, str]) -> None:
    """Users of every role; one shared demo password (hashed once)."""
    hashed = hash_password(DEMO_PASSWORD)
    users: list[tuple[str, str, str | None]] = [
        ("admin", "admin", None), ("bureau", "bureau", None), ("bureau2", "bureau", None), ("viewer", "viewer", None),
    ]
    users += [(f"provider.{source}", "data_provider", None) for source in SOURCES]
    for code in district_codes:
        slug = names[code].lower().replace("'", "").replace(" ", "")
        users += [(f"officer.{slug}", "district_officer", code), (f"officer2.{slug}", "district_officer", code),
                  (f"evaluator.{slug}", "evaluator", code)]
    existing = {u.lower() for u in await session.scalars(select(AppUser.username))}
    for name, role, district in users:
        if name.lower() not in existing:
            session.add(AppUser(username=name, password_hash=hashed, role=role, district_code=district,
                                source=name.split(".", 1)[1] if role == "data_provider" else None,
                                full_name=f"Demo {role.replace('_', ' ')}"))
    await session.flush()
