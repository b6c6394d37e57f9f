"""One step, one register write; search attributes only when they change; and reference
data loaded once per worker, a dossier keeping the version it opened under."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.reference import ReferenceActivities
from tests.conftest import Harness, iso, visa_input
from workers.main import worker_activities, workflow_runner
from workflows import WORKFLOWS

SUFFICIENT_FRENCH = {"oral_score": 40, "written_score": 15, "evaluator": "OFII Rabat"}


async def _history(handle: WorkflowHandle[Any, Any]) -> list[Any]:
    return list((await handle.fetch_history()).events)


def _markers(events: list[Any]) -> Counter[str]:
    """Local activities and patches, as the history records them."""
    found: Counter[str] = Counter()
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            details = event.marker_recorded_event_attributes.details
            name = event.marker_recorded_event_attributes.marker_name
            if name == "core_local_activity" and "data" in details:
                data = json.loads(details["data"].payloads[0].data)
                name = data.get("activity_type", name)
            found[name] += 1
    return found


def _upserts(events: list[Any]) -> list[dict[str, Any]]:
    upserts = []
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            # The SDK notes each patch in TemporalChangeVersion: not the dossier's own.
            shown = {
                name: payload.data
                for name, payload in fields.indexed_fields.items()
                if name != "TemporalChangeVersion"
            }
            if shown:
                upserts.append(shown)
    return upserts


@pytest.mark.rule("A5")
async def test_each_step_is_one_register_write_and_search_attributes_change_only(
    harness: Harness,
) -> None:
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    await handle.execute_update(
        "language_evaluation", {"evaluated_on": iso(today), **SUFFICIENT_FRENCH}
    )
    await handle.signal("language_evaluation", {"oral_score": "not a number"})  # rejected
    await handle.execute_update(
        "values_evaluation",
        {
            "evaluated_on": iso(today),
            "language_used": "ar",
            "questions_asked": 6,
            "correct_answers": 6,
            "evaluator": "OFII Rabat",
        },
    )
    await handle.execute_update("visa_decision", {"decision": "issued", "decided_on": iso(today)})
    await handle.result()
    events = await _history(handle)

    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == [], "no register write goes through the server's activity queue"
    steps = len(await harness.events(handle.id))
    assert steps == 5  # the start, two evaluations, the rejected signal, the decision
    assert _markers(events)["record_step"] == steps, "one transaction per step"

    upserts = _upserts(events)
    assert len(upserts) <= 4, "an accepted step upserts at most once, a rejected one never"
    shown: dict[str, Any] = {}
    for upsert in upserts:
        for name, value in upsert.items():
            assert shown.get(name) != value, f"{name} upserted again with the same value"
            shown[name] = value
    assert json.loads(shown["DossierStage"]) == "visa_issued"


@pytest.mark.rule("B1")
async def test_the_next_deadline_reads_as_its_day_in_every_time_zone(harness: Harness) -> None:
    """`NextDeadline` is noon UTC of the last day allowed: the Web UI shows that day to a
    consulate in Montréal (UTC-5) as in Rabat, where midnight UTC read as the day before."""
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    state = await handle.query("state")
    due = date.fromisoformat(state["deadlines"]["evaluation_due"])
    [first] = [u for u in _upserts(await _history(handle)) if "NextDeadline" in u]
    shown = datetime.fromisoformat(json.loads(first["NextDeadline"]).replace("Z", "+00:00"))
    assert shown == datetime.combine(due, time(12), tzinfo=UTC)
    for zone in ("America/Montreal", "Africa/Casablanca", "Asia/Ho_Chi_Minh"):
        assert shown.astimezone(ZoneInfo(zone)).date() == due, zone


async def _run_worker(
    env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str, reference: Path | None
) -> Worker:
    """No sticky cache: every task replays the history, as on a worker that restarted."""
    return Worker(
        env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=worker_activities(pool, reference),
        max_cached_workflows=0,
    )


@pytest.mark.rule("D1")
async def test_a_dossier_keeps_the_bareme_it_opened_under(
    time_env: WorkflowEnvironment, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    stricter = tmp_path / "reference.json"
    stricter.write_text(
        json.dumps(
            {
                "language_baremes": [
                    {"effective_from": "2008-12-01", "oral_min": 60, "total_min": 90}
                ]
            }
        )
    )
    shipped = ReferenceActivities(None).load()
    assert ReferenceActivities(stricter).load().version != shipped.version
    harness = Harness(time_env, pool, f"test-{uuid.uuid4()}")
    try:
        async with await _run_worker(time_env, pool, harness.task_queue, None):
            today = await harness.today()
            opened_before = await harness.start_visa(visa_input(today))
        # The operator tightens the barème and the workers restart with it.
        async with await _run_worker(time_env, pool, harness.task_queue, stricter):
            opened_after = await harness.start_visa(visa_input(today))
            evaluation = {"evaluated_on": iso(today), **SUFFICIENT_FRENCH}
            before = await opened_before.execute_update("language_evaluation", evaluation)
            after = await opened_after.execute_update("language_evaluation", evaluation)
    finally:
        await harness.close()

    assert before["reference_version"] == shipped.version
    assert before["language"]["evaluation"]["sufficient"] is True
    assert after["reference_version"] == ReferenceActivities(stricter).load().version
    assert after["language"]["evaluation"]["sufficient"] is False


def test_the_reference_version_is_the_digest_of_the_content(tmp_path: Path) -> None:
    override = tmp_path / "reference.json"
    override.write_text(json.dumps({"letter_languages": ["fr", "ar"]}))
    first, again = ReferenceActivities(override), ReferenceActivities(override)
    assert first.load().version == again.load().version
    assert first.load() is first.load(), "read once per worker"
    assert first.load().version != ReferenceActivities(None).load().version
