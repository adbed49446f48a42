"""The authorisation matrix, continued from test_authorization.py (parcels and zones over REST):
every other write endpoint — enterprises, organisations, contracts, evaluation results, exit cases,
plot-ratio requests, imports — and WFS-T Insert/Update/Delete on parcels and zones, × every role × own/
other district, with the exact status and code (SPEC §3 rule 9, §4, §6). The last column is an anonymous
client while LANDCYCLE_PUBLIC_READ=true: still 401, since public read never opens a write.

Each case builds its land in the east district once; every actor then tries the write in a savepoint
that is rolled back, so each cell sees the same state and the matrix stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest
from lxml import etree

from app.imports.jobs import runner_of
from tests.builders import EAST, M_LAT, M_LON, basic, create_parcel, feature, square
from tests.conftest import make_settings
from tests.contract_builders import contract, enterprise, operate, organisation, parcel, pending, uscc

API = "/api/v1"
TODAY = date(2026, 6, 1)
pytestmark = pytest.mark.settings(today=TODAY)
PAST_NOTICE = {"starts_on": "2026-04-01", "ends_on": "2026-04-20"}
PUBLIC = "anonymous_public_read"
# Matrix columns → users. The land of every case lies in the east district: "own" is east, "other" west.
ACTORS: dict[str, str | None] = {
    "bureau": "bureau",
    "admin": "admin",
    "viewer": "viewer",
    "officer_own": "officer.east",  # submits the plot-ratio requests below
    "colleague": "officer2.east",  # another officer of the east district
    "officer_other": "officer.west",
    "evaluator_own": "evaluator.east",
    "evaluator_other": "evaluator.west",
    "anonymous": None,
    PUBLIC: None,
}
Cell = tuple[int, str | None]
ANON: Cell = (401, "UNAUTHENTICATED")
ROLE: Cell = (403, "FORBIDDEN_ROLE")
DISTRICT: Cell = (403, "FORBIDDEN_DISTRICT")
SELF: Cell = (403, "SELF_APPROVAL_FORBIDDEN")
# WFS-T answers a refused Transaction with HTTP 200 and an ows:ExceptionReport whose text starts with the
# code (QGIS shows the text only then, app/wfs/ows.py), in WFS 1.0.0 a FAILED result whose Locator is the
# code; authentication keeps 401. Every WFS-T row is sent in 2.0.0 and again as 1.0.0/1.1.0 clients send it.
WFS_ROLE: Cell = (200, "FORBIDDEN_ROLE")
WFS_DISTRICT: Cell = (200, "FORBIDDEN_DISTRICT")


def cells(ok: int, *allowed: str, denied: Cell = ROLE, **refused: Cell) -> dict[str, Cell]:
    """Expected (status, code) per column: `ok` for `allowed`, the named refusals, `denied` for every
    other role, 401 for anonymous clients (public read or not)."""
    out = {label: denied for label in ACTORS}
    out.update({"anonymous": ANON, PUBLIC: ANON})
    out.update({label: (ok, None) for label in allowed})
    out.update(refused)
    return out


EDITORS = ("bureau", "officer_own", "colleague")  # bureau and the district's officers


@dataclass
class Attempt:
    """One write as every actor sends it: REST JSON, an import upload, or a WFS Transaction."""

    method: str
    path: str
    json: Any = None
    upload: tuple[str, bytes, dict[str, str]] | None = None  # filename, content, form fields
    wfs: str | None = None


@dataclass(frozen=True)
class Case:
    """A write endpoint, how to build the land it acts on, and the expected cell per column."""

    name: str
    arrange: Callable[[httpx.AsyncClient], Awaitable[Attempt]]
    expect: dict[str, Cell] = field(repr=False)


# ------------------------------------------------------------------------------------------ the land
async def _signed(client: httpx.AsyncClient, signed_on: date = date(2025, 1, 1), operating: bool = True
                  ) -> dict[str, Any]:
    """An industrial parcel (plot ratio 1.5) in the east base zone under a new-supply contract."""
    ent, org = await enterprise(client), await organisation(client, EAST)
    p = await parcel(client, "base")
    c = await contract(client, p["id"], ent, org, signed_on)
    if operating:
        await operate(client, p["id"])
    return {"parcel": p, "contract": c, "enterprise": ent, "org": org}


async def _request(client: httpx.AsyncClient, ratio: float = 1.8, user: str = "officer.east",
                   notice: bool = True, reference: bool = False) -> int:
    """A plot-ratio request on land under contract, by `user`, with a public notice already over."""
    land = await _signed(client)
    if reference:  # an office parcel 300 m away whose plot ratio allows the city route (rule 3)
        x, y = land["parcel"]["geometry"]["coordinates"][0][0][0]
        await create_parcel(client, square(x + 0.003, y), code="OFF-REF", land_use="office", plot_ratio=4.0)
    r = await client.post(f"{API}/plot-ratio-requests", headers=basic(user), json={
        "parcel_id": land["parcel"]["id"], "requested_plot_ratio": ratio, "reason": "a new production line"})
    assert r.status_code == 201, r.text
    if notice:
        n = await client.post(f"{API}/plot-ratio-requests/{r.json()['id']}/notice", json=PAST_NOTICE,
                              headers=basic(user))
        assert n.status_code == 200, n.text
    return int(r.json()["id"])


async def _exit_candidate(client: httpx.AsyncClient) -> int:
    """A contract signed in 2023 whose land is still only `supplied`: idle land (rule 7)."""
    land = await _signed(client, date(2023, 1, 1), operating=False)
    cid = land["contract"]["id"]
    found = await client.get(f"{API}/exit-candidates", params={"contract_id": cid}, headers=basic("bureau"))
    assert [c["reason"] for c in found.json()["items"]] == ["idle_land"], found.text
    return int(cid)


def _open_case(contract_id: int) -> dict[str, Any]:
    return {"contract_id": contract_id, "method": "recovery", "decision_ref": "沪规划资源〔2026〕12号"}


async def _fragment(client: httpx.AsyncClient) -> int:
    """A fragment parcel in the east district (no zone, so not planning-locked)."""
    return int((await create_parcel(client, square(121.62, 31.16), code="MX-1", plot_ratio=1.0))["id"])


EAST_ZONE = (121.65, 31.20, 121.66, 31.21)  # no parcels in it: its edits never touch rule 1


async def _zone(client: httpx.AsyncClient) -> int:
    r = await client.post(f"{API}/zones", headers=basic("bureau"),
                          json=feature(_polygon(*EAST_ZONE), code="ZX", name="zx", kind="community"))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _polygon(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _collection(geometry: dict[str, Any], **properties: Any) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [feature(geometry, **properties)]}).encode()


# ------------------------------------------------------------------------------------------ WFS-T bodies
WFS20 = ('service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0" '
         'xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml/3.2" '
         'xmlns:landcycle="http://landcycle.example.org/wfs"')


def _gml(x0: float, y0: float, x1: float, y1: float) -> str:
    """A GML 3.2 polygon under the URN CRS name (lat/lon axis order)."""
    pos = " ".join(f"{y} {x}" for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
    return (f'<gml:Polygon gml:id="p1" srsName="urn:ogc:def:crs:EPSG::4490"><gml:exterior><gml:LinearRing>'
            f"<gml:posList>{pos}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>")


def _insert(type_name: str, geometry: str, **props: object) -> str:
    inner = "".join(f"<landcycle:{k}>{v}</landcycle:{k}>" for k, v in props.items())
    return (f"<wfs:Transaction {WFS20}><wfs:Insert><landcycle:{type_name}>{inner}"
            f"<landcycle:geometry>{geometry}</landcycle:geometry></landcycle:{type_name}></wfs:Insert>"
            "</wfs:Transaction>")


def _by_id(action: str, type_name: str, key: int, inner: str = "") -> str:
    return (f'<wfs:Transaction {WFS20}><wfs:{action} typeName="landcycle:{type_name}">{inner}'
            f'<fes:Filter><fes:ResourceId rid="{type_name}.{key}"/></fes:Filter></wfs:{action}></wfs:Transaction>')


def _set(name: str, value: str) -> str:
    return f"<wfs:Property><wfs:ValueReference>{name}</wfs:ValueReference><wfs:Value>{value}</wfs:Value></wfs:Property>"


# The same writes as QGIS sends them to a server it reads as WFS 1.0.0 (GML 2, lon/lat) or 1.1.0.
WFS11 = ('service="WFS" version="1.1.0" xmlns:wfs="http://www.opengis.net/wfs" xmlns:ogc="http://www.opengis.net/ogc" '
         'xmlns:landcycle="http://landcycle.example.org/wfs"')


def _insert_10(type_name: str, x0: float, y0: float, x1: float, y1: float, **props: object) -> str:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in props.items())
    coords = " ".join(f"{x},{y}" for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
    geometry = (f'<gml:Polygon srsName="EPSG:4490"><gml:outerBoundaryIs><gml:LinearRing><gml:coordinates>{coords}'
                "</gml:coordinates></gml:LinearRing></gml:outerBoundaryIs></gml:Polygon>")
    return ('<Transaction xmlns="http://www.opengis.net/wfs" xmlns:gml="http://www.opengis.net/gml" service="WFS" '
            f'version="1.0.0"><Insert><{type_name} xmlns="http://landcycle.example.org/wfs">{inner}'
            f"<geometry>{geometry}</geometry></{type_name}></Insert></Transaction>")


def _by_id_11(action: str, type_name: str, key: int, inner: str = "") -> str:
    return (f'<wfs:Transaction {WFS11}><wfs:{action} typeName="landcycle:{type_name}">{inner}'
            f'<ogc:Filter><ogc:FeatureId fid="{type_name}.{key}"/></ogc:Filter></wfs:{action}></wfs:Transaction>')


def _set_11(name: str, value: str) -> str:
    return f"<wfs:Property><wfs:Name>{name}</wfs:Name><wfs:Value>{value}</wfs:Value></wfs:Property>"


# ------------------------------------------------------------------------------------------ the cases
async def _register_enterprise(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", f"{API}/enterprises", {"name": "某某精密制造有限公司", "uscc": uscc(900),
                                                   "industry_code": "C34"})


async def _register_organisation(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", f"{API}/organisations", {"name": "张江园区管委会", "kind": "park_committee",
                                                     "district_code": EAST})


async def _register_citywide_organisation(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", f"{API}/organisations", {"name": "市经济信息化委", "kind": "industry_department"})


async def _sign_contract(client: httpx.AsyncClient) -> Attempt:
    ent, org, p = await enterprise(client), await organisation(client, EAST), await parcel(client, "base")
    return Attempt("POST", f"{API}/contracts", {
        "code": "HT-M1", "parcel_id": p["id"], "enterprise_id": ent, "responsible_org_id": org,
        "signed_on": "2026-03-01", "indicators": [{"code": "output_per_mu", "target": 300},
                                                  {"code": "tax_per_mu", "target": 20}]})


async def _amend_contract(client: httpx.AsyncClient) -> Attempt:
    land = await _signed(client)
    return Attempt("PATCH", f"{API}/contracts/{land['contract']['id']}", {"supply_method": "lease"})


async def _record_result(client: httpx.AsyncClient) -> Attempt:
    land = await _signed(client)
    due = await pending(client, land["contract"]["id"], "commissioning")
    return Attempt("POST", f"{API}/evaluations/{due['id']}/result", {
        "evaluated_on": "2026-05-01", "measurements": {"output_per_mu": 310, "tax_per_mu": 21}})


async def _open_exit_case(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", f"{API}/exit-cases", _open_case(await _exit_candidate(client)))


async def _complete_exit_case(client: httpx.AsyncClient) -> Attempt:
    r = await client.post(f"{API}/exit-cases", json=_open_case(await _exit_candidate(client)),
                          headers=basic("bureau"))
    assert r.status_code == 201, r.text
    return Attempt("POST", f"{API}/exit-cases/{r.json()['id']}/complete", {"note": "buildings paid"})


async def _submit_request(client: httpx.AsyncClient) -> Attempt:
    land = await _signed(client)
    return Attempt("POST", f"{API}/plot-ratio-requests", {"parcel_id": land["parcel"]["id"],
                                                           "requested_plot_ratio": 1.8, "reason": "line 2"})


async def _record_notice(client: httpx.AsyncClient) -> Attempt:
    rid = await _request(client, notice=False)
    return Attempt("POST", f"{API}/plot-ratio-requests/{rid}/notice", PAST_NOTICE)


def _decide(**request: Any) -> Callable[[httpx.AsyncClient], Awaitable[Attempt]]:
    async def arrange(client: httpx.AsyncClient) -> Attempt:
        rid = await _request(client, **request)
        return Attempt("POST", f"{API}/plot-ratio-requests/{rid}/decision", {"decision": "approve", "note": "ok"})
    return arrange


async def _withdraw(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", f"{API}/plot-ratio-requests/{await _request(client, notice=False)}/withdraw")


async def _import_parcels(client: httpx.AsyncClient) -> Attempt:
    body = _collection(square(121.64, 31.17), code="IMP-1", land_use="industrial", plot_ratio=1.2)
    return Attempt("POST", f"{API}/imports", upload=("parcels.geojson", body, {"kind": "parcels"}))


async def _import_zones(client: httpx.AsyncClient) -> Attempt:
    body = _collection(_polygon(121.66, 31.22, 121.67, 31.23), code="IMP-Z", name="新社区", kind="community",
                       advanced_manufacturing=False)
    return Attempt("POST", f"{API}/imports", upload=("zones.geojson", body, {"kind": "zones"}))


async def _import_districts(client: httpx.AsyncClient) -> Attempt:
    body = _collection(_polygon(121.80, 31.30, 121.90, 31.40), code="310118", name_zh="青浦区", name_en="Qingpu")
    return Attempt("POST", f"{API}/imports", upload=("districts.geojson", body, {"kind": "districts"}))


async def _wfs_insert_parcel(client: httpx.AsyncClient) -> Attempt:
    x, y = 121.64, 31.17
    geometry = _gml(x, y, x + 100 * M_LON, y + 100 * M_LAT)
    return Attempt("POST", "/wfs", wfs=_insert("parcels", geometry, code="W-1", land_use="industrial"))


async def _wfs_update_parcel(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", "/wfs", wfs=_by_id("Update", "parcels", await _fragment(client), _set("plot_ratio", "1.4")))


async def _wfs_delete_parcel(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", "/wfs", wfs=_by_id("Delete", "parcels", await _fragment(client)))


async def _wfs_insert_zone(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", "/wfs", wfs=_insert("zones", _gml(121.66, 31.22, 121.67, 31.23), code="WZ", name="wz",
                                               kind="community"))


async def _wfs_update_zone(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", "/wfs", wfs=_by_id("Update", "zones", await _zone(client), _set("name", "renamed")))


async def _wfs_delete_zone(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", "/wfs", wfs=_by_id("Delete", "zones", await _zone(client)))


async def _wfs10_insert_parcel(client: httpx.AsyncClient) -> Attempt:
    x, y = 121.64, 31.17
    return Attempt("POST", "/wfs", wfs=_insert_10("parcels", x, y, x + 100 * M_LON, y + 100 * M_LAT, code="W-1",
                                                  land_use="industrial"))


async def _wfs11_update_parcel(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", "/wfs", wfs=_by_id_11("Update", "parcels", await _fragment(client),
                                                 _set_11("plot_ratio", "1.4")))


async def _wfs11_delete_parcel(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", "/wfs", wfs=_by_id_11("Delete", "parcels", await _fragment(client)))


async def _wfs10_insert_zone(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", "/wfs", wfs=_insert_10("zones", 121.66, 31.22, 121.67, 31.23, code="WZ", name="wz",
                                                  kind="community"))


async def _wfs11_update_zone(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", "/wfs", wfs=_by_id_11("Update", "zones", await _zone(client), _set_11("name", "renamed")))


async def _wfs11_delete_zone(client: httpx.AsyncClient) -> Attempt:
    return Attempt("POST", "/wfs", wfs=_by_id_11("Delete", "zones", await _zone(client)))


WFS_PARCELS = cells(200, *EDITORS, denied=WFS_ROLE, officer_other=WFS_DISTRICT)
WFS_ZONES = cells(200, "bureau", denied=WFS_ROLE)

CASES = [
    # Enterprises belong to no district: any district officer registers them (they sign contracts).
    Case("register enterprise", _register_enterprise, cells(201, *EDITORS, "officer_other")),
    # Organisations are reference data: the bureau, admins, and officers for their own district.
    Case("register organisation", _register_organisation, cells(201, *EDITORS, "admin", officer_other=DISTRICT)),
    # A city-wide organisation (no district) lies outside every officer's district.
    Case("register city-wide organisation", _register_citywide_organisation,
         cells(201, "bureau", "admin", officer_own=DISTRICT, colleague=DISTRICT, officer_other=DISTRICT)),
    Case("sign contract", _sign_contract, cells(201, *EDITORS, officer_other=DISTRICT)),
    Case("amend contract", _amend_contract, cells(200, *EDITORS, officer_other=DISTRICT)),
    Case("record evaluation result", _record_result,
         cells(200, *EDITORS, "evaluator_own", officer_other=DISTRICT, evaluator_other=DISTRICT)),
    Case("open exit case", _open_exit_case, cells(201, "bureau")),
    Case("complete exit case", _complete_exit_case, cells(200, "bureau")),
    Case("submit plot-ratio request", _submit_request, cells(201, *EDITORS, officer_other=DISTRICT)),
    Case("record public notice", _record_notice, cells(200, *EDITORS, officer_other=DISTRICT)),
    # Rule 9: district route — an officer of the district other than the submitter, or the bureau.
    Case("decide district-route request", _decide(),
         cells(200, "bureau", "colleague", officer_own=SELF, officer_other=DISTRICT)),
    # City route (above the default cap, with a reference parcel): the bureau only.
    Case("decide city-route request", _decide(ratio=2.8, reference=True), cells(200, "bureau")),
    # Four eyes hold for the bureau too: a request it submitted is decided by the district.
    Case("decide the bureau's own request", _decide(user="bureau"),
         cells(200, "officer_own", "colleague", bureau=SELF, officer_other=DISTRICT)),
    Case("withdraw plot-ratio request", _withdraw, cells(200, "officer_own", officer_other=DISTRICT)),
    # An import is a background job: 202 when the role may import at all; the code is then the job's
    # (None when it committed, else its first refused row's code — the district check is per row).
    Case("import parcels", _import_parcels, cells(202, *EDITORS, officer_other=(202, "FORBIDDEN_DISTRICT"))),
    Case("import zones", _import_zones, cells(202, "bureau")),
    Case("import districts", _import_districts, cells(202, "bureau", "admin")),
    Case("WFS-T insert parcel", _wfs_insert_parcel, WFS_PARCELS),
    Case("WFS-T update parcel", _wfs_update_parcel, WFS_PARCELS),
    Case("WFS-T delete parcel", _wfs_delete_parcel, WFS_PARCELS),
    Case("WFS-T insert zone", _wfs_insert_zone, WFS_ZONES),
    Case("WFS-T update zone", _wfs_update_zone, WFS_ZONES),
    Case("WFS-T delete zone", _wfs_delete_zone, WFS_ZONES),
    Case("WFS-T 1.0.0 insert parcel", _wfs10_insert_parcel, WFS_PARCELS),
    Case("WFS-T 1.1.0 update parcel", _wfs11_update_parcel, WFS_PARCELS),
    Case("WFS-T 1.1.0 delete parcel", _wfs11_delete_parcel, WFS_PARCELS),
    Case("WFS-T 1.0.0 insert zone", _wfs10_insert_zone, WFS_ZONES),
    Case("WFS-T 1.1.0 update zone", _wfs11_update_zone, WFS_ZONES),
    Case("WFS-T 1.1.0 delete zone", _wfs11_delete_zone, WFS_ZONES),
]


# ------------------------------------------------------------------------------------------ running it
async def _send(client: httpx.AsyncClient, app: Any, attempt: Attempt, user: str | None) -> Cell:
    """Send the attempt as `user`; (status, code) as the matrix spells it."""
    headers = basic(user) if user else {}
    if attempt.wfs is not None:
        r = await client.post(attempt.path, content=attempt.wfs.encode(),
                              headers={**headers, "Content-Type": "text/xml"})
        root = etree.fromstring(r.content)
        if etree.QName(root).localname not in ("ExceptionReport", "ServiceExceptionReport"):
            assert etree.QName(root).localname in ("TransactionResponse", "WFS_TransactionResponse"), r.text
            if root.find(".//{*}FAILED") is not None:  # WFS 1.0.0 reports a refusal inside its response
                return r.status_code, root.findtext(".//{*}Locator")
            return r.status_code, None
        text = "".join(root.find(".//{*}ExceptionText").itertext())
        return r.status_code, text.split(":")[0]
    if attempt.upload is not None:
        name, content, form = attempt.upload
        r = await client.post(attempt.path, files={"file": (name, content)}, data=form, headers=headers)
    else:
        r = await client.request(attempt.method, attempt.path, json=attempt.json, headers=headers)
    if r.status_code == 202:  # an import job: wait for it and read its outcome
        await runner_of(app.state).drain()
        job = (await client.get(r.headers["location"], headers=basic("bureau"))).json()
        assert job["status"] == ("refused" if job["refused"] else "succeeded"), job  # refused rows refuse the job
        return 202, job["refused"][0]["code"] if job["refused"] else None
    if r.status_code < 400:
        return r.status_code, None
    assert r.headers["content-type"] == "application/problem+json", r.text
    return r.status_code, r.json()["code"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_write_matrix(client, app, conn, city, case):
    attempt = await case.arrange(client)
    private, public = app.state.settings, make_settings(today=TODAY, public_read=True)
    got: dict[str, Cell] = {}
    for label, user in ACTORS.items():
        app.state.settings = public if label == PUBLIC else private
        if label == PUBLIC:  # the mode is on: anonymous reads pass
            assert (await client.get(f"{API}/districts")).status_code == 200
        savepoint = await conn.begin_nested()  # every actor meets the same state
        try:
            got[label] = await _send(client, app, attempt, user)
        finally:
            await savepoint.rollback()
            app.state.settings = private
    assert got == case.expect


# ------------------------------------------------------------------------------------------ public read
@pytest.fixture
def public_settings():
    return make_settings(today=TODAY, public_read=True)


async def test_public_read_keeps_the_life_cycle_from_anonymous_readers(client, app, city, public_settings):
    """SPEC §4: with LANDCYCLE_PUBLIC_READ the public reads parcels, zones and districts (and the land
    report built from them), never contracts, evaluations, requests, exits, enterprises or their figures."""
    land = await _signed(client)
    contract_id, parcel_id = land["contract"]["id"], land["parcel"]["id"]
    evaluation = await pending(client, contract_id, "commissioning")
    case = await client.post(f"{API}/exit-cases", json=_open_case(await _exit_candidate(client)),
                             headers=basic("bureau"))
    req = await client.post(f"{API}/plot-ratio-requests", headers=basic("officer.east"), json={
        "parcel_id": parcel_id, "requested_plot_ratio": 1.8, "reason": "line 2"})
    job = await _send(client, app, await _import_parcels(client), "bureau")
    assert (case.status_code, req.status_code, job) == (201, 201, (202, None))
    app.state.settings = public_settings
    assert (await client.get(f"{API}/reports/industrial-land")).status_code == 200
    refused = [
        "/enterprises", f"/enterprises/{land['enterprise']}", "/organisations", f"/organisations/{land['org']}",
        "/contracts", f"/contracts/{contract_id}", f"/contracts/{contract_id}/history",
        "/evaluations", f"/evaluations/{evaluation['id']}", "/exit-candidates", "/exit-cases",
        f"/exit-cases/{case.json()['id']}", "/plot-ratio-requests", f"/plot-ratio-requests/{req.json()['id']}",
        "/reports/evaluations-due", "/reports/efficiency?year=2025",
    ]
    for path in refused:
        r = await client.get(API + path)
        assert (r.status_code, r.json()["code"]) == ANON, (path, r.text)
    # Import jobs are their creators' (and the bureau's and admins'): an anonymous reader sees none.
    assert (await client.get(f"{API}/imports")).json()["numberMatched"] == 0
    # The audit log stays with the bureau, admins and viewers.
    r = await client.get(f"{API}/audit")
    assert (r.status_code, r.json()["code"]) == ANON


@pytest.mark.parametrize("method, path", [("POST", "/parcels"), ("PATCH", "/parcels/{parcel}"),
                                          ("DELETE", "/parcels/{parcel}"), ("POST", "/zones"),
                                          ("PATCH", "/zones/{zone}"), ("DELETE", "/zones/{zone}")])
async def test_public_read_never_opens_a_parcel_or_zone_write(client, app, city, public_settings, method, path):
    target = path.format(parcel=await _fragment(client), zone=await _zone(client))
    app.state.settings = public_settings
    bodies = {"POST /parcels": feature(square(121.64, 31.17), code="PR", land_use="industrial"),
              "POST /zones": feature(_polygon(121.66, 31.22, 121.67, 31.23), code="PR", name="pr", kind="community"),
              "PATCH /parcels/{parcel}": {"properties": {"plot_ratio": 1.4}},
              "PATCH /zones/{zone}": {"properties": {"name": "renamed"}}}
    body = bodies.get(f"{method} {path}")
    r = await client.request(method, API + target, json=body)
    assert (r.status_code, r.json()["code"]) == ANON
