from datetime import date

import pytest
from sqlalchemy import text

from app.auth.permissions import Actor
from app.evaluations.results import ResultInput, record_results
from tests.builders import EAST, WEST, basic, create_parcel, square
from tests.conftest import make_settings
from tests.contract_builders import contract, enterprise, organisation, parcel, pending, targets

API = "/api/v1"
TODAY = date(2026, 6, 1)
pytestmark = pytest.mark.settings(today=TODAY)


async def test_industrial_land_totals_equal_independent_st_area_sums(client, city, db):
    for site, n in (("base", 3), ("community", 2), ("fragment_east", 2)):
        for _ in range(n):
            await parcel(client, site)
    await parcel(client, "fragment_west", legacy_zone="198")
    gone = await parcel(client, "base")  # recovered the only way land is: an expired contract, an exit case
    old = await contract(client, gone["id"], await enterprise(client), await organisation(client, EAST),
                         date(2016, 5, 1), term_years=10)
    case = await client.post(f"{API}/exit-cases", json={"contract_id": old["id"], "method": "recovery",
                                                        "decision_ref": "D-R"}, headers=basic("bureau"))
    assert case.status_code == 201, case.text
    done = await client.post(f"{API}/exit-cases/{case.json()['id']}/complete", headers=basic("bureau"))
    assert done.status_code == 200, done.text
    await create_parcel(client, square(121.45, 31.2), land_use="office", code="OFF-1", plot_ratio=4.0)
    r = await client.get(f"{API}/reports/industrial-land", headers=basic("viewer"))
    assert r.status_code == 200, r.text
    report = r.json()
    async with db.session() as session:
        def km2(where: str) -> float:
            return session.execute(text(
                "SELECT coalesce(sum(ST_Area(geom::geography)), 0) / 1e6 FROM parcel "  # noqa: S608
                f"WHERE valid_to IS NULL AND land_use IN ('industrial', 'rnd') AND {where}"))

        total = (await km2("status <> 'recovered'")).scalar()
        base = (await km2("status <> 'recovered' AND tier = 'base'")).scalar()
        east = (await km2(f"status <> 'recovered' AND district_code = '{EAST}'")).scalar()
        l198 = (await km2("status <> 'recovered' AND legacy_zone = '198'")).scalar()
        locked = (await km2("status <> 'recovered' AND planning_locked")).scalar()
        exited = (await km2("status = 'recovered'")).scalar()
    assert report["total"]["km2"] == pytest.approx(total, abs=1e-6)
    assert report["total"]["parcels"] == 8
    assert {t["tier"]: t["km2"] for t in report["by_tier"]}["base"] == pytest.approx(base, abs=1e-6)
    assert {d["district_code"]: d["km2"] for d in report["by_district"]}[EAST] == pytest.approx(east,
                                                                                                abs=1e-6)
    assert {z["legacy_zone"]: z["km2"] for z in report["by_legacy_zone"]}["198"] == pytest.approx(l198,
                                                                                                  abs=1e-6)
    assert report["base_for_advanced_manufacturing"]["km2"] == pytest.approx(locked, abs=1e-6)
    assert report["exited"]["km2"] == pytest.approx(exited, abs=1e-6)
    assert sum(t["km2"] for t in report["by_tier"]) == pytest.approx(total, abs=1e-5)
    assert report["total"]["target_2020_km2"] == 550.0
    assert report["total"]["band_2035_km2"] == [320.0, 480.0]
    assert report["total"]["within_2035_band"] is False
    assert report["base_for_advanced_manufacturing"]["target_2025_min_km2"] == 150.0
    assert report["as_of"] == "2026-06-01"
    csv = await client.get(f"{API}/reports/industrial-land?f=csv", headers=basic("viewer"))
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "as_of,group,key,parcels,area_m2,km2,target"
    assert lines[1].startswith("2026-06-01,total,,8,")


async def test_industrial_land_as_of_reads_the_versions_of_that_time(client, city):
    await parcel(client, "base")
    now = (await client.get(f"{API}/reports/industrial-land", headers=basic("viewer"))).json()
    then = (await client.get(f"{API}/reports/industrial-land?as_of=2020-01-01",
                             headers=basic("viewer"))).json()
    assert (now["total"]["parcels"], then["total"]["parcels"], then["as_of"]) == (1, 0, "2020-01-01")
    assert then["by_tier"] == [] and then["total"]["km2"] == 0


