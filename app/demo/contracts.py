"""Demo contracts (SPEC §7 demo data): organisations, enterprises in a handful of industries, contracts on most
supplied / under-construction / operating parcels, and years of evaluation history.

Bulk rows are COPYed; the history is then recorded year by year through the same results engine as
`POST /evaluations/{id}/result` (app/evaluations/results.py), so every frozen peer statistic, rectification
and exit candidate in the demo is what the rules make of the generated measurements. A few exit cases
are opened and completed through the exit service. Dates are relative to the service's today, and the
same seed and today give the same data.

The demo obeys the rules it demonstrates (tests/api/test_demo_rules.py checks them by SQL):
- rule 2: no `new_supply` on fragments or legacy-198 land on or after `POLICY_DATE` (the 2018 press
  release): contracts on such land are the city's history from before the lock, signed before that date;
- rule 4: every efficiency target is at least the bottom line on its signing day. The history is recorded
  in two-year epochs; at the end of an epoch every result dated before it is recorded, so the bottom line
  of each contract signed in it is exact (peers.bottom_lines' one statement), and the targets are raised
  to it (to the next 0.1) before any of its results (due three years after signing at the earliest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Actor
from app.calendar import add_months, add_years, city_today
from app.contracts.indicators import EFFICIENCY
from app.contracts.rules import Terms
from app.enterprises.uscc import check_character
from app.evaluations import peers
from app.evaluations.results import ResultInput, record_results
from app.evaluations.schedule import plan
from app.exits import service as exits
from app.parcels.bulk import driver_connection
from app.settings import Settings
from models.base import current_sql

SYSTEM = Actor(id=0, username="demo-loader", role="bureau")
TABLES = ["exit_case", "evaluation", "contract_indicator", "contract", "enterprise", "organisation"]

# GB/T 4754 divisions of the demo: baseline output and tax per mu in 2015 (万元/亩/yr), investment
# intensity (万元/亩), energy per value added (tce/万元), emissions (kg/万元), and a name stem.
INDUSTRIES: dict[str, tuple[float, float, float, float, float, str]] = {
    "C26": (750, 50, 900, 0.35, 60, "化工新材料"),
    "C27": (800, 80, 1000, 0.08, 12, "生物医药"),
    "C34": (400, 26, 550, 0.12, 20, "通用设备"),
    "C35": (450, 30, 600, 0.12, 20, "专用装备"),
    "C36": (850, 55, 1100, 0.10, 18, "汽车科技"),
    "C37": (600, 40, 900, 0.09, 15, "航空装备"),
    "C38": (550, 35, 700, 0.09, 14, "电气"),
    "C39": (900, 60, 1200, 0.06, 9, "电子信息"),
    "M73": (350, 45, 500, 0.03, 4, "研发服务"),
}
GENERAL = {"C34": 0.25, "C35": 0.2, "C38": 0.2, "C39": 0.15, "C36": 0.1, "C26": 0.1}
BY_ZONE: dict[str, dict[str, float]] = {
    "LG": {"C35": 0.3, "C38": 0.25, "C36": 0.2, "C37": 0.25},
    "CHJ": {"C39": 0.6, "M73": 0.2, "C38": 0.2},
    "ZJ": {"C39": 0.45, "C27": 0.4, "M73": 0.15},
    "SCIP": {"C26": 0.9, "C27": 0.1},
    "SIAC": {"C36": 0.85, "C38": 0.15},
}
GROWTH = 1.04  # a year
SYLLABLES = list("华申浦博新联科智芯润嘉宏宇泰恒瑞晟昊达鼎盛源锦信和安康元")
MU_M2 = 666.67
# Shanghai's press conference on the industrial-land policy (SPEC background, mission press release): from
# this day no new supply on fragments or legacy-198 land (rule 2) and the access standard (rule 4).
POLICY_DATE = date(2018, 5, 7)


@dataclass
class _Contracts:
    """Parallel arrays of the generated contracts (index = row)."""

    ids: np.ndarray
    industry: list[str]
    quality: np.ndarray
    signed: list[date]
    terms: list[Terms]
    targets: list[dict[str, float]]
    expires: list[date]
    districts: list[str | None] = field(default_factory=list)


async def load(session: AsyncSession, settings: Settings, seed: int, progress: Callable[[str], None]) -> None:
    """The demo hook (app/demo/load.py EXTENSIONS)."""
    today = city_today(settings.today)
    rng = np.random.default_rng(seed + 3)
    await session.execute(text("ALTER SEQUENCE contract_id_seq RESTART"))
    parcels = (await session.execute(text(f"""
        SELECT p.id, p.land_use, p.status, p.district_code, p.area_m2, coalesce(z.code, '') AS zone,
               (p.tier = 'fragment' OR p.legacy_zone = '198') AS supply_locked
          FROM parcel p LEFT JOIN zone z ON z.id = p.zone_id AND {current_sql('z')}
         WHERE {current_sql('p')} AND p.land_use IN ('industrial', 'rnd')
           AND p.status IN ('supplied', 'under_construction', 'operating')
         ORDER BY p.id
    """))).all()  # noqa: S608
    chosen = [p for p, keep in zip(parcels, rng.random(len(parcels)) < 0.88, strict=True) if keep]
    orgs = await _organisations(session)
    await _org_managers(session, orgs)
    made = await _contracts(session, rng, chosen, orgs, today)
    progress(f"{len(made.ids):,} contracts, {len(set(made.industry))} industries; writing the schedules")
    await _schedules(session, made)
    for table in TABLES:
        await session.execute(text(f"ANALYZE {table}"))
    recorded = await _history(session, settings, rng, made, today, progress)
    progress(f"{recorded:,} evaluation results recorded; opening a few exit cases")
    await _exit_cases(session, settings, today)


async def _org_managers(session: AsyncSession, orgs: dict[str, int]) -> None:
    """An org_manager for the industry department and for each park committee (SPEC §1 谁提出、谁管理),
    with the demo users' password (app/demo/load.py)."""
    managers = [("manager.industry", orgs["industry_department"])]
    managers += [(f"manager.{key.split(':', 1)[1].lower()}", org_id) for key, org_id in sorted(orgs.items())
                 if key.startswith("zone:")]
    await session.execute(text("""
        INSERT INTO app_user (username, password_hash, role, organisation_id, full_name)
        SELECT m.name, u.password_hash, 'org_manager', m.org, 'Demo org manager'
          FROM unnest(CAST(:names AS text[]), CAST(:orgs AS bigint[])) AS m(name, org)
          JOIN app_user u ON u.username = 'bureau'
         WHERE NOT EXISTS (SELECT 1 FROM app_user x WHERE lower(x.username) = lower(m.name))
    """), {"names": [m[0] for m in managers], "orgs": [m[1] for m in managers]})


