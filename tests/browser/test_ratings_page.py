"""亩均 ratings on the page in a real browser: after the departments' figures of 2025 are delivered and the
bureau rates the year (REST), the map colours parcels by the holding enterprise's class ("Per-mu class"
layer, its legend naming the year), and a rated parcel's panel shows its enterprise's class, score and rank
as the API has them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser.conftest import LivePage, shot
from tests.browser.test_page import log_in, open_parcel

pytestmark = [pytest.mark.live, pytest.mark.slow]
PUDONG = "310115"
YEAR = 2025


def rate_pudong(live: LivePage) -> list[dict[str, Any]]:
    """Figures of 2025 for twelve Pudong enterprises under contracts signed before the year's end, then the
    year rated; the ratings of those enterprises."""
    contracts = [c for c in live.rest("/contracts", status="active", district_code=PUDONG, limit=200)["items"]
                 if c["signed_on"] < f"{YEAR}-06-01"][:12]
    assert len(contracts) >= 6, "the demo city has too few Pudong contracts"
    usccs = {c["enterprise_id"]: live.rest(f"/enterprises/{c['enterprise_id']}")["uscc"] for c in contracts}
    headers = {"Authorization": f"Bearer {live.token('bureau')}"}
    for source, figure, scale in (("tax", "tax_paid", 40), ("statistics", "output_value", 700),
                                  ("energy", "energy_use", 50)):
        rows = [{"uscc": uscc, "figure": figure, "value": str(scale * (k + 1) if figure != "energy_use" else scale)}
                for k, uscc in enumerate(usccs.values())]
        r = httpx.post(f"{live.base}/api/v1/measurements/batches", headers=headers, timeout=30,
                       json={"source": source, "year": YEAR, "rows": rows})
        assert r.status_code == 201, r.text
    r = httpx.post(f"{live.base}/api/v1/ratings/{YEAR}", headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return [x for x in live.rest("/ratings", year=YEAR, limit=500)["items"] if x["enterprise_id"] in usccs]


def test_the_map_colours_parcels_by_class_and_the_panel_shows_it(live_page: LivePage, page: Any) -> None:
    rated = [r for r in rate_pudong(live_page) if r["class"]]
    assert {r["class"] for r in rated} >= {"A", "B", "C"}  # twelve firms: D takes a share beaten ≥ 0.95
    log_in(page, live_page.base, "bureau")
    page.select_option("#style-by", "rating")
    page.wait_for_selector(f"#legend h2:has-text('Per-mu class {YEAR}')")
    assert "Not rated" in page.inner_text("#legend")
    shot(page, "30-map-rating")
    # The parcel of the top enterprise: its class, score and rank in the panel are the API's.
    best = min(rated, key=lambda r: r["rank"])
    layer = live_page.rest("/ratings/parcels", year=YEAR)["classes"]
    parcel_id = next(int(pid) for pid, cls in layer.items()
                     if live_page.rest("/ratings", parcel_id=int(pid), year=YEAR)["items"][0]["enterprise_id"]
                     == best["enterprise_id"])
    code = live_page.rest(f"/parcels/{parcel_id}")["properties"]["code"]
    open_parcel(page, code)
    page.wait_for_selector("#panel [data-field=rating]")
    assert page.inner_text("#panel [data-field=rating]") == best["class"]
    block = page.inner_text("#panel section:has([data-field=rating])")
    assert f"Class {YEAR}" in block and f"{best['score']:,.2f}" in block
    assert f"{best['rank']} of {best['group_size']} in {PUDONG}" in block
    shot(page, "31-panel-rating")
