"""Every statutory delay of part I at its true length, on the time-skipping server.

Each test checks that nothing is said on the last day allowed and that the right
authority is alerted the day after (B2, a reminder, on its last day)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle

from models.calendar import add_days, add_months
from tests.conftest import Harness, iso, visa_input
from workflows import search_attributes as sa

LANGUAGE_FAIL = {"oral_score": 20, "written_score": 10, "evaluator": "OFII Rabat"}
VALUES_PASS = {
    "language_used": "ar",
    "questions_asked": 6,
    "correct_answers": 6,
    "evaluator": "OFII Rabat",
}


async def prescribe_language_training(
    handle: WorkflowHandle[Any, Any], day: date, hours: int
) -> None:
    """Language insufficient, values sufficient, then the provider's prescription (D3)."""
    await evaluate_language_insufficient(handle, day)
    await handle.execute_update(
        "training_prescribed",
        {"kind": "language", "hours": hours, "provider": "Alliance", "notified_on": iso(day)},
    )


async def evaluate_language_insufficient(handle: WorkflowHandle[Any, Any], day: date) -> None:
    await handle.execute_update("language_evaluation", {"evaluated_on": iso(day), **LANGUAGE_FAIL})
    await handle.execute_update("values_evaluation", {"evaluated_on": iso(day), **VALUES_PASS})


@pytest.mark.rule("B1")
async def test_b1_evaluation_due_60_days_after_complete_file(harness: Harness) -> None:
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    due = add_days(today, 60)
    state = await handle.query("state")
    assert state["deadlines"]["evaluation_due"] == due.isoformat()

    await harness.skip_to(due)
    await harness.until(lambda: _stage_seen(handle))
    assert "evaluation_overdue" not in [k for k, _ in await harness.kinds(handle.id)]

    await harness.skip_to(due + timedelta(days=1))
    assert await harness.until_kind(handle.id, "evaluation_overdue") == ["consulate", "ofii"]
    state = await handle.query("state")
    assert state["overdue"] == ["evaluation_due"]
    described = await handle.describe()
    assert described.typed_search_attributes.get(sa.OVERDUE) is True

    # B1: the missed delay is never held against the applicant; a late evaluation is taken.
    await evaluate_language_insufficient(handle, due + timedelta(days=1))
    state = await handle.query("state")
    assert state["stage"] == "awaiting_training" and state["overdue"] == []


@pytest.mark.rule("A5")
@pytest.mark.rule("B3")
async def test_b3_spouse_evaluation_due_60_days_after_receipt_presented(harness: Harness) -> None:
    today = await harness.today()
    handle = await harness.start_visa(
        visa_input(today, procedure="spouse_of_french", prefecture=None, complete_file_date=None)
    )
    state = await handle.query("state")
    assert "evaluation_due" not in state["deadlines"]  # B3 does not run before the récépissé
    assert "prefecture_decision_due" not in state["deadlines"]
    await harness.skip_to(add_days(today, 70))
    await harness.until(lambda: _stage_seen(handle))
    assert "evaluation_overdue" not in [k for k, _ in await harness.kinds(handle.id)]

    receipt = await harness.today()
    state = await handle.execute_update("receipt_presented", {"presented_on": iso(receipt)})
    due = add_days(receipt, 60)
    assert state["deadlines"]["evaluation_due"] == due.isoformat()
    await harness.skip_to(due)
    await harness.until(lambda: _stage_seen(handle))
    assert "evaluation_overdue" not in [k for k, _ in await harness.kinds(handle.id)]
    await harness.skip_to(due + timedelta(days=1))
    assert await harness.until_kind(handle.id, "evaluation_overdue") == ["consulate", "ofii"]