async def _organisations(session: AsyncSession) -> dict[str, int]:
    """The bureau, an industry department, each district's government, each zone's park committee."""
    rows: list[tuple[str, str, str | None]] = [
        ("上海市规划和自然资源局 Shanghai Municipal Bureau of Planning and Natural Resources", "bureau",
         None),
        ("上海市经济和信息化委员会 Shanghai Municipal Commission of Economy and Informatization",
         "industry_department", None)]
    districts = await session.execute(text("SELECT code, name_zh, name_en FROM district ORDER BY code"))
    for code, zh, en in districts:
        rows.append((f"{zh}人民政府 {en} District Government", "district_government", code))
    for code, name, district in await session.execute(text(
            f"SELECT code, name, district_code FROM zone WHERE {current_sql()} ORDER BY code")):  # noqa: S608
        rows.append((f"{name} 管委会 (park committee {code})", "park_committee", district))
    result = await session.execute(text("""
        INSERT INTO organisation (name, kind, district_code, created_by)
        SELECT * FROM unnest(CAST(:names AS text[]), CAST(:kinds AS text[]), CAST(:districts AS text[]),
                             CAST(:by AS text[]))
        RETURNING id, kind, district_code, name
    """), {"names": [r[0] for r in rows], "kinds": [r[1] for r in rows], "districts": [r[2] for r in rows],
           "by": [SYSTEM.username] * len(rows)})
    out: dict[str, int] = {}
    for org_id, kind, district, name in result:
        if kind == "district_government":
            out[f"district:{district}"] = org_id
        elif kind == "park_committee":
            out["zone:" + name.rsplit("park committee ", 1)[1].rstrip(")")] = org_id
        else:
            out[kind] = org_id
    return out


