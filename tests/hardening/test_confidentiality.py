"""Confidential data stays in its district (SPEC §4): contracts, evaluations with their measured figures,
plot-ratio requests, exit candidates and cases, and the reports on them (JSON and CSV, REST and WFS) are
read by bureau, admin and viewer city-wide and by a district officer or evaluator for its own district
only — a list is its district's (another district_code is FORBIDDEN_DISTRICT, a contract or parcel of
another district lists nothing), one resource of another district is FORBIDDEN_DISTRICT; by an org_manager
for its organisation's contracts only (another's is FORBIDDEN_ROLE), by a data_provider not at all; with
LANDCYCLE_PUBLIC_READ=true the public reads parcels, zones and districts, never enterprise figures.

The same land is built in both test districts: an operating contract with a recorded result (output and
tax measured) and an overdue periodic evaluation, a plot-ratio request, an idle-land exit candidate, and an
exit case opened on a second idle contract.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import mapbox_vector_tile
import pytest

from app.main import create_app
from models import AppUser
from tests.builders import EAST, WEST, _hash, basic
from tests.conftest import make_settings
from tests.contract_builders import contract, enterprise, operate, organisation, parcel, pending, result
from tests.wfs.helpers import exception, fes, get_feature_20, kvp, members, post, xml

API = "/api/v1"
TODAY = date(2026, 6, 1)
pytestmark = pytest.mark.settings(today=TODAY)
FORBIDDEN = (403, "FORBIDDEN_DISTRICT")
ANON = (401, "UNAUTHENTICATED")
SCOPED = ["officer.east", "evaluator.east"]  # the district roles of the east district
SITE = {EAST: "base", WEST: "community"}  # the test city's zones: BZ lies in the east, CZ in the west
# Output and tax measured on the operating contracts: figures that must not cross a district line.
MEASURED = {EAST: (431.5, 27.25), WEST: (517.75, 33.5)}


@dataclass(frozen=True)
class Land:
    """What one district holds."""

    district: str
    contract: int
    contract_code: str
    parcel: int
    completed: int  # an evaluation with its measured figures
    overdue: int  # a periodic evaluation past its due date
    request: int
    candidate: int  # an idle-land contract (rule 7)
    case: int  # an exit case on another idle-land contract


async def _idle(client: httpx.AsyncClient, district: str, org: int) -> int:
    """A contract signed in 2023 whose land is still only `supplied`: idle land a year after its start."""
    land = await parcel(client, SITE[district])
    return int((await contract(client, land["id"], await enterprise(client), org, date(2023, 1, 1)))["id"])


async def _district(client: httpx.AsyncClient, district: str) -> Land:
    org = await organisation(client, district)
    land = await parcel(client, SITE[district])
    signed = await contract(client, land["id"], await enterprise(client), org, date(2012, 1, 1))
    await operate(client, land["id"])
    output, tax = MEASURED[district]
    done = await result(client, (await pending(client, signed["id"], "commissioning"))["id"], date(2015, 3, 1),
                        output_per_mu=output, tax_per_mu=tax)
    overdue = await pending(client, signed["id"], "periodic", 2)  # due 2025-01-01, no result
    officer = "officer.east" if district == EAST else "officer.west"
    req = await client.post(f"{API}/plot-ratio-requests", headers=basic(officer), json={
        "parcel_id": land["id"], "requested_plot_ratio": 1.8, "reason": "a second production line"})
    assert req.status_code == 201, req.text
    candidate, exiting = await _idle(client, district, org), await _idle(client, district, org)
    case = await client.post(f"{API}/exit-cases", headers=basic("bureau"), json={
        "contract_id": exiting, "method": "recovery", "decision_ref": "沪规划资源〔2026〕12号"})
    assert case.status_code == 201, case.text
    return Land(district, signed["id"], signed["code"], land["id"], done["id"], overdue["id"], req.json()["id"],
                candidate, case.json()["id"])


@pytest.fixture
async def lands(client, city) -> dict[str, Land]:
    return {EAST: await _district(client, EAST), WEST: await _district(client, WEST)}


async def _get(client: httpx.AsyncClient, path: str, user: str | None, **params: Any) -> httpx.Response:
    return await client.get(API + path, params=params, headers=basic(user) if user else {})


def _refused(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["code"]


def _items(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def _assert_own_district_only(client, path: str, user: str, own: int, other: int, **naming_other: Any):
    """A district role asking for the other district's rows of `path`: the district filter and the other's one
    are FORBIDDEN_DISTRICT, a filter naming the other's (`naming_other`) lists nothing; its own one is read."""
    assert _refused(await _get(client, path, user, district_code=WEST)) == FORBIDDEN
    assert _items(await _get(client, path, user, **naming_other)) == []
    assert _refused(await _get(client, f"{path}/{other}", user)) == FORBIDDEN
    assert (await _get(client, f"{path}/{own}", user)).status_code == 200


