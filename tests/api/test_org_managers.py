"""Responsible organisations act (SPEC §1 谁提出、谁管理, §4): an org_manager reads and works the contracts
its organisation proposed, in any district, and nothing else — contracts, evaluations (its queue), exit
candidates and cases, plot-ratio requests of the parcels they hold, the reports, WFS and OGC API exit
candidates, CSV — and records its contracts' results; the accountability report counts per organisation.

The land: organisation A (an industry department) manages a1 (east, operating, passed), a4 (east,
below the bottom line: in rectification), a2 (west, idle land: an exit candidate) and a3 (west, idle, with an
exit case); organisation B (a park committee) manages b1 (west, operating, passed) and b2 (east, idle).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest

from app.main import create_app
from models import AppUser
from tests.builders import EAST, WEST, _hash, basic
from tests.conftest import make_settings
from tests.contract_builders import contract, enterprise, operate, organisation, parcel, pending, result
from tests.wfs.helpers import kvp

API = "/api/v1"
TODAY = date(2026, 6, 1)
pytestmark = pytest.mark.settings(today=TODAY)
SITE = {EAST: "base", WEST: "community"}
NOT_YOURS = (403, "FORBIDDEN_ROLE")


@dataclass(frozen=True)
class Land:
    a: int  # organisation ids
    b: int
    contracts: dict[str, dict[str, Any]]  # a1 … b2 → the contract
    requests: dict[str, int]  # a1, b1 → the plot-ratio request on its parcel
    case: dict[str, int]  # a3, … → exit case id


async def _operating(client: httpx.AsyncClient, district: str, org: int, output: float = 431.5,
                     tax: float = 27.25) -> dict[str, Any]:
    land = await parcel(client, SITE[district])
    signed = await contract(client, land["id"], await enterprise(client), org, date(2012, 1, 1))
    await operate(client, land["id"])
    await result(client, (await pending(client, signed["id"], "commissioning"))["id"], date(2015, 3, 1),
                 output_per_mu=output, tax_per_mu=tax)
    return signed


async def _idle(client: httpx.AsyncClient, district: str, org: int) -> dict[str, Any]:
    land = await parcel(client, SITE[district])
    return await contract(client, land["id"], await enterprise(client), org, date(2023, 1, 1))


async def _request(client: httpx.AsyncClient, parcel_id: int, officer: str) -> int:
    r = await client.post(f"{API}/plot-ratio-requests", headers=basic(officer), json={
        "parcel_id": parcel_id, "requested_plot_ratio": 1.8, "reason": "a second production line"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.fixture
async def land(client, city, db) -> Land:
    a = await organisation(client, EAST, kind="industry_department")
    b = await organisation(client, WEST, kind="park_committee")
    async with db.session() as session:
        session.add_all([AppUser(username="manager.a", password_hash=_hash(), role="org_manager", organisation_id=a),
                         AppUser(username="manager.b", password_hash=_hash(), role="org_manager", organisation_id=b),
                         AppUser(username="provider.tax", password_hash=_hash(), role="data_provider",
                                 source="tax")])
    c = {"a1": await _operating(client, EAST, a),
         "a4": await _operating(client, EAST, a, output=150.0, tax=10.0),
         "a2": await _idle(client, WEST, a), "a3": await _idle(client, WEST, a),
         "b1": await _operating(client, WEST, b), "b2": await _idle(client, EAST, b)}
    requests = {"a1": await _request(client, c["a1"]["parcel_id"], "officer.east"),
                "b1": await _request(client, c["b1"]["parcel_id"], "officer.west")}
    r = await client.post(f"{API}/exit-cases", headers=basic("bureau"), json={
        "contract_id": c["a3"]["id"], "method": "recovery", "decision_ref": "沪规划资源〔2026〕12号"})
    assert r.status_code == 201, r.text
    return Land(a, b, c, requests, {"a3": r.json()["id"]})


async def _get(client: httpx.AsyncClient, path: str, user: str | None, **params: Any) -> httpx.Response:
    return await client.get(API + path, params=params, headers=basic(user) if user else {})


def _items(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def _refused(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["code"]


def _ids(land: Land, *names: str) -> set[int]:
    return {land.contracts[n]["id"] for n in names}


# ------------------------------------------------------------------------------------------ reads
async def test_an_org_manager_reads_its_organisations_contracts_in_every_district_and_no_other(client, land):
    mine = _items(await _get(client, "/contracts", "manager.a"))
    assert {c["id"] for c in mine} == _ids(land, "a1", "a2", "a3", "a4")
    assert {c["district_code"] for c in mine} == {EAST, WEST}
    assert {c["id"] for c in _items(await _get(client, "/contracts", "manager.a", district_code=WEST))} == _ids(
        land, "a2", "a3")
    assert _items(await _get(client, "/contracts", "manager.a", responsible_org_id=land.b)) == []
    assert _items(await _get(client, "/contracts", "manager.a", parcel_id=land.contracts["b1"]["parcel_id"])) == []
    b1, a1 = land.contracts["b1"]["id"], land.contracts["a1"]["id"]
    for path in (f"/contracts/{b1}", f"/contracts/{b1}/history"):
        assert _refused(await _get(client, path, "manager.a")) == NOT_YOURS, path
    for path in (f"/contracts/{a1}", f"/contracts/{a1}/history"):
        assert (await _get(client, path, "manager.a")).status_code == 200, path
    assert {c["id"] for c in _items(await _get(client, "/contracts", "manager.b"))} == _ids(land, "b1", "b2")


async def test_an_org_manager_reads_its_evaluation_queue_only(client, land):
    mine = _items(await _get(client, "/evaluations", "manager.a", limit=1000))
    assert {e["contract_id"] for e in mine} == _ids(land, "a1", "a2", "a3", "a4")
    assert {e["status"] for e in mine if e["contract_id"] == land.contracts["a3"]["id"]} == {"cancelled"}
    assert {e["responsible_org_id"] for e in mine} == {land.a}
    overdue = _items(await _get(client, "/evaluations", "manager.a", status="overdue", limit=1000))
    assert overdue and {e["contract_id"] for e in overdue} <= _ids(land, "a1", "a2", "a4")
    b1 = land.contracts["b1"]["id"]
    assert _items(await _get(client, "/evaluations", "manager.a", contract_id=b1)) == []
    theirs = _items(await _get(client, "/evaluations", "bureau", contract_id=b1))[0]["id"]
    assert _refused(await _get(client, f"/evaluations/{theirs}", "manager.a")) == NOT_YOURS
    assert (await _get(client, f"/evaluations/{mine[0]['id']}", "manager.a")).status_code == 200


async def test_an_org_manager_reads_its_exit_candidates_and_cases(client, land):
    found = _items(await _get(client, "/exit-candidates", "manager.a"))
    assert [(c["contract_id"], c["reason"]) for c in found] == [(land.contracts["a2"]["id"], "idle_land")]
    assert _items(await _get(client, "/exit-candidates", "manager.a", district_code=EAST)) == []
    assert [c["contract_id"] for c in _items(await _get(client, "/exit-candidates", "manager.b"))] == [
        land.contracts["b2"]["id"]]
    assert [c["id"] for c in _items(await _get(client, "/exit-cases", "manager.a"))] == [land.case["a3"]]
    assert _items(await _get(client, "/exit-cases", "manager.b")) == []
    assert (await _get(client, f"/exit-cases/{land.case['a3']}", "manager.a")).status_code == 200
    assert _refused(await _get(client, f"/exit-cases/{land.case['a3']}", "manager.b")) == NOT_YOURS


async def test_an_org_manager_reads_the_plot_ratio_requests_of_the_parcels_its_contracts_hold(client, land):
    assert [r["id"] for r in _items(await _get(client, "/plot-ratio-requests", "manager.a"))] == [
        land.requests["a1"]]
    assert [r["id"] for r in _items(await _get(client, "/plot-ratio-requests", "manager.b"))] == [
        land.requests["b1"]]
    assert (await _get(client, f"/plot-ratio-requests/{land.requests['a1']}", "manager.a")).status_code == 200
    assert _refused(await _get(client, f"/plot-ratio-requests/{land.requests['b1']}", "manager.a")) == NOT_YOURS
    # Rule 9 is unchanged: submitting and deciding stay with district officers and the bureau.
    r = await client.post(f"{API}/plot-ratio-requests", headers=basic("manager.a"), json={
        "parcel_id": land.contracts["a4"]["parcel_id"], "requested_plot_ratio": 1.8, "reason": "more"})
    assert r.status_code == 403, r.text


async def test_the_reports_list_an_org_manager_its_organisations_contracts_json_and_csv(client, land):
    a1, b1 = land.contracts["a1"], land.contracts["b1"]
    report = (await _get(client, "/reports/efficiency", "manager.a", year=2025)).json()
    assert {i["contract_id"] for i in report["items"]} == _ids(land, "a1", "a4")
    assert report["contracts"] == 3  # ranked city-wide (a1, a4, b1), listed for the organisation
    csv = await _get(client, "/reports/efficiency", "manager.a", year=2025, f="csv")
    assert a1["code"] in csv.text and b1["code"] not in csv.text
    due = (await _get(client, "/reports/evaluations-due", "manager.a", within_days=30)).json()
    assert due["items"] and {i["responsible_org_id"] for i in due["items"]} == {land.a}
    csv = await _get(client, "/reports/evaluations-due", "manager.b", within_days=30, f="csv")
    assert csv.status_code == 200 and a1["code"] not in csv.text


async def test_wfs_and_ogc_exit_candidates_are_an_org_managers_own(client, land):
    a2 = land.contracts["a2"]["id"]
    r = await kvp(client, user="manager.a", version="2.0.0", request="GetFeature",
                  typenames="landcycle:exit_candidates", outputformat="application/json")
    assert [f["properties"]["contract_id"] for f in r.json()["features"]] == [a2]
    assert r.json()["numberMatched"] == 1
    b2 = land.contracts["b2"]["id"]
    r = await kvp(client, user="manager.a", version="2.0.0", request="GetFeature",
                  storedquery_id="urn:ogc:def:query:OGC-WFS::GetFeatureById", id=f"exit_candidates.{b2}-idle_land")
    assert r.status_code == 404
    items = (await client.get("/ogc/collections/exit_candidates/items", headers=basic("manager.a"))).json()
    assert [f["id"] for f in items["features"]] == [f"{a2}-idle_land"]
    one = await client.get(f"/ogc/collections/exit_candidates/items/{b2}-idle_land", headers=basic("manager.a"))
    assert one.status_code == 404


async def test_an_org_manager_reads_the_registries_like_a_district_officer(client, land):
    for path in ("/enterprises", "/organisations"):
        assert (await _get(client, path, "manager.a")).status_code == 200, path


async def test_a_data_provider_reads_no_contract_data(client, land):
    for path in ("/contracts", "/evaluations", "/exit-candidates", "/plot-ratio-requests",
                 "/reports/accountability"):
        assert _refused(await _get(client, path, "provider.tax")) == NOT_YOURS, path


# ------------------------------------------------------------------------------------------ work
async def test_an_org_manager_records_its_contracts_results_and_follows_up_the_rectification(client, land):
    a4, b1 = land.contracts["a4"]["id"], land.contracts["b1"]["id"]
    got = (await _get(client, f"/contracts/{a4}", "manager.a")).json()
    assert got["status"] == "rectification"
    rect = await pending(client, a4, "rectification")
    done = await result(client, rect["id"], date(2016, 2, 1), user="manager.a", output_per_mu=431.5,
                        tax_per_mu=27.25)
    assert (done["outcome"], done["consequence"]) == ("pass", "restored")
    assert (await _get(client, f"/contracts/{a4}", "manager.a")).json()["status"] == "active"
    theirs = await pending(client, b1, "periodic")
    r = await client.post(f"{API}/evaluations/{theirs['id']}/result", headers=basic("manager.a"),
                          json={"evaluated_on": "2016-02-01", "measurements": {"output_per_mu": 400,
                                                                               "tax_per_mu": 30}})
    assert _refused(r) == NOT_YOURS
    assert (await pending(client, b1, "periodic"))["id"] == theirs["id"]  # nothing written
    audit = (await _get(client, "/audit", "bureau", entity_type="evaluation", entity_id=rect["id"])).json()
    assert "manager.a" in {e.get("actor") or e.get("username") for e in audit["items"]}


async def test_an_org_manager_does_not_sign_exit_decide_or_edit_land(client, land):
    """Reading and recording results is all: contracts, exit cases (rule 8), request decisions (rule 9)
    and parcel edits stay with the bureau and district officers (FORBIDDEN_ROLE, nothing written)."""
    a1, a2 = land.contracts["a1"], land.contracts["a2"]
    before = len(_items(await _get(client, "/contracts", "bureau", limit=1000)))
    free = await parcel(client, "base")
    r = await client.post(f"{API}/contracts", headers=basic("manager.a"), json={
        "code": "HT-MGR", "parcel_id": free["id"], "enterprise_id": a1["enterprise_id"],
        "responsible_org_id": land.a, "signed_on": "2026-05-01",
        "indicators": [{"code": "output_per_mu", "target": 300}, {"code": "tax_per_mu", "target": 20}]})
    assert _refused(r) == NOT_YOURS
    r = await client.post(f"{API}/exit-cases", headers=basic("manager.a"), json={
        "contract_id": a2["id"], "method": "recovery", "decision_ref": "沪规划资源〔2026〕13号"})
    assert _refused(r) == NOT_YOURS
    r = await client.post(f"{API}/plot-ratio-requests/{land.requests['a1']}/notice", headers=basic("manager.a"),
                          json={"starts_on": "2026-04-01", "ends_on": "2026-04-20"})
    assert r.status_code == 403, r.text
    r = await client.patch(f"{API}/parcels/{a1['parcel_id']}", headers=basic("manager.a"),
                           json={"properties": {"code": "RENAMED"}})
    assert _refused(r) == NOT_YOURS
    assert len(_items(await _get(client, "/contracts", "bureau", limit=1000))) == before
    assert [c["contract_id"] for c in _items(await _get(client, "/exit-candidates", "bureau"))] == sorted(
        [a2["id"], land.contracts["b2"]["id"]])
    req = (await _get(client, f"/plot-ratio-requests/{land.requests['a1']}", "manager.a")).json()
    assert req["status"] == "submitted"


# ------------------------------------------------------------------------------------------ accountability
def _area(client_rows: list[float]) -> dict[str, Decimal]:
    m2 = sum((Decimal(repr(x)).quantize(Decimal("0.01"), ROUND_HALF_UP) for x in client_rows), Decimal(0))
    return {"area_m2": m2, "hectares": (m2 / 10_000).quantize(Decimal("0.0001"), ROUND_HALF_UP),
            "mu": (m2 * 15 / 10_000).quantize(Decimal("0.0001"), ROUND_HALF_UP)}


async def _areas(client: httpx.AsyncClient, land: Land, *names: str) -> dict[str, Decimal]:
    out = []
    for n in names:
        p = (await _get(client, f"/parcels/{land.contracts[n]['parcel_id']}", "bureau")).json()
        out.append(p["properties"]["area_m2"])
    return _area(out)


async def _overdue(client: httpx.AsyncClient, land: Land, *names: str) -> int:
    found = 0
    for n in names:
        found += len(_items(await _get(client, "/evaluations", "bureau", status="overdue",
                                       contract_id=land.contracts[n]["id"], limit=1000)))
    return found


def _numbers(row: dict[str, Any]) -> dict[str, Any]:
    return {k: Decimal(repr(v)) if k in ("area_m2", "hectares", "mu") else v for k, v in row.items()}


async def test_the_accountability_report_counts_per_organisation(client, land):
    report = (await _get(client, "/reports/accountability", "bureau")).json()
    assert report["as_of"] == TODAY.isoformat()
    rows = {r["organisation_id"]: _numbers(r) for r in report["items"]}
    assert set(rows) == {land.a, land.b}
    a, b = rows[land.a], rows[land.b]
    assert (a["organisation_kind"], a["organisation_district_code"]) == ("industry_department", EAST)
    assert {k: a[k] for k in ("contracts_in_force", "in_rectification", "below_bottom_line", "exit_candidates",
                              "exit_candidate_reasons", "exit_cases_open", "exit_cases_completed")} == {
        "contracts_in_force": 3, "in_rectification": 1, "below_bottom_line": 1, "exit_candidates": 1,
        "exit_candidate_reasons": 1, "exit_cases_open": 1, "exit_cases_completed": 0}
    assert a["exit_candidates_by_reason"] == {"idle_land": 1}
    assert a["evaluations_overdue"] == await _overdue(client, land, "a1", "a2", "a4") > 0
    assert {k: a[k] for k in ("area_m2", "hectares", "mu")} == await _areas(client, land, "a1", "a2", "a4")
    assert (b["contracts_in_force"], b["in_rectification"], b["exit_candidates"], b["exit_cases_open"]) == (
        2, 0, 1, 0)
    assert {k: b[k] for k in ("area_m2", "hectares", "mu")} == await _areas(client, land, "b1", "b2")
    assert [r["organisation_id"] for r in report["items"]] == sorted(
        rows, key=lambda k: (-rows[k]["evaluations_overdue"], -rows[k]["below_bottom_line"], k))
    totals = report["totals"]
    assert totals["organisations"] == 2 and totals["contracts_in_force"] == 5
    assert Decimal(repr(totals["hectares"])) == (await _areas(client, land, "a1", "a2", "a4", "b1", "b2"))["hectares"]


async def test_accountability_is_a_district_officers_slice_and_an_org_managers_own_row(client, land):
    east = {r["organisation_id"]: _numbers(r)
            for r in (await _get(client, "/reports/accountability", "officer.east")).json()["items"]}
    assert set(east) == {land.a, land.b}  # A is seated in the east; B manages b2 there
    assert (east[land.a]["contracts_in_force"], east[land.a]["exit_candidates"], east[land.a]["exit_cases_open"],
            east[land.a]["below_bottom_line"]) == (2, 0, 0, 1)
    assert east[land.a]["hectares"] == (await _areas(client, land, "a1", "a4"))["hectares"]
    assert (east[land.b]["contracts_in_force"], east[land.b]["exit_candidates"]) == (1, 1)
    assert _refused(await _get(client, "/reports/accountability", "officer.east", district_code=WEST)) == (
        403, "FORBIDDEN_DISTRICT")
    own = (await _get(client, "/reports/accountability", "manager.a")).json()["items"]
    assert [r["organisation_id"] for r in own] == [land.a] and own[0]["contracts_in_force"] == 3
    west = (await _get(client, "/reports/accountability", "manager.a", district_code=WEST)).json()["items"]
    assert (west[0]["contracts_in_force"], west[0]["exit_candidates"], west[0]["exit_cases_open"]) == (1, 1, 1)


async def test_accountability_csv(client, land):
    r = await _get(client, "/reports/accountability", "bureau", f="csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.startswith("\ufeff") and "accountability-2026-06-01.csv" in r.headers["content-disposition"]
    lines = r.text.lstrip("\ufeff").splitlines()
    assert lines[0].split(",")[:5] == ["organisation_id", "organisation_name", "organisation_kind",
                                       "organisation_district_code", "contracts_in_force"]
    assert len(lines) == 4 and lines[-1].split(",")[1] == "total"
    header = lines[0].split(",")
    a = next(dict(zip(header, line.split(","), strict=True)) for line in lines[1:-1]
             if line.startswith(f"{land.a},"))
    assert a["exit_candidates_by_reason"] == "idle_land:1"
    assert Decimal(a["mu"]) == (await _areas(client, land, "a1", "a2", "a4"))["mu"]
    mine = await _get(client, "/reports/accountability", "manager.b", f="csv")
    assert len(mine.text.lstrip("\ufeff").splitlines()) == 3  # header, B, total


async def test_the_public_does_not_read_the_accountability_report(db, land):
    app = create_app(make_settings(today=TODAY, public_read=True), db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as anon:
        for f in ("json", "csv"):
            r = await anon.get(f"{API}/reports/accountability", params={"f": f})
            assert _refused(r) == (401, "UNAUTHENTICATED")


async def test_accountability_as_of_a_day_before_the_register_held_these_contracts(client, land):
    """Rule 10: `as_of` reads the contracts and parcels as the register held them then; these were all
    written today, so at the end of 2015 each organisation manages nothing (and is still listed)."""
    report = (await _get(client, "/reports/accountability", "bureau", as_of="2015-12-31")).json()
    assert report["as_of"] == "2015-12-31"
    assert {r["organisation_id"] for r in report["items"]} == {land.a, land.b}
    assert {k: v for k, v in report["totals"].items() if k != "organisations"} == {
        "contracts_in_force": 0, "in_rectification": 0, "evaluations_overdue": 0, "below_bottom_line": 0,
        "exit_candidates": 0, "exit_candidate_reasons": 0, "exit_cases_open": 0, "exit_cases_completed": 0,
        "area_m2": 0, "hectares": 0, "mu": 0}
    assert _refused(await _get(client, "/reports/accountability", "bureau", as_of="soon")) == (
        422, "VALIDATION_ERROR")
