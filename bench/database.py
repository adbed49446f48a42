"""The benchmark's database: its own PostGIS database with the seeded demo city, and the view peers serve."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SCALES = {"100k": 100_000, "1m": 1_000_000}
# Every file a benchmark writes (peers' virtualenvs, server logs, generated files, a quick run's chart):
# BENCH_DIR, else `.bench/` in the checkout. Made by work_dir(), the one place that creates it.
BENCH_DIR = Path(os.environ.get("BENCH_DIR") or ROOT / ".bench").resolve()

# The same current rows and SPEC properties Landcycle shows, for the peers (tipg finds `id` by name;
# pygeoapi is told `id_field: id`). A view: peers read the very table Landcycle reads.
PEER_VIEW = """
CREATE SCHEMA IF NOT EXISTS bench;
CREATE OR REPLACE VIEW bench.parcel AS
  SELECT id, code, land_use, plot_ratio, plot_ratio_reference_id, legacy_zone, status, district_code, tier,
         zone_id, planning_locked, area_m2, plot_ratio_cap, plot_ratio_cap_source, version, valid_from, valid_to,
         geom
    FROM public.parcel
   WHERE valid_to IS NULL;
-- pygeoapi's PostgreSQL provider builds its bbox envelope in the storage CRS it is told and handles
-- EPSG:4490 as lat/lon; it gets the same rows labelled EPSG:4326 (CGCS2000 and WGS84 agree within
-- centimetres), with an index on that expression so its bbox queries are indexed as Landcycle's are.
CREATE OR REPLACE VIEW bench.parcel_4326 AS
  SELECT id, code, land_use, plot_ratio, plot_ratio_reference_id, legacy_zone, status, district_code, tier,
         zone_id, planning_locked, area_m2, plot_ratio_cap, plot_ratio_cap_source, version, valid_from, valid_to,
         ST_SetSRID(geom, 4326)::geometry(MultiPolygon, 4326) AS geom
    FROM public.parcel
   WHERE valid_to IS NULL;
CREATE INDEX IF NOT EXISTS bench_parcel_current_geom_4326 ON public.parcel
  USING gist ((ST_SetSRID(geom, 4326)::geometry(MultiPolygon, 4326))) WHERE valid_to IS NULL;
CREATE TABLE IF NOT EXISTS bench.meta (scale text PRIMARY KEY, parcels bigint NOT NULL, loaded_at timestamptz
  NOT NULL DEFAULT now());
"""


def say(message: str) -> None:
    """Progress on stderr."""
    print(f"\033[1m[bench]\033[0m {message}", file=sys.stderr, flush=True)


def work_dir(*parts: str) -> Path:
    """BENCH_DIR, or a folder in it, made when missing (a fresh clone has no `.bench/`)."""
    path = BENCH_DIR.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def parcels_of(scale: str) -> int:
    """A scale's industrial parcels: 100k, 1m, or a small city such as `2k` or `2000` (the harness's own test)."""
    if scale in SCALES:
        return SCALES[scale]
    digits, factor = (scale[:-1], 1000) if scale.lower().endswith("k") else (scale, 1)
    if not digits.isdigit() or int(digits) < 1:
        raise ValueError(f"scale {scale!r}: one of {', '.join(SCALES)} or a number of parcels such as 2k")
    return int(digits) * factor


def demo_url() -> str:
    """The database of a benchmark that measures the demo city already loaded (wfs, tiles, evaluations,
    load): BENCH_DATABASE_URL when set, else DATABASE_URL (the project's local cluster without it)."""
    return os.environ.get("BENCH_DATABASE_URL") or Settings().database_url


def bench_url(scale: str) -> str:
    """BENCH_DATABASE_URL, else the project's database server with `<name>_bench` (`_bench_1m`); asyncpg's
    plain `postgresql://` form whatever driver the URL names."""
    explicit = os.environ.get("BENCH_DATABASE_URL")
    if explicit:
        return make_url(explicit).set(drivername="postgresql").render_as_string(hide_password=False)
    base = make_url(Settings().database_url)
    suffix = "_bench" if scale == "100k" else f"_bench_{scale}"
    return base.set(drivername="postgresql", database=f"{base.database}{suffix}").render_as_string(
        hide_password=False)


async def _ensure_database(url: str) -> None:
    target = make_url(url)
    try:
        conn = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(target.set(database="postgres").render_as_string(hide_password=False))
        try:
            say(f"creating database {target.database}")
            await admin.execute(f'CREATE DATABASE "{target.database}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(url)
    try:
        if await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'"):
            return
        try:
            await conn.execute("CREATE EXTENSION postgis")
            return
        except asyncpg.InsufficientPrivilegeError:
            pass
    finally:
        await conn.close()
    # PostGIS is not a trusted extension: on the project's own cluster the superuser `postgres` creates it.
    superuser = await asyncpg.connect(target.set(username="postgres", password=None).render_as_string(
        hide_password=False))
    try:
        await superuser.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    finally:
        await superuser.close()


def _landcycle(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([str(ROOT / ".venv" / "bin" / "landcycle"), *args], check=True, env=env, cwd=ROOT)


async def _loaded(url: str, scale: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        if not await conn.fetchval("SELECT to_regclass('bench.meta') IS NOT NULL"):
            return False
        row = await conn.fetchrow("SELECT parcels FROM bench.meta WHERE scale = $1", scale)
        current = await conn.fetchval("SELECT count(*) FROM parcel WHERE valid_to IS NULL")
        return row is not None and row["parcels"] == current
    finally:
        await conn.close()


async def _finish(url: str, scale: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(PEER_VIEW)
        current = await conn.fetchval("SELECT count(*) FROM parcel WHERE valid_to IS NULL")
        await conn.execute("INSERT INTO bench.meta (scale, parcels) VALUES ($1, $2) ON CONFLICT (scale) DO UPDATE "
                           "SET parcels = EXCLUDED.parcels, loaded_at = now()", scale, current)
        await conn.execute("VACUUM ANALYZE parcel")
        return int(current)
    finally:
        await conn.close()


def prepare(scale: str) -> tuple[str, int]:
    """Create, migrate and load the bench database once per scale; returns (url, current parcels)."""
    url = bench_url(scale)
    asyncio.run(_ensure_database(url))
    say(f"database {make_url(url).database}: migrating")
    _landcycle(url, "db", "upgrade")
    if asyncio.run(_loaded(url, scale)):
        say(f"demo city ({scale}) already loaded")
    else:
        say(f"loading the demo city with {parcels_of(scale):,} industrial parcels (about a minute per 100,000)")
        _landcycle(url, "demo", "load", "--parcels", str(parcels_of(scale)))
    return url, asyncio.run(_finish(url, scale))
