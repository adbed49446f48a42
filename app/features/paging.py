"""Paging parameters and `next`/`prev` links with the public base URL."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import URL

from app.settings import Settings


def public_url(request: Request, settings: Settings) -> URL:
    """The request URL as clients reach it (LANDCYCLE_PUBLIC_URL, else forwarded host, else as seen)."""
    url = request.url
    if settings.public_url:
        base = URL(settings.public_url.rstrip("/"))
        return url.replace(scheme=base.scheme, netloc=base.netloc, path=base.path + url.path)
    return url


def clamp_limit(limit: int | None, settings: Settings) -> int:
    """The page size: default when absent, clamped to the maximum (never an error for a big ask)."""
    if limit is None:
        return settings.default_limit
    return max(0, min(limit, settings.max_limit))


def page_links(request: Request, settings: Settings, offset: int, limit: int, returned: int,
               matched: int | None, media_type: str = "application/geo+json",
               last_key: int | None = None) -> list[dict[str, Any]]:
    """self, next (only when more rows exist) and prev links.

    With `last_key` (the id of the page's last row) the `next` link also carries `after=<id>`: the next
    page then starts from the id index instead of skipping `offset` rows (keyset paging under the hood;
    `offset` stays in the link for numbering and `prev`)."""
    url = public_url(request, settings)
    links: list[dict[str, Any]] = [{"href": str(url), "rel": "self", "type": media_type}]
    more = returned == limit and limit > 0 and (matched is None or offset + returned < matched)
    if more:
        params: dict[str, Any] = {"offset": offset + returned, "limit": limit}
        if last_key is not None:
            params["after"] = last_key
        links.append({"href": str(url.include_query_params(**params)), "rel": "next", "type": media_type})
    if offset > 0:
        prev = url.remove_query_params("after").include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append({"href": str(prev), "rel": "prev", "type": media_type})
    return links


def json_page(request: Request, settings: Settings, items: list[Any], matched: int, offset: int,
              limit: int) -> dict[str, Any]:
    """A non-spatial list (SPEC §5): `{"items", "numberMatched", "numberReturned", "links"}`."""
    links = page_links(request, settings, offset, limit, len(items), matched, "application/json")
    return {"items": items, "numberMatched": matched, "numberReturned": len(items), "links": links}
