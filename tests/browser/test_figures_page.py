"""The page's department figures (SPEC §4 data_provider) in a real browser: the tax department's user logs
in, lands on its figures, uploads a year's CSV with one bad USCC and sees it refused whole with the row,
then stores it with "skip invalid" and finds the batch in its list."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, LivePage, shot

pytestmark = [pytest.mark.live, pytest.mark.slow]


def test_a_tax_user_delivers_a_csv_refused_whole_then_stored_with_skip_invalid(live_page: LivePage, page: Any,
                                                                                tmp_path: Any) -> None:
    good = live_page.rest("/enterprises", limit=1)["items"][0]["uscc"]
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    path = tmp_path / "tax-2025.csv"
    path.write_text(f"uscc,企业名称,tax_paid\n{good},甲,120.5\n{bad},乙,3\n", encoding="utf-8")
    page.goto(live_page.base + "/")
    page.fill("input[name=username]", "provider.tax")
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_selector("#view-figures:not([hidden]) #figures-form")  # a department opens on its figures
    assert page.is_visible("nav a[data-view=figures]")
    assert page.is_disabled("#figures-form select[name=source]")  # its own department only
    page.fill("#figures-form input[name=year]", "2025")
    page.set_input_files("#figures-form input[name=file]", str(path))
    page.click("#figures-form button[type=submit]")
    page.wait_for_selector("#figures-status .error")
    refused = page.inner_text("#figures-status")
    assert bad in refused and "2" in refused and "check character" in refused
    shot(page, "20-figures-refused")
    page.check("#figures-form input[name=skip_invalid]")
    page.click("#figures-form button[type=submit]")
    page.wait_for_selector("#figures-status table.refused")
    page.wait_for_selector("#batches table.batches")
    assert "tax-2025.csv" in page.inner_text("#batches")
    batches = live_page.rest("/measurements/batches", user="provider.tax")["items"]
    assert batches[0]["file_name"] == "tax-2025.csv" and (batches[0]["accepted"], batches[0]["refused"]) == (1, 1)
    shot(page, "21-figures-stored")
