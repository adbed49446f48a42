"""The web page's first render of the whole city (SPEC §5 "Web page"): the 100,000-parcel demo served by
`landcycle serve`, the page opened in headless Chromium (Debian's, through Playwright), logged in, and the
time until MapLibre is idle with every tile of the whole-city view drawn. Measured, never asserted.

Each run is a new browser context (no HTTP cache). The first run meets a cold server (no tile in its
cache, cold PostgreSQL buffers after a restart of the server only); later runs a warm one.
`python -m bench web [--runs 5] [--write]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime

import httpx

from bench.database import prepare, say
from bench.results import publish

PASSWORD = "landcycle"


def _serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "LANDCYCLE_LOG_LEVEL": "warning",
           "LANDCYCLE_LOGIN_FAILURES_ALLOWED": "1000000"}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the server did not become ready")


def _one_render(browser: object, base: str, user: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")  # type: ignore[attr-defined]
    page = context.new_page()
    tiles: list[int] = []
    page.on("response", lambda r: tiles.append(len(r.body())) if "/tiles/" in r.url and r.status == 200 else None)
    page.goto(base + "/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    started = time.perf_counter()
    page.press("input[name=password]", "Enter")
    # Polled with evaluate: the page's Content-Security-Policy forbids the eval behind wait_for_function.
    while (first := page.evaluate("() => window.landcycle && window.landcycle.firstRenderMs")) is None:
        page.wait_for_timeout(10)
    wall = (time.perf_counter() - started) * 1000
    context.close()
    return {"map_ms": first, "login_to_idle_ms": wall, "tiles": len(tiles), "tile_kb": sum(tiles) / 1024}


def run(runs: int, port: int) -> str:
    from playwright.sync_api import sync_playwright

    url, parcels = prepare("100k")
    chromium = os.environ.get("LANDCYCLE_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        raise SystemExit("Debian's chromium is needed: apt-get install chromium")
    proc = _serve(url, port)
    results = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            for n in range(runs):
                result = _one_render(browser, f"http://127.0.0.1:{port}", "bureau")
                say(f"run {n + 1}: map {result['map_ms']:.0f} ms, login→idle {result['login_to_idle_ms']:.0f} ms, "
                    f"{result['tiles']} tiles, {result['tile_kb']:.0f} KiB")
                results.append(result)
            version = browser.version
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    cold, warm = results[0], results[1:] or results
    load = os.getloadavg()
    lines = [
        f"### Web page, first render of the whole city ({datetime.now().strftime('%Y-%m-%d %H:%M')}, "
        f"{platform.node()}, {os.cpu_count()} cores, Chromium {version} headless, 1280×720, "
        f"{parcels:,} parcels, load average {load[0]:.1f})", "",
        "| run | map created → idle (ms) | login → idle (ms) | tiles | tile KiB |",
        "|---|---|---|---|---|",
        f"| cold server | {cold['map_ms']:.0f} | {cold['login_to_idle_ms']:.0f} | {cold['tiles']} | "
        f"{cold['tile_kb']:.0f} |",
        f"| warm, median of {len(warm)} | {statistics.median(r['map_ms'] for r in warm):.0f} | "
        f"{statistics.median(r['login_to_idle_ms'] for r in warm):.0f} | {warm[0]['tiles']} | "
        f"{warm[0]['tile_kb']:.0f} |",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m bench web [--runs N] [--port P] [--write]`."""
    parser = argparse.ArgumentParser(prog="python -m bench web", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=8032)
    parser.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    args = parser.parse_args(argv)
    report = run(args.runs, args.port)
    publish(report, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
