"""One step, one transaction: a retried step never writes a second row and never loses one,
and a step whose transaction fails leaves nothing behind (contract)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from asyncpg.pool import PoolConnectionProxy
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.register import RegisterActivities
from models.records import (
    DossierRow,
    DossierView,
    EventRecord,
    NotificationRecord,
    StepRecord,
)
from tests.conftest import Harness, iso, visa_input
from workers.main import worker_activities, workflow_runner
from workflows import WORKFLOWS, register


class FailingAfterCommit(RegisterActivities):
    """The real transaction, then a failure on the first attempt: as if the worker died
    between the commit and the reply."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.attempts: list[tuple[int, int]] = []

    @activity.defn(name="record_step")
    async def record_step(self, step: StepRecord) -> str | None:
        holder = await super().record_step(step)
        self.attempts.append((step.event.seq, activity.info().attempt))
        if activity.info().attempt == 1:
            raise RuntimeError("injected failure after the commit")
        return holder


class FailingBeforeCommit(RegisterActivities):
    """The input and the notifications written, then the projection fails: on every call
    when `always`, else on the first attempt of each step."""

    def __init__(self, pool: asyncpg.Pool, *, always: bool = False) -> None:
        super().__init__(pool)
        self.always = always

    async def _project(
        self, connection: asyncpg.Connection | PoolConnectionProxy, row: DossierRow
    ) -> None:
        if self.always or activity.info().attempt == 1:
            raise RuntimeError("injected failure inside the transaction")
        await super()._project(connection, row)


def _with(replacement: RegisterActivities, pool: asyncpg.Pool) -> list[Any]:
    return [
        replacement.record_step if getattr(fn, "__name__", "") == "record_step" else fn
        for fn in worker_activities(pool, None)
    ]


async def _refused_spouse_visa(harness: Harness, activities: list[Any]) -> str:
    """A spouse of a French national refused a visa: three steps, three notifications."""
    async with Worker(
        harness.env.client,
        task_queue=harness.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=activities,
    ):
        today = await harness.today()
        handle = await harness.start_visa(
            visa_input(today, procedure="spouse_of_french", prefecture=None)
        )
        await handle.execute_update(
            "visa_decision", {"decision": "refused", "decided_on": iso(today), "grounds": ["fraud"]}
        )
        await handle.result()
    return handle.id


async def _assert_written_once(harness: Harness, workflow_id: str) -> None:
    rows = await harness.notifications(workflow_id)
    assert sorted((r["kind"], r["recipient"]) for r in rows) == [
        ("invitation", "applicant"),
        ("visa_application_copy", "ofii"),
        ("visa_decision", "ofii"),
    ]
    assert len({r["key"] for r in rows}) == len(rows)
    events = await harness.events(workflow_id)
    assert Counter(row["seq"] for row in events) == {1: 1, 2: 1}
    dossier = await harness.dossier(workflow_id)
    assert dossier is not None
    assert (dossier["stage"], dossier["version"]) == ("visa_refused", 2)


@pytest.mark.rule("A5")
@pytest.mark.rule("F4")
async def test_a_step_retried_after_its_commit_writes_nothing_twice(
    time_env: WorkflowEnvironment, pool: asyncpg.Pool
) -> None:
    failing = FailingAfterCommit(pool)
    harness = Harness(time_env, pool, f"test-{uuid.uuid4()}")
    workflow_id = await _refused_spouse_visa(harness, _with(failing, pool))

    await _assert_written_once(harness, workflow_id)
    retried = {seq for seq, attempt in failing.attempts if attempt > 1}
    assert retried == {1, 2}, "every step was retried after its commit"


@pytest.mark.rule("A5")
@pytest.mark.rule("F4")
async def test_a_step_whose_transaction_fails_is_retried_whole(
    time_env: WorkflowEnvironment, pool: asyncpg.Pool
) -> None:
    harness = Harness(time_env, pool, f"test-{uuid.uuid4()}")
    workflow_id = await _refused_spouse_visa(harness, _with(FailingBeforeCommit(pool), pool))
    await _assert_written_once(harness, workflow_id)


