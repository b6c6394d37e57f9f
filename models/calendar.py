"""The statutory calendar of rule B9, the one function every timer uses.

CPC art. 641: a delay in days runs from the day after the triggering event and ends at
the end of its last day; a delay in months ends on the same day-number of the last month,
or on that month's last day when it has no such day. CPC art. 642 (a delay ending on a
Saturday, Sunday or public holiday runs on to the next working day) is a policy, off by
default (B9).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict


class CalendarPolicy(BaseModel):
    """How deadlines are counted (B9)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    extend_to_next_working_day: bool = False


def add_days(start: date, days: int) -> date:
    """Last day allowed for a delay of `days` days from `start` (B9, CPC art. 641)."""
    return start + timedelta(days=days)


def add_months(start: date, months: int) -> date:
    """Same day-number `months` later, or that month's last day (B9, CPC art. 641)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _easter_sunday(year: int) -> date:
    """Gregorian Easter (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    j = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * j) // 451
    month = (h + j - 7 * m + 114) // 31
    day = (h + j - 7 * m + 114) % 31 + 1
    return date(year, month, day)


@lru_cache(maxsize=64)
def french_public_holidays(year: int) -> frozenset[date]:
    """The eleven public holidays of metropolitan France (code du travail L.3133-1)."""
    easter = _easter_sunday(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    movable = [easter + timedelta(days=n) for n in (1, 39, 50)]  # Monday, Ascension, Whit Monday
    return frozenset([date(year, m, d) for m, d in fixed] + movable)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in french_public_holidays(day.year)


def last_day_allowed(deadline: date, policy: CalendarPolicy) -> date:
    """The deadline itself, or the next working day under CPC art. 642 when enabled (B9)."""
    if not policy.extend_to_next_working_day:
        return deadline
    while not is_working_day(deadline):
        deadline += timedelta(days=1)
    return deadline


def days_after(start: date, days: int, policy: CalendarPolicy) -> date:
    return last_day_allowed(add_days(start, days), policy)


def months_after(start: date, months: int, policy: CalendarPolicy) -> date:
    return last_day_allowed(add_months(start, months), policy)


@lru_cache(maxsize=64)
def zone_info(zone: str) -> ZoneInfo:
    """An IANA time zone (B9: a last day ends at midnight where the authority sits)."""
    return ZoneInfo(zone)
