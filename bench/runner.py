"""Interleaved rounds of every case on every server; medians per (case, server)."""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bench import measure
from bench.database import say
from bench.monitor import TreeMonitor
from bench.peers import Server

# (key, label, kind): kind "time" = one whole-collection walk (seconds), "load" = requests per second.
CASES: list[tuple[str, str, str]] = [
    ("stream", "all parcels as GeoJSON, one stream", "time"),
    ("page1000", "all parcels, pages of 1,000 (following `next`)", "time"),
    ("page10000", "all parcels, pages of 10,000 (following `next`)", "time"),
    ("bbox1", "2 km bbox windows, 1 client", "load"),
    ("bbox16", "2 km bbox windows, 16 clients", "load"),
    ("id16", "one feature by id, 16 clients", "load"),
]
KIND = {key: kind for key, _, kind in CASES}
CONCURRENCY = {"bbox1": 1, "bbox16": 16, "id16": 16}

# Half a 2 km window in degrees near 31°N.
HALF_LON = 1000 / (111_320 * math.cos(math.radians(31.1)))
HALF_LAT = 1000 / 110_540


@dataclass
class Plan:
    """What to run."""

    servers: list[str]
    cases: list[str]
    rounds: int
    load_seconds: float
    budget_seconds: float  # a (case, server) gets no further rounds once it has used this much
    case_limit_seconds: float  # a paging walk stops after this long (reported as a lower bound)


@dataclass
class Results:
    """Raw runs by (case, server), plus what the checks saw."""

    runs: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    checks: list[str] = field(default_factory=list)

    def median(self, case: str, server: str, metric: str) -> float | None:
        """The median of one metric over the runs, or None."""
        values = [r[metric] for r in self.runs.get((case, server), []) if r.get(metric) is not None]
        return statistics.median(values) if values else None

    def count(self, case: str, server: str) -> int:
        """How many runs a (case, server) had."""
        return len(self.runs.get((case, server), []))


async def workload(url: str) -> tuple[list[tuple[float, float, float, float]], list[int]]:
    """Seeded 2 km windows centred on parcels, and parcel ids, the same for every server."""
    conn = await asyncpg.connect(url)
    try:
        centres = await conn.fetch("SELECT ST_X(c) AS x, ST_Y(c) AS y FROM (SELECT ST_PointOnSurface(geom) AS c "
                                   "FROM parcel WHERE valid_to IS NULL ORDER BY md5(id::text) LIMIT 400) s")
        ids = [r[0] for r in await conn.fetch("SELECT id FROM parcel WHERE valid_to IS NULL "
                                              "ORDER BY md5(id::text || 'id') LIMIT 2000")]
    finally:
        await conn.close()
    boxes = [(round(r["x"] - HALF_LON, 6), round(r["y"] - HALF_LAT, 6), round(r["x"] + HALF_LON, 6),
              round(r["y"] + HALF_LAT, 6)) for r in centres]
    return boxes, ids


def _bbox_text(box: tuple[float, float, float, float]) -> str:
    return ",".join(f"{v:.6f}" for v in box)


