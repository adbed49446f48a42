"""亩均 ratings on PostGIS: a year rated from delivered figures (the latest batch of each figure, contract
figures summed into their enterprise, land of the contracts in force on 31 Dec), small plots and firms
without figures not rated, reads within each role's scope, CSV, re-rating replacing and audited, the map
layer's parcel classes; and the consequence: D in three consecutive years makes the enterprise's contracts
exit candidates (`repeated_class_d`) when the policy says three, not when it says four."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from models import AppUser
from tests.builders import EAST, _hash, basic, create_parcel, square
from tests.contract_builders import SITES, contract, enterprise, operate, organisation, parcel

API = "/api/v1"
TODAY = date(2026, 6, 1)
# Five firms of one district reach D only with a C cut-off below 0.95 (share beaten ≥ 0.8: the fifth).
SETTINGS = {"today": TODAY, "rating_cutoff_c": 0.8}
pytestmark = pytest.mark.settings(**SETTINGS)
SOURCE = {"tax_paid": "tax", "output_value": "statistics", "energy_use": "energy"}


async def deliver(db: Any, year: int, rows: list[tuple[str, int, str, float]]) -> None:
    """One batch per department of (subject kind "enterprise" | "contract", id, figure, value) rows."""
    by_source: dict[str, list[tuple[str, int, str, float]]] = {}
    for row in rows:
        by_source.setdefault(SOURCE[row[2]], []).append(row)
    async with db.session() as s:
        for source, values in by_source.items():
            batch = await s.scalar(text(
                "INSERT INTO measurement_batch (source, year, format, rows, accepted, refused, delivered_by) "
                "VALUES (:source, :year, 'json', :n, :n, 0, 'test') RETURNING id"),
                {"source": source, "year": year, "n": len(values)})
            for kind, subject, figure, value in values:
                await s.execute(text(
                    "INSERT INTO measurement (batch_id, source, year, enterprise_id, contract_id, figure, value) "
                    "VALUES (:b, :s, :y, :e, :c, :f, :v)"),
                    {"b": batch, "s": source, "y": year, "e": subject if kind == "enterprise" else None,
                     "c": subject if kind == "contract" else None, "f": figure, "v": value})


def figures(ent: int, tax: float, output: float, energy: float = 100.0) -> list[tuple[str, int, str, float]]:
    return [("enterprise", ent, "tax_paid", tax), ("enterprise", ent, "output_value", output),
            ("enterprise", ent, "energy_use", energy)]


async def five_firms(client: Any, signed_on: date = date(2023, 1, 1)) -> dict[str, Any]:
    """Five operating enterprises on one 100 m parcel each (≈ 15 mu, east district), one on a 40 m plot (2.4 mu)
    and one without figures; contracts managed by one organisation."""
    org = await organisation(client, EAST)
    firms, contracts = [], []
    for _ in range(5):
        ent = await enterprise(client)
        c = await contract(client, (await parcel(client))["id"], ent, org, signed_on)
        await operate(client, c["parcel_id"], on=signed_on)  # built and operating: no idle land
        firms.append(ent)
        contracts.append(c)
    small = await enterprise(client)
    lon, lat = SITES["base"]
    plot = await create_parcel(client, square(lon + 0.03, lat + 0.03, side_m=40.0), code="P-small")
    small_contract = await contract(client, plot["id"], small, org, signed_on)
    silent = await enterprise(client)
    await contract(client, (await parcel(client))["id"], silent, org, signed_on)
    return {"org": org, "firms": firms, "contracts": contracts, "small": small, "small_contract": small_contract,
            "silent": silent}


async def rate(client: Any, year: int, user: str = "bureau", expect: int = 200) -> dict[str, Any]:
    r = await client.post(f"{API}/ratings/{year}", headers=basic(user))
    assert r.status_code == expect, r.text
    out: dict[str, Any] = r.json()
    return out


async def ratings(client: Any, user: str = "viewer", **params: Any) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/ratings", params={"limit": 100, **params}, headers=basic(user))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def year_of_figures(db: Any, t: dict[str, Any], year: int, last_tax: float = 50.0) -> None:
    f = t["firms"]
    await deliver(db, year, [*figures(f[0], 500, 5000), *figures(f[1], 400, 4000), *figures(f[2], 300, 3000),
                             *figures(f[3], 200, 2000), *figures(f[4], last_tax, 500),
                             *figures(t["small"], 900, 9000)])


async def test_a_year_rated_from_the_delivered_figures(client, city, db):
    t = await five_firms(client)
    f = t["firms"]
    # Firm 1's output first 1000, then corrected to 5000 in a later batch (the latest batch counts); firm
    # 2's tax delivered for its contract, not for the enterprise (summed into it).
    await deliver(db, 2025, [("enterprise", f[0], "output_value", 1000)])
    await deliver(db, 2025, [*figures(f[0], 500, 5000), ("contract", t["contracts"][1]["id"], "tax_paid", 400),
                             ("enterprise", f[1], "output_value", 4000), ("enterprise", f[1], "energy_use", 100),
                             *figures(f[2], 300, 3000), *figures(f[3], 200, 2000), *figures(f[4], 50, 500),
                             *figures(t["small"], 900, 9000)])
    run = await rate(client, 2025)
    assert (run["year"], run["enterprises"], run["rated"], run["unrated"]) == (2025, 7, 5, 2)
    assert run["classes"] == {"A": 1, "B": 2, "C": 1, "D": 1}
    assert run["policy"]["weights"] == {"tax_per_mu": 45.0, "output_per_mu": 35.0, "tax_per_energy": 20.0}
    got = {r["enterprise_id"]: r for r in await ratings(client, year=2025)}
    # Tax, output and tax per energy all fall from firm 1 to firm 5: ranks 1–5 of 5, shares beaten
    # 0, 0.2, 0.4, 0.6, 0.8 → A, B, B, C, D (cut-offs 0.20 / 0.60 / 0.80).
    assert [(got[e]["rank"], got[e]["group_size"], got[e]["class"]) for e in f] == [
        (1, 5, "A"), (2, 5, "B"), (3, 5, "B"), (4, 5, "C"), (5, 5, "D")]
    first = got[f[0]]
    assert first["figures"] == {"energy_use": 100.0, "output_value": 5000.0, "tax_paid": 500.0}
    assert got[f[1]]["figures"]["tax_paid"] == 400.0  # the contract's figure, summed into its enterprise
    assert 14.5 < first["land_mu"] < 15.5 and first["district_code"] == EAST
    # Indicators and land are kept to 4 decimals (half-up): the quotient of the rounded land within 1e-4.
    assert first["indicators"]["tax_per_mu"] == pytest.approx(500 / first["land_mu"], abs=1e-4)
    assert first["indicators"]["tax_per_energy"] == 5.0
    # Every firm's score is Σ weight × value ÷ its district's mean (benchmark factor 1).
    mean_tax = sum(got[e]["indicators"]["tax_per_mu"] for e in f) / 5
    mean_out = sum(got[e]["indicators"]["output_per_mu"] for e in f) / 5
    mean_te = sum(got[e]["indicators"]["tax_per_energy"] for e in f) / 5
    ind = first["indicators"]
    assert first["score"] == pytest.approx(45 * ind["tax_per_mu"] / mean_tax + 35 * ind["output_per_mu"] / mean_out
                                           + 20 * ind["tax_per_energy"] / mean_te, abs=1e-3)
    assert (got[t["small"]]["class"], got[t["small"]]["unrated_reason"]) == (None, "land_below_threshold")
    assert (got[t["silent"]]["class"], got[t["silent"]]["unrated_reason"]) == (None, "no_figures")
    # Filters: one class, the rectification list (C and D by default), one parcel's holder.
    assert [r["enterprise_id"] for r in await ratings(client, year=2025, **{"class": "B"})] == f[1:3]
    listed = await ratings(client, year=2025, listed="rectification")
    assert [(r["enterprise_id"], r["rectification"]) for r in listed] == [(f[3], True), (f[4], True)]
    held = await ratings(client, parcel_id=t["contracts"][4]["parcel_id"])
    assert [(r["enterprise_id"], r["class"]) for r in held] == [(f[4], "D")]
    # The map layer: each parcel held by a rated enterprise with its class.
    layer = (await client.get(f"{API}/ratings/parcels", headers=basic("viewer"))).json()
    assert layer["year"] == 2025
    assert layer["classes"] == {str(c["parcel_id"]): k for c, k in zip(t["contracts"], "ABBCD", strict=True)}


async def test_csv_and_runs(client, city, db):
    t = await five_firms(client)
    await year_of_figures(db, t, 2025)
    await rate(client, 2025)
    r = await client.get(f"{API}/ratings", params={"year": 2025, "f": "csv"}, headers=basic("viewer"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="ratings-2025.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 7
    assert [(row["class"], row["rank"]) for row in rows[:5]] == [("A", "1"), ("B", "2"), ("B", "3"), ("C", "4"),
                                                                   ("D", "5")]
    assert rows[0]["figure_tax_paid"] == "500.0" and float(rows[0]["indicator_tax_per_energy"]) == 5.0
    runs = (await client.get(f"{API}/ratings/runs", headers=basic("officer.east"))).json()["items"]
    assert [(x["year"], x["rated"], x["classes"], x["rated_by"]) for x in runs] == [
        (2025, 5, {"A": 1, "B": 2, "C": 1, "D": 1}, "bureau")]


async def audit_mark(db) -> int:
    """The audit log is append-only and live tests (the demo's ratings) leave rows committed: a test reads
    only the entries after this mark."""
    async with db.session() as session:
        return int(await session.scalar(text("SELECT coalesce(max(id), 0) FROM audit_log")))


async def rating_entries(client, mark: int) -> list[dict]:
    log = (await client.get(f"{API}/audit", params={"entity": "rating_run", "limit": 10000},
                            headers=basic("viewer"))).json()
    return sorted((e for e in log["items"] if e["id"] > mark), key=lambda e: e["id"])


async def test_only_the_bureau_rates_and_bad_years_are_refused(client, city, db):
    mark = await audit_mark(db)
    await five_firms(client)
    for user in ("officer.east", "viewer", "admin"):
        r = await client.post(f"{API}/ratings/2025", headers=basic(user))
        assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_ROLE")
    r = await client.post(f"{API}/ratings/2027", headers=basic("bureau"))  # today is 2026
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "VALIDATION_ERROR", "year")
    assert (await client.post(f"{API}/ratings/1900", headers=basic("bureau"))).status_code == 422
    assert (await client.get(f"{API}/ratings/runs", headers=basic("viewer"))).json()["items"] == []
    refused = await rating_entries(client, mark)
    assert [(e["actor"], e["outcome"], e["code"]) for e in refused][:4] == [
        ("officer.east", "refused", "FORBIDDEN_ROLE"), ("viewer", "refused", "FORBIDDEN_ROLE"),
        ("admin", "refused", "FORBIDDEN_ROLE"), ("bureau", "refused", "VALIDATION_ERROR")]


async def test_rating_again_replaces_the_run_and_is_audited(client, city, db):
    mark = await audit_mark(db)
    t = await five_firms(client)
    await year_of_figures(db, t, 2025)
    await rate(client, 2025)
    # A new delivery lifts firm 5 to the top; the second run replaces the first.
    await deliver(db, 2025, figures(t["firms"][4], 900, 9000))
    run = await rate(client, 2025)
    assert run["classes"] == {"A": 1, "B": 2, "C": 1, "D": 1}
    got = {r["enterprise_id"]: r["class"] for r in await ratings(client, year=2025)}
    assert (got[t["firms"][4]], got[t["firms"][3]]) == ("A", "D")
    assert len(await ratings(client, year=2025)) == 7
    entries = await rating_entries(client, mark)
    assert [(e["action"], e["entity_id"], e["actor"]) for e in entries] == [("rate", "2025", "bureau")] * 2
    assert entries[0]["before"] is None
    assert entries[1]["before"] == {"A": 1, "B": 2, "C": 1, "D": 1, "unrated": 2, "enterprises": 7}
    assert entries[1]["after"]["policy"]["min_land_mu"] == 3.0 and entries[1]["after"]["D"] == 1


async def test_each_role_reads_the_ratings_of_its_scope(client, city, db):
    t = await five_firms(client)
    await year_of_figures(db, t, 2025)
    await rate(client, 2025)
    other = await organisation(client, EAST)
    async with db.session() as s:
        s.add(AppUser(username="manager.t", password_hash=_hash(), role="org_manager", organisation_id=t["org"]))
        s.add(AppUser(username="manager.other", password_hash=_hash(), role="org_manager", organisation_id=other))
        s.add(AppUser(username="provider.tax", password_hash=_hash(), role="data_provider", source="tax"))
    for user in ("bureau", "admin", "viewer", "officer.east", "evaluator.east", "manager.t"):
        assert len(await ratings(client, user, year=2025)) == 7, user
    for user in ("officer.west", "evaluator.west", "manager.other"):
        assert await ratings(client, user, year=2025) == [], user
        layer = (await client.get(f"{API}/ratings/parcels", headers=basic(user))).json()
        assert layer == {"year": 2025, "classes": {}}
    r = await client.get(f"{API}/ratings", params={"district_code": EAST}, headers=basic("officer.west"))
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_DISTRICT")
    for path in ("", "/runs", "/parcels"):
        r = await client.get(f"{API}/ratings{path}", headers=basic("provider.tax"))
        assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_ROLE"), path
        assert (await client.get(f"{API}/ratings{path}")).status_code == 401


async def _three_years_of_d(client: Any, db: Any) -> dict[str, Any]:
    t = await five_firms(client)
    for year in (2023, 2024, 2025):
        await year_of_figures(db, t, year)
        run = await rate(client, year)
        assert run["classes"]["D"] == 1
    return t


async def exit_candidates(client: Any, **params: Any) -> list[tuple[int, str, list[int], str]]:
    r = await client.get(f"{API}/exit-candidates", params=params, headers=basic("viewer"))
    assert r.status_code == 200, r.text
    return [(i["contract_id"], i["reason"], i["evidence"], i["since"]) for i in r.json()["items"]]


async def test_d_in_three_consecutive_years_makes_an_exit_candidate(client, city, db):
    t = await _three_years_of_d(client, db)
    last = t["contracts"][4]
    evidence = [r["id"] for r in sorted(await ratings(client, enterprise_id=t["firms"][4]), key=lambda r: r["year"])]
    assert await exit_candidates(client, reason="repeated_class_d") == [
        (last["id"], "repeated_class_d", evidence, "2025-12-31")]
    # WFS landcycle:exit_candidates reads the same query with the connection's settings.
    from sqlalchemy import select

    from app.exits.query import live_candidates
    async with db.session() as s:
        sub = live_candidates().subquery()
        live = (await s.execute(select(sub.c.contract_id, sub.c.reason).where(
            sub.c.reason == "repeated_class_d"))).all()
    assert [tuple(x) for x in live] == [(last["id"], "repeated_class_d")]
    # The bureau opens an exit case for it.
    r = await client.post(f"{API}/exit-cases", json={"contract_id": last["id"], "method": "recovery",
                                                     "decision_ref": "亩均-D-3"}, headers=basic("bureau"))
    assert r.status_code == 201, r.text
    assert (r.json()["reasons"], r.json()["evidence"]) == (["repeated_class_d"], evidence)
    assert await exit_candidates(client, reason="repeated_class_d") == []  # exiting, no longer a candidate


async def test_a_year_out_of_d_ends_the_run(client, city, db):
    t = await five_firms(client)
    for year, tax in ((2023, 50.0), (2024, 350.0), (2025, 50.0)):  # 2024: firm 5 rises to B
        await year_of_figures(db, t, year, last_tax=tax)
        await rate(client, year)
    assert await exit_candidates(client, reason="repeated_class_d") == []


@pytest.mark.settings(**SETTINGS, rating_exit_after_d_years=4)
async def test_not_a_candidate_when_the_policy_says_four_years(client, city, db):
    t = await _three_years_of_d(client, db)
    assert await exit_candidates(client, reason="repeated_class_d") == []
    r = await client.post(f"{API}/exit-cases", json={"contract_id": t["contracts"][4]["id"], "method": "recovery",
                                                     "decision_ref": "D-4"}, headers=basic("bureau"))
    assert (r.status_code, r.json()["code"]) == (409, "INVALID_TRANSITION")


@pytest.mark.live
async def test_ratings_rate_command_rates_the_year_as_the_rest_call(live_db):
    import asyncio
    import os
    import sys

    import orjson
    from shapely.geometry import MultiPolygon, box

    from app.auth.permissions import Actor
    from app.contracts.service import ContractDraft, create_contract
    from app.enterprises.service import create_enterprise
    from app.organisations.service import create_organisation
    from app.parcels.service import ParcelDraft, create_parcel
    from tests import builders
    from tests.conftest import TEST_URL, make_settings
    from tests.contract_builders import uscc
    from tests.measurement_builders import deliver_figures

    bureau, settings = Actor(0, "bureau", "bureau"), make_settings()
    await builders.build_city(live_db)
    async with live_db.session() as session:
        org = await create_organisation(session, bureau, "Pudong", "district_government", builders.EAST)
        for n in (1, 2):
            ent = await create_enterprise(session, bureau, f"E{n}", uscc(100 + n), "C39")
            lon, lat = builders.BZ[0] + 0.01 * n, builders.BZ[1] + 0.01
            land = await create_parcel(session, bureau, settings.policy, ParcelDraft(
                code=f"CLI-{n}", land_use="industrial", geom=MultiPolygon([box(lon, lat, lon + 0.001, lat + 0.001)])))
            await create_contract(session, bureau, settings.policy, ContractDraft(
                code=f"HT-CLI-{n}", parcel_id=land, enterprise_id=ent, responsible_org_id=org,
                signed_on=date(2024, 1, 1), indicators={"output_per_mu": 300, "tax_per_mu": 20}), TODAY)
        await deliver_figures(session, "tax", 2025, [{"uscc": uscc(101), "figure": "tax_paid", "value": 900},
                                                     {"uscc": uscc(102), "figure": "tax_paid", "value": 100}])
        seen = await session.scalar(text("SELECT coalesce(max(id), 0) FROM audit_log"))  # the log stays
    env = {**os.environ, "DATABASE_URL": TEST_URL, "LANDCYCLE_TODAY": TODAY.isoformat()}

    async def run(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "app.cli", "ratings", "rate", *args,
                                                    env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        return proc.returncode or 0, out.decode(), err.decode()

    code, out, err = await run("--year", "2025")
    assert code == 0, err
    # Two firms: the first beaten by none (A), the second by half (share 0.5: B).
    assert out.strip() == "rated 2025: 2 of 2 enterprises (A 1, B 1, C 0, D 0); not rated 0"
    code, out, err = await run("--year", "2025", "--json")
    assert code == 0, err
    assert (orjson.loads(out)["classes"], orjson.loads(out)["rated"]) == ({"A": 1, "B": 1, "C": 0, "D": 0}, 2)
    code, _, err = await run("--year", "2025", "--user", "viewer")
    assert code == 1 and "FORBIDDEN_ROLE" in err
    async with live_db.session() as session:
        actions = (await session.execute(text(
            "SELECT outcome, count(*) FROM audit_log WHERE entity = 'rating_run' AND entity_id = '2025' "
            "AND id > :seen GROUP BY outcome ORDER BY outcome"), {"seen": seen})).all()
    assert [tuple(a) for a in actions] == [("done", 2), ("refused", 1)]
