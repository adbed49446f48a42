"""`python -m bench replicas`: read throughput of one node against two workers and a streaming standby.

A throwaway primary (`wal_level=replica`) is loaded with the demo city, a hot standby is made from it with
`pg_basebackup -R` on another loopback port (tests/pgcluster.py), and the same read mix — GET by id, a bbox
page, a WFS GetFeature window, a vector tile — runs from `--concurrency` clients for `--seconds` against:

  one node             `landcycle serve --workers 1` on the primary alone
  two workers          `--workers 2` on the primary alone
  two workers+standby  `--workers 2` with DATABASE_REPLICA_URLS (reads on the standby, the primary idle)

It prints a RESULTS.md section (`--write` appends it there). Everything runs on this machine: the standby
shares its cores with the primary, the app and the load, so this measures the mechanism and its overhead,
not a second machine's capacity (docs/DEPLOYMENT.md). From a fresh clone: `make bench BENCH_ARGS=replicas`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx

from app.demo.load import DEMO_PASSWORD
from bench.measure import _load

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("one node", "two workers", "two workers+standby")


def say(message: str) -> None:
    print(f"[bench replicas] {message}", file=sys.stderr, flush=True)


def _landcycle(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([str(ROOT / ".venv" / "bin" / "landcycle"), *args], check=True, env=env, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def _free_port() -> int:
    from tests.servers import free_port

    return free_port()


def _serve(primary: str, workers: int, replicas: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": primary, "LANDCYCLE_SECRET_KEY": "bench-replicas-key-0123456789abcdef0123",
           "LANDCYCLE_LOG_LEVEL": "warning", "LANDCYCLE_LOG_JSON": "false", "LANDCYCLE_DB_POOL_SIZE": "8"}
    if replicas:
        env["DATABASE_REPLICA_URLS"] = replicas
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "landcycle"), "serve", "--port", str(port), "--workers",
                             str(workers)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            health = httpx.get(base + "/healthz", timeout=1).json()
            if not replicas or (all(r["healthy"] for r in health.get("replicas", [])) and health.get("replicas")):
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("landcycle serve did not start in 60 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


async def _workload(url: str, count: int = 400) -> list[str]:
    """Read paths of the demo city: parcels by id, bbox pages, WFS windows, z14 tiles."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT id, ST_X(ST_PointOnSurface(geom)) x, ST_Y(ST_PointOnSurface(geom)) y FROM "
                                "parcel WHERE valid_to IS NULL ORDER BY random() LIMIT $1", count)
    finally:
        await conn.close()
    rng = random.Random(7)
    paths = []
    for i, row in enumerate(rows):
        x, y = row["x"], row["y"]
        box = f"{x - 0.004:.5f},{y - 0.004:.5f},{x + 0.004:.5f},{y + 0.004:.5f}"
        n = 2**14
        tx, ty = int((x + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(y))) / math.pi) / 2 * n)
        paths.append([f"/api/v1/parcels/{row['id']}", f"/api/v1/parcels?bbox={box}&limit=100",
                      f"/wfs?service=WFS&version=2.0.0&request=GetFeature&typenames=landcycle:parcels&count=100"
                      f"&outputFormat=application/json&bbox={y - 0.004:.5f},{x - 0.004:.5f},{y + 0.004:.5f},"
                      f"{x + 0.004:.5f},urn:ogc:def:crs:EPSG::4490",
                      f"/tiles/parcels/14/{tx}/{ty}.mvt"][i % 4])
    rng.shuffle(paths)
    return paths


