"""The web page's files as the server hands them out (SPEC §5 "Web page"): the page at `/`, its modules under /web/,
nothing fetched from the internet at run time, and a clear answer when set-up has not fetched MapLibre."""

import re
from pathlib import Path

import httpx

from app.db import Database, create_engine
from app.main import create_app
from tests.conftest import make_settings

WEB = Path(__file__).resolve().parents[2] / "web"
# The only absolute URL the page's own files may hold: the SVG namespace (a name, never fetched).
ALLOWED = {"http://www.w3.org/2000/svg"}


async def test_the_page_and_its_modules_are_served(client):
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/web/vendor/maplibre-gl.js"' in page.text
    assert '<script type="module" src="/web/app.js">' in page.text
    # Only the page's own scripts run, and it cannot be framed.
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    for path in ("/web/app.js", "/web/map.js", "/web/vendor/maplibre-gl.js", "/web/vendor/maplibre-gl.css"):
        r = await client.get(path)
        assert r.status_code == 200, path
        assert r.headers.get("etag"), path  # revalidated, so a new deployment is picked up
    assert (await client.get("/web/nothing-here.js")).status_code == 404


def test_the_page_loads_nothing_from_the_internet():
    # The bureau's network may be closed: every script, style and tile is the server's own.
    own = [p for p in WEB.rglob("*")
           if p.is_file() and "vendor" not in p.parts and p.suffix in (".html", ".js", ".css")]
    assert {p.name for p in own} >= {"index.html", "app.js", "map.js", "style.css"}
    for path in own:
        urls = set(re.findall(r"https?://[^\s\"'`)]+", path.read_text(encoding="utf-8")))
        assert urls <= ALLOWED, f"{path.name} refers to {urls - ALLOWED}"


def test_the_vendored_library_is_pinned_with_its_integrity():
    import json

    pins = json.loads((WEB / "vendor.json").read_text())["packages"]["maplibre-gl"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pins["version"])
    assert pins["integrity"].startswith("sha512-")


async def test_without_the_vendored_library_the_page_says_how_to_set_it_up(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html>")
    settings = make_settings(web_dir=tmp_path)
    app = create_app(settings, Database(create_engine(settings, pool_size=1)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        r = await http.get("/")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "SERVICE_UNAVAILABLE"
    assert "make setup" in r.json()["detail"]
