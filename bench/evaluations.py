"""Evaluations benchmark: on the demo database (`landcycle demo load --parcels 100000`), score every evaluation
due in a year through the results engine, then produce that year's efficiency report; time both.

    .venv/bin/python -m bench.evaluations [--year Y] [--write] [--profile]

Everything runs in one transaction that is rolled back, so the demo is unchanged and runs repeat. The year
defaults to next year: all of its evaluations are still pending. Measurements are generated from each
contract's targets (deterministic). `--write` appends the numbers to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Actor
from app.calendar import city_today
from app.db import create_engine
from app.evaluations.results import ResultInput, record_results
from app.reports.service import efficiency_report
from app.settings import Settings
from bench.database import demo_url

RESULTS = Path(__file__).with_name("RESULTS.md")
BENCH = Actor(id=0, username="bench", role="bureau")
T = TypeVar("T")

DUE = text("""
SELECT DISTINCT ON (e.contract_id) e.id, e.due_on, last.measurements AS latest,
       last.evaluated_on AS latest_on,
       (SELECT jsonb_object_agg(i.code, i.target) FROM contract_indicator i
         WHERE i.contract_id = c.id AND i.contract_version = c.terms_version) AS targets
  FROM evaluation e JOIN contract c ON c.id = e.contract_id AND c.valid_to IS NULL
  LEFT JOIN LATERAL (SELECT x.measurements, x.evaluated_on FROM evaluation x
                      WHERE x.contract_id = e.contract_id AND x.evaluated_on IS NOT NULL
                      ORDER BY x.evaluated_on DESC, x.id DESC LIMIT 1) last ON true
 WHERE e.evaluated_on IS NULL AND e.cancelled_on IS NULL AND c.status IN ('active', 'rectification')
   AND e.due_on BETWEEN :first AND :last AND e.due_on < c.expires_on
   AND (c.ended_on IS NULL OR e.due_on < c.ended_on)
 ORDER BY e.contract_id, e.due_on, e.id
""")


def measurements(rng: np.random.Generator, targets: dict[str, Any], latest: dict[str, Any] | None,
                 years: float) -> dict[str, float]:
    """Efficiency as the contract's latest result grown 4 % a year, with noise; other indicators around
    their targets (most met)."""
    out: dict[str, float] = {}
    for code, target in targets.items():
        factor = rng.uniform(0.6, 0.98) if code.endswith("_per_value_added") else rng.normal(1.2, 0.1)
        out[code] = round(max(0.0, float(target) * factor), 3)
    for code in ("output_per_mu", "tax_per_mu"):
        if latest and latest.get(code) is not None:
            out[code] = round(float(latest[code]) * 1.04 ** years * float(rng.lognormal(0, 0.03)), 1)
        else:
            out.setdefault(code, round(float(rng.uniform(300, 1500)), 1))
    return out


async def timed(label: str, work: Callable[[], Awaitable[T]], log: list[tuple[str, float]]) -> T:
    started = time.perf_counter()
    result = await work()
    log.append((label, time.perf_counter() - started))
    print(f"{label}: {log[-1][1]:.2f} s", flush=True)
    return result


async def run(year: int | None, profile: bool) -> dict[str, Any]:
    settings = Settings(database_url=demo_url())
    today = city_today(settings.today)
    year = year or today.year + 1
    engine = create_engine(settings, statement_timeout_ms=3_600_000, pool_size=1, max_overflow=0)
    log: list[tuple[str, float]] = []
    facts: dict[str, Any] = {"year": year}
    statements: list[tuple[float, str]] = []
    async with engine.connect() as conn:
        trans = await conn.begin()
        session = AsyncSession(bind=conn)
        if profile:
            original = AsyncSession.execute

            async def execute(self: AsyncSession, stmt: Any, *args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                result = await original(self, stmt, *args, **kwargs)
                statements.append((time.perf_counter() - started, " ".join(str(stmt).split())[:100]))
                return result

            AsyncSession.execute = execute  # type: ignore[method-assign]
        facts["contracts"] = await session.scalar(
            text("SELECT count(*) FROM contract WHERE valid_to IS NULL"))
        facts["results_before"] = await session.scalar(
            text("SELECT count(*) FROM evaluation WHERE evaluated_on IS NOT NULL"))
        rows = (await session.execute(DUE, {"first": date(year, 1, 1), "last": date(year, 12, 31)})).all()
        rng = np.random.default_rng(year)
        inputs = [ResultInput(r.id, r.due_on, measurements(
            rng, r.targets, r.latest, (r.due_on - r.latest_on).days / 365.25 if r.latest_on else 0.0))
            for r in rows]
        facts["due"] = len(inputs)
        end_of_year = date(year, 12, 31)
        done = await timed(f"score {len(inputs):,} evaluations due in {year}",
                           lambda: record_results(session, BENCH, settings.policy, inputs, end_of_year), log)
        facts["outcomes"], facts["consequences"] = done.outcomes, done.consequences
        report = await timed(f"efficiency report {year}",
                             lambda: efficiency_report(session, settings.policy, year, end_of_year), log)
        facts["ranked"] = len(report.rows)
        await trans.rollback()
    await engine.dispose()
    if profile:
        for seconds, sql in sorted(statements, reverse=True)[:10]:
            print(f"  {seconds:6.2f} s  {sql}")
    facts["timings"] = log
    return facts


def write(facts: dict[str, Any]) -> None:
    """Append a dated entry to bench/RESULTS.md."""
    cpu = platform.processor() or platform.machine()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    load = os.getloadavg()[0]
    lines = [f"\n### {datetime.now().strftime('%Y-%m-%d %H:%M')} — {platform.node()} "
             f"({os.cpu_count()} cores, {cpu}, {python}), load average {load:.1f}\n",
             f"- demo: {facts['contracts']:,} contracts, {facts['results_before']:,} recorded results",
             *[f"- {label}: **{seconds:.2f} s**" for label, seconds in facts["timings"]],
             f"- outcomes {facts['outcomes']}, consequences {facts['consequences']}; "
             f"{facts['ranked']:,} contracts ranked A–D\n"]
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """`python -m bench evaluations [--year Y] [--write] [--profile]`."""
    parser = argparse.ArgumentParser(prog="python -m bench evaluations", description=__doc__.split("\n")[0])
    parser.add_argument("--year", type=int, help="default: next year")
    parser.add_argument("--write", action="store_true", help="append the numbers to bench/RESULTS.md")
    parser.add_argument("--profile", action="store_true", help="print the slowest statements")
    args = parser.parse_args(argv)
    facts = asyncio.run(run(args.year, args.profile))
    if args.write:
        write(facts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
