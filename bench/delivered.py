"""A year's evaluations recorded from delivered figures: on the bench's demo city (`make bench` loads it once
per scale), every department delivers a year of figures for every enterprise with a contract in force
(through the delivery service, app/measurements/service.py, in batches of 25,000 enterprises), then the
year's record (app/evaluations/year.py, `POST /evaluations/results`) measures and records every evaluation
due that year in one call; both are timed, the record by phase.

    .venv/bin/python -m bench delivered [--scale 100k] [--year Y] [--statements] [--explain] [--write]
    make bench BENCH_ARGS="delivered --write"

Everything runs in one transaction that is rolled back, so the city is unchanged and runs repeat. The year
defaults to next year (all of its evaluations still pending; recorded on its last day). Figures are drawn
per enterprise around what its contracts measured last and committed to (deterministic: PostgreSQL's hash
of its id), so some fall below their targets and bottom lines and rule 7 has consequences to write.
`--statements` prints every SQL statement of the year record with its time (the profile of its phases);
`--explain` also prints each one's `EXPLAIN (ANALYZE, BUFFERS)`, run first in a savepoint rolled back (so
the record takes about twice as long). `--write` appends the numbers to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.permissions import Actor
from app.db import create_engine
from app.evaluations import year as year_record
from app.measurements.figures import FIGURES, SOURCES
from app.measurements.rules import Entry
from app.measurements.service import deliver
from app.settings import Settings
from bench.database import prepare, say

RESULTS = Path(__file__).with_name("RESULTS.md")
BENCH = Actor(id=0, username="bench", role="bureau")
# Enterprises per delivered batch: the delivery service looks a batch's USCCs up in one IN list, which
# asyncpg caps at 32,767 parameters.
CHUNK = 25_000
PLACES = Decimal("0.0001")
T = TypeVar("T")

# Per enterprise, from its contracts in force on the year's last day: a year of figures drawn around what
# its contracts measured last (their latest result grown 4 % a year since, else their targets) and committed to,
# by a factor of 0.85–1.25 per enterprise (PostgreSQL's hash of its id), so some fall below their targets
# or bottom lines and rule 7 has consequences to write.
_ENTERPRISES = text("""
WITH held AS (
    SELECT c.enterprise_id, p.area_m2 * 15 / 10000 AS mu,
           coalesce((last.measurements->>'output_per_mu')::numeric * last.growth, t.output_per_mu, 500) AS out,
           coalesce((last.measurements->>'tax_per_mu')::numeric * last.growth, t.tax_per_mu, 30) AS tax,
           t.investment_intensity AS inv, t.energy AS energy, t.emissions AS emissions, t.rnd AS rnd, t.jobs AS jobs
      FROM contract c JOIN parcel p ON p.id = c.parcel_id AND p.valid_to IS NULL
      LEFT JOIN LATERAL (
           SELECT max(i.target) FILTER (WHERE i.code = 'output_per_mu') AS output_per_mu,
                  max(i.target) FILTER (WHERE i.code = 'tax_per_mu') AS tax_per_mu,
                  max(i.target) FILTER (WHERE i.code = 'investment_intensity') AS investment_intensity,
                  min(i.target) FILTER (WHERE i.code = 'energy_per_value_added') AS energy,
                  min(i.target) FILTER (WHERE i.code = 'emissions_per_value_added') AS emissions,
                  max(i.target) FILTER (WHERE i.code = 'rnd_intensity') AS rnd,
                  max(i.target) FILTER (WHERE i.code = 'jobs') AS jobs
             FROM contract_indicator i WHERE i.contract_id = c.id AND i.contract_version = c.terms_version) t
        ON true
      LEFT JOIN LATERAL (SELECT x.measurements, power(1.04, (:end - x.evaluated_on) / 365.25) AS growth
                           FROM evaluation x
                          WHERE x.contract_id = c.id AND x.evaluated_on IS NOT NULL
                          ORDER BY x.evaluated_on DESC, x.id DESC LIMIT 1) last ON true
     WHERE c.valid_to IS NULL AND c.signed_on <= :end AND c.expires_on > :end
       AND (c.ended_on IS NULL OR c.ended_on > :end)
), per AS (
    SELECT h.enterprise_id, 0.85 + 0.4 * ((hashint8(h.enterprise_id)::bigint % 1000 + 1000) % 1000) / 1000.0 AS f,
           sum(h.mu * h.out) AS output, sum(h.mu * h.tax) AS tax, sum(h.mu * coalesce(h.inv, 500)) AS inv,
           min(h.energy) AS energy, min(h.emissions) AS emissions, max(h.rnd) AS rnd,
           sum(coalesce(h.jobs, h.mu * 2)) AS jobs
      FROM held h GROUP BY h.enterprise_id
)
SELECT en.uscc, per.output * per.f AS output_value, per.tax * per.f AS tax_paid,
       per.output * per.f / 4 AS value_added, per.output * per.f * coalesce(per.rnd, 3) / 100 * 1.1 AS rnd_spending,
       round(per.jobs * (0.3 + per.f)) AS jobs, per.inv * 1.1 AS fixed_investment,
       per.output * per.f / 4 * coalesce(per.energy, 0.3) * (1.6 - 0.7 * per.f) AS energy_use,
       per.output * per.f / 4 * coalesce(per.emissions, 2) * (1.6 - 0.7 * per.f) AS emissions
  FROM per JOIN enterprise en ON en.id = per.enterprise_id