@pytest.mark.rule("A5")
async def test_a_failed_transaction_leaves_no_row_behind(pool: asyncpg.Pool) -> None:
    workflow_id = f"visa-ROLLBACK-{uuid.uuid4().hex[:8]}"
    run_id = str(uuid.uuid4())
    step = StepRecord(
        event=EventRecord(
            workflow_id=workflow_id,
            seq=1,
            event="start",
            source="start",
            accepted=True,
            received_at="2026-01-05T10:00:00+00:00",
            run_id=run_id,
        ),
        notifications=[
            NotificationRecord(
                workflow_id=workflow_id,
                key="000001.invitation.applicant",
                recipient="applicant",
                kind="invitation",
                run_id=run_id,
                seq=1,
            )
        ],
        projection=DossierRow(
            workflow_id=workflow_id,
            first_run_id=run_id,
            run_id=run_id,
            view=DossierView(kind="visa_application", reference="ROLLBACK", stage="x", version=1),
        ),
    )
    with pytest.raises(RuntimeError, match="inside the transaction"):
        await FailingBeforeCommit(pool, always=True).record_step(step)
    for table in ("dossier_event", "notification", "dossier", "dossier_run"):
        count = await pool.fetchval(
            f"SELECT count(*) FROM {table} WHERE workflow_id = $1", workflow_id
        )
        assert count == 0, f"{table} kept a row of a step whose transaction failed"

    assert await RegisterActivities(pool).record_step(step) is None
    assert await RegisterActivities(pool).record_step(step) is None  # a retry: nothing new
    for table in ("dossier_event", "notification", "dossier"):
        count = await pool.fetchval(
            f"SELECT count(*) FROM {table} WHERE workflow_id = $1", workflow_id
        )
        assert count == 1, table


class DownUntilReleased(RegisterActivities):
    """The register refusing every step after the opening until the test lets it answer."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.up = False
        self.attempts: list[int] = []

    @activity.defn(name="record_step")
    async def record_step(self, step: StepRecord) -> str | None:
        if step.event.seq > 1 and not self.up:
            self.attempts.append(activity.info().attempt)
            raise ConnectionRefusedError("the register is down")
        return await super().record_step(step)


@pytest.mark.rule("A5")
async def test_a_step_the_register_refuses_for_long_goes_on_as_a_normal_activity(
    time_env: WorkflowEnvironment, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The local attempts, shortened: their count, not their pace, is under test.
    monkeypatch.setattr(
        register,
        "LOCAL_RETRY",
        RetryPolicy(
            initial_interval=timedelta(milliseconds=10),
            maximum_interval=timedelta(milliseconds=20),
            maximum_attempts=register.LOCAL_RETRY.maximum_attempts,
        ),
    )
    down = DownUntilReleased(pool)
    harness = Harness(time_env, pool, f"test-{uuid.uuid4()}")
    async with Worker(
        time_env.client,
        task_queue=harness.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=_with(down, pool),
    ):
        today = await harness.today()
        handle = await harness.start_visa(visa_input(today))
        await handle.signal(
            "language_evaluation",
            {"evaluated_on": iso(today), "oral_score": 50, "written_score": 20, "evaluator": "E"},
        )

        async def handed_over() -> bool:
            events = (await handle.fetch_history()).events
            return any(
                e.activity_task_scheduled_event_attributes.activity_type.name == "record_step"
                for e in events
            )

        await harness.until(handed_over)
        assert down.attempts[: register.LOCAL_RETRY.maximum_attempts] == list(
            range(1, register.LOCAL_RETRY.maximum_attempts + 1)
        ), "the local attempts, counted"
        state = await handle.query("state")
        assert state["seq"] == 2 and state["stage"] == "awaiting_evaluation"  # still running

        down.up = True
        await harness.env.sleep(timedelta(minutes=5))  # the normal activity's next attempt

        async def committed() -> bool:
            return len(await harness.events(handle.id)) == 2

        await harness.until(committed)
        await harness.close()
