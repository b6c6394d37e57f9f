"""B9, third audit: with the next-working-day policy on (CPC art. 642), the working days
are those of the authority keeping the delay: the consulate's country's public holidays
abroad (its province's in Canada), France's in part II, an overseas department's or
Alsace-Moselle's for a prefecture there. The holidays come from the `holidays` library."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import holidays
import pytest

import examples
from models import history
from models.cai import CAI
from models.calendar import (
    CalendarPolicy,
    holiday_calendar_known,
    last_day_allowed,
    public_holidays,
)
from models.family import FAMILY
from tests.unit.builders import application, open_, reference, working_day_reference

ON = CalendarPolicy(extend_to_next_working_day=True)
OFF = CalendarPolicy()


# --- the holidays of each authority -------------------------------------------------------


@pytest.mark.rule("B9")
@pytest.mark.parametrize(
    ("holiday_calendar", "holiday", "next_working_day"),
    [
        ("MA", date(2009, 7, 30), date(2009, 7, 31)),  # Throne Day, a Thursday
        ("TR", date(2009, 10, 29), date(2009, 10, 30)),  # Republic Day, a Thursday
        ("TN", date(2009, 3, 20), date(2009, 3, 23)),  # Independence Day, a Friday
        ("ML", date(2009, 9, 22), date(2009, 9, 23)),  # Independence Day, a Tuesday
        ("SN", date(2012, 4, 4), date(2012, 4, 5)),  # Independence Day, a Wednesday
        ("CA-QC", date(2009, 6, 24), date(2009, 6, 25)),  # Fête nationale du Québec
        ("CA-ON", date(2009, 2, 16), date(2009, 2, 17)),  # Family Day in Ontario
        ("FR", date(2009, 7, 14), date(2009, 7, 15)),  # Fête nationale
        ("FR-974", date(2010, 12, 20), date(2010, 12, 21)),  # Abolition of slavery, Réunion
        ("FR-6AE", date(2009, 4, 10), date(2009, 4, 14)),  # Good Friday in Alsace, Easter Mon
    ],
)
def test_a_delay_ending_on_a_local_holiday_runs_to_the_next_working_day(
    holiday_calendar: str, holiday: date, next_working_day: date
) -> None:
    assert last_day_allowed(holiday, ON, holiday_calendar) == next_working_day
    assert last_day_allowed(holiday, OFF, holiday_calendar) == holiday


@pytest.mark.rule("B9")
@pytest.mark.parametrize(
    ("holiday_calendar", "other_country_s_holiday"),
    [
        ("MA", date(2009, 7, 14)),  # France's fête nationale: Rabat works
        ("FR", date(2009, 7, 30)),  # Morocco's Throne Day: Paris works
        ("CA-ON", date(2009, 6, 24)),  # Québec's fête nationale: Toronto works
        ("CA-QC", date(2009, 2, 16)),  # Ontario's Family Day: Montréal works
        ("FR", date(2010, 12, 20)),  # Réunion's 20 December: metropolitan France works
        ("FR", date(2009, 4, 10)),  # Good Friday: a working day outside Alsace-Moselle
    ],
)
def test_another_authority_s_holiday_is_a_working_day(
    holiday_calendar: str, other_country_s_holiday: date
) -> None:
    day = other_country_s_holiday
    assert last_day_allowed(day, ON, holiday_calendar) == day


@pytest.mark.rule("B9")
def test_holiday_calendar_keys_are_checked_against_the_library() -> None:
    assert holiday_calendar_known("MA")
    assert holiday_calendar_known("CA-QC")
    assert holiday_calendar_known("FR-974")
    assert not holiday_calendar_known("XX")
    assert not holiday_calendar_known("CA-ZZ")
    with pytest.raises(ValueError, match="unknown holiday calendars"):
        reference({"countries": {"CA": {**_shipped_country("CA"), "holiday_calendar": "CA-ZZ"}}})
    with pytest.raises(ValueError, match="unknown holiday calendars"):
        reference({"prefecture_holiday_calendars": {"Nowhere": "FR-999"}})


def _shipped_country(code: str) -> dict[str, Any]:
    entry: dict[str, Any] = reference().countries[code].model_dump(mode="json")
    return entry


# --- which authority keeps which delay ------------------------------------------------


@pytest.mark.rule("B9")
def test_the_reference_data_names_each_authority_s_holidays() -> None:
    ref = reference()
    assert ref.holiday_calendar_of("MA", "Rabat") == "MA"
    assert ref.holiday_calendar_of("TR", "Ankara") == "TR"
    assert ref.holiday_calendar_of("CA", "Montréal") == "CA-QC"
    assert ref.holiday_calendar_of("CA", "Québec") == "CA-QC"
    assert ref.holiday_calendar_of("CA", "Ottawa") == "CA-ON"
    assert ref.holiday_calendar_of("CA", "Vancouver") == "CA-BC"
    assert ref.holiday_calendar_of("CA", "Halifax") == "CA"  # a consulate not listed
    assert ref.holiday_calendar_of("XX", "Nowhere") == "FR"
    assert ref.holiday_calendar_in_france("Paris") == "FR"
    assert ref.holiday_calendar_in_france(None) == "FR"
    assert ref.holiday_calendar_in_france("Saint-Denis de La Réunion") == "FR-974"
    assert ref.holiday_calendar_in_france("Strasbourg") == "FR-6AE"
    # An operator adds a prefecture without losing the shipped ones.
    added = reference({"prefecture_holiday_calendars": {"Pointe-à-Pitre": "FR-971"}})
    assert added.holiday_calendar_in_france("Pointe-à-Pitre") == "FR-971"
    assert added.holiday_calendar_in_france("Strasbourg") == "FR-6AE"


@pytest.mark.rule("B1")
@pytest.mark.rule("B2")
@pytest.mark.rule("B9")
def test_a_visa_dossier_counts_the_consulate_s_holidays_and_the_prefect_s() -> None:
    # Complete file on 14 January 2009: B1's 60 days end on Sunday 15 March (Monday 16 in
    # Rabat), B2's six months on 14 July, France's fête nationale, where the prefect sits.
    raw = application(complete_file_date="2009-01-14", visa_application_date="2009-01-30")
    state = open_(raw, working_day_reference()).state
    assert state.holiday_calendar == "MA"
    assert state.tracked_deadlines["evaluation_due"].due == date(2009, 3, 16)
    assert state.tracked_deadlines["prefecture_decision_due"].due == date(2009, 7, 15)
    # B4: six months from 30 January end on Thursday 30 July, Throne Day, in Rabat.
    assert state.tracked_deadlines["decision_suspension_ends"].due == date(2009, 7, 31)


@pytest.mark.rule("B3")
@pytest.mark.rule("B9")
def test_a_canadian_consulate_keeps_its_province_s_holidays() -> None:
    # 60 days from 25 April 2009 end on 24 June, Québec's fête nationale.
    dates = {"complete_file_date": "2009-04-25", "visa_application_date": "2009-05-04"}
    ref = working_day_reference()
    for consulate, due in [("Montréal", date(2009, 6, 25)), ("Toronto", date(2009, 6, 24))]:
        raw = application(
            country_of_residence="CA",
            consulate=consulate,
            applicant={"nationality": "CA", "languages": ["fr"]},
            **dates,
        )
        assert open_(raw, ref).state.tracked_deadlines["evaluation_due"].due == due, consulate


def _open_in_france(kind: Any, sample: str, prefecture: str, signed_on: date) -> Any:
    raw = {**examples.load(sample), "prefecture": prefecture, "signed_on": signed_on.isoformat()}
    workflow_id = f"{'cai' if kind is CAI else 'caif'}-{raw['contract_id']}"
    return history.open_dossier(kind, raw, working_day_reference(), signed_on, workflow_id).state


@pytest.mark.rule("H5")
@pytest.mark.rule("G1")
@pytest.mark.rule("B9")
@pytest.mark.parametrize(("kind", "sample"), [(CAI, "cai/contract"), (FAMILY, "family/contract")])
def test_a_contract_in_france_counts_its_prefecture_s_holidays(kind: Any, sample: str) -> None:
    # Twelve months from 2 April 2009 end on Good Friday 2010: a public holiday in
    # Strasbourg (then Saturday, Sunday, Easter Monday), a working day in Paris.
    signed = date(2009, 4, 2)
    strasbourg = _open_in_france(kind, sample, "Strasbourg", signed)
    paris = _open_in_france(kind, sample, "Paris", signed)
    assert strasbourg.holiday_calendar == "FR-6AE"
    assert strasbourg.validity_ends == date(2010, 4, 6)
    assert paris.holiday_calendar == "FR"
    assert paris.validity_ends == date(2010, 4, 2)


# --- the core stays pure ------------------------------------------------------------------


@pytest.mark.rule("core")
def test_the_holiday_library_computes_in_memory() -> None:
    """No socket and no file but the library's own modules (imported on first use) when a
    calendar is built: not even its translation catalogue, which the workflow sandbox
    forbids (the workflows run the core inside it: nothing may read the outside world)."""
    library = Path(holidays.__file__).parent
    seen: list[tuple[str, tuple[Any, ...]]] = []
    watching = True

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if watching and (event == "open" or event.startswith(("socket.", "urllib."))):
            seen.append((event, args))

    sys.addaudithook(audit)
    try:
        built = public_holidays("SN", 2031)  # a year no test built yet
    finally:
        watching = False
    assert date(2031, 4, 4) in built
    outside = [
        (event, args)
        for event, args in seen
        if event != "open"
        or not str(args[0]).startswith(str(library))
        or str(args[0]).endswith(".mo")
    ]
    assert outside == []