""")


async def timed(label: str, work: Callable[[], Awaitable[T]], log: list[tuple[str, float]]) -> T:
    started = time.perf_counter()
    result = await work()
    log.append((label, time.perf_counter() - started))
    print(f"{label}: {log[-1][1]:.2f} s", flush=True)
    return result


def _instrument(log: list[tuple[str, float]]) -> None:
    """Time the year record's phases: the due evaluations and their figures, then record_results."""
    for name, label in (("latest", "  figures of the year (one statement)"),
                        ("record_results", "  record_results (peers, rules 6–7, writes, audit)")):
        owner: Any = year_record.delivered if name == "latest" else year_record
        original = getattr(owner, name)

        async def wrapper(*args: Any, _original: Any = original, _label: str = label, **kwargs: Any) -> Any:
            return await timed(_label, lambda: _original(*args, **kwargs), log)

        setattr(owner, name, wrapper)


class _Statements:
    """Every statement the year record runs, timed at the driver (and explained, with `explain`)."""

    def __init__(self, engine: AsyncEngine, explain: bool) -> None:
        self.on, self.explain = False, explain
        self.log: list[tuple[str, float]] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self.before)
        event.listen(engine.sync_engine, "after_cursor_execute", self.after)

    def before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if not self.on:
            return
        if self.explain and not statement.lstrip().upper().startswith(("SET ", "SAVEPOINT", "SELECT NOW")):
            cursor.execute("SAVEPOINT bench_explain")
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plan = "\n".join(r[0] for r in cursor.fetchall())
            cursor.execute("ROLLBACK TO SAVEPOINT bench_explain")
            print(f"---- EXPLAIN {_first_line(statement)}\n{plan}", flush=True)
        conn.info["bench_started"] = time.perf_counter()

    def after(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if not self.on:
            return
        seconds = time.perf_counter() - conn.info.pop("bench_started")
        self.log.append((_first_line(statement), seconds))
        print(f"    {seconds:7.3f} s  {_first_line(statement)}", flush=True)


class _Collections:
    """The time the cyclic garbage collector takes while the record runs (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds, self.count, self.full, self._started = 0.0, 0, 0, 0.0
        gc.callbacks.append(self.callback)

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.count += 1
        self.full += info["generation"] == 2

    def stop(self) -> None:
        gc.callbacks.remove(self.callback)


def _first_line(statement: str) -> str:
    return " ".join(statement.split())[:110]


async def run(url: str, year: int | None, statements: bool = False, explain: bool = False) -> dict[str, Any]:
    settings = Settings(database_url=url)
    year = year or date.today().year + 1
    end = date(year, 12, 31)
    engine = create_engine(settings, statement_timeout_ms=3_600_000, pool_size=1, max_overflow=0)
    profile = _Statements(engine, explain) if statements or explain else None
    log: list[tuple[str, float]] = []
    facts: dict[str, Any] = {"year": year}
    async with engine.connect() as conn:
        trans = await conn.begin()
        session = AsyncSession(bind=conn)
        facts["contracts"] = await session.scalar(text("SELECT count(*) FROM contract WHERE valid_to IS NULL"))
        rows = (await session.execute(_ENTERPRISES, {"end": end})).all()
        facts["enterprises"] = len(rows)
        chunks: list[tuple[str, list[Entry]]] = []
        for source in SOURCES:
            for k in range(0, len(rows), CHUNK):
                entries = [Entry(0, r.uscc, None, code, Decimal(r._mapping[code]).quantize(PLACES))
                           for r in rows[k:k + CHUNK] for code in FIGURES if FIGURES[code].source == source]
                chunks.append((source, [replace(e, row=n) for n, e in enumerate(entries, start=1)]))
        facts["values"] = sum(len(e) for _, e in chunks)

        async def deliver_all() -> None:
            for source, entries in chunks:
                await deliver(session, BENCH, source, year, entries, "json", None, False, this_year=year)

        await timed(f"deliver {facts['values']:,} figures of {len(rows):,} enterprises ({len(chunks)} batches)",
                    deliver_all, log)
        # The bench's own half a million entries are no part of a server's heap when a record comes: without
        # them, every full collection of the cyclic garbage collector during the record would walk them too.
        chunks.clear()
        del rows
        gc.collect()
        # What autovacuum does once the deliveries are committed: the planner learns the new rows.
        await session.execute(text("ANALYZE measurement"))
        _instrument(log)
        if profile is not None:
            profile.on = True
        collector = _Collections()
        done = await timed(f"year record {year}", lambda: year_record.record_year(
            session, BENCH, settings.policy, year, end, end), log)
        collector.stop()
        record = log[-1][1]
        phases = sum(seconds for label, seconds in log if label.startswith("  "))
        log.append(("  the rest: due evaluations, measuring the figures (`measured.measure`)", record - phases))
        print(f"{log[-1][0]}: {log[-1][1]:.2f} s", flush=True)
        log.append((f"  of the record, the cyclic garbage collector ({collector.full} full collections "
                    f"of {collector.count})", collector.seconds))
        print(f"{log[-1][0]}: {log[-1][1]:.2f} s", flush=True)
        facts["record"] = done.as_json()
        print(f"{done.due:,} due, {done.recorded:,} recorded, {done.skipped:,} skipped; outcomes {done.outcomes}, "
              f"consequences {done.consequences}", flush=True)
        await trans.rollback()
    await engine.dispose()
    facts["timings"] = log
    return facts


def write(facts: dict[str, Any], scale: str) -> None:
    """Append a dated entry to bench/RESULTS.md."""
    cpu = platform.processor() or platform.machine()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            check=False).stdout.strip() or "?"
    r = facts["record"]
    lines = [f"\n### Year record from delivered figures ({datetime.now().strftime('%Y-%m-%d %H:%M')}, "
             f"{platform.node()}, {os.cpu_count()} cores, {cpu}, {python}, commit {commit}, load average "
             f"{os.getloadavg()[0]:.1f})\n",
             f"- city {scale}: {facts['contracts']:,} current contracts, {facts['enterprises']:,} enterprises "
             f"with land in force in {facts['year']}",
             *[f"- {label.strip()}: **{seconds:.2f} s**" for label, seconds in facts["timings"]],
             f"- {r['due']:,} due, {r['recorded']:,} recorded, {r['skipped']:,} skipped; outcomes {r['outcomes']}, "
             f"consequences {r['consequences']}\n"]
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """`python -m bench delivered [--scale 100k] [--year Y] [--write]`."""
    parser = argparse.ArgumentParser(prog="python -m bench delivered", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default=os.environ.get("BENCH_SCALE", "100k"),
                        help="100k, 1m or a small city such as 2k (default: BENCH_SCALE, else 100k)")
    parser.add_argument("--year", type=int, help="default: next year")
    parser.add_argument("--statements", action="store_true", help="print each statement of the record, timed")
    parser.add_argument("--explain", action="store_true",
                        help="also EXPLAIN (ANALYZE, BUFFERS) each (in a savepoint, rolled back)")
    parser.add_argument("--write", action="store_true", help="append the numbers to bench/RESULTS.md")
    args = parser.parse_args(argv)
    url, parcels = prepare(args.scale)
    say(f"{parcels:,} current parcels")
    facts = asyncio.run(run(url, args.year, args.statements, args.explain))
    if args.write:
        write(facts, args.scale)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
