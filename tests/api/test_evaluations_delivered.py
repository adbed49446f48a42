"""Evaluations measured from delivered figures (SPEC §5, rules 6–7): the single result takes every indicator
not given from the latest figures of its year, each value keeps its source; the year's record
(`POST /evaluations/results`) records every due evaluation the figures measure whole, in one transaction."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import text

from app.errors import ValidationFailed
from app.measurements.figures import M2_PER_MU
from models import AppUser
from tests.builders import EAST, WEST, _hash, basic, create_parcel, square
from tests.contract_builders import SITES, contract, enterprise, operate, organisation, parcel, pending, targets
from tests.measurement_builders import deliver_figures

API = "/api/v1"
TODAY = date(2026, 6, 1)
SIGNED = date(2022, 3, 1)  # commissioning due 2025-03-01 (rule 5: signing + 3 years)
pytestmark = pytest.mark.settings(today=TODAY)


async def land(client, org, site="base", ent=None, side_m=100.0, indicators=None):
    """An operating parcel under a contract signed on SIGNED: {"contract", "parcel", "enterprise", "area"}."""
    ent = ent or await enterprise(client)
    if side_m == 100.0:
        p = await parcel(client, site)
    else:
        lon, lat = SITES[site]
        p = await create_parcel(client, square(lon + 0.045, lat + 0.045, side_m), code=f"BIG-{ent}", plot_ratio=1.5)
    c = await contract(client, p["id"], ent, org, SIGNED, indicators=indicators)
    await operate(client, p["id"])
    return {"contract": c, "parcel": p, "enterprise": ent, "area": Decimal(repr(p["properties"]["area_m2"]))}


async def uscc_of(client, enterprise_id):
    r = await client.get(f"{API}/enterprises/{enterprise_id}", headers=basic("bureau"))
    return r.json()["uscc"]


async def deliver(db, source, year, rows: list[dict[str, Any]], skip_invalid=False) -> int:
    """One batch through the delivery service (app/measurements/service.py), committed to the test's
    transaction; rows by "uscc" or "contract_code"."""
    async with db.session() as session:
        done = await deliver_figures(session, source, year, rows, skip_invalid=skip_invalid)
        assert done.batch is not None
        return int(done.batch.id)


def per_mu(value, area_m2) -> float:
    """value ÷ (area in mu), as the service rounds it (4 places, half up)."""
    return float((Decimal(value) / (area_m2 / M2_PER_MU)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


async def record(client, evaluation_id, expect=200, user="bureau", **body):
    r = await client.post(f"{API}/evaluations/{evaluation_id}/result",
                          json={"evaluated_on": "2026-05-01", **body}, headers=basic(user))
    assert r.status_code == expect, r.text
    return r.json()


async def record_year(client, expect=200, user="bureau", **body):
    r = await client.post(f"{API}/evaluations/results", json={"year": 2025, **body}, headers=basic(user))
    assert r.status_code == expect, r.text
    return r.json()


async def figures_of_statistics(db, client, *lands, output=6000):
    """The statistics department's output value for each land's enterprise (no contract indicator but the
    efficiency ones needs more)."""
    rows = [{"uscc": await uscc_of(client, x["enterprise"]), "figure": "output_value", "value": output}
            for x in lands]
    return await deliver(db, "statistics", 2025, rows)


@pytest.fixture
async def org(client, city):
    return await organisation(client, EAST)


async def test_a_tax_batch_with_a_bad_uscc_is_refused_whole_then_accepted_and_results_carry_source_tax(
        client, db, org):
    a, b = await land(client, org), await land(client, org)
    stats = await figures_of_statistics(db, client, a, b)
    good = [{"uscc": await uscc_of(client, x["enterprise"]), "figure": "tax_paid", "value": 450} for x in (a, b)]
    bad = {"uscc": "91310115000000000X", "figure": "tax_paid", "value": 10}  # a wrong check character
    with pytest.raises(ValidationFailed, match="nothing stored"):
        await deliver(db, "tax", 2025, [*good, bad])
    async with db.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM measurement WHERE source = 'tax'")) == 0
    tax = await deliver(db, "tax", 2025, [*good, bad], skip_invalid=True)

    one = await record(client, (await pending(client, a["contract"]["id"], "commissioning"))["id"])
    assert one["measurements"]["tax_per_mu"] == per_mu(450, a["area"])
    assert one["measurement_sources"]["tax_per_mu"] == {
        "source": "tax", "year": 2025, "batches": [tax],
        "figures": {"tax_paid": {"source": "tax", "batch_id": tax, "subject": "enterprise", "share": 1.0}}}
    assert one["measurement_sources"]["output_per_mu"]["source"] == "statistics"
    assert one["measurement_sources"]["output_per_mu"]["batches"] == [stats]

    year = await record_year(client)
    assert (year["due"], year["recorded"], year["skipped"]) == (1, 1, 0)
    other = await pending_or_done(client, b["contract"]["id"])
    assert other["status"] == "completed"
    assert other["measurement_sources"]["tax_per_mu"]["source"] == "tax"
    assert other["measurement_sources"]["tax_per_mu"]["batches"] == [tax]


async def pending_or_done(client, contract_id, stage="commissioning"):
    r = await client.get(f"{API}/evaluations", params={"contract_id": contract_id, "stage": stage},
                         headers=basic("bureau"))
    (item,) = r.json()["items"]
    return item


async def test_a_typed_in_value_is_entered_and_wins_over_the_delivered_one(client, db, org):
    a = await land(client, org)
    await figures_of_statistics(db, client, a)
    await deliver(db, "tax", 2025, [{"uscc": await uscc_of(client, a["enterprise"]), "figure": "tax_paid",
                                     "value": 450}])
    got = await record(client, (await pending(client, a["contract"]["id"], "commissioning"))["id"],
                       measurements={"tax_per_mu": 33.5}, user="officer.east")
    assert got["measurements"]["tax_per_mu"] == 33.5
    assert got["measurement_sources"]["tax_per_mu"] == {"source": "entered", "by": "officer.east"}
    assert got["measurement_sources"]["output_per_mu"]["source"] == "statistics"
    assert got["measurements"]["output_per_mu"] == per_mu(6000, a["area"])


async def test_the_contracts_own_figure_beats_its_enterprises_and_the_latest_batch_wins(client, db, org):
    a = await land(client, org)
    u = await uscc_of(client, a["enterprise"])
    code = a["contract"]["code"]
    await deliver(db, "statistics", 2025, [{"uscc": u, "figure": "output_value", "value": 6000}])
    own = await deliver(db, "statistics", 2025, [{"contract_code": code, "figure": "output_value", "value": 5000}])
    await deliver(db, "statistics", 2025, [{"uscc": u, "figure": "output_value", "value": 9000}])  # later, theirs
    await deliver(db, "tax", 2025, [{"uscc": u, "figure": "tax_paid", "value": 100}])
    newer = await deliver(db, "tax", 2025, [{"uscc": u, "figure": "tax_paid", "value": 400}])
    await deliver(db, "tax", 2024, [{"uscc": u, "figure": "tax_paid", "value": 999}])  # another year
    got = await record(client, (await pending(client, a["contract"]["id"], "commissioning"))["id"])
    assert got["measurements"]["output_per_mu"] == per_mu(5000, a["area"])
    assert got["measurement_sources"]["output_per_mu"]["figures"]["output_value"] == {
        "source": "statistics", "batch_id": own, "subject": "contract", "share": 1.0}
    assert got["measurements"]["tax_per_mu"] == per_mu(400, a["area"])
    assert got["measurement_sources"]["tax_per_mu"]["batches"] == [newer]


async def test_an_enterprises_figures_are_shared_by_land_among_its_contracts(client, db, org):
    ent = await enterprise(client)
    small = await land(client, org, ent=ent, indicators=targets(jobs=10))
    big = await land(client, org, ent=ent, side_m=200.0, indicators=targets(jobs=10, energy_per_value_added=2))
    u = await uscc_of(client, ent)
    await deliver(db, "statistics", 2025, [{"uscc": u, "figure": f, "value": v} for f, v in
                                           (("output_value", 12000), ("jobs", 250), ("value_added", 3000))])
    await deliver(db, "tax", 2025, [{"uscc": u, "figure": "tax_paid", "value": 900}])
    energy = await deliver(db, "energy", 2025, [{"uscc": u, "figure": "energy_use", "value": 1500}])
    total = small["area"] + big["area"]
    s = await record(client, (await pending(client, small["contract"]["id"], "commissioning"))["id"])
    b = await record(client, (await pending(client, big["contract"]["id"], "commissioning"))["id"])
    # Per mu: the enterprise's total over its total land, the same for both; jobs by each one's share.
    assert s["measurements"]["tax_per_mu"] == b["measurements"]["tax_per_mu"] == per_mu(900, total)
    for x, got in ((small, s), (big, b)):
        share = x["area"] / total
        assert got["measurements"]["jobs"] == float((250 * share).quantize(Decimal("0.0001"), ROUND_HALF_UP))
        assert got["measurement_sources"]["jobs"]["figures"]["jobs"]["share"] == float(
            share.quantize(Decimal("0.000001"), ROUND_HALF_UP))
    assert 0.19 < s["measurement_sources"]["jobs"]["figures"]["jobs"]["share"] < 0.21  # 100² of 100² + 200²
    # A ratio of two departments' figures names both.
    assert b["measurements"]["energy_per_value_added"] == 0.5
    assert b["measurement_sources"]["energy_per_value_added"]["source"] == "energy+statistics"
    assert energy in b["measurement_sources"]["energy_per_value_added"]["batches"]


async def test_an_indicator_no_figure_measures_is_a_422_naming_it_and_the_figures(client, db, org):
    a = await land(client, org, indicators=targets(jobs=10))
    await figures_of_statistics(db, client, a)  # no tax, no jobs
    ev = await pending(client, a["contract"]["id"], "commissioning")
    body = await record(client, ev["id"], expect=422)
    assert body["code"] == "VALIDATION_ERROR"
    assert "no figure of 2025 was delivered for jobs (jobs); tax_per_mu (tax_paid)" in body["detail"]
    assert body["missing"] == ["jobs", "tax_per_mu"]
    # Another year asked for: none of its figures delivered.
    other = await record(client, ev["id"], expect=422, year=2024, measurements={"jobs": 12, "tax_per_mu": 30})
    assert "no figure of 2024 was delivered for output_per_mu (output_value)" in other["detail"]
    assert (await pending(client, a["contract"]["id"], "commissioning"))["status"] == "overdue"


async def test_the_year_record_runs_the_consequences_in_one_transaction(client, db, org):
    ok, low, lacking = await land(client, org), await land(client, org), await land(client, org)
    rows = [{"uscc": await uscc_of(client, x["enterprise"]), "figure": "output_value", "value": v}
            for x, v in ((ok, 6000), (low, 1000), (lacking, 6000))]
    await deliver(db, "statistics", 2025, rows)
    await deliver(db, "tax", 2025, [{"uscc": await uscc_of(client, x["enterprise"]), "figure": "tax_paid",
                                     "value": 450} for x in (ok, low)])
    dry = await record_year(client, dry_run=True, evaluated_on="2026-05-01")
    assert (dry["recorded"], dry["outcomes"], dry["consequences"]) == (
        2, {"pass": 1, "below_bottom_line": 1}, {"none": 1, "rectification": 1})
    assert (await pending(client, low["contract"]["id"], "commissioning"))["status"] == "overdue"

    done = await record_year(client, evaluated_on="2026-05-01")
    assert {k: done[k] for k in ("year", "due", "recorded", "skipped", "outcomes", "consequences")} == {
        "year": 2025, "due": 3, "recorded": 2, "skipped": 1, "outcomes": {"pass": 1, "below_bottom_line": 1},
        "consequences": {"none": 1, "rectification": 1}}
    (skipped,) = done["skipped_items"]
    assert (skipped["contract_id"], skipped["missing"]) == (lacking["contract"]["id"], {"tax_per_mu": ["tax_paid"]})
    assert "no figure of 2025 was delivered for tax_per_mu (tax_paid)" in skipped["reason"]
    # Rule 7 as for a single result: rectification, its re-evaluation scheduled, the parcel marked.
    got = (await client.get(f"{API}/contracts/{low['contract']['id']}", headers=basic("bureau"))).json()
    assert got["status"] == "rectification"
    assert (await pending(client, low["contract"]["id"], "rectification"))["due_on"] == "2027-05-01"
    parcel_now = (await client.get(f"{API}/parcels/{low['parcel']['id']}", headers=basic("bureau"))).json()
    assert parcel_now["properties"]["status"] == "rectification"
    # Rule 10: one summary row names every result.
    async with db.session() as session:
        detail = await session.scalar(text(
            "SELECT detail FROM audit_log WHERE action = 'record_results' ORDER BY id DESC LIMIT 1"))
    ids = sorted([(await pending_or_done(client, x["contract"]["id"]))["id"] for x in (ok, low)])
    assert (detail["evaluation_ids"], detail["results"], len(detail["scheduled_ids"])) == (ids, 2, 1)
    again = await record_year(client, evaluated_on="2026-05-01")
    assert (again["due"], again["recorded"]) == (1, 0)  # only the one still lacking its tax figure


async def test_a_refusal_in_the_middle_of_the_year_record_leaves_nothing_written(client, db, org, monkeypatch):
    low = await land(client, org)
    u = await uscc_of(client, low["enterprise"])
    await deliver(db, "statistics", 2025, [{"uscc": u, "figure": "output_value", "value": 1000}])
    await deliver(db, "tax", 2025, [{"uscc": u, "figure": "tax_paid", "value": 450}])
    from app.evaluations import results

    async def refuse(*args: Any, **kwargs: Any) -> None:  # after the results and contract versions are written
        raise ValidationFailed("refused on the way")

    monkeypatch.setattr(results.parcels, "set_statuses", refuse)
    assert (await record_year(client, expect=422))["detail"] == "refused on the way"
    monkeypatch.undo()
    assert (await pending(client, low["contract"]["id"], "commissioning"))["status"] == "overdue"
    got = (await client.get(f"{API}/contracts/{low['contract']['id']}", headers=basic("bureau"))).json()
    assert (got["status"], got["version"]) == ("active", 1)
    assert (await client.get(f"{API}/evaluations", params={"contract_id": low["contract"]["id"],
                                                           "stage": "rectification"},
                             headers=basic("bureau"))).json()["items"] == []


async def test_the_year_record_stays_in_the_callers_scope(client, db, city):
    east_org, west_org = await organisation(client, EAST), await organisation(client, WEST)
    east, west = await land(client, east_org), await land(client, west_org, site="community")
    other = await land(client, await organisation(client, EAST))
    lands = (east, west, other)
    await figures_of_statistics(db, client, *lands)
    await deliver(db, "tax", 2025, [{"uscc": await uscc_of(client, x["enterprise"]), "figure": "tax_paid",
                                     "value": 450} for x in lands])
    assert (await record_year(client, expect=403, user="viewer"))["code"] == "FORBIDDEN_ROLE"
    assert (await record_year(client, expect=403, user="officer.west",
                              district_code=EAST))["code"] == "FORBIDDEN_DISTRICT"
    west_done = await record_year(client, user="officer.west", dry_run=True)
    assert (west_done["due"], west_done["recorded"], west_done["district_code"]) == (1, 1, WEST)
    async with db.session() as session:
        session.add(AppUser(username="manager.east", password_hash=_hash(), role="org_manager",
                            organisation_id=east_org))
    mine = await record_year(client, user="manager.east")
    assert (mine["due"], mine["recorded"]) == (1, 1)
    assert [(await pending_or_done(client, x["contract"]["id"]))["status"] for x in lands] == [
        "completed", "overdue", "overdue"]
    # A single result of another organisation's contract is refused to the org_manager.
    foreign = await pending(client, other["contract"]["id"], "commissioning")
    assert (await record(client, foreign["id"], expect=403, user="manager.east"))["code"] == "FORBIDDEN_ROLE"


async def committed_figures(session, source, enterprise_id, figure, value):
    """A batch of one 2025 value written as the delivery service stores it, without its audit row: the
    audit log is append-only, and other tests count the delivery rows they expect there."""
    batch = await session.scalar(text(
        "INSERT INTO measurement_batch (source, year, format, rows, accepted, refused, delivered_by) "
        "VALUES (:source, 2025, 'json', 1, 1, 0, 'test') RETURNING id"), {"source": source})
    await session.execute(text(
        "INSERT INTO measurement (batch_id, source, year, enterprise_id, figure, value) "
        "VALUES (:batch, :source, 2025, :enterprise, :figure, :value)"),
        {"batch": batch, "source": source, "enterprise": enterprise_id, "figure": figure, "value": value})


@pytest.mark.live
async def test_evaluations_record_command_records_the_year_from_the_delivered_figures(live_db):
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

    bureau, settings = Actor(0, "bureau", "bureau"), make_settings()
    await builders.build_city(live_db)
    async with live_db.session() as session:
        org = await create_organisation(session, bureau, "Pudong", "district_government", builders.EAST)
        ent = await create_enterprise(session, bureau, "E", uscc(7), "C39")
        lon, lat = builders.BZ[0] + 0.01, builders.BZ[1] + 0.01
        land = await create_parcel(session, bureau, settings.policy, ParcelDraft(
            code="CLI-1", land_use="industrial", geom=MultiPolygon([box(lon, lat, lon + 0.001, lat + 0.001)])))
        await create_contract(session, bureau, settings.policy, ContractDraft(
            code="HT-CLI", parcel_id=land, enterprise_id=ent, responsible_org_id=org, signed_on=SIGNED,
            indicators={"output_per_mu": 300, "tax_per_mu": 20}), TODAY)
        await committed_figures(session, "statistics", ent, "output_value", 9000)
    env = {**os.environ, "DATABASE_URL": TEST_URL, "LANDCYCLE_TODAY": TODAY.isoformat()}

    async def run(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "app.cli", "evaluations", "record",
                                                    "--year", "2025", *args, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        return proc.returncode or 0, out.decode(), err.decode()

    code, out, err = await run()
    assert code == 0, err
    assert out.splitlines()[0] == "1 evaluations due in 2025 by 2026-06-01: recorded 0, skipped 1"
    assert "no figure of 2025 was delivered for tax_per_mu (tax_paid)" in out
    async with live_db.session() as session:
        await committed_figures(session, "tax", ent, "tax_paid", 400)
    code, out, err = await run("--json", "--evaluated-on", "2026-05-01")
    assert code == 0, err
    done = orjson.loads(out)
    assert (done["recorded"], done["outcomes"], done["evaluated_on"]) == (1, {"pass": 1}, "2026-05-01")
    async with live_db.session() as session:
        sources = await session.scalar(text("SELECT measurement_sources FROM evaluation WHERE evaluated_on IS "
                                            "NOT NULL"))
    assert (sources["tax_per_mu"]["source"], sources["output_per_mu"]["source"]) == ("tax", "statistics")
    code, _, err = await run("--evaluated-on", "2027-01-01")
    assert code == 1 and "VALIDATION_ERROR: evaluated_on 2027-01-01 is in the future" in err