def _industries(rng: np.random.Generator, zones: list[str], land_uses: list[str]) -> list[str]:
    """Each parcel's industry: by its zone's mix (R&D land mostly R&D services), drawn per zone at once."""
    out = [""] * len(zones)
    by_zone: dict[str, list[int]] = {}
    for k, zone in enumerate(zones):
        by_zone.setdefault(zone if zone in BY_ZONE else "", []).append(k)
    for zone, members in sorted(by_zone.items()):
        weights = BY_ZONE.get(zone, GENERAL)
        codes = list(weights)
        p = np.array(list(weights.values())) / sum(weights.values())
        for k, c in zip(members, rng.choice(len(codes), size=len(members), p=p), strict=True):
            out[k] = codes[int(c)]
    rnd = rng.random(len(zones)) < 0.6
    return ["M73" if land_uses[k] == "rnd" and rnd[k] else out[k] for k in range(len(zones))]


# Years before today a contract was signed, by the parcel's status now.
SIGNED_YEARS_AGO = {"operating": (3.0, 19.0), "under_construction": (1.0, 3.0), "supplied": (0.2, 1.6)}
# On supply-locked land (fragments, legacy 198): years before POLICY_DATE instead (rule 2 came then; land
# supplied just before it and still not built on is the demo's idle land).
LOCKED_YEARS_BEFORE = {"operating": (0.1, 11.0), "under_construction": (0.1, 2.0), "supplied": (0.1, 2.0)}


def _uscc(n: int, district: str) -> str:
    org = f"{(n * 7919 + 12345) % 10**8:08d}"  # 7919 is coprime with 10⁸: distinct for distinct n
    weights = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 check of the organisation code
    c = 11 - sum(int(d) * w for d, w in zip(org, weights, strict=True)) % 11
    body = f"91{district}{org}{'X' if c == 10 else '0' if c == 11 else c}"
    return body + check_character(body)


