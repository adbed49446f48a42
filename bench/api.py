"""`make bench` / `python -m bench [api]`: Landcycle (REST, and OGC API – Features) against raw PostGIS,
tipg and pygeoapi.

Environment (or the matching --options):
  BENCH_SCALE    100k (default) or 1m: the demo city's industrial parcels (or a small city, e.g. 2k)
  BENCH_ROUNDS   interleaved rounds (default 3)
  BENCH_SERVERS  comma list of raw,landcycle,landcycle-ogc,tipg,pygeoapi (default all; at 1m:
                 raw,landcycle,landcycle-ogc); landcycle-ogc is /ogc/collections/parcels/items
  BENCH_CASES    comma list of stream,page1000,page10000,bbox1,bbox16,id16 (default all)
  BENCH_WORKERS  uvicorn workers per server (default 1: every server's own default)
  BENCH_LOAD_SECONDS, BENCH_BUDGET_SECONDS, BENCH_CASE_LIMIT_SECONDS  durations (4, 60, 120)
  BENCH_QUICK=1  one short round, no profile (a smoke test of the harness; RESULTS.md and its chart untouched)
  BENCH_DATABASE_URL  the database (default `<DATABASE_URL's name>_bench`, `_bench_1m` at 1m)
  BENCH_DIR      where files go: peers' virtualenvs, server logs, a quick run's chart (default .bench/)
An unknown server or case name is refused in one line (exit 2) before anything starts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import psutil

from bench import database, peers, report
from bench.database import ROOT, say, work_dir
from bench.measure import Raw
from bench.profile import profile
from bench.results import append as append_results
from bench.runner import CASES, Plan, Runner, workload

ALL_SERVERS = ["raw", "landcycle", "landcycle-ogc", "tipg", "pygeoapi"]


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "") or default


def _scale(text: str) -> str:
    try:
        database.parcels_of(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _chosen(value: str, known: list[str], what: str) -> list[str]:
    """A comma list of names (in order, once each), all of them `known`; else ValueError in one line."""
    names = list(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        given = f"unknown {', '.join(map(repr, unknown))}" if unknown else "none given"
        raise ValueError(f"{what}: {given}; choose from {','.join(known)}")
    return names


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench api", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    scale = _env("BENCH_SCALE", "100k")
    # String defaults go through `type` as the options do: a bad BENCH_* value is a usage error (exit 2).
    parser.add_argument("--scale", default=scale, type=_scale, help="100k, 1m or a small city such as 2k")
    parser.add_argument("--rounds", type=int, default=_env("BENCH_ROUNDS", "3"))
    default_servers = ",".join(ALL_SERVERS) if scale == "100k" else "raw,landcycle,landcycle-ogc"
    parser.add_argument("--servers", default=_env("BENCH_SERVERS", default_servers))
    parser.add_argument("--cases", default=_env("BENCH_CASES", ",".join(c[0] for c in CASES)))
    parser.add_argument("--workers", type=int, default=_env("BENCH_WORKERS", "1"))
    parser.add_argument("--load-seconds", type=float, default=_env("BENCH_LOAD_SECONDS", "4"))
    parser.add_argument("--budget-seconds", type=float, default=_env("BENCH_BUDGET_SECONDS", "60"))
    parser.add_argument("--case-limit-seconds", type=float, default=_env("BENCH_CASE_LIMIT_SECONDS", "120"))
    parser.add_argument("--quick", action="store_true", default=_env("BENCH_QUICK", "") not in ("", "0"))
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    return parser.parse_args(argv)


def _versions(servers: dict[str, peers.Server], pg: str) -> str:
    parts = [f"Python {platform.python_version()}", pg]
    for name, server in servers.items():
        parts.append(f"{name} {server.version}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                            check=False).stdout.strip()
    if commit:
        parts.append(f"Landcycle commit {commit}")
    return ", ".join(parts)


async def _pg_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        pg = await conn.fetchval("SHOW server_version")
        gis = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
        return f"PostgreSQL {pg.split()[0]}, PostGIS {gis}"
    finally:
        await conn.close()


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.machine()}, {psutil.cpu_count()} cores ({model or cpu}), "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB")


def _load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


async def _main(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        names = _chosen(args.servers, ALL_SERVERS, "BENCH_SERVERS/--servers")
        cases = _chosen(args.cases, [c[0] for c in CASES], "BENCH_CASES/--cases")
    except ValueError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    rounds, load_seconds = (1, 1.0) if args.quick else (args.rounds, args.load_seconds)
    url, parcels = await asyncio.to_thread(database.prepare, args.scale)
    say(f"{parcels:,} current parcels; starting servers ({args.workers} worker(s) each)")
    servers: dict[str, peers.Server] = {}
    raw = Raw(url)
    try:
        for name in names:
            if name != "raw":
                servers[name] = await asyncio.to_thread(peers.start, name, url, args.workers)
        await raw.open(16)
        boxes, ids = await workload(url)
        plan = Plan(servers=names, cases=cases, rounds=rounds, load_seconds=load_seconds,
                    budget_seconds=args.budget_seconds, case_limit_seconds=args.case_limit_seconds)
        runner = Runner(plan, servers, raw, boxes, ids, parcels)
        load_before = _load()
        say("checking that every server returns the same rows (and warming up)")
        await runner.check()
        results = await runner.run()
        load_after = _load()
        profiles: dict[str, list[tuple[str, float]]] = {}
        if not args.quick and "landcycle" in servers:
            say("profiling Landcycle (py-spy; not counted in the table)")
            spans = {c: results.median(c, "landcycle", "seconds") or load_seconds for c in cases}
            profiles = await profile(runner, [c for c in ("stream", "bbox16", "id16") if c in cases], spans)
        pg = await _pg_version(url)
    finally:
        await raw.close()
        for server in servers.values():
            server.stop()
    for check in results.checks:
        say(f"check: {check}")
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    chart_name = f"results-{args.scale}.png"
    meta = {"date": date, "scale": args.scale, "parcels": parcels, "machine": _machine(),
            "load_before": load_before, "load_after": load_after, "versions": _versions(servers, pg),
            "rounds": rounds, "load_seconds": load_seconds, "workers": args.workers,
            "budget_seconds": args.budget_seconds, "elapsed_min": (time.perf_counter() - started) / 60,
            "chart": chart_name, "profiles": profiles}
    # A quick run leaves the committed chart alone.
    chart_dir = work_dir() if args.quick else args.results.parent
    report.chart(results, chart_dir / chart_name, f"Landcycle bench, {args.scale}, {date}")
    text = report.section(results, meta)
    print(text)
    if args.quick:
        say("quick run: results not appended to RESULTS.md")
    else:
        append_results(args.results, text)
        say(f"appended to {args.results}; chart bench/{chart_name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    return asyncio.run(_main(_parse(argv)))


if __name__ == "__main__":
    sys.exit(main())