@pytest.mark.rule("B2")
async def test_b2_prefecture_reminded_on_the_last_day_of_six_months(harness: Harness) -> None:
    today = await harness.today()
    # While no visa application is on file: one filed means the prefect has ruled.
    handle = await harness.start_visa(visa_input(today, visa_application_date=None))
    due = add_months(today, 6)
    assert (await handle.query("state"))["deadlines"]["prefecture_decision_due"] == due.isoformat()
    await harness.skip_to(due - timedelta(days=1))
    await harness.until_kind(handle.id, "evaluation_overdue")
    assert "prefecture_decision_due" not in [k for k, _ in await harness.kinds(handle.id)]
    await harness.skip_to(due)
    assert await harness.until_kind(handle.id, "prefecture_decision_due") == ["prefecture"]


@pytest.mark.rule("B4")
@pytest.mark.rule("B5")
@pytest.mark.rule("F2")
async def test_b4_sursis_expires_after_six_months_and_b5_allows_issuance(harness: Harness) -> None:
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    await prescribe_language_training(handle, today, hours=120)
    due = add_months(today, 6)
    await harness.skip_to(due)
    await harness.until_kind(handle.id, "training_start_overdue")
    assert "sursis_expired" not in [k for k, _ in await harness.kinds(handle.id)]
    await harness.skip_to(due + timedelta(days=1))
    assert await harness.until_kind(handle.id, "sursis_expired") == ["consulate"]
    rows = [r for r in await harness.notifications(handle.id) if r["kind"] == "sursis_expired"]
    assert rows[0]["payload"]["delay_attributable_to_applicant"] is False
    # B5: the training never started for a reason independent of the applicant, so the
    # visa is issued without the attestation (F2's exception).
    state = await handle.execute_update(
        "visa_decision", {"decision": "issued", "decided_on": iso(due + timedelta(days=1))}
    )
    assert state["stage"] == "visa_issued" and state["outcome"]["issued_under_b5"] is True


@pytest.mark.rule("B6")
async def test_b6_results_recorded_after_a_week_are_flagged_late(harness: Harness) -> None:
    today = await harness.today()
    handle = await harness.start_visa(
        visa_input(today, complete_file_date=iso(today, -30), visa_application_date=iso(today, -30))
    )
    await handle.execute_update(
        "language_evaluation", {"evaluated_on": iso(today, -7), **LANGUAGE_FAIL}
    )
    await handle.execute_update(
        "values_evaluation", {"evaluated_on": iso(today, -8), **VALUES_PASS}
    )
    results = [
        r for r in await harness.notifications(handle.id) if r["kind"] == "evaluation_results"
    ]
    late = {r["payload"]["domain"]: r["payload"]["late"] for r in results}
    assert late == {"language": False, "values": True}


@pytest.mark.rule("B7")
async def test_b7_training_start_due_two_months_after_notification(harness: Harness) -> None:
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    await prescribe_language_training(handle, today, hours=80)
    due = add_months(today, 2)
    assert (await handle.query("state"))["deadlines"]["training_start_due"] == due.isoformat()
    await harness.skip_to(due)
    await harness.until_kind(handle.id, "training_prescription")
    assert "training_start_overdue" not in [k for k, _ in await harness.kinds(handle.id)]
    await harness.skip_to(due + timedelta(days=1))
    assert await harness.until_kind(handle.id, "training_start_overdue") == ["consulate", "ofii"]
    described = await handle.describe()
    assert described.typed_search_attributes.get(sa.TRAINING_PRESCRIBED) is True


@pytest.mark.rule("B8")
async def test_b8_training_still_open_after_two_months_is_flagged(harness: Harness) -> None:
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    await prescribe_language_training(handle, today, hours=80)
    await handle.execute_update("training_started", {"kind": "language", "started_on": iso(today)})
    due = add_months(today, 2)
    await harness.skip_to(due)
    await harness.until(lambda: _stage_seen(handle))
    assert "training_overrun" not in [k for k, _ in await harness.kinds(handle.id)]
    await harness.skip_to(due + timedelta(days=1))
    assert await harness.until_kind(handle.id, "training_overrun") == ["ofii"]
    state = await handle.query("state")
    assert state["stage"] == "in_training" and "training_end_due.language" in state["overdue"]


async def _stage_seen(handle: WorkflowHandle[Any, Any]) -> bool:
    state = await handle.query("state")
    return bool(state.get("stage"))