class Runner:
    """Runs a Plan against started servers and the raw baseline."""

    def __init__(self, plan: Plan, servers: dict[str, Server], raw: measure.Raw,
                 boxes: list[tuple[float, float, float, float]], ids: list[int], expected: int) -> None:
        self.plan = plan
        self.servers = servers
        self.raw = raw
        self.boxes = boxes
        self.ids = ids
        self.expected = expected
        self.results = Results()
        self.monitors = {name: TreeMonitor(s.process.pid) for name, s in servers.items()}

    def _url(self, server: Server, kind: str, **values: Any) -> str:
        return server.base + server.urls[kind].format(**values)

    async def check(self) -> None:
        """Every server returns the raw baseline's rows for a few windows and ids (and warms up)."""
        for box in self.boxes[:3]:
            want = await self.raw.bbox_count(box)
            for name, server in self.servers.items():
                async with measure.session(1) as http:
                    got = await measure.http_count(http, self._url(server, "bbox", bbox=_bbox_text(box)))
                if got != want:
                    self.results.checks.append(f"{name}: bbox {_bbox_text(box)} gave {got} features, raw {want}")
        for name, server in self.servers.items():
            async with measure.session(4) as http:
                got = await measure.http_count(http, self._url(server, "id", id=self.ids[0]))
                if got != 1:
                    self.results.checks.append(f"{name}: GET by id gave no Feature")
                await measure.http_load(http, [self._url(server, "bbox", bbox=_bbox_text(b)) for b in self.boxes],
                                        4, 1.0)
                await measure.http_load(http, [self._url(server, "id", id=i) for i in self.ids], 4, 0.5)

    async def _run_raw(self, case: str, first: bool) -> dict[str, Any]:
        if case == "stream":
            return await self.raw.stream()
        if case.startswith("page"):
            return await self.raw.pages(int(case[4:]))
        if case.startswith("bbox"):
            return await self.raw.bbox_load(self.boxes, CONCURRENCY[case], self.plan.load_seconds)
        return await self.raw.id_load(self.ids, CONCURRENCY[case], self.plan.load_seconds)

    async def _run_http(self, case: str, server: Server, first: bool) -> dict[str, Any]:
        concurrency = CONCURRENCY.get(case, 1)
        async with measure.session(concurrency) as http:
            if case == "stream":
                return await measure.http_stream(http, self._url(server, "stream"), validate=first)
            if case.startswith("page"):
                return await measure.http_pages(http, self._url(server, "page", limit=int(case[4:])),
                                                self.plan.case_limit_seconds)
            if case.startswith("bbox"):
                urls = [self._url(server, "bbox", bbox=_bbox_text(b)) for b in self.boxes]
            else:
                urls = [self._url(server, "id", id=i) for i in self.ids]
            return await measure.http_load(http, urls, concurrency, self.plan.load_seconds)

    async def run_one(self, case: str, name: str) -> dict[str, Any]:
        """One run of a case on a server, with the server's CPU and peak RSS."""
        first = self.results.count(case, name) == 0
        if name == "raw":
            return await self._run_raw(case, first)
        monitor = self.monitors[name]
        monitor.start()
        try:
            result = await self._run_http(case, self.servers[name], first)
        finally:
            await asyncio.to_thread(monitor.stop)
        requests = result.get("requests") or result.get("pages") or 1
        result["cpu_ms_per_request"] = monitor.cpu_seconds * 1000 / requests
        result["cpu_seconds"] = monitor.cpu_seconds
        result["peak_rss_mb"] = monitor.peak_rss / 2**20
        return result

    async def run(self) -> Results:
        """Interleaved rounds: each round runs every case on every server, the order rotating."""
        names = list(self.plan.servers)
        spent: dict[tuple[str, str], float] = defaultdict(float)
        for round_no in range(self.plan.rounds):
            say(f"round {round_no + 1} of {self.plan.rounds}")
            for case in self.plan.cases:
                order = names[round_no % len(names):] + names[:round_no % len(names)]
                for name in order:
                    key = (case, name)
                    if self.results.count(*key) and spent[key] > self.plan.budget_seconds:
                        continue
                    started = time.perf_counter()
                    try:
                        result = await self.run_one(case, name)
                    except Exception as exc:
                        self.results.checks.append(f"{name} {case}: {type(exc).__name__}: {exc}"[:300])
                        spent[key] += time.perf_counter() - started + self.plan.budget_seconds
                        continue
                    spent[key] += result.get("seconds", time.perf_counter() - started)
                    self._check(case, name, result)
                    self.results.runs[key].append(result)
                    say(f"  {case:<10} {name:<13} {_brief(result)}")
        return self.results

    def _check(self, case: str, name: str, result: dict[str, Any]) -> None:
        features = result.get("features")
        if features is not None and result.get("complete", True) and features != self.expected:
            self.results.checks.append(f"{name} {case}: {features} features, expected {self.expected}")
        if result.get("errors"):
            self.results.checks.append(f"{name} {case}: {result['errors']} failed requests")


def _brief(result: dict[str, Any]) -> str:
    if "rps" in result:
        text = f"{result['rps']:8.1f} req/s  p50 {result['p50_ms']:.1f} ms  p99 {result['p99_ms']:.1f} ms"
    else:
        text = f"{result['seconds']:8.2f} s  {result.get('bytes', 0) / 1e6:.0f} MB"
        if not result.get("complete", True):
            text += " (stopped at the time limit)"
    if "peak_rss_mb" in result:
        text += f"  cpu {result['cpu_ms_per_request']:.2f} ms/req  rss {result['peak_rss_mb']:.0f} MB"
    return text
