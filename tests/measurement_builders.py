"""Builders for tests that read delivered figures: a batch stored through the delivery service as the
bureau (the checks of app/measurements/rules.py apply; a refused row raises)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Actor
from app.measurements.rules import Entry
from app.measurements.service import Delivered, deliver

BUREAU = Actor(id=0, username="test:bureau", role="bureau")


async def deliver_figures(session: AsyncSession, source: str, year: int, rows: Iterable[Mapping[str, Any]],
                          actor: Actor = BUREAU, skip_invalid: bool = False) -> Delivered:
    """Store one batch of `source` for `year`; rows are `{"uscc" | "contract_code", "figure", "value"}`
    (value as a number or decimal text). Returns what was delivered (`.batch.id`, counts)."""
    entries = [Entry(i, r.get("uscc"), r.get("contract_code"), r.get("figure"), r.get("value"))
               for i, r in enumerate(rows, start=1)]
    return await deliver(session, actor, source, year, entries, "json", None, skip_invalid,
                         this_year=max(year, 2100))
