"""Demo delivered figures and 亩均 ratings (SPEC §7 demo data; §4 data_provider, §5 batches and ratings):
every department delivers its figures of the last three complete years for the enterprises with contracts
in force, through the delivery service (app/measurements/service.py) as the demo's provider.* users, and
the bureau rates the three years through the same `rate_year` as `POST /ratings/{year}`.

An enterprise's figures of a year follow the demo's evaluation history: each contract in force on 31 Dec
produces what its latest evaluation measured (output and tax per mu, investment intensity, jobs, energy and
emissions per value added, R&D share) grown 4 % a year since, or, before its first result, around its
targets; times its land in mu, summed over the enterprise's contracts, with noise per enterprise and year.
Deliberately, the demo also has:
- a few enterprises weak three years running (a fraction of what their history shows), the demo's
  `repeated_class_d` exit candidates when they rank in their district's bottom share each year;
- the enterprises on the city's few small plots (under 3 mu, app/demo/city.py) not rated;
- a few enterprises whose energy and environment figures are delivered per contract code, not per USCC;
- the tax department's last year delivered twice: a first batch with a few misplaced decimal points, then
  the corrected batch, which wins (the latest batch of a figure stands).
Random numbers are drawn for all rows at once (seeded); the same seed and today give the same data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Actor
from app.calendar import city_today
from app.demo.contracts import INDUSTRIES
from app.measurements.figures import FIGURES, M2_PER_MU, SOURCES
from app.measurements.rules import Entry
from app.measurements.service import deliver
from app.ratings.service import rate_year
from app.settings import Settings
from models.base import current_sql

SYSTEM = Actor(id=0, username="demo-loader", role="bureau")
TABLES = ["rating", "rating_run", "measurement", "measurement_batch"]  # replaced and analysed by app/demo/load.py
YEARS = 3  # the last three complete years
# Enterprises per delivered batch: the delivery service looks a batch's USCCs up in one IN list, which
# asyncpg caps at 32,767 parameters.
CHUNK = 25_000
GROWTH = 1.04  # a year, as the demo's history (app/demo/contracts.py)
# Value added as a share of output, and R&D spending as a share of output (%) where no contract sets one.
VALUE_ADDED = {"C26": 0.22, "C27": 0.38, "C34": 0.26, "C35": 0.27, "C36": 0.24, "C37": 0.3, "C38": 0.27,
               "C39": 0.25, "M73": 0.45}
RND_SHARE = 2.5
WEAK_SHARE, WEAK_FACTOR = 0.01, 0.45  # enterprises weak three years running, and how weak
SHORT_SWING = 0.3  # σ of the yearly swing (log) of an enterprise short of its commitments
RECOVERY = 0.5  # at most, the yearly recovery of an enterprise short of its commitments
BY_CONTRACT_SHARE = 0.03  # single-contract enterprises whose energy and environment figures name the contract
SLIPPED_SHARE = 0.02  # tax values of the first (later corrected) batch with a misplaced decimal point

# Per year and enterprise: its contracts in force on 31 Dec (as the rating's land), each producing its
# latest measured levels grown since (else its targets × a factor drawn per contract by a hash of its id).
_HELD = text(f"""
WITH years AS (SELECT unnest(CAST(:years AS int[])) AS year),
per AS (
    SELECT y.year, c.id, c.code, c.enterprise_id, p.area_m2 / :m2_per_mu AS mu,
           power(:growth, (make_date(y.year, 6, 30) - coalesce(last.evaluated_on, c.signed_on)) / 365.25) AS grow,
           CASE WHEN last.measurements IS NULL
                THEN 0.95 + 0.25 * ((hashint8(c.id + :seed) % 1000 + 1000) % 1000) / 1000.0 ELSE 1 END AS factor,
           coalesce(last.outcome <> 'pass', false) AS short,
           coalesce((last.measurements->>'output_per_mu')::float8, t.output_per_mu) AS out,
           coalesce((last.measurements->>'tax_per_mu')::float8, t.tax_per_mu) AS tax,
           coalesce((last.measurements->>'investment_intensity')::float8, t.investment_intensity, 500) AS inv,
           coalesce((last.measurements->>'jobs')::float8, t.jobs, p.area_m2 / :m2_per_mu * 2) AS jobs,
           coalesce((last.measurements->>'energy_per_value_added')::float8, t.energy * 0.85) AS energy,
           coalesce((last.measurements->>'emissions_per_value_added')::float8, t.emissions * 0.85) AS emissions,
           coalesce((last.measurements->>'rnd_intensity')::float8, t.rnd, :rnd_share) AS rnd
      FROM years y
      JOIN contract c ON {current_sql('c')} AND c.signed_on <= make_date(y.year, 12, 31)
       AND c.expires_on > make_date(y.year, 12, 31)
       AND (c.ended_on IS NULL OR c.ended_on > make_date(y.year, 12, 31))
      JOIN parcel p ON p.id = c.parcel_id AND {current_sql('p')}
      LEFT JOIN LATERAL (
           SELECT max(i.target) FILTER (WHERE i.code = 'output_per_mu')::float8 AS output_per_mu,
                  max(i.target) FILTER (WHERE i.code = 'tax_per_mu')::float8 AS tax_per_mu,
                  max(i.target) FILTER (WHERE i.code = 'investment_intensity')::float8 AS investment_intensity,
                  max(i.target) FILTER (WHERE i.code = 'jobs')::float8 AS jobs,
                  min(i.target) FILTER (WHERE i.code = 'energy_per_value_added')::float8 AS energy,
                  min(i.target) FILTER (WHERE i.code = 'emissions_per_value_added')::float8 AS emissions,
                  max(i.target) FILTER (WHERE i.code = 'rnd_intensity')::float8 AS rnd
             FROM contract_indicator i WHERE i.contract_id = c.id AND i.contract_version = c.terms_version) t
        ON true
      LEFT JOIN LATERAL (SELECT x.measurements, x.evaluated_on, x.outcome FROM evaluation x
                          WHERE x.contract_id = c.id AND x.evaluated_on IS NOT NULL
                          ORDER BY x.evaluated_on DESC, x.id DESC LIMIT 1) last ON true
)
SELECT per.year, per.enterprise_id, en.uscc, en.industry_code, count(*) AS contracts,
       (array_agg(per.code ORDER BY per.id))[1] AS code, sum(per.mu) AS mu,
       sum(per.mu * per.out * per.grow * per.factor) AS output,
       sum(per.mu * per.tax * per.grow * per.factor) AS tax,
       bool_or(per.short) AS short,
       sum(per.mu * per.inv) AS inv, sum(per.jobs) AS jobs,
       sum(per.mu * per.out * per.energy) / nullif(sum(per.mu * per.out) FILTER (WHERE per.energy IS NOT NULL), 0)
           AS energy,
       sum(per.mu * per.out * per.emissions)
           / nullif(sum(per.mu * per.out) FILTER (WHERE per.emissions IS NOT NULL), 0) AS emissions,
       sum(per.mu * per.out * per.rnd) / nullif(sum(per.mu * per.out), 0) AS rnd
  FROM per JOIN enterprise en ON en.id = per.enterprise_id
 GROUP BY per.year, per.enterprise_id, en.uscc, en.industry_code
 ORDER BY per.year, per.enterprise_id
