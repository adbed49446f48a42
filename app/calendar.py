"""Dates as the rules count them: whole years and months on the calendar, and the city's today. Pure."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("Asia/Shanghai")  # the city's clock: its today, and the end of an `as_of=DATE` day


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months; the 29th–31st fall back to the month's last day
    (as PostgreSQL's `date + interval` does, so Python and SQL agree on every derived date)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def add_years(day: date, years: int) -> date:
    """`day` moved by whole years (29 February → 28 February in common years)."""
    return add_months(day, 12 * years)


def city_today(fixed: date | None = None) -> date:
    """Today in Shanghai, or the fixed date a demo or test configured (LANDCYCLE_TODAY)."""
    return fixed if fixed is not None else datetime.now(CITY_TZ).date()
