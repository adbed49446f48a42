"""The web page (SPEC §5 "Web page") in a real browser: a district officer finds a parcel, submits a
plot-ratio request (and sees the rule's refusal in plain words first), records the public notice and sees
the request in the queue; the bureau approves it and the parcel shows its new ratio; the dashboard shows the
reports API's numbers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, LivePage, first_render_ms, shot

pytestmark = [pytest.mark.live, pytest.mark.slow]

OFFICER = "officer.pudong"
PUDONG = "310115"


def log_in(page: Any, base: str, user: str) -> None:
    page.goto(base + "/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_selector("#view-map:not([hidden])")
    first_render_ms(page)


def open_parcel(page: Any, code: str) -> None:
    page.fill("#search-code", code)
    page.press("#search-code", "Enter")
    page.wait_for_selector(f"#panel:not([hidden]) #panel-title:has-text('{code}')")


def open_data_view(page: Any, base: str) -> None:
    log_in(page, base, "bureau")
    page.click("nav a[data-view=data]")
    page.wait_for_selector("#export-form")


def send_import(page: Any, path: Any) -> None:
    """Choose the file (with the options already set on the form) and start the import."""
    page.set_input_files("#import-file", str(path))
    page.click("#import-form button[type=submit]")


def a_parcel_to_raise(live: LivePage) -> dict[str, Any]:
    """An industrial parcel in Pudong under an active contract, below its cap, with no open request."""
    contracts = live.rest("/contracts", status="active", district_code=PUDONG, limit=200)["items"]
    for contract in contracts:
        parcel = live.rest(f"/parcels/{contract['parcel_id']}")
        props = parcel["properties"]
        if props["land_use"] != "industrial" or props["plot_ratio"] is None:
            continue
        if props["plot_ratio"] + 0.1 > props["plot_ratio_cap"]:
            continue
        if live.rest("/plot-ratio-requests", parcel_id=parcel["id"], status="submitted")["numberMatched"]:
            continue
        return {"id": parcel["id"], **props}
    raise AssertionError("the demo city has no Pudong parcel to raise")


def test_login_refuses_a_wrong_password_in_plain_words(live_page: LivePage, page: Any) -> None:
    page.goto(live_page.base + "/")
    page.fill("input[name=username]", OFFICER)
    page.fill("input[name=password]", "not the password")
    page.press("input[name=password]", "Enter")
    page.wait_for_selector("#login-error:not([hidden])")
    assert "Login failed" in page.inner_text("#login-error")
    shot(page, "01-login-refused")


def test_map_draws_the_city_from_vector_tiles(live_page: LivePage, page: Any) -> None:
    tiles: list[tuple[str, int]] = []
    page.on("response", lambda r: tiles.append((r.url, r.status)) if "/tiles/" in r.url else None)
    log_in(page, live_page.base, "bureau")
    assert first_render_ms(page) > 0
    layers = {url.split("/tiles/")[1].split("/")[0] for url, _ in tiles}
    assert {"parcels", "zones", "districts"} <= layers
    # A new browser context has nothing cached to revalidate (no 304): a tile with features is 200, an empty
    # one 204 (tests/api/test_tiles.py holds each tile to its answer).
    assert {status for _, status in tiles} <= {200, 204}, tiles
    # Tier colours are explained beside the map, in the chosen language.
    legend = page.inner_text("#legend")
    assert "Base" in legend and "Community" in legend and "Fragment" in legend
    shot(page, "02-map-city")
    page.select_option("#style-by", "status")
    assert "Operating" in page.inner_text("#legend")
    page.select_option("#style-by", "planning_locked")
    assert "Not locked" in page.inner_text("#legend")


def test_officer_submits_a_request_and_follows_it_to_the_bureau_approval(live_page: LivePage, page: Any) -> None:
    parcel = a_parcel_to_raise(live_page)
    raised = round(min(parcel["plot_ratio_cap"], parcel["plot_ratio"] + 0.3), 2)

    log_in(page, live_page.base, OFFICER)
    open_parcel(page, parcel["code"])
    panel = page.inner_text("#panel")
    for fact in ("Pudong", parcel["code"], "m²", "mu", "Planning lock", "Indicators", "Evaluations", "History"):
        assert fact in panel, fact
    assert float(page.inner_text("#panel [data-field=plot_ratio]")) == pytest.approx(parcel["plot_ratio"])
    # At a glance: the lock as the API states it; the contract's indicators with the latest measurements.
    badges = page.locator("#panel [data-badge]").evaluate_all("spans => spans.map(s => s.dataset.badge)")
    assert ("locked" in badges) == parcel["planning_locked"]
    assert "capped" not in badges  # the parcel was chosen below its cap
    assert "Measured" in page.inner_text("#panel table:below(:text('Indicators'))")
    shot(page, "03-panel-officer")

    # A ratio not above the current one: refused, in plain words, with both numbers.
    page.fill("#request-form input[name=requested_plot_ratio]", str(parcel["plot_ratio"]))
    page.fill("#request-form textarea[name=reason]", "expand the production line")
    page.click("#request-form button[type=submit]")
    page.wait_for_selector("#request-form .error:not([hidden])")
    refusal = page.inner_text("#request-form .error")
    assert "is not above the current" in refusal
    assert f"{parcel['plot_ratio']:g}" in refusal
    shot(page, "04-request-refused")

    page.fill("#request-form input[name=requested_plot_ratio]", str(raised))
    page.fill("#request-form textarea[name=reason]", "expand the production line")
    page.click("#request-form button[type=submit]")
    page.wait_for_selector("#parcel-requests li[data-request]")
    request_id = int(page.get_attribute("#parcel-requests li[data-request]", "data-request"))
    assert live_page.rest(f"/plot-ratio-requests/{request_id}")["status"] == "submitted"

    # The district's queue lists it; the officer records the public notice (held earlier, now over).
    page.click("nav a[data-view=queues]")
    row = f"#queue-requests tr:has(a[data-parcel='{parcel['id']}'])"
    page.wait_for_selector(row)
    assert "Submitted" in page.inner_text(row)
    today = date.today()
    page.fill(f"{row} input[type=date] >> nth=0", (today - timedelta(days=20)).isoformat())
    page.fill(f"{row} input[type=date] >> nth=1", (today - timedelta(days=10)).isoformat())
    page.click(f"{row} button[data-action=notice]")
    page.wait_for_selector(f"{row}:has-text('Public notice')")
    assert page.locator(f"{row} button[data-action=approve]").count() == 0  # the submitter never decides
    shot(page, "05-queue-officer")

    # The bureau approves from its queue, then sees the parcel's new ratio on the map's panel.
    page.click("#logout")
    log_in(page, live_page.base, "bureau")
    page.click("nav a[data-view=queues]")
    page.wait_for_selector(f"{row} button[data-action=approve]")
    shot(page, "06-queue-bureau")
    page.click(f"{row} button[data-action=approve]")
    page.wait_for_selector(row, state="detached")
    assert live_page.rest(f"/plot-ratio-requests/{request_id}")["status"] == "approved"

    page.click("nav a[data-view=map]")
    open_parcel(page, parcel["code"])
    shown = page.inner_text("#panel [data-field=plot_ratio]")
    assert float(shown) == pytest.approx(raised)
    assert live_page.rest(f"/parcels/{parcel['id']}")["properties"]["plot_ratio"] == pytest.approx(raised)
    assert "Approved" in page.inner_text("#parcel-requests")
    shot(page, "07-panel-approved")


def test_dashboard_numbers_are_the_reports_api_numbers(live_page: LivePage, page: Any) -> None:
    log_in(page, live_page.base, "bureau")
    page.click("nav a[data-view=dashboard]")
    page.wait_for_selector("#view-dashboard[data-ready]", timeout=30_000)

    def metric(name: str) -> float:
        return float(page.get_attribute(f"[data-metric='{name}']", "data-value"))

    land = live_page.rest("/reports/industrial-land")
    assert metric("total-km2") == pytest.approx(land["total"]["km2"])
    assert metric("total-parcels") == land["total"]["parcels"]
    assert metric("base-am-km2") == pytest.approx(land["base_for_advanced_manufacturing"]["km2"])
    tiers = [float(v) for v in page.locator("#table-tier td[data-value]").evaluate_all(
        "cells => cells.map(c => c.dataset.value)")]
    assert tiers == pytest.approx([row["km2"] for row in land["by_tier"]])
    districts = page.locator("#table-district td[data-value]").evaluate_all("cells => cells.map(c => c.dataset.value)")
    assert sorted(float(v) for v in districts) == pytest.approx(sorted(r["km2"] for r in land["by_district"]))

    due = live_page.rest("/reports/evaluations-due", within_days=90, limit=0)
    assert (metric("due"), metric("overdue")) == (due["due"], due["overdue"])
    classes = live_page.rest("/reports/efficiency", limit=0)["classes"]
    assert {c: metric(f"class-{c}") for c in classes} == classes
    assert metric("candidates") == live_page.rest("/exit-candidates", limit=0)["numberMatched"]
    assert metric("rectification") == live_page.rest("/contracts", status="rectification", limit=0)["numberMatched"]
    # The charts are drawn, and the targets named beside them.
    assert page.locator("#view-dashboard svg.chart").count() >= 6
    text = page.inner_text("#view-dashboard")
    assert "550" in text and "320–480" in text and "150" in text
    shot(page, "08-dashboard-en")

    # Chinese labels on the same numbers.
    page.click("#lang")
    page.wait_for_selector("#view-dashboard h1:has-text('产业用地与目标对照')")
    page.wait_for_selector("#view-dashboard[data-ready]")
    assert metric("total-km2") == pytest.approx(land["total"]["km2"])
    assert "先进制造业基地" in page.inner_text("#view-dashboard")
    shot(page, "09-dashboard-zh")


def test_keyboard_and_small_screen(live_page: LivePage, page: Any) -> None:
    log_in(page, live_page.base, OFFICER)
    # Tab reaches the navigation; Enter on a link switches the view.
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.view") == "queues":
            break
    else:
        raise AssertionError("Tab never reached the Queues link")
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-queues h1")
    assert "Pudong" in page.inner_text("#view-queues h1")
    # No horizontal scrolling at 1280×720 in any view, each once it has rendered.
    rendered = {"queues": "#view-queues h1", "dashboard": "#view-dashboard[data-ready]",
                "map": "#view-map:not([hidden])"}
    for view, ready in rendered.items():
        page.click(f"nav a[data-view={view}]")
        page.wait_for_selector(ready)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, view
    shot(page, "10-queues-officer")
    # Escape closes the parcel panel.
    code = live_page.rest("/parcels", district_code=PUDONG, limit=1)["features"][0]["properties"]["code"]
    open_parcel(page, code)
    assert page.evaluate("document.activeElement.id") == "panel"
    page.keyboard.press("Escape")
    page.wait_for_selector("#panel", state="hidden")


def test_data_view_downloads_an_extract_and_imports_a_file_as_a_job(live_page: LivePage, page: Any,
                                                                     tmp_path: Any) -> None:
    import csv
    import json
    from pathlib import Path

    from tests.builders import M_LAT, M_LON

    open_data_view(page, live_page.base)
    # The extract: Pudong's base parcels as CSV in Gauss-Krüger, the same rows the REST list matches.
    page.select_option("#export-form select[name=f]", "csv")
    page.select_option("#export-form select[name=crs]", "EPSG:4549")
    page.select_option("#export-form select[name=tier]", "base")
    page.select_option("#export-form select[name=district_code]", PUDONG)
    with page.expect_download() as caught:
        page.click("#export-form button[type=submit]")
    download = caught.value
    assert download.suggested_filename == "parcels.csv"
    rows = list(csv.DictReader(Path(download.path()).read_text(encoding="utf-8").splitlines()))
    listed = live_page.rest("/parcels", tier="base", district_code=PUDONG, limit=1000)
    assert sorted(r["code"] for r in rows) == sorted(f["properties"]["code"] for f in listed["features"])
    assert rows and float(rows[0]["wkt"].split("(")[-1].split()[0]) > 100_000  # metres, not degrees
    page.wait_for_selector("#export-status:has-text('Downloaded parcels.csv')")
    # The zones for Excel: a CSV whose byte-order mark makes Excel read the Chinese names as UTF-8.
    page.select_option("#export-form select[name=what]", "zones")
    assert not page.is_visible("#export-form select[name=tier]")  # zones have no tier to filter by
    page.select_option("#export-form select[name=f]", "excel")
    page.select_option("#export-form select[name=district_code]", "")
    with page.expect_download() as caught:
        page.click("#export-form button[type=submit]")
    assert caught.value.suggested_filename == "zones.csv"
    raw = Path(caught.value.path()).read_bytes()
    assert raw.startswith("\ufeff".encode())
    names = {r["code"]: r["name"] for r in csv.DictReader(raw.decode("utf-8-sig").splitlines())}
    assert names == {z["properties"]["code"]: z["properties"]["name"] for z in live_page.rest("/zones")["features"]}
    assert any("\u4e00" <= c <= "\u9fff" for name in names.values() for c in name)  # Chinese names among them
    # The zones too, as a GeoPackage for another GIS.
    import pyogrio

    page.select_option("#export-form select[name=what]", "zones")
    page.select_option("#export-form select[name=f]", "gpkg")
    page.select_option("#export-form select[name=district_code]", "")
    with page.expect_download() as caught:
        page.click("#export-form button[type=submit]")
    assert caught.value.suggested_filename == "zones.gpkg"
    page.select_option("#export-form select[name=what]", "districts")
    assert not page.is_visible("#export-form select[name=district_code]")
    page.select_option("#export-form select[name=what]", "parcels")
    assert page.is_visible("#export-form select[name=tier]") and page.is_visible("#export-form input[name=as_of]")
    caught.value.save_as(Path(tmp_path) / "zones.gpkg")
    zones = pyogrio.read_dataframe(Path(tmp_path) / "zones.gpkg")
    listed_zones = live_page.rest("/zones", limit=1000)["features"]
    assert sorted(zones["code"]) == sorted(z["properties"]["code"] for z in listed_zones)

    # An import: two new parcels far from the others, and a third overlapping the first, all or nothing.
    x, y = 121.95, 31.05
    square = [[x, y], [x + 100 * M_LON, y], [x + 100 * M_LON, y + 100 * M_LAT], [x, y + 100 * M_LAT], [x, y]]

    def moved(dx: float) -> dict[str, Any]:
        return {"type": "Polygon", "coordinates": [[[a + dx * M_LON, b] for a, b in square]]}

    features = [{"type": "Feature", "properties": {"code": code, "land_use": "industrial"}, "geometry": moved(dx)}
                for code, dx in (("WEB-1", 0), ("WEB-2", 300), ("WEB-3", 50))]
    path = tmp_path / "web.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    send_import(page, path)
    page.wait_for_selector("#import-status .job-state[data-status=refused]", timeout=30_000)
    assert "read 3, accepted 2, refused 1" in page.inner_text("#import-status")
    refused = page.inner_text("#import-refused")
    assert "WEB-3" in refused and "PARCEL_OVERLAP" in refused and "row 1 (WEB-1)" in refused
    with page.expect_download() as caught:
        page.click("#import-report")
    raw = Path(caught.value.path()).read_bytes()
    assert raw.startswith("\ufeff".encode())  # for Excel, where a page's CSV most likely opens
    report = raw.decode("utf-8-sig").splitlines()
    assert report[0] == "row,code,reason,feature_code" and report[1].startswith("3,PARCEL_OVERLAP,")
    assert live_page.rest("/parcels", code="WEB-1")["numberMatched"] == 0  # nothing written
    shot(page, "11-import-refused")

    # The same file again, keeping the accepted rows: committed, and listed among the recent imports.
    assert page.input_value("#import-file") == ""  # the file is taken, the options stay
    page.check("#import-form input[name=skip_invalid]")
    send_import(page, path)
    page.wait_for_selector("#import-status .job-state[data-status=succeeded]", timeout=30_000)
    assert live_page.rest("/parcels", code="WEB-2")["features"][0]["properties"]["tier"] == "fragment"
    assert "web.geojson" in page.inner_text("#import-jobs")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    shot(page, "12-import-skip-invalid")

    # A CSV from Excel: GB18030 text, columns named as the surveyor named them, mapped on the form.
    wkt = "POLYGON((" + ", ".join(f"{a + 600 * M_LON} {b}" for a, b in square) + "))"
    (tmp_path / "台账.csv").write_bytes(f"编号,性质,wkt\nWEB-4,工业,\"{wkt}\"\n".encode("gb18030"))
    page.select_option("#import-form select[name=encoding]", "GB18030")
    page.fill("#import-form input[name=map]", "code=编号，land_use=性质")
    send_import(page, tmp_path / "台账.csv")
    page.wait_for_selector("#import-status .job-state:has-text('台账.csv')", timeout=30_000)
    page.wait_for_selector("#import-status .job-state[data-status=succeeded]", timeout=30_000)
    assert live_page.rest("/parcels", code="WEB-4")["features"][0]["properties"]["land_use"] == "industrial"


class GuardHeld:
    """The overlap guard's locks, which every insert of industrial land takes for the grid cells it touches
    (migration 0010), held for the whole service extent from a thread of its own: an import waits in its
    INSERT, running, until the block ends."""

    def __enter__(self) -> GuardHeld:
        import asyncio
        import threading

        self.held, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._hold()))
        self.thread.start()
        assert self.held.wait(10), "could not take the overlap guard's lock"
        return self

    async def _hold(self) -> None:
        import asyncio

        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine
        from sqlalchemy.pool import NullPool

        from tests.conftest import TEST_URL

        engine = create_async_engine(TEST_URL, poolclass=NullPool)
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(10, c) FROM parcel_overlap_cells("
                                    "ST_MakeEnvelope(120.8, 30.6, 122.2, 31.9, 4490)) AS c"))
            self.held.set()
            await asyncio.to_thread(self.release.wait, 60)
            await conn.execute(text("SELECT pg_advisory_unlock_all()"))
        await engine.dispose()

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(10)


def one_parcel_file(tmp_path: Any, code: str, lon: float) -> str:
    import json
    from pathlib import Path

    from tests.builders import M_LAT, M_LON

    x, y = lon, 31.10
    ring = [[x, y], [x + 100 * M_LON, y], [x + 100 * M_LON, y + 100 * M_LAT], [x, y + 100 * M_LAT], [x, y]]
    feature = {"type": "Feature", "properties": {"code": code, "land_use": "industrial"},
               "geometry": {"type": "Polygon", "coordinates": [ring]}}
    path = Path(tmp_path) / f"{code}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")
    return str(path)


def test_a_running_import_is_cancelled_from_the_page(live_page: LivePage, page: Any, tmp_path: Any) -> None:
    open_data_view(page, live_page.base)
    with GuardHeld():
        send_import(page, one_parcel_file(tmp_path, "WEB-C", 121.95))
        page.wait_for_selector("#import-status .job-state[data-status=running]:has-text('writing')", timeout=30_000)
        page.click("#import-cancel")
        page.wait_for_selector("#import-status .job-state[data-status=cancelled]", timeout=30_000)
    assert "cancelled, nothing written" in page.inner_text("#import-status")
    assert live_page.rest("/parcels", code="WEB-C")["numberMatched"] == 0
    shot(page, "13-import-cancelled")


def test_an_import_left_running_is_followed_and_cancelled_from_the_list(live_page: LivePage, page: Any,
                                                                       tmp_path: Any) -> None:
    open_data_view(page, live_page.base)
    with GuardHeld():
        send_import(page, one_parcel_file(tmp_path, "WEB-L", 121.96))
        page.wait_for_selector("#import-status .job-state[data-status=running]", timeout=30_000)
        # The user goes to the map and comes back: the job is in the list, running, with its Cancel button.
        page.click("nav a[data-view=map]")
        page.click("nav a[data-view=data]")
        row = "#import-jobs tr:has-text('WEB-L.geojson')"
        page.click(f"{row} button[data-cancel]", timeout=30_000)
        page.wait_for_selector(f"{row} .job-cancelled", timeout=30_000)
    assert not page.locator(f"{row} button[data-cancel]").count()
    assert live_page.rest("/parcels", code="WEB-L")["numberMatched"] == 0


def test_the_dashboard_shows_accountability_per_organisation(live_page: LivePage, page: Any) -> None:
    """谁提出、谁管理: the bureau's dashboard lists the accountability report's rows in its order (most
    overdue first) with its totals; a heading sorts; an org_manager sees its own row and its queues."""
    log_in(page, live_page.base, "bureau")
    page.click("nav a[data-view=dashboard]")
    page.wait_for_selector("#view-dashboard[data-ready]", timeout=30_000)
    report = live_page.rest("/reports/accountability")
    assert report["items"], "the demo city has responsible organisations"
    rows = page.locator("#table-accountability tbody tr:not(.total)")
    names = rows.evaluate_all("rs => rs.map(r => r.cells[0].textContent)")
    assert names == [i["organisation_name"] for i in report["items"]]
    totals = page.locator("#table-accountability tr.total td[data-value]").evaluate_all(
        "cells => cells.map(c => Number(c.dataset.value))")
    assert totals[2] == report["totals"]["evaluations_overdue"]
    assert totals[-2:] == pytest.approx([report["totals"]["hectares"], report["totals"]["mu"]])
    page.locator("#table-accountability thead th").nth(10).click()  # hectares: most first
    hectares = page.locator("#table-accountability tbody tr:not(.total)").evaluate_all(
        "rs => rs.map(r => Number(r.cells[10].dataset.value))")
    assert hectares == sorted(hectares, reverse=True)
    assert page.is_visible("#accountability-csv")
    shot(page, "16-accountability")

    page.click("#logout")
    log_in(page, live_page.base, "manager.industry")
    page.click("nav a[data-view=dashboard]")
    page.wait_for_selector("#view-dashboard[data-ready]", timeout=30_000)
    own = live_page.rest("/reports/accountability", user="manager.industry")["items"]
    assert len(own) == 1
    assert page.locator("#table-accountability tbody tr:not(.total)").count() == 1
    assert own[0]["organisation_name"] in page.inner_text("#table-accountability")
    page.click("nav a[data-view=queues]")
    page.wait_for_selector(f"#view-queues h1:has-text('{own[0]['organisation_name']}')", timeout=30_000)
