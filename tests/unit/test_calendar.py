"""B9: the statutory calendar (CPC art. 641 and, as a policy off by default, art. 642)."""

from __future__ import annotations

import calendar as stdlib_calendar
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.calendar import (
    CalendarPolicy,
    add_days,
    add_months,
    days_after,
    is_working_day,
    last_day_allowed,
    months_after,
    public_holidays,
)
from tests.unit.builders import application, open_, reference, working_day_reference

OFF = CalendarPolicy()
ON = CalendarPolicy(extend_to_next_working_day=True)

dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))


# --- delays in days: counted from the day after the event ----------------------------


@pytest.mark.rule("B9")
def test_a_delay_in_days_starts_the_day_after_the_event() -> None:
    # Day 1 of a 1-day delay from 31 January is 1 February: the event day does not count.
    assert add_days(date(2009, 1, 31), 1) == date(2009, 2, 1)
    # 60 days from 12 January 2009: 19 days of January, 28 of February, 13 of March.
    assert add_days(date(2009, 1, 12), 60) == date(2009, 3, 13)
    # 7 days from Monday 2 March is Monday 9 March (the week of B6).
    assert add_days(date(2009, 3, 2), 7) == date(2009, 3, 9)


@pytest.mark.rule("B9")
def test_a_delay_in_days_crosses_a_leap_day() -> None:
    assert add_days(date(2008, 2, 28), 2) == date(2008, 3, 1)  # 29 Feb 2008 counts
    assert add_days(date(2009, 2, 28), 2) == date(2009, 3, 2)  # no 29 Feb in 2009


@pytest.mark.rule("B9")
@given(start=dates, days=st.integers(min_value=0, max_value=3650))
def test_days_after_with_the_policy_off_is_start_plus_n(start: date, days: int) -> None:
    assert days_after(start, days, OFF) == start + timedelta(days=days)


# --- delays in months: same day-number, or the month's last day ----------------------


@pytest.mark.rule("B9")
def test_a_delay_in_months_ends_on_the_same_day_number() -> None:
    assert add_months(date(2009, 1, 12), 6) == date(2009, 7, 12)
    assert add_months(date(2009, 3, 20), 2) == date(2009, 5, 20)
    assert add_months(date(2009, 11, 15), 2) == date(2010, 1, 15)  # across the year end


@pytest.mark.rule("B9")
def test_31_january_plus_one_month_is_the_last_day_of_february() -> None:
    assert add_months(date(2009, 1, 31), 1) == date(2009, 2, 28)
    assert add_months(date(2008, 1, 31), 1) == date(2008, 2, 29)  # leap year
    assert add_months(date(2009, 1, 29), 1) == date(2009, 2, 28)
    assert add_months(date(2008, 1, 29), 1) == date(2008, 2, 29)


@pytest.mark.rule("B9")
def test_month_ends_and_leap_years() -> None:
    assert add_months(date(2009, 8, 31), 6) == date(2010, 2, 28)
    assert add_months(date(2011, 8, 31), 6) == date(2012, 2, 29)
    assert add_months(date(2009, 12, 31), 2) == date(2010, 2, 28)
    assert add_months(date(2009, 3, 31), 1) == date(2009, 4, 30)
    assert add_months(date(2009, 3, 31), 2) == date(2009, 5, 31)
    assert add_months(date(2008, 2, 29), 12) == date(2009, 2, 28)
    assert add_months(date(2008, 2, 29), 48) == date(2012, 2, 29)
    # 2100 is not a leap year, 2000 was.
    assert add_months(date(2100, 1, 31), 1) == date(2100, 2, 28)
    assert add_months(date(2000, 1, 31), 1) == date(2000, 2, 29)
    # A short month's last day keeps its own number, not the end of the target month.
    assert add_months(date(2009, 2, 28), 1) == date(2009, 3, 28)


