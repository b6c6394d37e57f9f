"""A retried activity never writes a second row, and never loses one (contract)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import worker_activities
from activities.register import RegisterActivities
from models.register import NotificationRecord
from tests.conftest import Harness, iso, visa_input
from workflows import WORKFLOWS


class FailingAfterInsert(RegisterActivities):
    """The real insert, then a failure on the first attempt: as if the worker died
    between the commit and the reply."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.attempts: list[tuple[str, int]] = []

    @activity.defn(name="send_notification")
    async def send_notification(self, notification: NotificationRecord) -> bool:
        created = await super().send_notification(notification)
        self.attempts.append((notification.key, activity.info().attempt))
        if activity.info().attempt == 1:
            raise RuntimeError("injected failure after the insert")
        return created


@pytest.mark.rule("A5")
@pytest.mark.rule("F4")
async def test_retried_notification_leaves_exactly_one_row(
    time_env: WorkflowEnvironment, pool: asyncpg.Pool
) -> None:
    failing = FailingAfterInsert(pool)
    activities: list[Any] = [
        failing.send_notification if getattr(fn, "__name__", "") == "send_notification" else fn
        for fn in worker_activities(pool, None)
    ]
    harness = Harness(time_env, pool, f"test-{uuid.uuid4()}")
    async with Worker(
        time_env.client, task_queue=harness.task_queue, workflows=WORKFLOWS, activities=activities
    ):
        today = await harness.today()
        handle = await harness.start_visa(
            visa_input(today, procedure="spouse_of_french", prefecture=None)
        )
        await handle.execute_update(
            "visa_decision", {"decision": "refused", "decided_on": iso(today), "grounds": ["fraud"]}
        )
        await handle.result()

    rows = await harness.notifications(handle.id)
    assert sorted((r["kind"], r["recipient"]) for r in rows) == [
        ("invitation", "applicant"),
        ("visa_application_copy", "ofii"),
        ("visa_decision", "ofii"),
    ]
    assert len({r["key"] for r in rows}) == len(rows)
    retried = {key for key, attempt in failing.attempts if attempt > 1}
    assert retried == {r["key"] for r in rows}, "every notification was retried after its insert"
