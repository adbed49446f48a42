"""A year's evaluations recorded from delivered figures: on the bench's demo city (`make bench` loads it once
per scale), every department delivers a year of figures for every enterprise with a contract in force
(through the delivery service, app/measurements/service.py), then the year's record
(app/evaluations/year.py, `POST /evaluations/results`) measures and records every evaluation due that year
in one call; both are timed, the record by phase.

    .venv/bin/python -m bench delivered [--scale 100k] [--year Y] [--write]
    make bench BENCH_ARGS="delivered --write"

Everything runs in one transaction that is rolled back, so the city is unchanged and runs repeat. The year
defaults to next year (all of its evaluations still pending; recorded on its last day). Figures are drawn
per enterprise from its land (deterministic per enterprise: PostgreSQL's hash of its id), so some fall
below their targets and bottom lines and rule 7 has consequences to write. `--write` appends the numbers
to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Actor
from app.db import create_engine
from app.evaluations import year as year_record
from app.measurements.figures import FIGURES
from app.measurements.rules import Entry
from app.measurements.service import deliver
from app.settings import Settings
from bench.database import prepare, say

RESULTS = Path(__file__).with_name("RESULTS.md")
BENCH = Actor(id=0, username="bench", role="bureau")
T = TypeVar("T")

# Per enterprise: its land in mu under contracts in force on the year's last day, and a draw in [0, 1).
_ENTERPRISES = text("""
SELECT en.uscc, sum(p.area_m2) * 15 / 10000 AS mu,
       ((hashint8(en.id)::bigint % 10000 + 10000) % 10000) / 10000.0 AS r
  FROM contract c JOIN parcel p ON p.id = c.parcel_id AND p.valid_to IS NULL
  JOIN enterprise en ON en.id = c.enterprise_id
 WHERE c.valid_to IS NULL AND c.signed_on <= :end AND c.expires_on > :end
   AND (c.ended_on IS NULL OR c.ended_on > :end)
 GROUP BY en.id, en.uscc
""")


def figures_for(mu: Decimal, r: Decimal) -> dict[str, Decimal]:
    """A year of an enterprise's figures: output 250–1,450 万元 per mu, tax 12–72 万元 per mu (about one in
    ten below the floors), value added a quarter of output, the rest in proportion."""
    output = mu * (250 + 1200 * r)
    value_added = output / 4
    q = Decimal("0.0001")
    return {k: v.quantize(q) for k, v in {
        "tax_paid": mu * (12 + 60 * r), "output_value": output, "value_added": value_added,
        "rnd_spending": output * Decimal("0.03"), "jobs": (mu * 2).quantize(Decimal(1)),
        "fixed_investment": mu * 500, "energy_use": value_added * Decimal("0.3"),
        "emissions": value_added * 2}.items()}


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


async def run(url: str, year: int | None) -> dict[str, Any]:
    settings = Settings(database_url=url)
    year = year or date.today().year + 1
    end = date(year, 12, 31)
    engine = create_engine(settings, statement_timeout_ms=3_600_000, pool_size=1, max_overflow=0)
    log: list[tuple[str, float]] = []
    facts: dict[str, Any] = {"year": year}
    async with engine.connect() as conn:
        trans = await conn.begin()
        session = AsyncSession(bind=conn)
        facts["contracts"] = await session.scalar(text("SELECT count(*) FROM contract WHERE valid_to IS NULL"))
        rows = (await session.execute(_ENTERPRISES, {"end": end})).all()
        facts["enterprises"] = len(rows)
        by_source: dict[str, list[Entry]] = {}
        for r in rows:
            for code, value in figures_for(Decimal(r.mu), Decimal(r.r)).items():
                entries = by_source.setdefault(FIGURES[code].source, [])
                entries.append(Entry(len(entries) + 1, r.uscc, None, code, value))
        facts["values"] = sum(len(e) for e in by_source.values())

        async def deliver_all() -> None:
            for source, entries in by_source.items():
                await deliver(session, BENCH, source, year, entries, "json", None, False, this_year=year)

        await timed(f"deliver {facts['values']:,} figures of {len(rows):,} enterprises (4 batches)", deliver_all,
                    log)
        _instrument(log)
        done = await timed(f"year record {year}", lambda: year_record.record_year(
            session, BENCH, settings.policy, year, end, end), log)
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
    parser.add_argument("--write", action="store_true", help="append the numbers to bench/RESULTS.md")
    args = parser.parse_args(argv)
    url, parcels = prepare(args.scale)
    say(f"{parcels:,} current parcels")
    facts = asyncio.run(run(url, args.year))
    if args.write:
        write(facts, args.scale)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
