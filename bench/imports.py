"""Import benchmark: N demo parcels from a GeoPackage, `landcycle import` (validation, overlap
checks, tier classification, rules, audit) against a plain `ogr2ogr` load of the same file into PostGIS.

Uses its own database (BENCH_DATABASE_URL, else `<name>_bench` on the server of DATABASE_URL; created and
migrated here), the demo city's districts and zones, and BENCH_DIR (`.bench/`) for files. Both loads run as separate
processes from a cold start and are timed wall-clock, one after the other (`--rounds` pairs, medians); the
machine's other load is not controlled. `--phases` adds a dry-run import in this process timed by phase.

A second reference: the same ogr2ogr load carried on into the SPEC's `parcel` table by one INSERT … SELECT
of the file's own columns (no checks, no classification; the table's triggers measure and guard it, its
indexes are kept), rolled back before the import runs: what any writer pays for the same rows in that table.
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
from bench import database
from bench.database import work_dir


def bench_url() -> str:
    """The 100k benchmarks' database (bench.database.bench_url: BENCH_DATABASE_URL, else
    `<DATABASE_URL's database>_bench`), in asyncpg form."""
    return Settings(DATABASE_URL=database.bench_url("100k")).async_database_url


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


class PhaseClock:
    """Import progress as seconds per phase (both batches of an import add to the same phase)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._phase: str | None = None
        self._since = time.perf_counter()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase == "inserting" and total and done == total:  # a batch ends: what follows is the service's
            phase = "between batches"  # (the next batch's references and drafts, the audit, the rollback)
        if phase != self._phase:
            self.stop()
            self._phase = phase

    def stop(self) -> None:
        """Close the running phase."""
        now = time.perf_counter()
        if self._phase is not None:
            self.seconds[self._phase] = self.seconds.get(self._phase, 0.0) + now - self._since
        self._phase, self._since = None, now


async def phases(url: str, gpkg: Path) -> tuple[dict[str, float], float]:
    """A dry-run import of the file into the (emptied) parcel table in this process, timed by phase."""
    from app.auth.permissions import Actor
    from app.db import Database, create_engine
    from app.imports.service import ImportOptions, run_import

    settings = Settings(DATABASE_URL=url)
    db = Database(create_engine(settings, statement_timeout_ms=3_600_000, pool_size=2, max_overflow=2))
    clock = PhaseClock()
    started = time.perf_counter()
    try:
        outcome = await run_import(db, settings, Actor(id=0, username="bench", role="bureau"), gpkg,
                                   ImportOptions(dry_run=True), progress=clock)
    finally:
        clock.stop()
        await db.dispose()
    if outcome.refused:
        raise SystemExit(f"the dry run refused {len(outcome.refused)} rows, e.g. {outcome.refused[0]}")
    return clock.seconds, time.perf_counter() - started


# The plain way on from ogr2ogr's table into the SPEC's `parcel` table: one INSERT … SELECT of the file's own
# columns (no checks, no classification: district, tier and zone as the file says), which the table's own
# triggers measure (area_m2, tile shapes) and guard (overlaps), with its indexes.
INTO_PARCEL = """
    INSERT INTO parcel (id, version, code, land_use, plot_ratio, plot_ratio_cap, plot_ratio_cap_source, legacy_zone,
                        status, district_code, tier, zone_id, planning_locked, geom)
    SELECT id, 1, code, land_use, plot_ratio, plot_ratio_cap, plot_ratio_cap_source, legacy_zone, status,
           district_code, tier, zone_id, planning_locked, geom
      FROM bench_ogr2ogr
"""


async def _into_parcel_seconds(url: str) -> float:
    """Seconds of INTO_PARCEL, in a transaction rolled back afterwards (`parcel` stays empty)."""
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as conn:
        started = time.perf_counter()
        inserted = (await conn.execute(text(INTO_PARCEL))).rowcount
        seconds = time.perf_counter() - started
        await conn.rollback()
    await engine.dispose()
    if not inserted:
        raise SystemExit("the INSERT into parcel inserted nothing")
    return seconds