async def _contracts(session: AsyncSession, rng: np.random.Generator, chosen: list[Any], orgs: dict[str, int],
                     today: date) -> _Contracts:
    """Enterprises (some holding two contracts) and one contract per chosen parcel, COPYed. Random numbers
    are drawn for all contracts at once; the loop only assembles rows."""
    n = len(chosen)
    sequence = text("SELECT nextval('contract_id_seq') FROM generate_series(1, :n)")
    ids = np.array(list(await session.scalars(sequence, {"n": n})), dtype=np.int64)
    # The bottom line is the peers' mean, so about the share below the mean fails: most enterprises sit
    # a little above it, a tail of 8 % far below (they become the demo's rectification and exit cases).
    low = rng.random(n) < 0.08
    quality = np.where(low, rng.uniform(0.3, 0.8, n), rng.normal(1.15, 0.02, n))
    industries = _industries(rng, [p.zone for p in chosen], [p.land_use for p in chosen])
    reuse, pick, syllables = rng.random(n) < 0.2, rng.random(n), rng.integers(0, len(SYLLABLES), (n, 2))
    age, lease = rng.random(n), rng.random(n) < 0.03
    terms_drawn = rng.choice([20, 30, 50], size=n, p=[0.8, 0.1, 0.1])
    intervals = rng.choice([5, 4, 3], size=n, p=[0.7, 0.1, 0.2])
    factors = rng.uniform(0.8, 0.95, (n, 2))
    invest, energy, emissions = rng.uniform(0.9, 1.1, n), rng.uniform(0.9, 1.2, n), rng.uniform(0.9, 1.2, n)
    jobs, rnd_share = rng.uniform(1.0, 3.0, n), rng.uniform(3, 8, n)
    park, phased = rng.random(n) < 0.7, rng.random(n) < 0.15
    enterprises: list[tuple[str, str, str]] = []
    by_industry: dict[str, list[int]] = {}
    contract_rows, indicator_rows = [], []
    made = _Contracts(ids, industries, quality, [], [], [], [])
    for k, p in enumerate(chosen):
        industry = industries[k]
        pool = by_industry.setdefault(industry, [])
        if pool and reuse[k]:
            enterprise = pool[int(pick[k] * len(pool))]
        else:
            enterprise = len(enterprises)
            brand = SYLLABLES[syllables[k, 0]] + SYLLABLES[syllables[k, 1]]
            name = f"上海{brand}{INDUSTRIES[industry][5]}有限公司"
            enterprises.append((name, _uscc(enterprise, p.district_code or "310000"), industry))
            pool.append(enterprise)
        low_years, high_years = (LOCKED_YEARS_BEFORE if p.supply_locked else SIGNED_YEARS_AGO)[p.status]
        since = min(POLICY_DATE, today) if p.supply_locked else today
        signed = since - timedelta(days=int((low_years + age[k] * (high_years - low_years)) * 365.25))
        term = 10 if lease[k] else int(terms_drawn[k])
        t = Terms(signed, term, int(intervals[k]), 3, add_months(signed, 6))
        out, tax, invest_base, energy_base, emissions_base, _ = INDUSTRIES[industry]
        grow = GROWTH ** ((signed.year - 2015) + signed.timetuple().tm_yday / 365.25)
        targets = {"output_per_mu": round(out * grow * factors[k, 0], 1),
                   "tax_per_mu": round(tax * grow * factors[k, 1], 1),
                   "investment_intensity": float(round(invest_base * invest[k])),
                   "energy_per_value_added": round(energy_base * energy[k], 3),
                   "jobs": float(max(10, round(p.area_m2 / MU_M2 * jobs[k])))}
        if p.land_use == "rnd":
            targets["rnd_intensity"] = round(float(rnd_share[k]), 1)
        if industry in ("C26", "C36"):
            targets["emissions_per_value_added"] = round(emissions_base * emissions[k], 1)
        # 谁提出、谁管理: a park's committee proposes most of its land, the industry department R&D land outside
        # the parks' share, the district government the rest.
        zone_org = orgs.get(f"zone:{p.zone}")
        org = (zone_org if zone_org is not None and park[k]
               else orgs["industry_department"] if p.land_use == "rnd" else orgs[f"district:{p.district_code}"])
        method = "lease" if lease[k] else "lease_then_grant" if phased[k] else "grant"
        contract_rows.append((int(ids[k]), 1, SYSTEM.username, f"HT-{int(ids[k]):06d}", p.id, enterprise, org,
                              "new_supply", method, signed, term, t.evaluation_interval_years, 3, t.start_by,
                              "active", 1))
        indicator_rows += [(int(ids[k]), 1, code, value) for code, value in targets.items()]
        made.signed.append(signed)
        made.terms.append(t)
        made.targets.append(targets)
        made.expires.append(add_years(signed, term))
        made.districts.append(p.district_code)
    inserted = await session.execute(text("""
        INSERT INTO enterprise (name, uscc, industry_code, created_by)
        SELECT * FROM unnest(CAST(:names AS text[]), CAST(:codes AS text[]), CAST(:industries AS text[]),
                             CAST(:by AS text[]))
        RETURNING uscc, id
    """), {"names": [e[0] for e in enterprises], "codes": [e[1] for e in enterprises],
           "industries": [e[2] for e in enterprises], "by": [SYSTEM.username] * len(enterprises)})
    by_uscc = {code: eid for code, eid in inserted}
    contract_rows = [(*r[:5], by_uscc[enterprises[r[5]][1]], *r[6:]) for r in contract_rows]
    apg = await driver_connection(session)
    await apg.copy_records_to_table("contract", records=contract_rows, columns=[
        "id", "version", "changed_by", "code", "parcel_id", "enterprise_id", "responsible_org_id", "kind",
        "supply_method", "signed_on", "term_years", "evaluation_interval_years", "commissioning_years",
        "start_by", "status", "terms_version"])
    await apg.copy_records_to_table("contract_indicator", records=indicator_rows,
                                    columns=["contract_id", "contract_version", "code", "target"])
    return made


