"""亩均 ratings on the page in a real browser: with the departments' figures of the demo's last complete year
delivered and the year rated again by the bureau (REST), the map colours parcels by the holding
enterprise's class ("Per-mu class" layer, its legend naming the year), and a rated parcel's panel shows its
enterprise's class, score and rank as the API has them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.calendar import city_today
from tests.browser.conftest import LivePage, shot
from tests.browser.test_page import log_in, open_parcel

pytestmark = [pytest.mark.live, pytest.mark.slow]
PUDONG = "310115"
YEAR = city_today(None).year - 1  # the demo's latest rated year (app/demo/figures.py)


def rate_pudong(live: LivePage) -> list[dict[str, Any]]:
    """The demo has the departments' figures of the last complete year delivered and the year rated; the
    bureau rates it again (REST, replacing the demo's run with the same classes). Pudong's ratings."""
    headers = {"Authorization": f"Bearer {live.token('bureau')}"}
    r = httpx.post(f"{live.base}/api/v1/ratings/{YEAR}", headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return live.rest("/ratings", year=YEAR, district_code=PUDONG, limit=500)["items"]


def test_the_map_colours_parcels_by_class_and_the_panel_shows_it(live_page: LivePage, page: Any) -> None:
    rated = [r for r in rate_pudong(live_page) if r["class"]]
    assert {r["class"] for r in rated} >= {"A", "B", "C"}
    log_in(page, live_page.base, "bureau")
    page.select_option("#style-by", "rating")
    page.wait_for_selector(f"#legend h2:has-text('Per-mu class {YEAR}')")
    assert "Not rated" in page.inner_text("#legend")
    shot(page, "30-map-rating")
    # The parcel of the top enterprise: its class, score and rank in the panel are the API's.
    best = min(rated, key=lambda r: r["rank"])
    layer = live_page.rest("/ratings/parcels", year=YEAR)["classes"]
    held = [c["parcel_id"] for c in live_page.rest("/contracts", enterprise_id=best["enterprise_id"],
                                                   limit=50)["items"]]
    parcel_id = next(pid for pid in held if str(pid) in layer
                     and live_page.rest("/ratings", parcel_id=pid, year=YEAR)["items"][0]["enterprise_id"]
                     == best["enterprise_id"])
    code = live_page.rest(f"/parcels/{parcel_id}")["properties"]["code"]
    open_parcel(page, code)
    page.wait_for_selector("#panel [data-field=rating]")
    assert page.inner_text("#panel [data-field=rating]") == best["class"]
    block = page.inner_text("#panel section:has([data-field=rating])")
    assert f"Class {YEAR}" in block and f"{best['score']:,.2f}" in block
    assert f"{best['rank']} of {best['group_size']} in {PUDONG}" in block
    shot(page, "31-panel-rating")
