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
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType

from workflows import operator_language

with workflow.unsafe.imports_passed_through():
    from activities.person_search import PersonSearchActivities
    from activities.reference import ReferenceActivities
    from activities.register import RegisterActivities
    from models.operator_text import phrase
    from models.person_search import Identity
    from models.records import StepRecord
    from models.reference import ReferenceData

R = TypeVar("R")

REGISTER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
)
REGISTER_TIMEOUT = timedelta(seconds=30)
REGISTER_PATIENCE = timedelta(days=1)  # a call's attempts, all told
REGISTER_PAUSE = timedelta(hours=1)  # before calling again after an alert

# A step is written by a local activity first: no round trip through the server, so a
# step costs one workflow task (docs/design.md, "Performance"). A database that does not answer
# within these attempts (about half a minute) hands the step to a normal activity, whose
# retries add nothing to the history however long the outage lasts. The attempts are
# counted: measured (tools/outage.py), a schedule-to-close timeout alone did not end the
# local retries, and the open workflow task grew the history by ~26 events a minute.
LOCAL_PATIENCE = timedelta(minutes=1)
LOCAL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=8,
)


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


async def write_step(step: StepRecord, *, local: bool, summary: str | None = None) -> str | None:
    """Commit one step of a dossier (`record_step`); the run holding the dossier already
    when the step's claim finds another one."""
    if local:
        try:
            holder: str | None = await workflow.execute_local_activity_method(
                RegisterActivities.record_step,
                step,
                start_to_close_timeout=REGISTER_TIMEOUT,
                schedule_to_close_timeout=LOCAL_PATIENCE,
                retry_policy=LOCAL_RETRY,
                summary=summary,
            )
            return holder
        except (ActivityError, ApplicationError, TimeoutError):
            # A local activity out of attempts raises its last failure itself (measured),
            # not an ActivityError. Idempotent: what an attempt committed is not rewritten.
            workflow.logger.warning(
                "register unreachable after %d local attempts: step %d goes on as an activity",
                LOCAL_RETRY.maximum_attempts,
                step.event.seq,
            )
    return await call(RegisterActivities.record_step, step, summary=summary)


async def reference_data() -> ReferenceData:
    """The worker's reference data, handed over without a round trip through the server;
    the history keeps it, so the dossier replays with the version it opened under."""
    data: ReferenceData = await workflow.execute_local_activity_method(
        ReferenceActivities.load_reference_data,
        start_to_close_timeout=REGISTER_TIMEOUT,
        retry_policy=REGISTER_RETRY,
        summary=phrase("reference_data", operator_language.current()),
    )
    return data


async def person_keys(people: list[Identity]) -> list[str]:
    """The keyed hashes of `people` (`PersonKeys`): the worker holds the key, the workflow
    never does; the history keeps the hashes, so the dossier replays without it."""
    keys: list[str] = await workflow.execute_local_activity_method(
        PersonSearchActivities.person_keys,
        people,
        start_to_close_timeout=REGISTER_TIMEOUT,
        retry_policy=REGISTER_RETRY,
        summary=phrase("person_keys", operator_language.current()),
    )
    return keys
