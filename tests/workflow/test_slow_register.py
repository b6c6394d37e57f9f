"""A slow opening: the register slow to answer, so that the step's local activity outlives
its workflow task and Core splits the opening over several tasks. Every patch must then be
asked in the first task: a patch first asked in the task that resolves the local activity
can land, when the worker is short of CPU, in the next task's history while replay asks it
in this one, and the history no longer replays (seen under `make run` with a starved
worker). The history must replay (a worker restart or a cache eviction replays it)."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta

import asyncpg
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.register import RegisterActivities
from models.records import StepRecord
from tests.conftest import TEST_KEYS, visa_input
from tests.workflow.test_register_idempotence import _with
from workers.codec import sealed_data_converter
from workers.main import workflow_runner
from workflows import WORKFLOWS
from workflows.dossier import EVERY_PATCH

# Short, so that the step outlives its task (Core heartbeats a task at 80 % of it).
TASK_TIMEOUT = timedelta(seconds=2)
SLOW = 3.0


class SlowOpening(RegisterActivities):
    """The real transaction, answered `slow` seconds late for the opening."""

    def __init__(self, pool: asyncpg.Pool, slow: float) -> None:
        super().__init__(pool)
        self.slow = slow

    @activity.defn(name="record_step")
    async def record_step(self, step: StepRecord) -> str | None:
        if step.claim is not None:
            await asyncio.sleep(self.slow)
        return await super().record_step(step)


def _patch_ids(history_json: str) -> list[tuple[int, str]]:
    """(workflow task, patch id) of every patch marker: a marker follows the completion of
    the task that asked for it, the first task being 1."""
    tasks, found = 0, []
    for event in json.loads(history_json)["events"]:
        if event["eventType"] == "EVENT_TYPE_WORKFLOW_TASK_COMPLETED":
            tasks += 1
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker.get("markerName") == "core_patch":
            data = marker["details"]["patch-data"]["payloads"][0]["data"]
            found.append((tasks, json.loads(_b64(data))["id"]))
    return found


def _b64(data: str) -> str:
    return base64.b64decode(data).decode()


async def test_an_opening_that_outlives_its_workflow_task_still_replays(
    dev_server: WorkflowEnvironment, pool: asyncpg.Pool
) -> None:
    await _open_slowly(dev_server, pool, "VisaApplication", SLOW)


async def _open_slowly(
    dev_server: WorkflowEnvironment, pool: asyncpg.Pool, workflow_type: str, slow: float
) -> None:
    client = await Client.connect(
        dev_server.client.service_client.config.target_host,
        namespace=dev_server.client.namespace,
        data_converter=sealed_data_converter(TEST_KEYS),
    )
    task_queue = f"slow-{workflow_type}"
    application = visa_input((await dev_server.get_current_time()).date())
    workflows = WORKFLOWS
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        workflow_runner=workflow_runner(),
        activities=_with(SlowOpening(pool, slow), pool),
    ):
        handle = await client.start_workflow(
            workflow_type,
            application,
            id=f"visa-{application['application_id']}",
            task_queue=task_queue,
            task_timeout=TASK_TIMEOUT,
        )
        while (await handle.query("state"))["stage"] == "opening":
            await asyncio.sleep(0.2)
        history = await handle.fetch_history()
        await handle.terminate("test finished")

    patches = _patch_ids(history.to_json())
    # One patch answers for all, asked in the first task, before the slow step split the
    # next ones.
    assert {patch for _, patch in patches} == {EVERY_PATCH}
    assert {task for task, _ in patches} == {1}, patches
    tasks = [e for e in history.events if e.HasField("workflow_task_completed_event_attributes")]
    assert len(tasks) >= 3, "the opening did not outlive its workflow task"
    await Replayer(
        workflows=workflows,
        data_converter=sealed_data_converter(TEST_KEYS),
        workflow_runner=workflow_runner(),
    ).replay_workflow(history)