async def _run(base: str, paths: list[str], concurrency: int, seconds: float) -> dict[str, Any]:
    nodes: dict[str, int] = {}
    auth = aiohttp.BasicAuth("bureau", DEMO_PASSWORD)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, connector=connector, auth=auth,
                                     headers={"Accept-Encoding": "gzip"}) as http:

        async def call(i: int) -> None:
            async with http.get(paths[i]) as response:
                await response.read()
                if response.status not in (200, 204):
                    raise RuntimeError(f"HTTP {response.status} {paths[i]}")
                node = response.headers.get("landcycle-node", "primary")
                nodes[node] = nodes.get(node, 0) + 1

        await _load(call, len(paths), concurrency, 4.0)  # warm the caches and pools
        nodes.clear()
        result = await _load(call, len(paths), concurrency, seconds)
    result["nodes"] = nodes
    return result


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median throughput (its latencies with it), errors and nodes summed over all runs."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    out = dict(ordered[(len(ordered) - 1) // 2])
    out["errors"] = sum(r["errors"] for r in runs)
    nodes: dict[str, int] = {}
    for r in runs:
        for node, count in r["nodes"].items():
            nodes[node] = nodes.get(node, 0) + count
    out["nodes"] = nodes
    return out


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _section(results: dict[str, dict[str, Any]], parcels: int, args: argparse.Namespace) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    one = results[CONFIGS[0]]["rps"] or 1.0
    lines = [f"## Read replicas: one node vs two workers + a streaming standby ({datetime.now(UTC):%Y-%m-%d})", "",
             f"Machine: {os.cpu_count()} cores ({cpu}), PostgreSQL primary and `pg_basebackup -R` standby on "
             f"loopback, commit {_commit()}, load average {os.getloadavg()[0]:.1f} after the run (other "
             f"engineers' work shares the cores). Demo city of {parcels:,} industrial parcels; "
             f"{args.concurrency} clients for {args.seconds:g} s per configuration after 4 s of warm-up, "
             f"{args.rounds} rounds (the median run shown; reads counted over all), a mix of GET by id, "
             "bbox pages of 100, WFS "
             "GetFeature windows of 100 and z14 tiles (`python -m bench replicas`).", "",
             "| configuration | req/s | × one node | p50 ms | p99 ms | errors | reads served by |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name in CONFIGS:
        r = results[name]
        served = ", ".join(f"{node} {count:,}" for node, count in sorted(r["nodes"].items()))
        lines.append(f"| {name} | {r['rps']:.0f} | {r['rps'] / one:.2f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                     f"{r['errors']} | {served} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench replicas", description=__doc__.split("\n")[0])
    parser.add_argument("--parcels", type=int, default=20_000, help="industrial parcels of the demo city")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of load per configuration")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="rounds, the configurations in turn (order reversed "
                                                                  "every other round); medians reported")
    parser.add_argument("--write", action="store_true", help="append the section to bench/RESULTS.md")
    args = parser.parse_args(argv)

    from tests import pgcluster

    primary = pgcluster.create(replication=True)
    if primary is None:
        say("PostgreSQL with PostGIS binaries is not installed here")
        return 2
    standby = None
    try:
        say(f"primary on port {primary.port}: migrating and loading {args.parcels:,} parcels")
        _landcycle(primary.url, "db", "upgrade")
        _landcycle(primary.url, "demo", "load", "--parcels", str(args.parcels))
        primary.psql("VACUUM ANALYZE")
        standby = pgcluster.add_standby(primary)
        say(f"standby on port {standby.port} (pg_basebackup -R)")
        paths = asyncio.run(_workload(primary.url))
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CONFIGS}
        for round_ in range(args.rounds):
            for name in CONFIGS if round_ % 2 == 0 else tuple(reversed(CONFIGS)):
                workers = 1 if name == "one node" else 2
                proc, base = _serve(primary.url, workers, standby.url if "standby" in name else None)
                try:
                    say(f"round {round_ + 1}, {name}: {args.seconds:g} s at {args.concurrency} clients")
                    result = asyncio.run(_run(base, paths, args.concurrency, args.seconds))
                    runs[name].append(result)
                    say(f"{name}: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.1f} ms, "
                        f"served by {result['nodes']}")
                finally:
                    _stop(proc)
        results = {name: _median(found) for name, found in runs.items()}
        section = _section(results, args.parcels, args)
        print(section)
        if args.write:
            with (ROOT / "bench" / "RESULTS.md").open("a") as out:
                out.write("\n" + section)
        return 0 if all(r["errors"] == 0 for r in results.values()) else 1
    finally:
        if standby is not None:
            pgcluster.destroy(standby)
        pgcluster.destroy(primary)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
