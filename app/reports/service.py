"""Reports (SPEC §5): industrial land against the targets of rule 11, the evaluation queue, and the
efficiency classes. Aggregation in SQL; classing by the pure rules of app/reports/efficiency.py."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Scope
from app.contracts.query import in_force_sql
from app.evaluations.query import EvaluationQuery, evaluation, parcel, source, status_of, where
from app.parcels.query import alive_at
from app.policy import Policy
from app.reports import efficiency
from models import District, Parcel
from models.base import current_sql

KM2 = 1_000_000.0


def _area(parcels: int, m2: float) -> dict[str, Any]:
    return {"parcels": parcels, "area_m2": round(m2, 2), "km2": round(m2 / KM2, 6)}


async def industrial_land(session: AsyncSession, policy: Policy, as_of: datetime | None, today: date
                          ) -> dict[str, Any]:
    """Industrial and R&D land not exited (status other than `recovered`), by tier, district, legacy zone
    and planning-locked base land, in km² on the ellipsoid (SPEC §2), beside the targets of rule 11."""
    p = Parcel.__table__
    exited = (p.c.status == "recovered").label("exited")
    groups: Any = literal_column("GROUPING SETS ((exited), (exited, tier), (exited, district_code), "
                            "(exited, legacy_zone), (exited, planning_locked))")
    stmt = (select(exited, p.c.tier, p.c.district_code, p.c.legacy_zone, p.c.planning_locked,
                   func.grouping(p.c.tier, p.c.district_code, p.c.legacy_zone,
                                 p.c.planning_locked).label("g"),
                   func.count().label("n"), func.coalesce(func.sum(p.c.area_m2), 0.0).label("m2"))
            .where(alive_at(p, as_of), p.c.land_use.in_(("industrial", "rnd")))
            .group_by(groups))
    rows = (await session.execute(stmt)).all()
    names = {d.code: (d.name_en, d.name_zh) for d in await session.execute(
        select(District.code, District.name_en, District.name_zh))}
    live = [r for r in rows if not r.exited]
    # grouping() bits, highest first: tier, district_code, legacy_zone, planning_locked (1 = rolled up).
    total = next((r for r in live if r.g == 0b1111), None)
    total_m2, total_n = (total.m2, total.n) if total else (0.0, 0)
    locked = next((r for r in live if r.g == 0b1110 and r.planning_locked), None)
    locked_m2, locked_n = (locked.m2, locked.n) if locked else (0.0, 0)
    gone = next((r for r in rows if r.exited and r.g == 0b1111), None)
    low, high = policy.band_2035_km2
    unnamed: tuple[str | None, str | None] = (None, None)
    km2 = total_m2 / KM2
    return {
        "as_of": (as_of.date() if as_of else today).isoformat(), "unit": "km2",
        "total": {**_area(total_n, total_m2), "target_2020_km2": policy.target_2020_km2,
                  "share_of_2020_target": round(km2 / policy.target_2020_km2, 4),
                  "band_2035_km2": [low, high], "within_2035_band": low <= km2 <= high},
        "by_tier": [{"tier": r.tier, **_area(r.n, r.m2)} for r in sorted(
            (r for r in live if r.g == 0b0111), key=lambda r: ("base", "community", "fragment").index(r.tier)
            if r.tier in ("base", "community", "fragment") else 9)],
        "by_district": [{"district_code": r.district_code, "name_en": names.get(r.district_code, unnamed)[0],
                         "name_zh": names.get(r.district_code, unnamed)[1], **_area(r.n, r.m2)}
                        for r in sorted((r for r in live if r.g == 0b1011),
                                        key=lambda r: r.district_code or "")],
        "by_legacy_zone": [{"legacy_zone": r.legacy_zone, **_area(r.n, r.m2)}
                           for r in sorted((r for r in live if r.g == 0b1101),
                                           key=lambda r: r.legacy_zone or "~")],
        "base_for_advanced_manufacturing": {**_area(locked_n, locked_m2),
                                            "target_2025_min_km2": policy.target_2025_base_am_km2,
                                            "met": locked_m2 / KM2 >= policy.target_2025_base_am_km2},
        "exited": _area(gone.n, gone.m2) if gone else _area(0, 0.0),
    }


# ------------------------------------------------------------------------------------------ evaluations due
async def evaluations_due(session: AsyncSession, today: date, within_days: int, district_code: str | None,
                          organisation_id: int | None = None) -> tuple[EvaluationQuery, dict[str, Any]]:
    """The queue: pending evaluations due within `within_days` (overdue ones included) of `district_code`
    and of `organisation_id`'s contracts (the reader's scope, SPEC §4), and its counts by district and
    stage. Returns the query (for the items) and the summary."""
    q = EvaluationQuery(today=today, statuses=("scheduled", "overdue"),
                        due_until=today + timedelta(days=within_days),
                        district_code=district_code, organisation_id=organisation_id)
    status = status_of(today)
    rows = (await session.execute(select(parcel.c.district_code, evaluation.c.stage, status.label("status"),
                                         func.count().label("n"))
                                  .select_from(source()).where(*where(q))
                                  .group_by(parcel.c.district_code, evaluation.c.stage, status))).all()
    by_district: dict[str | None, dict[str, Any]] = {}
    for r in rows:
        d = by_district.setdefault(r.district_code, {"district_code": r.district_code, "due": 0, "overdue": 0,
                                                     "by_stage": {}})
        d["due"] += r.n
        d["overdue"] += r.n if r.status == "overdue" else 0
        d["by_stage"][r.stage] = d["by_stage"].get(r.stage, 0) + r.n
    summary = {"as_of": today.isoformat(), "within_days": within_days,
               "until": (today + timedelta(days=within_days)).isoformat(),
               "due": sum(d["due"] for d in by_district.values()),
               "overdue": sum(d["overdue"] for d in by_district.values()),
               "by_district": sorted(by_district.values(), key=lambda d: d["district_code"] or "")}
    return q, summary


# ------------------------------------------------------------------------------------------ efficiency
# The latest result of each contract is found on narrow rows (ids and dates) and only then joined for its
# ratios: sorting the results with their JSON spilled to disk on the 100k demo (0.8 s against 0.45 s).
_EFFICIENCY = text(f"""
WITH latest AS (
    SELECT DISTINCT ON (e.contract_id) e.contract_id, e.id
      FROM evaluation e
     WHERE e.evaluated_on IS NOT NULL AND e.evaluated_on <= :day
     ORDER BY e.contract_id, e.evaluated_on DESC, e.id DESC
)
SELECT c.id AS contract_id, c.code AS contract_code, c.parcel_id, p.code AS parcel_code, p.district_code,
       c.enterprise_id, en.name AS enterprise_name, en.industry_code, l.id AS evaluation_id, l.evaluated_on,
       (l.ratios ->> 'tax_per_mu')::float8 AS tax_ratio,
       (l.ratios ->> 'output_per_mu')::float8 AS output_ratio,
       (l.attainment -> 'energy_per_value_added' ->> 'target')::float8 AS energy_target,
       (l.attainment -> 'energy_per_value_added' ->> 'measured')::float8 AS energy_measured,
       (l.attainment -> 'emissions_per_value_added' ->> 'target')::float8 AS emissions_target,
       (l.attainment -> 'emissions_per_value_added' ->> 'measured')::float8 AS emissions_measured,
       coalesce(CAST(:district AS text) IS NULL OR p.district_code = :district, false)
       AND (CAST(:organisation AS bigint) IS NULL OR c.responsible_org_id = :organisation) AS listed
  FROM contract c
  JOIN latest ON latest.contract_id = c.id
  JOIN evaluation l ON l.id = latest.id
  JOIN enterprise en ON en.id = c.enterprise_id
  LEFT JOIN parcel p ON p.id = c.parcel_id AND {current_sql('p')}
 WHERE {current_sql('c')} AND {in_force_sql()}