# ------------------------------------------------------------------------------------------ REST lists and ones
@pytest.mark.parametrize("user", SCOPED)
async def test_a_district_role_reads_its_own_districts_contracts_only(client, lands, user):
    east, west = lands[EAST], lands[WEST]
    mine = _items(await _get(client, "/contracts", user))
    assert {c["district_code"] for c in mine} == {EAST} and east.contract in {c["id"] for c in mine}
    await _assert_own_district_only(client, "/contracts", user, east.contract, west.contract, parcel_id=west.parcel)
    assert _refused(await _get(client, f"/contracts/{west.contract}/history", user)) == FORBIDDEN
    assert (await _get(client, f"/contracts/{east.contract}/history", user)).status_code == 200


@pytest.mark.parametrize("user", SCOPED)
async def test_a_district_role_reads_its_own_districts_evaluations_and_measured_figures_only(client, lands, user):
    east, west = lands[EAST], lands[WEST]
    mine = _items(await _get(client, "/evaluations", user, limit=1000))
    assert {e["district_code"] for e in mine} == {EAST}
    assert [e["measurements"] for e in mine if e["id"] == east.completed] == [
        {"output_per_mu": MEASURED[EAST][0], "tax_per_mu": MEASURED[EAST][1]}]
    assert _refused(await _get(client, "/evaluations", user, district_code=WEST)) == FORBIDDEN
    assert _items(await _get(client, "/evaluations", user, contract_id=west.contract)) == []
    assert _items(await _get(client, "/evaluations", user, parcel_id=west.parcel)) == []
    assert _refused(await _get(client, f"/evaluations/{west.completed}", user)) == FORBIDDEN
    assert (await _get(client, f"/evaluations/{east.completed}", user)).json()["outcome"] == "pass"


@pytest.mark.parametrize("user", SCOPED)
async def test_a_district_role_reads_its_own_districts_plot_ratio_requests_only(client, lands, user):
    east, west = lands[EAST], lands[WEST]
    assert [r["id"] for r in _items(await _get(client, "/plot-ratio-requests", user))] == [east.request]
    await _assert_own_district_only(client, "/plot-ratio-requests", user, east.request, west.request,
                                    parcel_id=west.parcel)


@pytest.mark.parametrize("user", SCOPED)
async def test_a_district_role_reads_its_own_districts_exit_candidates_and_cases_only(client, lands, user):
    east, west = lands[EAST], lands[WEST]
    found = _items(await _get(client, "/exit-candidates", user))
    assert [(c["contract_id"], c["district_code"]) for c in found] == [(east.candidate, EAST)]
    assert _refused(await _get(client, "/exit-candidates", user, district_code=WEST)) == FORBIDDEN
    assert _items(await _get(client, "/exit-candidates", user, contract_id=west.candidate)) == []
    assert [c["id"] for c in _items(await _get(client, "/exit-cases", user))] == [east.case]
    await _assert_own_district_only(client, "/exit-cases", user, east.case, west.case, contract_id=west.case)


