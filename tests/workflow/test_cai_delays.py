"""The CAI's year of validity, its reminders, the extension and the overdue skills
assessment, at their true length on the time-skipping server."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from activities.delivery import delivery_id
from models.calendar import add_months
from models.delivery import idempotency_key
from tests.conftest import Harness, cai_input, family_input, iso


@pytest.mark.rule("H5")
@pytest.mark.rule("I1")
@pytest.mark.rule("I2")
async def test_year_of_validity_reminders_overdue_assessment_and_proposal(harness: Harness) -> None:
    today = await harness.today()
    handle = await harness.start_cai(cai_input(today))
    ends = add_months(today, 12)
    state = await handle.query("state")
    assert state["deadlines"] == {
        "skills_assessment_due": ends.isoformat(),
        "validity_ends": ends.isoformat(),
    }
    assert state["skills_assessment"]["status"] == "awaiting_convocation"

    await harness.skip_to(add_months(ends, -2) - timedelta(days=1))
    await handle.query("state")
    assert "cai_expiry_reminder" not in [k for k, _ in await harness.kinds(handle.id)]
    await harness.skip_to(add_months(ends, -2))
    assert await harness.until_kind(handle.id, "cai_expiry_reminder") == ["ofii"]
    await harness.skip_to(add_months(ends, -1))
    await harness.until(lambda: _count(harness, handle.id, "cai_expiry_reminder", 2))

    await handle.execute_update(
        "absence",
        {
            "service": "civic_training",
            "absent_on": iso(await harness.today()),
            "legitimate_reason": None,
        },
    )
    await harness.skip_to(ends)
    await handle.query("state")
    assert "skills_assessment_overdue" not in [k for k, _ in await harness.kinds(handle.id)]
    await harness.skip_to(ends + timedelta(days=1))
    assert await harness.until_kind(handle.id, "skills_assessment_overdue") == [
        "ofii",
        "prefecture",
    ]
    assert await harness.until_kind(handle.id, "cai_follow_up_proposal") == ["prefecture"]
    state = await handle.query("state")
    assert state["stage"] == "awaiting_prefect_decision"
    assert state["skills_assessment"]["status"] == "missed"
    assert state["proposal"]["proposal"] == "terminate"
    assert any(
        reason.startswith("I2: absent from civic_training")
        for reason in state["proposal"]["reasons"]
    )


@pytest.mark.rule("I1")
@pytest.mark.rule("H4")
@pytest.mark.rule("H3")
async def test_extension_runs_its_own_timer_then_the_prefect_closes(harness: Harness) -> None:
    today = await harness.today()
    handle = await harness.start_cai(cai_input(today))
    await handle.execute_update(
        "skills_assessment_convened",
        {"session_id": "S1", "session_on": iso(today, 10), "platform": "OFII Paris"},
    )
    await harness.skip_to(today + timedelta(days=10))
    day = await harness.today()
    state = await handle.execute_update(
        "skills_assessment_completed",
        {"completed_on": iso(day), "duration_hours": 3, "report_ref": "B-1"},
    )
    assert state["skills_assessment"]["status"] == "completed"
    assert await harness.until_kind(handle.id, "skills_assessment_copy") == ["france_travail"]
    await handle.execute_update(
        "language_training_status",
        {"status": "in_progress", "reason": None, "reported_on": iso(day)},
    )
    ends = add_months(today, 12)
    await harness.skip_to(ends + timedelta(days=1))
    await harness.until_kind(handle.id, "cai_follow_up_proposal")
    state = await handle.query("state")
    assert state["proposal"]["proposal"] == "extend"
    until = ends + timedelta(days=120)
    state = await handle.execute_update(
        "prefect_decision",
        {"decision": "extend", "decided_on": iso(ends, 2), "extended_until": until.isoformat()},
    )
    assert (
        state["stage"] == "extended" and state["deadlines"]["extension_ends"] == until.isoformat()
    )
    await harness.skip_to(until)
    assert len([k for k, _ in await harness.kinds(handle.id) if k == "cai_follow_up_proposal"]) == 1
    await harness.skip_to(until + timedelta(days=1))
    await harness.until(lambda: _count(harness, handle.id, "cai_follow_up_proposal", 2))
    day = await harness.today()
    await handle.execute_update(
        "service_completed",
        {"service": "language_training", "completed_on": iso(day), "attestation_ref": "L-1"},
    )
    state = await handle.execute_update(
        "prefect_decision", {"decision": "close", "decided_on": iso(day)}
    )
    assert state["stage"] == "closed"
    assert (await handle.result())["stage"] == "closed"


@pytest.mark.rule("G4")
async def test_family_year_ends_and_reports_who_never_attended(harness: Harness) -> None:
    today = await harness.today()
    handle = await harness.start_family(family_input(today))
    await handle.execute_update(
        "parents_training_convened",
        {"person_id": "P1", "session_id": "F1", "session_on": iso(today, 7)},
    )
    await harness.skip_to(today + timedelta(days=7))
    await handle.execute_update(
        "parents_training_attended",
        {"person_id": "P1", "attended_on": iso(today, 7), "attestation_ref": "A-1"},
    )
    ends = add_months(today, 12)
    await harness.skip_to(ends)
    assert "parents_not_convened" not in [k for k, _ in await harness.kinds(handle.id)]
    await harness.skip_to(ends + timedelta(days=1))
    # G4: P2 was never convened: OFII is told to convene them, the prefect is not.
    assert await harness.until_kind(handle.id, "parents_not_convened") == ["ofii"]
    rows = [
        r for r in await harness.notifications(handle.id) if r["kind"] == "parents_not_convened"
    ]
    assert rows[0]["payload"]["person_id"] == "P2"
    assert "parents_training_missed" not in [k for k, _ in await harness.kinds(handle.id)]
    assert (await handle.result())["stage"] == "closed"


async def _count(harness: Harness, workflow_id: str, kind: str, count: int) -> bool:
    return len([k for k, _ in await harness.kinds(workflow_id) if k == kind]) >= count


@pytest.mark.rule("G4")
async def test_a_family_run_names_no_person_in_its_ids_keys_or_logs(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Workflow ids, notification keys, delivery ids, `Idempotency-Key` headers, the history
    the Web UI shows without the codec, and log lines: a parent is a rank there, never their
    person id (docs/production.md, "What the Web UI shows")."""
    caplog.set_level(logging.DEBUG)
    today = await harness.today()
    people = [f"PERSON-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    contract = family_input(today)
    for signatory, person in zip(contract["signatories"], people, strict=True):
        signatory["person_id"] = person
    handle = await harness.start_family(contract)
    convened = {"person_id": people[0], "session_id": "F1", "session_on": iso(today, 7)}
    await handle.execute_update("parents_training_convened", convened)
    await harness.skip_to(today + timedelta(days=7))
    absent = {"person_id": people[0], "absent_on": iso(today, 7), "legitimate_reason": None}
    await handle.execute_update("parents_training_absence", absent)
    # A refusal names the person in its reason: kept sealed, never logged.
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update("parents_training_absence", absent)
    ends = add_months(today, 12)
    await harness.skip_to(ends + timedelta(days=1))
    assert await harness.until_kind(handle.id, "parents_not_convened") == ["ofii"]
    await harness.until_kind(handle.id, "parents_training_missed")
    rows = await harness.notifications(handle.id)
    reports = {row["kind"]: row for row in rows if row["kind"].startswith("parents_")}
    assert reports["parents_training_missed"]["key"].endswith(".parent-1")
    assert reports["parents_not_convened"]["key"].endswith(".parent-2")
    history = (await handle.fetch_history()).to_json()
    shown = [
        handle.id,
        history,
        *(delivery_id(handle.id, row["key"]) for row in rows),
        *(idempotency_key(handle.id, row["key"]) for row in rows),
        *(f"{record.getMessage()} {record.__dict__}" for record in caplog.records),
    ]
    for person in people:
        assert not [text for text in shown if person in text], person
    # The sealed payloads name them, for the codec's readers.
    assert reports["parents_not_convened"]["payload"]["person_id"] == people[1]