""")  # noqa: S608
COLUMNS = ("rank", "class", "score", "contract_id", "contract_code", "parcel_id", "parcel_code",
           "district_code", "enterprise_id", "enterprise_name", "industry_code", "evaluation_id",
           "evaluated_on", "tax_ratio", "output_ratio", "green_ratio")


@dataclass
class EfficiencyReport:
    """Every contract in force at the year's end (or today) with a result, ranked (best first) and classed;
    rows become dicts only for what is served."""

    year: int
    as_of: date
    rows: list[Any]
    score: np.ndarray
    green: np.ndarray
    cls: np.ndarray

    def select(self, industry_code: str | None = None) -> list[int]:
        """Positions (in rank order) of the rows listed (the query's district, `listed`) that an industry
        filter keeps; the ranking stays city-wide."""
        return [k for k, r in enumerate(self.rows)
                if r.listed and (industry_code is None or r.industry_code == industry_code)]

    def items(self, positions: Sequence[int]) -> list[dict[str, Any]]:
        """The report rows at `positions` as dicts (COLUMNS)."""
        out = []
        for k in positions:
            r, green = self.rows[k], float(self.green[k])
            out.append({"rank": k + 1, "class": efficiency.CLASSES[int(self.cls[k])],
                        "score": float(self.score[k]), **{c: getattr(r, c) for c in COLUMNS[3:-1]},
                        "green_ratio": None if not math.isfinite(green) else round(green, 4)})
        return out

    def summary(self, policy: Policy) -> dict[str, Any]:
        """Counts per class and the numbers the classes were made with."""
        counts = np.bincount(self.cls.astype(int), minlength=4) if len(self.cls) else np.zeros(4, dtype=int)
        return {"year": self.year, "as_of": self.as_of.isoformat(), "contracts": len(self.rows),
                "classes": {c: int(n) for c, n in zip(efficiency.CLASSES, counts, strict=True)},
                "weights": {"tax_per_mu": policy.efficiency_weight_tax,
                            "output_per_mu": policy.efficiency_weight_output,
                            "green": policy.efficiency_weight_green},
                "cutoffs": dict(zip(("A", "B", "C"), policy.efficiency_cutoffs, strict=True)),
                "ratio_cap": policy.efficiency_ratio_cap}


def _floats(rows: Sequence[Any], name: str) -> np.ndarray:
    if not rows:
        return np.array([], dtype=float)
    at = rows[0]._fields.index(name)
    return np.array([r[at] for r in rows], dtype=float)  # None → nan


async def efficiency_report(session: AsyncSession, policy: Policy, year: int, today: date,
                            scope: Scope | None = None) -> EfficiencyReport:
    """SPEC §5 `/reports/efficiency?year=`: each contract in force on 31 December of `year` (today for the
    current year) scored on its latest result's frozen ratios, then classed A–D by rank city-wide; only the
    contracts of `scope` (a district filter or the reader's scope: a district, an organisation, SPEC §4) are
    `listed`. The ranking needs every contract's ratios, so the query reads them all and marks in SQL which
    rows may be served."""
    day = min(date(year, 12, 31), today)
    scope = scope or Scope()
    rows = (await session.execute(_EFFICIENCY, {"day": day, "district": scope.district_code,
                                                "organisation": scope.organisation_id})).all()
    green = efficiency.green_ratios(
        [_floats(rows, "energy_target"), _floats(rows, "emissions_target")],
        [_floats(rows, "energy_measured"), _floats(rows, "emissions_measured")])
    score = efficiency.scores(_floats(rows, "tax_ratio"), _floats(rows, "output_ratio"), green, policy)
    cls = efficiency.class_indices(score, policy.efficiency_cutoffs)
    ids = np.array([r.contract_id for r in rows], dtype=np.int64)
    order = np.lexsort((ids, -score))
    return EfficiencyReport(year, day, [rows[i] for i in order], score[order], green[order], cls[order])