# ------------------------------------------------------------------------------------------ reports
@pytest.mark.parametrize("user", SCOPED)
async def test_the_efficiency_report_lists_a_district_role_its_districts_contracts_json_and_csv(
        client, lands, user):
    east, west = lands[EAST], lands[WEST]
    report = (await _get(client, "/reports/efficiency", user, year=2025)).json()
    assert [(i["contract_id"], i["district_code"]) for i in report["items"]] == [(east.contract, EAST)]
    assert report["numberMatched"] == 1 and report["contracts"] == 2  # ranked city-wide, listed in the district
    assert _refused(await _get(client, "/reports/efficiency", user, year=2025, district_code=WEST)) == FORBIDDEN
    csv = await _get(client, "/reports/efficiency", user, year=2025, f="csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert east.contract_code in csv.text and west.contract_code not in csv.text
    assert len(csv.text.lstrip("\ufeff").splitlines()) == 2  # the header and the east contract
    bureau = (await _get(client, "/reports/efficiency", "bureau", year=2025, district_code=WEST)).json()
    assert [i["contract_id"] for i in bureau["items"]] == [west.contract]


@pytest.mark.parametrize("user", SCOPED)
async def test_the_evaluations_due_are_a_district_roles_own_json_and_csv(client, lands, user):
    east, west = lands[EAST], lands[WEST]
    due = (await _get(client, "/reports/evaluations-due", user, within_days=30)).json()
    assert {i["district_code"] for i in due["items"]} == {EAST} and east.overdue in {i["id"] for i in due["items"]}
    assert [d["district_code"] for d in due["by_district"]] == [EAST]
    assert _refused(await _get(client, "/reports/evaluations-due", user, district_code=WEST)) == FORBIDDEN
    csv = await _get(client, "/reports/evaluations-due", user, within_days=30, f="csv")
    assert east.contract_code in csv.text and west.contract_code not in csv.text
    assert _refused(await _get(client, "/reports/evaluations-due", user, district_code=WEST, f="csv")) == FORBIDDEN


# ------------------------------------------------------------------------------------------ WFS
@pytest.mark.parametrize("user", SCOPED)
async def test_the_wfs_exit_candidates_are_a_district_roles_own(client, lands, user):
    east, west = lands[EAST], lands[WEST]
    r = await kvp(client, user=user, version="2.0.0", request="GetFeature",
                  typenames="landcycle:exit_candidates", outputformat="application/json")
    assert [f["properties"]["contract_id"] for f in r.json()["features"]] == [east.candidate]
    assert r.json()["numberMatched"] == 1
    hits = xml(await kvp(client, user=user, version="2.0.0", request="GetFeature",
                         typenames="landcycle:exit_candidates", resulttype="hits"))
    assert hits.get("numberMatched") == "1"
    hits_11 = xml(await kvp(client, user=user, version="1.1.0", request="GetFeature",
                            typename="landcycle:exit_candidates", resulttype="hits"))
    assert hits_11.get("numberOfFeatures") == "1"
    theirs = fes(f'<fes:ResourceId rid="exit_candidates.{west.candidate}-idle_land"/>')
    assert members(xml(await post(client, get_feature_20("landcycle:exit_candidates", theirs), user=user)),
                   "exit_candidates") == []
    r = await kvp(client, user=user, version="2.0.0", request="GetFeature", resourceid=
                  f"exit_candidates.{west.candidate}-idle_land,exit_candidates.{east.candidate}-idle_land",
                  typenames="landcycle:exit_candidates", outputformat="application/json")
    assert [f["properties"]["contract_id"] for f in r.json()["features"]] == [east.candidate]
    by_id = "urn:ogc:def:query:OGC-WFS::GetFeatureById"
    r = await kvp(client, user=user, version="2.0.0", request="GetFeature", storedquery_id=by_id,
                  id=f"exit_candidates.{west.candidate}-idle_land")
    assert r.status_code == 404 and exception(r)[0] == "NotFound"
    r = await kvp(client, user=user, version="2.0.0", request="GetFeature", storedquery_id=by_id,
                  id=f"exit_candidates.{east.candidate}-idle_land")
    assert r.status_code == 200


# ------------------------------------------------------------------------------------------ city-wide readers
@pytest.mark.parametrize("user", ["viewer", "bureau", "admin"])
async def test_bureau_admin_and_viewer_read_every_district(client, lands, user):
    east, west = lands[EAST], lands[WEST]
    both = {EAST, WEST}
    assert {c["district_code"] for c in _items(await _get(client, "/contracts", user))} == both
    assert {e["district_code"] for e in _items(await _get(client, "/evaluations", user, limit=1000))} == both
    assert {r["id"] for r in _items(await _get(client, "/plot-ratio-requests", user))} == {east.request,
                                                                                           west.request}
    assert {c["contract_id"] for c in _items(await _get(client, "/exit-candidates", user))} == {
        east.candidate, west.candidate}
    assert {c["id"] for c in _items(await _get(client, "/exit-cases", user))} == {east.case, west.case}
    for path in (f"/contracts/{west.contract}", f"/evaluations/{west.completed}",
                 f"/plot-ratio-requests/{west.request}", f"/exit-cases/{west.case}"):
        assert (await _get(client, path, user)).status_code == 200, path
    assert len((await _get(client, "/reports/efficiency", user, year=2025)).json()["items"]) == 2
    due = (await _get(client, "/reports/evaluations-due", user, within_days=30)).json()
    assert {d["district_code"] for d in due["by_district"]} == both
    r = await kvp(client, user=user, version="2.0.0", request="GetFeature",
                  typenames="landcycle:exit_candidates", outputformat="application/json")
    assert r.json()["numberMatched"] == 2


# ------------------------------------------------------------------------------------------ organisations
NOT_YOURS = (403, "FORBIDDEN_ROLE")


@pytest.fixture
async def manager(client, db, lands) -> str:
    """An org_manager of the east district's organisation (each district's land has its own)."""
    org = (await _get(client, f"/contracts/{lands[EAST].contract}", "bureau")).json()["responsible_org_id"]
    async with db.session() as session:
        session.add(AppUser(username="manager.east", password_hash=_hash(), role="org_manager",
                            organisation_id=org))
        session.add(AppUser(username="provider.tax", password_hash=_hash(), role="data_provider", source="tax"))
    return "manager.east"


async def test_an_org_manager_reads_its_organisations_rows_only(client, lands, manager):
    """SPEC §4: an org_manager's lists are its organisation's (a district_code narrows them, it is not
    refused); another organisation's resource is FORBIDDEN_ROLE; JSON, CSV and WFS alike."""
    east, west = lands[EAST], lands[WEST]
    for path, params in (("/contracts", {}), ("/evaluations", {"limit": 1000}), ("/exit-candidates", {}),
                         ("/reports/evaluations-due", {"within_days": 30})):
        rows = _items(await _get(client, path, manager, **params))
        assert rows and {r["district_code"] for r in rows} == {EAST}, path
        assert _items(await _get(client, path, manager, district_code=WEST, **params)) == [], path
    assert [r["id"] for r in _items(await _get(client, "/plot-ratio-requests", manager))] == [east.request]
    assert [c["id"] for c in _items(await _get(client, "/exit-cases", manager))] == [east.case]
    for path in (f"/contracts/{west.contract}", f"/contracts/{west.contract}/history",
                 f"/evaluations/{west.completed}", f"/plot-ratio-requests/{west.request}", f"/exit-cases/{west.case}"):
        assert _refused(await _get(client, path, manager)) == NOT_YOURS, path
    for path in (f"/contracts/{east.contract}", f"/evaluations/{east.completed}",
                 f"/plot-ratio-requests/{east.request}", f"/exit-cases/{east.case}"):
        assert (await _get(client, path, manager)).status_code == 200, path
    report = (await _get(client, "/reports/efficiency", manager, year=2025)).json()
    assert [i["contract_id"] for i in report["items"]] == [east.contract] and report["contracts"] == 2
    for path in ("/reports/efficiency?year=2025&f=csv", "/reports/evaluations-due?f=csv",
                 "/reports/accountability?f=csv"):
        csv = await client.get(API + path, headers=basic(manager))
        assert csv.status_code == 200 and west.contract_code not in csv.text, path
    r = await kvp(client, user=manager, version="2.0.0", request="GetFeature",
                  typenames="landcycle:exit_candidates", outputformat="application/json")
    assert [f["properties"]["contract_id"] for f in r.json()["features"]] == [east.candidate]
    assert _refused(await _get(client, "/audit", manager)) == NOT_YOURS


async def test_a_data_provider_reads_no_contract_data(client, lands, manager):
    """A department delivers figures; it reads no contract, evaluation, request, exit or report (SPEC §4)."""
    for path in CONFIDENTIAL:
        if path in ("/enterprises", "/organisations"):
            continue
        r = await client.get(API + path.format(**vars(lands[EAST])), headers=basic("provider.tax"))
        assert _refused(r) == NOT_YOURS, path
    r = await kvp(client, user="provider.tax", version="2.0.0", request="GetFeature",
                  typenames="landcycle:exit_candidates")
    assert r.status_code == 400 and "FORBIDDEN_ROLE" in exception(r)[2]  # an OWS ExceptionReport


# ------------------------------------------------------------------------------------------ public read
CONFIDENTIAL = ("/contracts", "/contracts/{contract}", "/contracts/{contract}/history", "/evaluations",
                "/evaluations/{completed}", "/plot-ratio-requests", "/plot-ratio-requests/{request}",
                "/exit-candidates", "/exit-cases", "/exit-cases/{case}", "/reports/efficiency",
                "/reports/efficiency?f=csv", "/reports/evaluations-due", "/reports/evaluations-due?f=csv",
                "/reports/accountability", "/reports/accountability?f=csv",
                "/enterprises", "/organisations", "/audit")


@pytest.fixture
async def public(db, lands) -> Any:
    app = create_app(make_settings(today=TODAY, public_read=True), db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as anon:
        yield anon


async def test_the_public_reads_parcels_zones_and_districts_but_no_enterprise_figures(public, lands):
    east = lands[EAST]
    for path in ("/parcels", f"/parcels/{east.parcel}", "/zones", "/districts", f"/districts/{EAST}"):
        assert (await public.get(API + path)).status_code == 200, path
    for path in CONFIDENTIAL:
        r = await public.get(API + path.format(**vars(east)))
        assert _refused(r) == ANON, path
    r = await kvp(public, user=None, version="2.0.0", request="GetFeature", typenames="landcycle:parcels",
                  outputformat="application/json")
    assert r.status_code == 200 and r.json()["numberMatched"] > 0
    for extra in ({}, {"resulttype": "hits"}):
        r = await kvp(public, user=None, version="2.0.0", request="GetFeature",
                      typenames="landcycle:exit_candidates", **extra)
        assert r.status_code == 401 and "UNAUTHENTICATED" in exception(r)[2]
    r = await kvp(public, user=None, version="2.0.0", request="GetFeature",
                  storedquery_id="urn:ogc:def:query:OGC-WFS::GetFeatureById",
                  id=f"exit_candidates.{east.candidate}-idle_land")
    assert r.status_code == 401


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0", "1.0.0"])
async def test_the_public_is_not_told_of_exit_candidates_in_the_capabilities(public, client, lands, version):
    """The capabilities list what the caller may read: parcels, zones and districts for the public; the
    exit candidates too for a logged-in reader."""
    def listed(r: httpx.Response) -> list[str]:
        names = (e.text or "" for e in xml(r).iter() if e.tag.endswith("}Name") or e.tag == "Name")
        return [name for name in names if name.startswith("landcycle:")]

    anonymous = listed(await kvp(public, user=None, version=version, request="GetCapabilities"))
    assert anonymous == ["landcycle:parcels", "landcycle:zones", "landcycle:districts"]
    bureau = listed(await kvp(client, user="bureau", version=version, request="GetCapabilities"))
    assert bureau == [*anonymous, "landcycle:exit_candidates"]


async def test_the_public_describes_only_the_types_it_may_read(public, lands):
    r = await kvp(public, user=None, version="2.0.0", request="DescribeFeatureType")
    assert r.status_code == 200
    assert b'name="parcels"' in r.content and b"exit_candidates" not in r.content
    r = await kvp(public, user=None, version="2.0.0", request="DescribeFeatureType",
                  typenames="landcycle:exit_candidates")
    assert r.status_code == 401 and "UNAUTHENTICATED" in exception(r)[2]
    r = await kvp(public, user=None, version="2.0.0", request="ListStoredQueries")
    assert b"landcycle:parcels" in r.content and b"exit_candidates" not in r.content


async def test_tiles_carry_no_enterprise_figures(public, lands):
    """The tiles' properties are the parcel's, zone's and district's own: no contract, enterprise or
    measured figure rides along (SPEC §4 'tiles' properties')."""
    ring = (await public.get(f"{API}/parcels/{lands[EAST].parcel}")).json()["geometry"]["coordinates"][0][0]
    lon, lat, z = sum(p[0] for p in ring[:4]) / 4, sum(p[1] for p in ring[:4]) / 4, 14  # its centre
    x, y = int((lon + 180) / 360 * 2**z), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    r = await public.get(f"/tiles/parcels/{z}/{x}/{y}.mvt")
    assert r.status_code == 200, r.text
    found = mapbox_vector_tile.decode(r.content)["parcels"]["features"]
    assert lands[EAST].parcel in {f["id"] for f in found}
    keys = set().union(*(f["properties"] for f in found))
    assert keys <= {"id", "code", "land_use", "plot_ratio", "legacy_zone", "status", "district_code", "tier",
                    "zone_id", "planning_locked", "plot_ratio_cap"}
    values = {v for f in found for v in f["properties"].values()}
    assert not values & {*MEASURED[EAST], *MEASURED[WEST], lands[EAST].contract_code}
