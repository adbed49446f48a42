"""Import benchmark (issue 7): N demo parcels from a GeoPackage, `landcycle import` (validation, overlap
checks, tier classification, rules, audit) against a plain `ogr2ogr` load of the same file into PostGIS.

Uses its own database `<name>_bench` on the server of DATABASE_URL (created and migrated here), the demo
city's districts and zones, and `.bench/` for files. Both loads run as separate processes from a cold
start and are timed wall-clock, one after the other; the machine's other load is not controlled.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app import migrate
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench"


def bench_url() -> str:
    """`<DATABASE_URL's database>_bench`, asyncpg form."""
    base = make_url(Settings().async_database_url)
    return base.set(database=f"{base.database}_bench").render_as_string(hide_password=False)


async def _sql(url: str, *statements: str, autocommit: bool = False) -> list[object]:
    engine = create_async_engine(
        url, poolclass=NullPool, isolation_level="AUTOCOMMIT" if autocommit else None
    )
    out: list[object] = []
    async with engine.connect() as conn:
        for statement in statements:
            result = await conn.execute(text(statement))
            out.append(result.all() if result.returns_rows else None)
        await conn.commit()
    await engine.dispose()
    return out


def ensure_database(url: str) -> None:
    """Create the bench database with PostGIS when missing, and migrate it."""
    target = make_url(url)
    try:
        asyncio.run(_sql(url, "SELECT 1"))
    except Exception as exc:
        if "does not exist" not in str(exc):
            raise
        admin = target.set(database="postgres").render_as_string(hide_password=False)
        asyncio.run(_sql(admin, f'CREATE DATABASE "{target.database}"', autocommit=True))
    try:
        asyncio.run(_sql(url, "CREATE EXTENSION IF NOT EXISTS postgis"))
    except Exception as exc:
        raise SystemExit(
            f"PostGIS is missing in {target.database} and we may not create it ({exc.__class__.__name__});"
            " a superuser must run CREATE EXTENSION postgis there (scripts/localdb.sh does it for "
            "the local cluster)"
        ) from None
    migrate.upgrade(url, "head")


def pg_dsn(url: str) -> str:
    """The URL as a GDAL `PG:` connection string."""
    u = make_url(url)
    parts = [
        f"host={u.host or '127.0.0.1'}",
        f"port={u.port or 5432}",
        f"dbname={u.database}",
        f"user={u.username or 'postgres'}",
    ]
    if u.password:
        parts.append(f"password={u.password}")
    return "PG:" + " ".join(parts)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run a command; wall seconds and its standard output (it must succeed)."""
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def machine() -> str:
    """CPU model, cores, PostgreSQL/PostGIS and GDAL versions, for the record."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        model = found.group(1).strip() if found else model
    ogr = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return f"{model}, {os.cpu_count()} cores, {platform.python_version()}; {ogr}"


def main(argv: list[str]) -> int:
    """Run the import benchmark and print a result line for bench/RESULTS.md."""
    parser = argparse.ArgumentParser(prog="python -m bench imports", description=__doc__)
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2018)
    args = parser.parse_args(argv)
    url = bench_url()
    WORK.mkdir(exist_ok=True)
    ensure_database(url)
    env = {**os.environ, "DATABASE_URL": url}
    landcycle = [sys.executable, "-m", "app.cli"]
    gpkg = WORK / f"parcels-{args.parcels}.gpkg"
    print(f"[bench] demo city with {args.parcels:,} parcels in {make_url(url).database}", file=sys.stderr)
    timed([*landcycle, "demo", "load", "--parcels", str(args.parcels), "--seed", str(args.seed)], env)
    timed([*landcycle, "export", str(gpkg)], env)
    count = asyncio.run(_sql(url, "SELECT count(*) FROM parcel"))[0]
    rows = int(count[0][0])  # type: ignore[index]
    asyncio.run(
        _sql(url, "TRUNCATE parcel", "DROP TABLE IF EXISTS bench_ogr2ogr", "VACUUM ANALYZE", autocommit=True)
    )
    print(
        f"[bench] {rows:,} parcels in {gpkg.name} ({gpkg.stat().st_size / 1e6:.0f} MB); ogr2ogr load",
        file=sys.stderr,
    )
    ogr_s, _ = timed(
        [
            "ogr2ogr",
            "-f",
            "PostgreSQL",
            pg_dsn(url),
            str(gpkg),
            "-nln",
            "bench_ogr2ogr",
            "-nlt",
            "MULTIPOLYGON",
            "-lco",
            "GEOMETRY_NAME=geom",
            "-overwrite",
        ],
        env,
    )
    print("[bench] landcycle import", file=sys.stderr)
    imp_s, out = timed([*landcycle, "import", str(gpkg)], env)
    inner = re.search(r", ([\d.]+) s;", out)
    check = asyncio.run(
        _sql(
            url,
            "SELECT count(*), count(tier) FROM parcel WHERE valid_to IS NULL",
            "SELECT count(*) FROM bench_ogr2ogr",
        )
    )
    imported, tiered = check[0][0]  # type: ignore[index]
    loaded = check[1][0][0]  # type: ignore[index]
    asyncio.run(_sql(url, "DROP TABLE IF EXISTS bench_ogr2ogr", autocommit=True))
    if imported != rows or loaded != rows:
        raise SystemExit(f"counts differ: file {rows}, imported {imported}, ogr2ogr {loaded}")
    line = (
        f"| {datetime.now(UTC):%Y-%m-%d} | {rows:,} | {ogr_s:.1f} s | {imp_s:.1f} s "
        f"({inner.group(1) if inner else '?'} s in the import) | {imp_s / ogr_s:.2f} | {tiered:,} tiered |"
    )
    print(line)
    print(f"machine: {machine()}")
    return 0
