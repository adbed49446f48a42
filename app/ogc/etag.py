"""The ETag of one feature (OGC API – Features Part 4 §7.3 optimistic locking): the REST resources' own.

A parcel or zone version is the same ETag on /api/v1 and /ogc, so an `If-Match` taken from either
surface guards a write on the other (SPEC §5: single resources carry their version as ETag).
"""

from __future__ import annotations

from app.features.params import etag, if_match_version


def etag_of(version: int) -> str:
    """The strong ETag of a feature version: `"3"`."""
    return etag(version)


def if_match(header: str | None) -> int | None:
    """The version an `If-Match` header names (`"3"`, `W/"3"` or `3`); None for `*` or no header."""
    return if_match_version(header)