""")  # noqa: S608 (constant)


async def load(session: AsyncSession, settings: Settings, seed: int, progress: Callable[[str], None]) -> None:
    """The demo hook (app/demo/load.py EXTENSIONS), after the contracts slice."""
    today = city_today(settings.today)
    years = list(range(today.year - YEARS, today.year))
    rng = np.random.default_rng(seed + 23)
    rows = (await session.execute(_HELD, {"years": years, "m2_per_mu": float(M2_PER_MU), "growth": GROWTH,
                                          "rnd_share": RND_SHARE, "seed": seed})).all()
    if not rows:
        progress("no contracts in force in the last three years: no figures delivered")
        return
    figures = _figures(rng, rows, years)
    providers = {source: Actor(id=uid, username=name, role="data_provider", source=source)
                 for uid, name, source in await session.execute(text(
                     "SELECT id, username, source FROM app_user WHERE role = 'data_provider' "
                     "AND username = 'provider.' || source"))}
    values = batches = 0
    for year in years:
        for source in SOURCES:
            actor = providers.get(source, SYSTEM)  # the bureau delivers on behalf of a department without one
            slipped = source == "tax" and year == years[-1]
            first = f"{source}-{year}.json" if slipped else None
            for entries in _batches(figures, year, source, slipped):
                await deliver(session, actor, source, year, entries, "json", first, False, today.year)
                values, batches = values + len(entries), batches + 1
            if slipped:  # the department's corrected batch, delivered later: its values stand
                for entries in _batches(figures, year, source, False):
                    await deliver(session, actor, source, year, entries, "json", f"{source}-{year}-corrected.json",
                                  False, today.year)
                    values, batches = values + len(entries), batches + 1
    progress(f"{values:,} figures delivered in {batches} batches ({years[0]}–{years[-1]}); rating the years")
    for year in years:
        run = await rate_year(session, SYSTEM, settings.policy, year, today)
        progress(f"  亩均 {year}: {run['rated']:,} of {run['enterprises']:,} enterprises rated, {run['classes']}")


def _figures(rng: np.random.Generator, rows: Sequence[Any], years: list[int]) -> dict[str, Any]:
    """Every figure of every (year, enterprise) row as arrays, with noise; the weak enterprises and the
    per-contract subjects chosen."""
    n = len(rows)
    col = {k: np.array([(r._mapping[k] if r._mapping[k] is not None else np.nan) for r in rows], dtype=float)
           for k in ("mu", "output", "tax", "inv", "jobs", "energy", "emissions", "rnd")}
    enterprise = np.array([r.enterprise_id for r in rows], dtype=np.int64)
    year = np.array([r.year for r in rows], dtype=np.int64)
    industry = [r.industry_code or "C34" for r in rows]
    # Short of its commitments: its latest result (of a contract) below the bottom line. Weak three years
    # running: a few of those on rated land (≥ 3 mu) in force every year produce a fraction of it.
    everywhere = {e for e, k in zip(*np.unique(enterprise[col["mu"] >= 3], return_counts=True), strict=True)
                  if k == len(years)}
    short = sorted({int(r.enterprise_id) for r in rows if r.short})
    pool = [e for e in short if e in everywhere] or sorted(everywhere)
    wanted = min(len(pool), max(3, round(WEAK_SHARE * len(everywhere))))
    weak = set(int(e) for e in rng.choice(pool, size=wanted, replace=False)) if wanted else set()
    # An enterprise short of its commitments swings more from year to year, and most recover a little
    # each year (rectification): some climb out of the bottom class, some slip.
    ids = np.unique(enterprise)
    recovery = dict(zip(ids.tolist(), rng.uniform(0, RECOVERY, len(ids)).tolist(), strict=True))
    climb = np.array([(1 + recovery[int(e)]) ** int(y - years[0]) for e, y in zip(enterprise, year, strict=True)])
    swing = np.where(np.isin(enterprise, short), climb * rng.lognormal(0, SHORT_SWING, n), 1.0)
    weak_rows = np.isin(enterprise, list(weak))
    factor = np.where(weak_rows, WEAK_FACTOR, swing)
    noise = rng.lognormal(0, 0.05, (n, 6))
    output = col["output"] * factor * noise[:, 0]
    value_added = output * np.array([VALUE_ADDED.get(i, 0.27) for i in industry]) * noise[:, 1]
    base_emissions = np.array([INDUSTRIES.get(i, INDUSTRIES["C34"])[4] for i in industry], dtype=float)
    # Energy per value added as measured; the weak waste energy as well.
    energy = np.where(np.isnan(col["energy"]), 0.1, col["energy"]) / np.where(weak_rows, 0.7, 1.0)
    emissions = np.where(np.isnan(col["emissions"]), base_emissions * 0.8, col["emissions"])
    values = {
        "tax_paid": col["tax"] * factor * noise[:, 2],
        "output_value": output,
        "value_added": value_added,
        "rnd_spending": output * np.nan_to_num(col["rnd"], nan=RND_SHARE) / 100 * noise[:, 3],
        "jobs": np.maximum(1, np.round(col["jobs"] * rng.uniform(0.95, 1.3, n))),
        "fixed_investment": col["inv"] * col["mu"] * (1 + 0.02 * (year - years[0])),
        "energy_use": value_added * energy * noise[:, 4],
        "emissions": value_added * emissions * noise[:, 5],
    }
    single = np.array([r.contracts == 1 for r in rows])
    by_contract = _by_contract(rng, enterprise, single)
    return {"year": year, "uscc": [r.uscc for r in rows], "code": [r.code for r in rows],
            "by_contract": by_contract, "slipped": rng.random(n) < SLIPPED_SHARE,
            "values": {k: np.round(np.nan_to_num(v), 0 if k == "jobs" else 2).tolist() for k, v in values.items()}}


def _by_contract(rng: np.random.Generator, enterprise: np.ndarray, single: np.ndarray) -> np.ndarray:
    """Rows whose energy and environment figures name the contract: a few enterprises holding one."""
    candidates = np.unique(enterprise[single])
    if not len(candidates):
        return np.zeros(len(enterprise), dtype=bool)
    chosen = rng.choice(candidates, size=max(1, round(BY_CONTRACT_SHARE * len(candidates))), replace=False)
    return np.isin(enterprise, chosen) & single


def _batches(figures: dict[str, Any], year: int, source: str, slip: bool) -> list[list[Entry]]:
    """One department's entries of a year, in batches of CHUNK enterprises; `slip`: the first delivery of
    a batch later corrected (a few values ten times too large)."""
    codes = [code for code, f in FIGURES.items() if f.source == source]
    per_contract = source in ("energy", "environment")
    rows = np.flatnonzero(figures["year"] == year).tolist()
    out = []
    for start in range(0, len(rows), CHUNK):
        entries: list[Entry] = []
        for k in rows[start:start + CHUNK]:
            contract = per_contract and bool(figures["by_contract"][k])
            uscc, code = (None, figures["code"][k]) if contract else (figures["uscc"][k], None)
            for figure in codes:
                value = figures["values"][figure][k]
                if slip and figures["slipped"][k]:
                    value = round(value * 10, 2)
                entries.append(Entry(len(entries) + 1, uscc, code, figure, value))
        out.append(entries)
    return out
