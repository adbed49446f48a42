"""The web page in real headless Chromium (Debian's `chromium`, driven by Playwright), against a real
`landcycle serve` over a small demo city in the test database. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.db import Database, create_engine
from tests import builders
from tests.conftest import TEST_URL, make_settings
from tests.servers import free_port, start_server, stop_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PASSWORD = "landcycle"  # the demo users' password


def chromium_path() -> str:
    """The system Chromium (LANDCYCLE_CHROMIUM overrides); a clear failure when it is not installed."""
    path = os.environ.get("LANDCYCLE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("LANDCYCLE_SKIP_BROWSER") == "1":
            pytest.skip("LANDCYCLE_SKIP_BROWSER=1 and no Chromium installed")
        pytest.fail("the browser tests need Debian's Chromium: apt-get install chromium "
                    "(or set LANDCYCLE_CHROMIUM=/path/to/chrome; LANDCYCLE_SKIP_BROWSER=1 skips them)")
    return path


@dataclass
class LivePage:
    """A served demo city and a REST helper to compare the page with the API."""

    base: str

    def token(self, user: str) -> str:
        r = httpx.post(f"{self.base}/api/v1/auth/token", data={"username": user, "password": PASSWORD})
        r.raise_for_status()
        return str(r.json()["access_token"])

    def rest(self, path: str, user: str = "bureau", **params: Any) -> Any:
        r = httpx.get(f"{self.base}/api/v1{path}", params=params, timeout=30,
                      headers={"Authorization": f"Bearer {self.token(user)}"})
        r.raise_for_status()
        return r.json()


async def _empty() -> None:
    database = Database(create_engine(make_settings(), pool_size=2))
    try:
        async with database.session() as session:
            await builders.truncate(session)
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
async def live_page(engine: Any) -> Any:
    """The demo city (600 parcels, its users, contracts and evaluations) served on a free port (`engine`
    creates and migrates the test database)."""
    await _empty()
    exe = Path(sys.executable).parent / "landcycle"
    env = {**os.environ, "DATABASE_URL": TEST_URL, "LANDCYCLE_LOG_JSON": "false"}
    demo = await asyncio.create_subprocess_exec(str(exe), "demo", "load", "--parcels", "600", "--seed", "8", env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await demo.communicate()
    assert demo.returncode == 0, f"demo load failed: {err.decode()[-2000:]}"
    port = free_port()
    proc = start_server(port)
    try:
        yield LivePage(base=f"http://127.0.0.1:{port}")
    finally:
        stop_server(proc)
        await _empty()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh 1280×720 page in English; JavaScript errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


# web/map.js ends the map's first `idle` with performance.measure("map-first-render"); a buffered
# PerformanceObserver sees that entry whether it was made before or after the observer.
_FIRST_RENDER = """(timeoutMs) => new Promise((resolve, reject) => {
  const timer = setTimeout(
    () => reject(new Error(`the map did not finish its first render in ${timeoutMs} ms`)), timeoutMs);
  new PerformanceObserver((list, observer) => {
    const [entry] = list.getEntriesByName("map-first-render");
    if (entry) { clearTimeout(timer); observer.disconnect(); resolve(entry.duration); }
  }).observe({ type: "measure", buffered: true });
})"""


def first_render_ms(page: Any, timeout_s: float = 30) -> float:
    """The map's first render (ms), once MapLibre has drawn every tile of its first view: the page's own
    event, awaited through `evaluate` (a DevTools call: the page's Content-Security-Policy forbids the
    eval behind `wait_for_function`, as it should)."""
    return float(page.evaluate(_FIRST_RENDER, int(timeout_s * 1000)))


def shot(page: Any, name: str) -> None:
    """A screenshot of what the user sees now, kept in test-artifacts/browser/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