@pytest.mark.rule("B9")
@given(start=dates, months=st.integers(min_value=0, max_value=600))
def test_add_months_never_raises_and_lands_in_the_right_month(start: date, months: int) -> None:
    result = add_months(start, months)
    index = start.year * 12 + start.month - 1 + months
    assert (result.year, result.month) == (index // 12, index % 12 + 1)
    month_length = stdlib_calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(start.day, month_length)


@pytest.mark.rule("B9")
@given(start=dates, months=st.integers(min_value=0, max_value=600))
def test_months_after_with_the_policy_off_is_add_months(start: date, months: int) -> None:
    assert months_after(start, months, OFF) == add_months(start, months)


# --- CPC art. 642: the working-day policy --------------------------------------------


@pytest.mark.rule("B9")
def test_french_public_holidays_of_2009() -> None:
    holidays = public_holidays("FR", 2009)
    assert len(holidays) == 11
    assert date(2009, 7, 14) in holidays
    assert date(2009, 4, 13) in holidays  # Easter Monday (Easter: 12 April 2009)
    assert date(2009, 5, 21) in holidays  # Ascension
    assert date(2009, 6, 1) in holidays  # Whit Monday
    assert date(2009, 4, 12) not in holidays  # Easter Sunday is a Sunday, not a listed day
    assert date(2010, 4, 5) in public_holidays("FR", 2010)  # Easter Monday 2010
    assert date(2008, 3, 24) in public_holidays("FR", 2008)  # Easter Monday 2008


@pytest.mark.rule("B9")
def test_working_days() -> None:
    assert is_working_day(date(2009, 7, 13))  # Monday
    assert not is_working_day(date(2009, 7, 14))  # Tuesday, fête nationale
    assert not is_working_day(date(2009, 7, 11))  # Saturday
    assert not is_working_day(date(2009, 7, 12))  # Sunday
    assert not is_working_day(date(2009, 4, 13))  # Easter Monday


@pytest.mark.rule("B9")
def test_policy_off_keeps_a_deadline_on_a_holiday_or_weekend() -> None:
    assert last_day_allowed(date(2009, 7, 14), OFF) == date(2009, 7, 14)
    assert last_day_allowed(date(2009, 7, 11), OFF) == date(2009, 7, 11)
    assert days_after(date(2009, 5, 15), 60, OFF) == date(2009, 7, 14)


@pytest.mark.rule("B9")
def test_policy_on_runs_a_deadline_on_to_the_next_working_day() -> None:
    assert last_day_allowed(date(2009, 7, 14), ON) == date(2009, 7, 15)  # 14 July → Wed 15
    assert last_day_allowed(date(2009, 7, 11), ON) == date(2009, 7, 13)  # Sat → Mon
    assert last_day_allowed(date(2009, 7, 12), ON) == date(2009, 7, 13)  # Sun → Mon
    # Saturday 11 April 2009 → Tuesday 14: Sunday, then Easter Monday are skipped.
    assert last_day_allowed(date(2009, 4, 11), ON) == date(2009, 4, 14)
    assert last_day_allowed(date(2009, 12, 25), ON) == date(2009, 12, 28)  # Christmas, Fri
    # A working day stays put.
    assert last_day_allowed(date(2009, 7, 15), ON) == date(2009, 7, 15)


@pytest.mark.rule("B9")
def test_policy_on_for_delays_in_days_and_months() -> None:
    assert days_after(date(2009, 5, 15), 60, ON) == date(2009, 7, 15)  # lands on 14 July
    assert days_after(date(2009, 2, 12), 60, ON) == date(2009, 4, 14)  # lands on Easter Mon
    assert months_after(date(2009, 1, 14), 6, ON) == date(2009, 7, 15)
    assert months_after(date(2009, 1, 31), 1, ON) == date(2009, 3, 2)  # Sat 28 Feb → Mon


@pytest.mark.rule("B9")
@given(start=dates, days=st.integers(min_value=0, max_value=3650))
def test_policy_on_gives_the_first_working_day_on_or_after_the_deadline(
    start: date, days: int
) -> None:
    deadline = start + timedelta(days=days)
    result = days_after(start, days, ON)
    assert result >= deadline
    assert is_working_day(result)
    assert all(
        not is_working_day(deadline + timedelta(days=n)) for n in range((result - deadline).days)
    )


@pytest.mark.rule("B9")
def test_the_policy_is_off_by_default() -> None:
    assert CalendarPolicy().extend_to_next_working_day is False
    assert reference().calendar.extend_to_next_working_day is False


@pytest.mark.rule("B9")
def test_every_dossier_timer_follows_the_configured_policy() -> None:
    # A dossier at the consulate in Rabat (Morocco): the consulate keeps B1 and B4 on
    # Morocco's working days, the prefect in Paris keeps B2 on France's.
    # Complete file on 31 May 2009: 60 days end on Thursday 30 July, Throne Day.
    raw = application(complete_file_date="2009-05-31", visa_application_date="2009-06-14")
    off = open_(raw).state.tracked_deadlines
    on = open_(raw, working_day_reference()).state.tracked_deadlines
    assert off["evaluation_due"].due == date(2009, 7, 30)
    assert on["evaluation_due"].due == date(2009, 7, 31)
    # Six months from 14 June 2009 is Monday 14 December: a working day either way.
    assert off["decision_suspension_ends"].due == on["decision_suspension_ends"].due
    assert on["decision_suspension_ends"].due == date(2009, 12, 14)
    # Six months from 31 May is Monday 30 November: no holiday in France.
    assert off["prefecture_decision_due"].due == on["prefecture_decision_due"].due
