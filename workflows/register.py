"""The one way the workflows call the register's activities: by method reference, with the
register's timeouts and retries.

Register writes are idempotent, so they are retried until the database answers: a dossier
never loses an event or a notification because PostgreSQL was down. Each call is bounded
(a day of attempts); past that the workflow logs an alert, waits, and calls again, so an
outage shows in the logs instead of hiding in a retry counter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, TimeoutError, TimeoutType

R = TypeVar("R")

REGISTER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
)
REGISTER_TIMEOUT = timedelta(seconds=30)
REGISTER_PATIENCE = timedelta(days=1)  # a call's attempts, all told
REGISTER_PAUSE = timedelta(hours=1)  # before calling again after an alert


async def call(
    method: Callable[..., Awaitable[R]],
    arg: Any = None,
    *,
    summary: str | None = None,
    timeout: timedelta = REGISTER_TIMEOUT,
    heartbeat: timedelta | None = None,
) -> R:
    """Run a register activity until it succeeds or fails for good (a non-retryable error)."""
    args = [] if arg is None else [arg]
    while True:
        try:
            return await workflow.execute_activity_method(
                method,
                *args,
                start_to_close_timeout=timeout,
                schedule_to_close_timeout=REGISTER_PATIENCE,
                heartbeat_timeout=heartbeat,
                retry_policy=REGISTER_RETRY,
                summary=summary,
            )
        except ActivityError as error:
            cause = error.cause
            if not (
                isinstance(cause, TimeoutError) and cause.type == TimeoutType.SCHEDULE_TO_CLOSE
            ):
                raise
            workflow.logger.error(
                "register unreachable: %s failed for %s; calling again in %s",
                error.activity_type,
                REGISTER_PATIENCE,
                REGISTER_PAUSE,
            )
            await workflow.sleep(REGISTER_PAUSE)
