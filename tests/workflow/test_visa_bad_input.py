"""Bad input, by signal and by update alike: a clear rejection naming the field and the
rule, recorded in the state and the register, and a workflow that stays healthy."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from tests.conftest import Harness, iso, visa_input


def cases(today: date) -> list[tuple[str, str, Any, str]]:
    """(case, event, payload, expected start of the reason)."""
    return [
        (
            "malformed payload",
            "language_evaluation",
            "fifty points",
            "D1: the payload must be a JSON object",
        ),
        (
            "unknown field value",
            "training_prescribed",
            {"kind": "music", "hours": 40, "provider": "P", "notified_on": iso(today)},
            "D3: kind:",
        ),
        (
            "out-of-range score",
            "language_evaluation",
            {"evaluated_on": iso(today), "oral_score": 85, "written_score": 10, "evaluator": "E"},
            "D1: oral_score:",
        ),
        (
            "out of order",
            "language_evaluation",
            {"evaluated_on": iso(today), "oral_score": 40, "written_score": 20, "evaluator": "E"},
            "D4: a re-evaluation follows a completed training",
        ),
        (
            "refusal citing an evaluation",
            "visa_decision",
            {"decision": "refused", "decided_on": iso(today), "grounds": ["evaluation_result"]},
            "F3: grounds: a visa may not be refused because of an evaluation result",
        ),
        (
            "fewer than 40 hours",
            "training_prescribed",
            {"kind": "language", "hours": 30, "provider": "P", "notified_on": iso(today)},
            "D3: hours: 30 hours prescribed; never fewer than 40",
        ),
        (
            "duplicate",
            "values_evaluation",
            {
                "evaluated_on": iso(today),
                "language_used": "ar",
                "questions_asked": 6,
                "correct_answers": 2,
                "evaluator": "E",
            },
            "duplicate: identical to event #",
        ),
        (
            "unknown event",
            "language_evaluaton",
            {"evaluated_on": iso(today)},
            "contract: unknown event",
        ),
    ]


async def prepared(harness: Harness) -> tuple[WorkflowHandle[Any, Any], date]:
    """A dossier whose language evaluation found a need for training, and whose values
    evaluation was received once (so that sending it again is a duplicate)."""
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    await handle.execute_update(
        "language_evaluation",
        {"evaluated_on": iso(today), "oral_score": 20, "written_score": 10, "evaluator": "E"},
    )
    await handle.execute_update(
        "values_evaluation",
        {
            "evaluated_on": iso(today),
            "language_used": "ar",
            "questions_asked": 6,
            "correct_answers": 2,
            "evaluator": "E",
        },
    )
    return handle, today


async def assert_recorded_and_healthy(
    harness: Harness, handle: WorkflowHandle[Any, Any], today: date, event: str, reason: str
) -> None:
    state = await handle.query("state")
    rejection = state["rejected_inputs"][-1]
    assert rejection["event"] == event and rejection["reason"].startswith(reason)
    assert rejection["received_at"]
    rows = [r for r in await harness.events(handle.id) if not r["accepted"]]
    assert rows[-1]["event"] == event and rows[-1]["reason"] == rejection["reason"]
    assert state["stage"] == "awaiting_training"
    # Healthy: the next valid event is taken as usual.
    state = await handle.execute_update(
        "training_prescribed",
        {"kind": "language", "hours": 120, "provider": "Alliance", "notified_on": iso(today)},
    )
    assert state["stage"] == "awaiting_training" and state["training_prescribed"] is True


@pytest.mark.rule("core")
@pytest.mark.rule("D4")
async def test_an_update_resting_on_what_has_not_arrived_is_held_then_placed(
    harness: Harness,
) -> None:
    handle, today = await prepared(harness)
    completed = {
        "kind": "language",
        "completed_on": iso(today),
        "hours_attended": 120,
        "attestation_ref": "A",
    }
    state = await handle.execute_update("training_completed", completed)  # accepted: held
    [held] = state["held_inputs"]
    assert held["event"] == "training_completed" and held["reason"].startswith("D4: kind")
    assert state["rejected_inputs"] == [] and state["stage"] == "awaiting_training"
    await handle.execute_update(
        "training_prescribed",
        {"kind": "language", "hours": 120, "provider": "Alliance", "notified_on": iso(today)},
    )
    state = await handle.execute_update(
        "training_started", {"kind": "language", "started_on": iso(today)}
    )
    assert state["held_inputs"] == [] and state["stage"] == "awaiting_re_evaluation"
    rows = {row["seq"]: row for row in await harness.events(handle.id)}
    assert rows[held["seq"]]["status"] == "held" and rows[held["seq"]]["accepted"]
    assert list(rows[max(rows)]["placed"]) == [held["seq"]]


@pytest.mark.rule("D1")
@pytest.mark.rule("D3")
@pytest.mark.rule("D4")
@pytest.mark.rule("F3")
@pytest.mark.parametrize("index", range(8))
async def test_bad_update_is_rejected_recorded_and_harmless(harness: Harness, index: int) -> None:
    handle, today = await prepared(harness)
    case, event, payload, reason = cases(today)[index]
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(event, payload)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InputRejected"
    assert cause.message.startswith(reason), case
    # The contract working, not a failure: logged at DEBUG, no failure metric.
    assert cause.category == ApplicationErrorCategory.BENIGN
    await assert_recorded_and_healthy(harness, handle, today, event, reason)


@pytest.mark.rule("D1")
@pytest.mark.rule("D3")
@pytest.mark.rule("D4")
@pytest.mark.rule("F3")
@pytest.mark.parametrize("index", range(8))
async def test_bad_signal_is_rejected_recorded_and_harmless(harness: Harness, index: int) -> None:
    handle, today = await prepared(harness)
    _, event, payload, reason = cases(today)[index]
    before = len((await handle.query("state"))["rejected_inputs"])
    await handle.signal(event, payload)

    async def recorded() -> bool:
        in_state = len((await handle.query("state"))["rejected_inputs"]) > before
        in_register = [r for r in await harness.events(handle.id) if not r["accepted"]]
        return in_state and len(in_register) > before

    await harness.until(recorded)
    await assert_recorded_and_healthy(harness, handle, today, event, reason)


@pytest.mark.rule("A1")
async def test_invalid_start_input_fails_the_workflow_with_the_field_and_rule(
    harness: Harness,
) -> None:
    today = await harness.today()
    application = visa_input(today, country_of_residence="Morocco")
    handle = await harness.client.start_workflow(
        "VisaApplication",
        application,
        id=f"visa-{application['application_id']}",
        task_queue=harness.task_queue,
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.message.startswith("A2: country_of_residence: must be an ISO 3166-1 alpha-2 code")
    assert cause.category == ApplicationErrorCategory.BENIGN
    rows = await harness.events(handle.id)
    assert [(r["seq"], r["event"], r["accepted"]) for r in rows] == [(0, "start", False)]


async def test_starting_the_same_id_again_never_creates_a_second_dossier(harness: Harness) -> None:
    today = await harness.today()
    application = visa_input(today)
    first = await harness.start_visa(application)
    await first.execute_update(
        "visa_decision", {"decision": "refused", "decided_on": iso(today), "grounds": ["fraud"]}
    )
    await first.result()
    second = await harness.client.start_workflow(
        "VisaApplication", application, id=first.id, task_queue=harness.task_queue
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await second.result()
    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.type == "DuplicateDossier"
    assert failure.value.cause.category == ApplicationErrorCategory.BENIGN
    row = await harness.dossier(first.id)
    assert row is not None and row["stage"] == "visa_refused"
    assert [r["seq"] for r in await harness.events(first.id)] == [1, 2]
