"""The body of a non-spatial list (SPEC §5), for the OpenAPI document: `Page[ItemModel]`."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

from app.parcels.schemas import Link

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """`{"items", "numberMatched", "numberReturned", "links"}` with `limit`/`offset` paging."""

    items: list[T]
    numberMatched: int
    numberReturned: int
    links: list[Link]
