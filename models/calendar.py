"""The statutory calendar of rule B9, the one function every timer uses.

CPC art. 641: a delay in days runs from the day after the triggering event and ends at
the end of its last day; a delay in months ends on the same day-number of the last month,
or on that month's last day when it has no such day. CPC art. 642 (a delay ending on a
Saturday, Sunday or public holiday runs on to the next working day) is a policy, off by
default (B9); the working days are then those of the authority keeping the delay, named by
a holiday calendar key: a country ("MA"), or a subdivision of it ("CA-QC", "FR-974").
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from functools import cache, lru_cache
from typing import cast
from zoneinfo import ZoneInfo

import holidays
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


FRANCE = "FR"  # B9: the holiday calendar of part II, and the default


def _country_and_subdivision(holiday_calendar: str) -> tuple[str, str | None]:
    """A key's country and subdivision: "MA", "CA-QC" → ("CA", "QC"), "FR-974"."""
    country, _, subdivision = holiday_calendar.partition("-")
    return country, subdivision or None


def _names_untranslated(self: holidays.HolidayBase) -> None:
    self.tr = _as_written


def _as_written(message: str) -> str:
    return message


@cache
def _dates_only(country: str) -> type[holidays.HolidayBase]:
    """The library's calendar of `country`, without translating the holidays' names: only
    their dates count here, and the translation would read the library's catalogue through
    `locale`, which the workflow sandbox forbids (B9: the core does no I/O)."""
    loader = getattr(holidays, country, None)
    if loader is None:
        raise NotImplementedError(f"no holiday calendar for {country!r}")
    entity = loader.get_entity()
    return cast(
        type[holidays.HolidayBase],
        type(f"{entity.__name__}DatesOnly", (entity,), {"_init_translation": _names_untranslated}),
    )


@lru_cache(maxsize=256)
def public_holidays(holiday_calendar: str, year: int) -> frozenset[date]:
    """The public holidays of a country, or of one of its subdivisions, in `year` (B9).

    From the maintained `holidays` library rather than a hand-kept list: it computes them
    in memory (movable feasts, the Hijri calendar, a Sunday holiday observed on Monday),
    with no clock, no network and no file. An unknown key raises `NotImplementedError`
    (reference data checks its keys when loaded: `holiday_calendar_known`).
    """
    country, subdivision = _country_and_subdivision(holiday_calendar)
    return frozenset(_dates_only(country)(subdiv=subdivision, years=year))


def holiday_calendar_known(holiday_calendar: str) -> bool:
    """Whether the library has this country, and this subdivision of it."""
    country, subdivision = _country_and_subdivision(holiday_calendar)
    supported = holidays.list_supported_countries(include_aliases=False)
    return country in supported and (subdivision is None or subdivision in supported[country])


def is_working_day(day: date, holiday_calendar: str = FRANCE) -> bool:
    """Not a Saturday, a Sunday (CPC art. 642's words) nor a public holiday where the
    authority keeping the delay sits (B9)."""
    return day.weekday() < 5 and day not in public_holidays(holiday_calendar, day.year)


def last_day_allowed(
    deadline: date, policy: CalendarPolicy, holiday_calendar: str = FRANCE
) -> date:
    """The deadline itself, or the next working day under CPC art. 642 when enabled (B9),
    working days being those of the authority keeping the delay (`holiday_calendar`)."""
    if not policy.extend_to_next_working_day:
        return deadline
    while not is_working_day(deadline, holiday_calendar):
        deadline += timedelta(days=1)
    return deadline


def days_after(
    start: date, days: int, policy: CalendarPolicy, holiday_calendar: str = FRANCE
) -> date:
    return last_day_allowed(add_days(start, days), policy, holiday_calendar)


def months_after(
    start: date, months: int, policy: CalendarPolicy, holiday_calendar: str = FRANCE
) -> date:
    return last_day_allowed(add_months(start, months), policy, holiday_calendar)


@lru_cache(maxsize=64)
def zone_info(zone: str) -> ZoneInfo:
    """An IANA time zone (B9: a last day ends at midnight where the authority sits)."""
    return ZoneInfo(zone)
