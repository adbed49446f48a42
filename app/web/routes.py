"""GET / (the page) and /web/* (its scripts, styles and the vendored MapLibre, fetched at set-up).

The page is static: it logs in through /api/v1/auth/token and reads everything through the REST API and
/tiles, so every rule it shows is the API's. Files are revalidated by ETag (Starlette's StaticFiles), so a
deployment's new page is picked up on the next load.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from app.errors import ServiceUnavailable
from app.responses import problem_response

# The page runs only its own scripts: no inline script, nothing from another origin (MapLibre's workers
# start from blob: URLs; the legend's swatches are inline styles). Framing is refused (clickjacking).
CSP = ("default-src 'self'; script-src 'self'; worker-src 'self' blob:; child-src blob:; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {"Cache-Control": "no-cache", "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer"}


def mount(app: FastAPI, web_dir: Path) -> None:
    """The page at `/` and its files under `/web/` (a clear 503 when set-up has not fetched the vendor files)."""
    router = APIRouter(include_in_schema=False)
    index = web_dir / "index.html"

    @router.get("/")
    async def home() -> Response:
        if not (web_dir / "vendor" / "maplibre-gl.js").is_file():
            return problem_response(ServiceUnavailable(
                "the web page is not set up: web/vendor/ is empty; run `make setup` (scripts/webvendor.py) "
                "to fetch MapLibre. The API is at /docs"))
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    app.include_router(router)
    app.mount("/web", StaticFiles(directory=web_dir, check_dir=False), name="web")