async def _schedules(session: AsyncSession, made: _Contracts) -> None:
    """Rule 5's schedule of every contract, COPYed."""
    rows = [(int(cid), d.stage, d.seq, d.due_on) for cid, t in zip(made.ids, made.terms,
                                                                   strict=True) for d in plan(t)]
    apg = await driver_connection(session)
    await apg.copy_records_to_table("evaluation", records=rows, columns=["contract_id", "stage", "seq",
                                                                         "due_on"])


def _measure(rng: np.random.Generator, made: _Contracts, k: int, day: date) -> dict[str, float]:
    """What contract k measures on `day`: its industry's level that year times its quality and noise."""
    out, tax, _, _, _, _ = INDUSTRIES[made.industry[k]]
    q = float(made.quality[k])
    grow = GROWTH ** ((day.year - 2015) + day.timetuple().tm_yday / 365.25)
    good = q >= 0.9
    values = {"output_per_mu": round(out * grow * q * float(rng.lognormal(0, 0.015)), 1),
              "tax_per_mu": round(tax * grow * q * float(rng.lognormal(0, 0.015)), 1)}
    for code, target in made.targets[k].items():
        if code in values:
            continue
        if code in ("energy_per_value_added", "emissions_per_value_added"):  # at most the target
            values[code] = round(target * float(rng.uniform(0.55, 0.98) if good else rng.uniform(0.8, 1.3)),
                                 3)
        else:
            values[code] = round(target * float(rng.uniform(0.98, 1.4) if good else rng.uniform(0.7, 1.1)), 1)
    return values


async def _history(session: AsyncSession, settings: Settings, rng: np.random.Generator, made: _Contracts,
                   today: date, progress: Callable[[str], None]) -> int:
    """Epoch by epoch (two years), every pending evaluation due before the epoch's end is measured and
    recorded through the results engine, one per contract per call; then the contracts signed before that
    end get their targets raised to their bottom line at signing (rule 4). The latest months are left
    partly unrecorded (overdue): a contract whose evaluation is left open records nothing after it."""
    index = {int(cid): k for k, cid in enumerate(made.ids)}
    order = sorted(range(len(made.ids)), key=lambda k: made.signed[k])
    last: dict[int, date] = {}
    stalled: list[int] = []
    recent = today - timedelta(days=240)
    total = fixed = 0
    first_year = min(made.signed).year + 1
    ends = [d for d in (date(y, 1, 1) for y in range(first_year, today.year + 1, 2)) if d < today] + [today]
    for until in ends:
        recorded = 0
        while rows := (await session.execute(text(f"""
            SELECT DISTINCT ON (e.contract_id) e.id, e.contract_id, e.due_on
              FROM evaluation e JOIN contract c ON c.id = e.contract_id AND {current_sql('c')}
             WHERE e.evaluated_on IS NULL AND e.cancelled_on IS NULL AND e.due_on < :until
               AND c.status IN ('active', 'rectification') AND e.contract_id <> ALL(CAST(:stalled AS bigint[]))
             ORDER BY e.contract_id, e.due_on, e.id
        """), {"until": until, "stalled": stalled})).all():  # noqa: S608
            inputs = []
            for eval_id, contract_id, due_on in rows:
                k = index[contract_id]
                day = due_on + timedelta(days=int(rng.integers(0, 46)))
                day = max(day, last.get(contract_id, day - timedelta(days=1)) + timedelta(days=1))
                day = min(day, today - timedelta(days=1), made.expires[k] - timedelta(days=1))
                if (due_on >= recent and rng.random() < 0.45) or day < made.signed[k] \
                        or day <= last.get(contract_id, date.min):
                    stalled.append(contract_id)  # not evaluated yet: overdue in the demo
                    continue
                last[contract_id] = day
                inputs.append(ResultInput(int(eval_id), day, _measure(rng, made, k, day)))
            if inputs:
                done = await record_results(session, SYSTEM, settings.policy, inputs, today, audit_each=False)
                recorded += len(inputs)
                progress(f"  before {until.isoformat()}: {len(inputs):,} results, {done.consequences}")
        total += recorded
        fixed = await _targets_at_signing(session, settings, made, order, fixed, until)
    return total


