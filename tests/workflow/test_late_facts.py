"""Facts that reach a dossier after a statutory delay fired, on the time-skipping server:
the dossier is judged on the dates they carry, and what was said is corrected, never
unsaid (docs/interpretations.md, "Readings applied")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from models.calendar import add_days, add_months
from tests.conftest import Harness, cai_input, iso, visa_input


def _correction_notices(rows: list[Any]) -> dict[str, list[str]]:
    """Superseded key → recipients told of the correction."""
    told: dict[str, list[str]] = {}
    for row in rows:
        if row["kind"] == "correction_notice":
            told.setdefault(row["payload"]["supersedes"], []).append(row["recipient"])
    return {key: sorted(recipients) for key, recipients in told.items()}


@pytest.mark.rule("B1")
@pytest.mark.rule("A4")
@pytest.mark.rule("B4")
async def test_an_evaluation_held_in_time_but_reported_late_meets_b1(harness: Harness) -> None:
    today = await harness.today()
    # Family reunification opens at the complete file: the visa application comes later.
    handle = await harness.start_visa(visa_input(today, visa_application_date=None))
    state = await handle.query("state")
    assert "decision_suspension_ends" not in state["deadlines"]
    assert await harness.until_kind(handle.id, "invitation") == ["applicant"]

    due = add_days(today, 60)
    await harness.skip_to(due + timedelta(days=5))
    assert await harness.until_kind(handle.id, "evaluation_overdue") == ["consulate", "ofii"]
    overdue_keys = {
        row["key"]
        for row in await harness.notifications(handle.id)
        if row["kind"] == "evaluation_overdue"
    }

    # A batch upload: both evaluations were held on day 40.
    held = iso(today, 40)
    await handle.execute_update(
        "language_evaluation",
        {"evaluated_on": held, "oral_score": 50, "written_score": 20, "evaluator": "OFII"},
    )
    state = await handle.execute_update(
        "values_evaluation",
        {
            "evaluated_on": held,
            "language_used": "ar",
            "questions_asked": 6,
            "correct_answers": 6,
            "evaluator": "OFII",
        },
    )
    assert state["tracked_deadlines"]["evaluation_due"]["status"] == "met"
    assert state["overdue"] == []
    # Each recipient of the alert is told twice: the language evaluation narrows what is
    # overdue to values, then the values evaluation withdraws the alert.
    rows = await harness.notifications(handle.id)
    assert _correction_notices(rows) == {key: [key.rsplit(".", 1)[1]] * 2 for key in overdue_keys}
    withdrawn = [
        row["payload"]
        for row in rows
        if row["kind"] == "correction_notice" and row["payload"]["now"] is None
    ]
    assert sorted(p["supersedes"] for p in withdrawn) == sorted(overdue_keys)

    # The visa application, filed later, starts the sursis (B4).
    filed = await harness.today()
    state = await handle.execute_update("visa_application_filed", {"filed_on": iso(filed)})
    assert state["deadlines"]["decision_suspension_ends"] == add_months(filed, 6).isoformat()
    assert state["stage"] == "awaiting_visa_decision"


@pytest.mark.rule("B9")
async def test_a_canadian_deadline_ends_at_midnight_where_the_consulate_sits(
    harness: Harness,
) -> None:
    today = await harness.today()
    handle = await harness.start_visa(
        visa_input(
            today,
            country_of_residence="CA",
            consulate="Vancouver",
            applicant={
                "full_name": "Marie Tremblay",
                "birth_date": "1990-03-02",
                "nationality": "CA",
                "languages": ["en", "fr"],
            },
        )
    )
    due = add_days(today, 60)
    # Midnight UTC after the last day is still the last day in Vancouver (UTC-8 or -7).
    await harness.skip_to(due + timedelta(days=1))
    await handle.query("state")
    assert "evaluation_overdue" not in [k for k, _ in await harness.kinds(handle.id)]
    await harness.env.sleep(timedelta(hours=9))
    assert await harness.until_kind(handle.id, "evaluation_overdue") == ["consulate", "ofii"]


@pytest.mark.rule("I1")
@pytest.mark.rule("I2")
@pytest.mark.rule("H5")
async def test_an_absence_reported_after_the_year_ended_changes_the_proposal(
    harness: Harness,
) -> None:
    today = await harness.today()
    handle = await harness.start_cai(cai_input(today))
    await handle.execute_update(
        "skills_assessment_convened",
        {"session_id": "S1", "session_on": iso(today, 10), "platform": "OFII Paris"},
    )
    ends = add_months(today, 12)
    await harness.skip_to(ends + timedelta(days=8))
    await harness.until_kind(handle.id, "cai_follow_up_proposal")
    state = await handle.query("state")
    assert state["proposal"]["proposal"] == "undetermined"
    assert "skills_assessment not completed" in state["proposal"]["missing"]

    # OFII reports, a week after the year ended, an absence of day 10 without a reason.
    state = await handle.execute_update(
        "absence",
        {"service": "skills_assessment", "absent_on": iso(today, 10), "legitimate_reason": None},
    )
    assert state["proposal"]["proposal"] == "terminate"
    assert state["stage"] == "awaiting_prefect_decision"
    rows = await harness.notifications(handle.id)
    proposal_key = next(
        row["key"]
        for row in rows
        if row["kind"] == "cai_follow_up_proposal" and not row["key"].startswith("0")
    )
    notice = next(
        row
        for row in rows
        if row["kind"] == "correction_notice" and row["payload"]["supersedes"] == proposal_key
    )
    assert notice["recipient"] == "prefecture"
    assert notice["payload"]["previously"]["proposal"] == "undetermined"
    assert notice["payload"]["now"]["proposal"] == "terminate"
