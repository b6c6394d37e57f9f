"""A dossier judged not subject stays open for corrections of its opening facts during the
configured window, then closes; a correction within the window re-judges it (A1, A2;
docs/interpretations.md, "The opening corrected")."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from models.calendar import add_days
from tests.conftest import Harness, iso, visa_input

WINDOW_DAYS = 30  # the shipped `not_subject_correction_days`


def applicant_born(birth_date: str) -> dict[str, str | list[str]]:
    return {
        "full_name": "Amina El Idrissi",
        "birth_date": birth_date,
        "nationality": "MA",
        "languages": ["ar", "fr"],
    }


@pytest.mark.rule("A1")
async def test_a_not_subject_dossier_stays_open_for_the_window_then_closes(
    harness: Harness,
) -> None:
    today = await harness.today()
    born = (today - timedelta(days=365 * 10)).isoformat()  # ten: not subject (A1)
    handle = await harness.start_visa(visa_input(today, applicant=applicant_born(born)))
    state = await handle.query("state")
    assert (state["stage"], state["subject"]) == ("not_subject", False)
    # From the day it opened where the consulate sits (B9).
    window_ends = add_days(date.fromisoformat(state["opened_at"]), WINDOW_DAYS)
    assert state["deadlines"]["correction_window_ends"] == window_ends.isoformat()
    assert await harness.until_kind(handle.id, "not_subject") == ["consulate"]

    await harness.skip_to(window_ends)
    row = await harness.dossier(handle.id)
    assert row is not None and row["closed_at"] is None  # still open on its last day
    await harness.skip_to(window_ends + timedelta(days=1))
    result = await handle.result()
    assert result["stage"] == "not_subject"
    row = await harness.dossier(handle.id)
    assert row is not None and row["closed_at"] is not None


@pytest.mark.rule("A1")
@pytest.mark.rule("A4")
@pytest.mark.rule("B1")
async def test_a_correction_within_the_window_re_judges_the_dossier(harness: Harness) -> None:
    today = await harness.today()
    born = (today - timedelta(days=365 * 10)).isoformat()  # ten: not subject (A1)
    application = visa_input(today, applicant=applicant_born(born))
    handle = await harness.start_visa(application)
    await harness.skip_to(add_days(today, 10))

    # The shared test server's clock runs years ahead: an adult relative to it.
    adult = (today - timedelta(days=365 * 30)).isoformat()
    corrected = {**application, "applicant": applicant_born(adult)}
    state = await handle.execute_update(
        "correct_event",
        {
            "seq": 1,
            "payload": corrected,
            "reason": "birth date entered wrongly",
            "corrected_on": iso(await harness.today()),
        },
    )
    assert (state["stage"], state["subject"]) == ("awaiting_evaluation", True)
    assert "correction_window_ends" not in state["deadlines"]
    assert state["deadlines"]["evaluation_due"] == add_days(today, 60).isoformat()
    assert await harness.until_kind(handle.id, "invitation") == ["applicant"]
    assert await harness.until_kind(handle.id, "correction_notice") == ["consulate"]
    # The register keeps the original start and the correction naming it.
    events = await harness.events(handle.id)
    correction = next(row for row in events if row["event"] == "correct_event")
    assert correction["corrects"] == 1

    await harness.skip_to(add_days(today, WINDOW_DAYS + 2))
    row = await harness.dossier(handle.id)
    assert row is not None and row["closed_at"] is None  # subject now: it runs on