async def test_efficiency_classes_and_csv(client, city, db):
    org = await organisation(client, EAST)
    ids = []
    for _ in range(10):
        land = await parcel(client)
        c = await contract(client, land["id"], await enterprise(client), org, date(2020, 1, 1),
                           targets(energy_per_value_added=0.2))
        ids.append((await pending(client, c["id"], "commissioning"))["id"])
    batch = [ResultInput(eid, date(2023, 2, 1), {"output_per_mu": 300.0 + 50 * k, "tax_per_mu": 20.0 + 5 * k,
                                                 "energy_per_value_added": 0.2})
             for k, eid in enumerate(ids)]
    async with db.session() as session:
        await record_results(session, Actor(1, "bureau", "bureau"), make_settings().policy, batch, TODAY)
    r = await client.get(f"{API}/reports/efficiency?year=2025", headers=basic("viewer"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["year"], report["as_of"], report["contracts"]) == (2025, "2025-12-31", 10)
    assert report["classes"] == {"A": 2, "B": 4, "C": 4, "D": 0}
    assert report["weights"] == {"tax_per_mu": 45.0, "output_per_mu": 35.0, "green": 20.0}
    scores = [i["score"] for i in report["items"]]
    assert scores == sorted(scores, reverse=True)
    best = report["items"][0]
    assert best["evaluation_id"] == ids[-1] and best["class"] == "A" and best["rank"] == 1
    assert best["green_ratio"] == 1.0
    assert (await client.get(f"{API}/reports/efficiency?year=2022", headers=basic("viewer"))).json()[
        "contracts"] == 0
    csv = await client.get(f"{API}/reports/efficiency?year=2025&f=csv", headers=basic("viewer"))
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("rank,class,score,contract_id")
    assert len(lines) == 11
    west = (await client.get(f"{API}/reports/efficiency?year=2025&district_code={WEST}",
                             headers=basic("viewer"))).json()
    assert west["numberMatched"] == 0 and west["contracts"] == 10


async def test_efficiency_scores_each_contract_on_its_latest_result_at_the_year_end(client, city, db):
    # Two results of one contract: each year's report scores the one latest by that year's end.
    org = await organisation(client, EAST)
    contracts = []
    for _ in range(2):
        land = await parcel(client)
        contracts.append(await contract(client, land["id"], await enterprise(client), org, date(2020, 1, 1),
                                        targets(energy_per_value_added=0.2)))
    first = [(await pending(client, c["id"], "commissioning"))["id"] for c in contracts]
    measured = {"output_per_mu": 400.0, "tax_per_mu": 30.0, "energy_per_value_added": 0.2}
    actor, policy = Actor(1, "bureau", "bureau"), make_settings().policy
    async with db.session() as session:
        await record_results(session, actor, policy, [ResultInput(e, date(2023, 2, 1), measured) for e in first],
                             TODAY)
    later = (await pending(client, contracts[0]["id"], "periodic"))["id"]
    async with db.session() as session:
        await record_results(session, actor, policy,
                             [ResultInput(later, date(2025, 3, 1), {**measured, "tax_per_mu": 60.0})], TODAY)

    async def scored(year: int) -> dict[int, tuple[int, float]]:
        report = (await client.get(f"{API}/reports/efficiency?year={year}", headers=basic("viewer"))).json()
        return {i["contract_id"]: (i["evaluation_id"], i["tax_ratio"]) for i in report["items"]}

    in_2024, in_2025 = await scored(2024), await scored(2025)
    assert in_2024[contracts[0]["id"]][0] == first[0] and in_2025[contracts[0]["id"]][0] == later
    assert in_2025[contracts[0]["id"]][1] == 2 * in_2024[contracts[0]["id"]][1]  # the later result's ratio
    assert in_2024[contracts[1]["id"]] == in_2025[contracts[1]["id"]] and in_2025[contracts[1]["id"]][0] == first[1]
