"""Load test: a realistic mix at 50 concurrent clients for 60 s; errors, latency, throughput and
the server's memory over time. `make load` (LOAD_ARGS="--clients 50 --seconds 60 --workers 2 --write").

The mix: map windows (2 km bbox pages), WFS GetFeature pages, parcel views, plot-ratio request
submissions. A refused request (a rule's 4xx: another request open, no increase) is an answer, not an
error; errors are 5xx, transport failures and timeouts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from bench.database import demo_url
from bench.results import publish

MIX = (("map_bbox", 0.50), ("wfs_page", 0.15), ("parcel_view", 0.30), ("request_submit", 0.05))
USERS = ("bureau", "viewer", "officer.pudong", "officer.minhang", "officer.jiading")


@dataclass
class Stats:
    """Latencies and outcomes per kind of request."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    errors: Counter[str] = field(default_factory=Counter)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the uvicorn workers), from /proc."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
        pids += [int(p) for p in children.split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


async def _facts(client: httpx.AsyncClient) -> tuple[list[int], list[int], tuple[float, float, float, float]]:
    """Parcel ids, contracted parcel ids and the data extent, so the clients ask for things that exist."""
    auth = ("bureau", "landcycle")
    page = (await client.get("/api/v1/parcels", params={"limit": 10000, "tier": "base"}, auth=auth)).json()
    ids = [f["id"] for f in page["features"]]
    contracts = (await client.get("/api/v1/contracts", params={"status": "active", "limit": 2000},
                                  auth=auth)).json()["items"]
    contracted = [c["parcel_id"] for c in contracts]
    xs = [c for f in page["features"][:2000] for c in (f["geometry"]["coordinates"][0][0][0],)]
    lon = [x for x, _ in xs]
    lat = [y for _, y in xs]
    return ids, contracted, (min(lon), min(lat), max(lon), max(lat))


async def _client(name: int, base: str, deadline: float, stats: Stats, ids: list[int], contracted: list[int],
                  extent: tuple[float, float, float, float]) -> None:
    rng = random.Random(name)
    kinds, weights = zip(*MIX, strict=True)
    user = USERS[name % len(USERS)]
    async with httpx.AsyncClient(base_url=base, auth=(user, "landcycle"), timeout=30) as client:
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            x0, y0, x1, y1 = extent
            lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
            started = time.perf_counter()
            try:
                if kind == "map_bbox":  # a 2 km window
                    bbox = f"{lon:.5f},{lat:.5f},{lon + 0.021:.5f},{lat + 0.018:.5f}"
                    r = await client.get("/api/v1/parcels", params={"bbox": bbox, "limit": 500})
                elif kind == "wfs_page":
                    r = await client.get("/wfs", params={
                        "service": "WFS", "version": "2.0.0", "request": "GetFeature",
                        "typenames": "landcycle:parcels", "count": 1000,
                        "startindex": rng.randrange(0, max(1, len(ids) - 1000))})
                elif kind == "parcel_view":
                    r = await client.get(f"/api/v1/parcels/{rng.choice(ids)}")
                else:
                    body = {"parcel_id": rng.choice(contracted or ids), "reason": "load test",
                            "requested_plot_ratio": round(rng.uniform(1.5, 2.0), 2)}
                    r = await client.post("/api/v1/plot-ratio-requests", auth=("bureau", "landcycle"), json=body)
                await r.aread()
            except httpx.HTTPError as exc:
                stats.errors[f"{kind}: {type(exc).__name__}"] += 1
                continue
            stats.latencies[kind].append(time.perf_counter() - started)
            stats.statuses[kind][r.status_code] += 1
            if r.status_code >= 500:
                stats.errors[f"{kind}: HTTP {r.status_code}"] += 1


async def _sample_memory(pid: int, deadline: float, stats: Stats) -> None:
    start = time.monotonic()
    while time.monotonic() < deadline:
        stats.rss_mb.append((time.monotonic() - start, _rss_mb(pid)))
        await asyncio.sleep(1)


def _serve(workers: int, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": demo_url(), "LANDCYCLE_LOG_LEVEL": "warning",
           "LANDCYCLE_LOGIN_FAILURES_ALLOWED": "1000000"}
    return subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def run(args: argparse.Namespace) -> str:
    proc = None
    base = args.url
    if base is None:
        port = args.port
        proc = _serve(args.workers, port)
        base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as probe:
            for _ in range(200):
                try:
                    if (await probe.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            ids, contracted, extent = await _facts(probe)
        pid = proc.pid if proc else int(args.server_pid or 0)
        stats = Stats()
        deadline = time.monotonic() + args.seconds
        started = time.perf_counter()
        tasks = [_client(i, base, deadline, stats, ids, contracted, extent) for i in range(args.clients)]
        if pid:
            tasks.append(_sample_memory(pid, deadline, stats))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
    return _report(args, stats, elapsed)


def _report(args: argparse.Namespace, stats: Stats, elapsed: float) -> str:
    total = sum(len(v) for v in stats.latencies.values())
    load = os.getloadavg()
    lines = [
        f"### Load ({datetime.now().strftime('%Y-%m-%d %H:%M')}, {platform.node()}, {os.cpu_count()} cores, "
        f"{args.clients} clients × {args.seconds} s, {args.workers} worker(s), load average "
        f"{load[0]:.1f}/{load[1]:.1f} at the end)", "",
        f"{total:,} requests in {elapsed:.1f} s: **{total / elapsed:.0f} req/s**; "
        f"errors (5xx, transport, timeouts): **{sum(stats.errors.values())}**"
        + (f" {dict(stats.errors)}" if stats.errors else ""), "",
        "| kind | requests | req/s | p50 ms | p99 ms | statuses |",
        "|---|---|---|---|---|---|",
    ]
    for kind, _ in MIX:
        lat = stats.latencies.get(kind, [])
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(stats.statuses.get(kind, Counter()).items()))
        lines.append(f"| {kind} | {len(lat):,} | {len(lat) / elapsed:.1f} | {_pct(lat, 0.5):.1f} | "
                     f"{_pct(lat, 0.99):.1f} | {codes} |")
    if stats.rss_mb:
        rss = [m for _, m in stats.rss_mb]
        first = statistics.mean(rss[: max(1, len(rss) // 6)])
        last = statistics.mean(rss[-max(1, len(rss) // 6):])
        lines += ["", f"Server memory (all workers): first 10 s {first:.0f} MB, last 10 s {last:.0f} MB, "
                      f"peak {max(rss):.0f} MB."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m bench load [--clients N] [--seconds S] [--workers W] [--url URL] [--write]`."""
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8031)
    parser.add_argument("--url", help="measure a server that is already running (no memory sampling)")
    parser.add_argument("--server-pid", help="pid of that server, to sample its memory")
    parser.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    publish(report, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
