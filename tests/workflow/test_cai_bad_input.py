"""Bad input to the CAI workflows, by signal and by update alike: refused naming the
field and the rule, recorded, and the workflow stays healthy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from models.calendar import add_months
from tests.conftest import Harness, cai_input, family_input, iso


async def send(
    handle: WorkflowHandle[Any, Any], harness: Harness, how: str, event: str, payload: Any
) -> str:
    """Send a bad event; return the reason it was refused with, as the sender sees it
    (update) or as the dossier recorded it (signal)."""
    before = len((await handle.query("state"))["rejected_inputs"])
    if how == "update":
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await handle.execute_update(event, payload)
        assert isinstance(failure.value.cause, ApplicationError)
        assert failure.value.cause.type == "InputRejected"
        reason = failure.value.cause.message
    else:
        await handle.signal(event, payload)

        async def recorded() -> bool:
            rejected = [r for r in await harness.events(handle.id) if not r["accepted"]]
            return (
                len((await handle.query("state"))["rejected_inputs"]) > before
                and len(rejected) > before
            )

        await harness.until(recorded)
        reason = (await handle.query("state"))["rejected_inputs"][-1]["reason"]
    state = await handle.query("state")
    assert state["rejected_inputs"][-1]["reason"] == reason
    rows = [r for r in await harness.events(handle.id) if not r["accepted"]]
    assert rows[-1]["reason"] == reason and rows[-1]["event"] == event
    return str(reason)


HOW = pytest.mark.parametrize("how", ["signal", "update"])


@HOW
@pytest.mark.rule("H3")
@pytest.mark.rule("H2")
async def test_assessment_over_three_hours_or_for_an_exempt_signatory(
    harness: Harness, how: str
) -> None:
    today = await harness.today()
    handle = await harness.start_cai(cai_input(today))
    await handle.execute_update(
        "skills_assessment_convened",
        {"session_id": "S1", "session_on": iso(today), "platform": "OFII Paris"},
    )
    reason = await send(
        handle,
        harness,
        how,
        "skills_assessment_completed",
        {"completed_on": iso(today), "duration_hours": 3.5, "report_ref": "R"},
    )
    assert reason.startswith("H3: duration_hours: 3.5 hours")
    # healthy: a 3-hour assessment is then taken
    state = await handle.execute_update(
        "skills_assessment_completed",
        {"completed_on": iso(today), "duration_hours": 3, "report_ref": "R"},
    )
    assert state["skills_assessment"]["status"] == "completed"

    senior = await harness.start_cai(
        cai_input(
            today,
            signatory={
                "full_name": "Fatma Kaya",
                "birth_date": "1950-01-01",
                "nationality": "TR",
                "languages": ["tr"],
            },
        )
    )
    assert (await senior.query("state"))["skills_assessment"]["exemption"].startswith("H2: aged")
    reason = await send(
        senior,
        harness,
        how,
        "skills_assessment_convened",
        {"session_id": "S2", "session_on": iso(today), "platform": "OFII Paris"},
    )
    assert reason.startswith("H2: the signatory is exempt")


@HOW
@pytest.mark.rule("I1")
async def test_extension_without_language_training_under_way_is_refused(
    harness: Harness, how: str
) -> None:
    today = await harness.today()
    handle = await harness.start_cai(cai_input(today))
    ends = add_months(today, 12)
    await harness.skip_to(ends + timedelta(days=1))
    await harness.until_kind(handle.id, "cai_follow_up_proposal")
    reason = await send(
        handle,
        harness,
        how,
        "prefect_decision",
        {"decision": "extend", "decided_on": iso(ends, 1), "extended_until": iso(ends, 90)},
    )
    assert reason.startswith("I1: decision: an extension needs a prescribed language training")
    reason = await send(
        handle,
        harness,
        how,
        "skills_assessment_convened",
        {"session_id": "S9", "session_on": iso(ends, 5), "platform": "OFII Paris"},
    )
    assert reason.startswith("H5: a convocation after the contract's validity ended")
    state = await handle.execute_update(
        "prefect_decision", {"decision": "terminate", "decided_on": iso(ends, 1)}
    )
    assert state["stage"] == "terminated"
    assert await harness.until_kind(handle.id, "cai_terminated") == ["prefecture"]
    rows = [r for r in await harness.notifications(handle.id) if r["kind"] == "cai_terminated"]
    assert "first residence card" in rows[0]["payload"]["consequence"]


@HOW
@pytest.mark.rule("G3")
async def test_breach_for_a_child_outside_six_to_sixteen_is_refused(
    harness: Harness, how: str
) -> None:
    today = await harness.today()
    handle = await harness.start_family(family_input(today))
    reason = await send(
        handle,
        harness,
        how,
        "school_attendance_breach",
        {"child_id": "C2", "reported_on": iso(today), "detail": "absent"},
    )
    assert reason.startswith("G3: child_id: C2 is aged 2;")
    state = await handle.execute_update(
        "school_attendance_breach",
        {"child_id": "C1", "reported_on": iso(today), "detail": "absent"},
    )
    assert len(state["breaches"]) == 1
    assert await harness.until_kind(handle.id, "school_attendance_breach") == ["prefecture"]


@pytest.mark.rule("G1")
async def test_family_without_an_eligible_child_is_refused_at_start(harness: Harness) -> None:
    today = await harness.today()
    contract = family_input(
        today,
        children=[
            {
                "child_id": "C1",
                "birth_date": iso(today, -17 * 366),
                "admitted_through_family_reunification": True,
            },
            {
                "child_id": "C2",
                "birth_date": iso(today, -5 * 365),
                "admitted_through_family_reunification": False,
            },
        ],
    )
    handle = await harness.client.start_workflow(
        "CaiFamilyContract",
        contract,
        id=f"caif-{contract['contract_id']}",
        task_queue=harness.task_queue,
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.message.startswith("G1: children: no child under 16 admitted")


@pytest.mark.rule("G2")
@pytest.mark.rule("G4")
async def test_parents_convened_attend_or_miss_and_the_prefect_refers(harness: Harness) -> None:
    today = await harness.today()
    handle = await harness.start_family(family_input(today))
    for person in ("P1", "P2"):
        await handle.execute_update(
            "parents_training_convened",
            {"person_id": person, "session_id": "F1", "session_on": iso(today)},
        )
    await handle.execute_update(
        "parents_training_attended",
        {"person_id": "P1", "attended_on": iso(today), "attestation_ref": "A"},
    )
    state = await handle.execute_update(
        "parents_training_absence",
        {"person_id": "P2", "absent_on": iso(today), "legitimate_reason": None},
    )
    assert state["stage"] == "in_progress"  # G4: reported at the end of the follow-up
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            "conseil_general_referral", {"decided_on": iso(today), "reason": "r"}
        )
    ends = add_months(today, 12)
    await harness.skip_to(ends + timedelta(days=1))
    assert await harness.until_kind(handle.id, "parents_training_missed") == ["prefecture"]
    state = await handle.execute_update(
        "conseil_general_referral",
        {"decided_on": iso(ends, 1), "reason": "G4", "person_id": "P2"},
    )
    assert state["stage"] == "closed"
    assert state["referral"] is not None
    kinds = await harness.kinds(handle.id)
    assert kinds.count(("parents_training_convocation", "applicant")) == 2
    assert ("parents_training_attestation", "applicant") in kinds
    assert ("parents_training_missed", "prefecture") in kinds
    assert ("conseil_general_referral", "conseil_general") in kinds
    letters = {
        r["payload"]["person_id"]: r["language"]
        for r in await harness.notifications(handle.id)
        if r["kind"] == "parents_training_convocation"
    }
    assert letters == {"P1": "tr", "P2": "tr"}
