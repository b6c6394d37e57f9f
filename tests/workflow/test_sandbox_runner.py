"""The worker's sandbox compiles the SDK's texts once (workers/sandbox.py) and is still the
SDK's sandbox: a workflow runs inside it, and what the sandbox forbids stays forbidden."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.converter import WorkflowSerializationContext
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workers.main import workflow_runner
from workers.sandbox import CompiledOnceSandboxRunner, compiled


@workflow.defn(sandboxed=True)
class CountsSignals:
    """Counts signals until told to stop; says whether it ran inside the sandbox."""

    def __init__(self) -> None:
        self.count = 0
        self.done = False

    @workflow.run
    async def run(self) -> tuple[int, bool]:
        await workflow.wait_condition(lambda: self.done)
        return self.count, workflow.unsafe.in_sandbox()

    @workflow.signal
    def tick(self, stop: bool) -> None:
        self.count += 1
        self.done = stop


@workflow.defn(sandboxed=True)
class OpensAFile:
    """Opens a file, I/O which the sandbox forbids a workflow (its restricted builtins: the
    worker passes modules through, so the restrictions on their members are the code's
    own business, tests/unit/test_determinism.py)."""

    @workflow.run
    async def run(self) -> str:
        with open(os.devnull) as nothing:
            return nothing.read()


def _worker(env: WorkflowEnvironment, task_queue: str) -> Worker:
    return Worker(
        env.client,
        task_queue=task_queue,
        workflows=[CountsSignals, OpensAFile],
        workflow_runner=workflow_runner(),
    )


async def _count_signals(env: WorkflowEnvironment, task_queue: str, ticks: int) -> tuple[int, bool]:
    handle = await env.client.start_workflow(
        CountsSignals.run, id=f"sandbox-{uuid.uuid4()}", task_queue=task_queue
    )
    for tick in range(ticks):
        await handle.signal(CountsSignals.tick, tick == ticks - 1)
    result: tuple[int, bool] = tuple(await handle.result())  # type: ignore[assignment]
    return result


async def test_the_workers_runner_is_the_compiled_once_sandbox() -> None:
    assert isinstance(workflow_runner(), CompiledOnceSandboxRunner)


async def test_a_workflow_runs_in_the_sandbox_and_each_text_is_compiled_once(
    time_env: WorkflowEnvironment,
) -> None:
    task_queue = f"sandbox-{uuid.uuid4()}"
    async with _worker(time_env, task_queue):
        assert await _count_signals(time_env, task_queue, 3) == (3, True)
        compiled_before = compiled.cache_info()
        assert await _count_signals(time_env, task_queue, 5) == (5, True)
        compiled_after = compiled.cache_info()
    # The second workflow, its activations and its payloads compiled nothing new.
    assert compiled_after.misses == compiled_before.misses
    assert compiled_after.hits > compiled_before.hits


async def test_what_the_sandbox_forbids_is_still_forbidden(
    own_time_env: WorkflowEnvironment,
) -> None:
    """On a server of its own: a workflow whose task fails holds the time-skipping server's
    clock, even once terminated, and the tests after would wait for ever."""
    task_queue = f"sandbox-{uuid.uuid4()}"
    async with _worker(own_time_env, task_queue):
        handle: WorkflowHandle[OpensAFile, str] = await own_time_env.client.start_workflow(
            OpensAFile.run,
            id=f"sandbox-{uuid.uuid4()}",
            task_queue=task_queue,
            run_timeout=timedelta(minutes=1),
        )
        failure = await _first_task_failure(own_time_env, handle)
    assert failure.startswith("RestrictedWorkflowAccessError: ")
    assert "Cannot access __builtins__.open" in failure
    await handle.terminate("test done")


async def _first_task_failure(
    env: WorkflowEnvironment, handle: WorkflowHandle[OpensAFile, str]
) -> str:
    """The workflow's first failed workflow task, its error's type and unsealed message (the
    time-skipping server does not long-poll a history: it is read again until then)."""
    context = WorkflowSerializationContext(namespace=env.client.namespace, workflow_id=handle.id)
    converter = env.client.data_converter.with_context(context)
    for _ in range(200):
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failure = event.workflow_task_failed_event_attributes.failure
                error = await converter.decode_failure(failure)
                return f"{failure.application_failure_info.type}: {error}"
        await asyncio.sleep(0.05)
    raise AssertionError("no workflow task failed")