def one_round(url: str, env: dict[str, str], landcycle: list[str], gpkg: Path, rows: int
              ) -> tuple[float, float, float, str, int]:
    """Empty `parcel`, time ogr2ogr into a new table and the INSERT from there into `parcel` (rolled back),
    then `landcycle import`; check both loaded every row. (ogr2ogr seconds, INSERT seconds, import seconds,
    the import's own seconds, parcels given a tier)."""
    asyncio.run(
        _sql(url, "TRUNCATE parcel", "DROP TABLE IF EXISTS bench_ogr2ogr", "VACUUM ANALYZE", autocommit=True)
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
    into_s = asyncio.run(_into_parcel_seconds(url))
    asyncio.run(_sql(url, "TRUNCATE parcel", "VACUUM ANALYZE parcel", autocommit=True))  # no dead rows left
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
    return ogr_s, into_s, imp_s, inner.group(1) if inner else "?", int(tiered)


def main(argv: list[str]) -> int:
    """Run the import benchmark and print a result line for bench/RESULTS.md."""
    parser = argparse.ArgumentParser(prog="python -m bench imports", description=__doc__)
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--rounds", type=int, default=1, help="ogr2ogr/import pairs; medians are reported")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the demo city and the GeoPackage of an earlier run (same --parcels)")
    parser.add_argument("--phases", action="store_true",
                        help="afterwards, a dry-run import in this process timed by phase (the breakdown)")
    args = parser.parse_args(argv)
    url = bench_url()
    work = work_dir()
    ensure_database(url)
    env = {**os.environ, "DATABASE_URL": url}
    landcycle = [sys.executable, "-m", "app.cli"]
    gpkg = work / f"parcels-{make_url(url).database}-{args.parcels}.gpkg"  # one per bench database
    if args.reuse and gpkg.exists():
        print(f"[bench] reusing {gpkg.name} and the demo city in {make_url(url).database}", file=sys.stderr)
        rows = int(subprocess.run(["ogrinfo", "-so", "-al", str(gpkg)], capture_output=True, text=True,
                                  check=True).stdout.split("Feature Count: ")[1].split()[0])
    else:
        print(f"[bench] demo city with {args.parcels:,} parcels in {make_url(url).database}", file=sys.stderr)
        timed([*landcycle, "demo", "load", "--parcels", str(args.parcels), "--seed", str(args.seed)], env)
        timed([*landcycle, "export", str(gpkg)], env)
        count = asyncio.run(_sql(url, "SELECT count(*) FROM parcel WHERE valid_to IS NULL"))[0]
        rows = int(count[0][0])  # type: ignore[index]
    print(f"[bench] {rows:,} parcels in {gpkg.name} ({gpkg.stat().st_size / 1e6:.0f} MB)", file=sys.stderr)
    ogr_runs: list[float] = []
    into_runs: list[float] = []
    imp_runs: list[tuple[float, str]] = []
    tiered = 0
    for n in range(args.rounds):
        print(f"[bench] round {n + 1}: ogr2ogr load, then landcycle import", file=sys.stderr)
        ogr_s, into_s, imp_s, inner, tiered = one_round(url, env, landcycle, gpkg, rows)
        ogr_runs.append(ogr_s)
        into_runs.append(into_s)
        imp_runs.append((imp_s, inner))
        print(f"[bench] round {n + 1}: ogr2ogr {ogr_s:.1f} s (+ {into_s:.1f} s INSERT into parcel), import "
              f"{imp_s:.1f} s ({inner} s inside), load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
    middle = (args.rounds - 1) // 2  # the median (the lower one of an even count)
    ogr_s = sorted(ogr_runs)[middle]
    plain_s = sorted(o + i for o, i in zip(ogr_runs, into_runs, strict=True))[middle]
    imp_s, inner = sorted(imp_runs)[middle]
    line = (
        f"| {datetime.now(UTC):%Y-%m-%d} | {rows:,} | {ogr_s:.1f} s | {imp_s:.1f} s "
        f"({inner} s in the import) | {imp_s / ogr_s:.2f} | {tiered:,} tiered |"
    )
    print(line)
    print(f"into the SPEC's table: ogr2ogr + INSERT … SELECT into parcel {plain_s:.1f} s, "
          f"import {imp_s / plain_s:.2f}× that")
    print(f"machine: {machine()}; load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.phases:
        asyncio.run(_sql(url, "TRUNCATE parcel", "VACUUM ANALYZE parcel", autocommit=True))
        seconds, total = asyncio.run(phases(url, gpkg))
        parts = " · ".join(f"{name} {s:.1f}" for name, s in seconds.items())
        print(f"phases (dry run in-process, s): {parts} — {total:.1f} s in all")
    return 0