async def _targets_at_signing(session: AsyncSession, settings: Settings, made: _Contracts, order: list[int],
                              fixed: int, until: date) -> int:
    """Rule 4 for the contracts signed before `until` (from `order[fixed]` on): every result dated before
    `until` is recorded, so their bottom lines at signing are final; efficiency targets below one are
    raised to it (to the next 0.1). None of these contracts has a result yet (the first is due three
    years after signing). Returns the new count of fixed contracts."""
    ks = []
    while fixed < len(order) and made.signed[order[fixed]] < until:
        ks.append(order[fixed])
        fixed += 1
    if not ks:
        return fixed
    points = [pt for k in ks for pt in peers.points_for(made.signed[k], made.industry[k], made.districts[k])]
    sums = await peers.peer_sums(session, points)
    raised: list[tuple[int, str, Decimal]] = []
    for k in ks:
        groups = peers.groups_for(sums, made.signed[k], made.industry[k], made.districts[k], settings.policy)
        for code in EFFICIENCY:
            line = groups[code].bottom_line
            if Decimal(repr(float(made.targets[k][code]))) < line:
                target = line.quantize(Decimal("0.1"), rounding=ROUND_CEILING)
                made.targets[k][code] = float(target)
                raised.append((int(made.ids[k]), code, target))
    if raised:
        await session.execute(text("""
            UPDATE contract_indicator i SET target = u.target
              FROM unnest(CAST(:ids AS bigint[]), CAST(:codes AS text[]), CAST(:targets AS numeric[]))
                   AS u(contract_id, code, target)
             WHERE i.contract_id = u.contract_id AND i.contract_version = 1 AND i.code = u.code
        """), {"ids": [r[0] for r in raised], "codes": [r[1] for r in raised],
               "targets": [r[2] for r in raised]})
    return fixed


async def _exit_cases(session: AsyncSession, settings: Settings, today: date) -> None:
    """A few exit cases for the first candidates: some open, some completed."""
    _, candidates = await exits.list_candidates(session, settings.policy, today, 10_000, 0)
    since: dict[int, date] = {}
    for c in candidates:
        if c["reason"] in ("failed_rectification", "repeated_below_bottom_line"):
            since.setdefault(c["contract_id"], c["since"])
    # An exit case takes its contract out of force (the peer groups) from its opening: opened after the
    # last signing, every contract's bottom line at signing stays what its targets were raised to (rule 4).
    last_signed = await session.scalar(text("SELECT max(signed_on) FROM contract")) or today
    for n, (contract_id, shown) in enumerate(list(since.items())[:12]):
        opened = min(today, max(shown + timedelta(days=7), today - timedelta(days=90),
                                last_signed + timedelta(days=1)))
        case = await exits.open_case(session, SYSTEM, settings.policy, contract_id, ("recovery",
                                                                                     "buyback")[n % 2],
                                     f"沪规划资源〔{today.year}〕{100 + n}号", today, opened_on=opened)
        if n % 3 != 2:
            await exits.complete_case(session, SYSTEM, settings.policy, case, today,
                                      completed_on=min(today, opened + timedelta(days=21)))

