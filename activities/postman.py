"""The postman: the register's committed notifications taken to their recipients by the
workers that poll the documents' queue, without a workflow per notification
(docs/contract.md, "Notifications are delivered").

A workflow per notification cost the Temporal server a start, two workflow tasks, an
activity and a completion for each of a lifecycle's letters, twice the CPU of the dossier
itself. The register already holds what a delivery needs (the outbox), so each postman
leases the undelivered rows (migration 016), delivers them with the same code as the
`deliver_notification` activity, and renews its leases while it works: two postmen never
take one row at once, and the rows of a postman that died are taken again once its lease
ends. Delivery stays at least once, and the `Idempotency-Key` (or `Message-ID`) makes a
second sending of one notification harmless.

A notification whose attempt did not succeed is handed to a `NotificationDelivery`
workflow, so that what needs an operator's eye is where it always was: retried with
backoff for 30 days (a recipient down), or failed at once and kept refused in the Web UI
(a refusal, no route) until `dossiers redeliver`.

The committing writers wake the postmen through PostgreSQL (`NOTIFY`); each postman also
looks every `poll` seconds, for a wake-up missed while its connection was down and for the
rows of an expired lease."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import structlog
from temporalio.exceptions import ApplicationError

from activities import register_gateway as register
from activities.delivery import REFUSED, UNROUTABLE, DeliveryActivities
from activities.register_gateway import StoredNotification
from models.delivery import DeliveryRequest

log = structlog.get_logger()

# A postman's lease on a row, renewed every third of it while the attempt runs: a dead
# postman's rows are taken again within this long.
LEASE = timedelta(seconds=60)
# How often a postman looks without being woken (a wake-up missed, a lease expired).
POLL_SECONDS = 2.0
# An attempt that takes longer is abandoned and handed over (the activity's own limit).
ATTEMPT_TIMEOUT = timedelta(minutes=2)
# A postman told to stop lets its attempts under way finish for this long.
STOP_GRACE = timedelta(seconds=10)
# The errors of an unreachable register: the postman waits and looks again.
REGISTER_DOWN = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)

# Hands a notification over to its `NotificationDelivery` workflow: (workflow id, key,
# why the postman's attempt failed, whether the recipient refused it).
HandOver = Callable[[str, str, str, bool], Awaitable[None]]
Note = tuple[str, str]  # (workflow id, key)


class Postman:
    """Delivers the register's undelivered notifications, at most `concurrency` at once."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        deliveries: DeliveryActivities,
        hand_over: HandOver,
        *,
        concurrency: int,
        lease: timedelta = LEASE,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.pool = pool
        self.deliveries = deliveries
        self.hand_over = hand_over
        self.concurrency = concurrency
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.owner = f"postman-{uuid.uuid4()}"
        self._held: dict[Note, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()

    def wake(self, *_: Any) -> None:
        """Look now (a `NOTIFY`, an attempt ended and freed a place)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, then let the attempts under way end."""
        helpers = [
            asyncio.create_task(self._listen(stop), name="postman-listen"),
            asyncio.create_task(self._renew(stop), name="postman-renew"),
        ]
        stop_waiter = asyncio.create_task(stop.wait())
        stop_waiter.add_done_callback(self.wake)
        log.info("postman started", owner=self.owner, concurrency=self.concurrency)
        try:
            while not stop.is_set():
                self._wake.clear()
                free = self.concurrency - len(self._held)
                leased = await self._lease(free)
                for row in leased:
                    self._held[(row.workflow_id, row.key)] = asyncio.create_task(self._deliver(row))
                if leased and len(leased) == free:
                    continue  # it took all it asked for: more may be waiting
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        finally:
            await self._stop_attempts()
            stop_waiter.cancel()
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, stop_waiter, return_exceptions=True)

    async def _lease(self, free: int) -> list[StoredNotification]:
        if free <= 0:
            return []
        try:
            return await register.lease_notifications(self.pool, self.owner, self.lease, free)
        except REGISTER_DOWN as error:
            log.warning("postman cannot read the register", error=type(error).__name__)
            return []

    async def _deliver(self, row: StoredNotification) -> None:
        workflow_id, key = note = (row.workflow_id, row.key)
        try:
            async with asyncio.timeout(ATTEMPT_TIMEOUT.total_seconds()):
                request = DeliveryRequest(workflow_id=workflow_id, key=key)
                await self.deliveries.deliver(request, row)
        except ApplicationError as error:
            await self._hand_over(note, error.message, refused=error.type in (REFUSED, UNROUTABLE))
        except Exception as error:  # a timeout, the register down, a fault: retried by the workflow
            log.warning("postman's attempt failed", key=key, error=type(error).__name__)
            await self._hand_over(note, type(error).__name__, refused=False)
        finally:
            self._held.pop(note, None)
            self.wake()

    async def _hand_over(self, note: Note, reason: str, *, refused: bool) -> None:
        """To the notification's `NotificationDelivery` workflow; if that fails too (Temporal
        or the register unreachable), the lease runs out and a postman tries again."""
        workflow_id, key = note
        try:
            await self.hand_over(workflow_id, key, reason, refused)
            await register.mark_handed_off(self.pool, workflow_id, key)
        except Exception as error:
            log.warning("postman cannot hand over", key=key, error=type(error).__name__)

    async def _listen(self, stop: asyncio.Event) -> None:
        """Woken by the writers' `NOTIFY` on a connection of its own; looked up again
        whenever that connection is lost."""
        while not stop.is_set():
            try:
                async with self.pool.acquire() as connection:
                    await connection.add_listener(register.POSTMAN_CHANNEL, self.wake)
                    try:
                        while not stop.is_set() and not connection.is_closed():
                            await _wait(stop, self.poll_seconds)
                    finally:
                        # `UNLISTEN` before the connection goes back to the pool, which
                        # leaves a session as it is (activities/database.py)
                        if not connection.is_closed():
                            with contextlib.suppress(*REGISTER_DOWN):
                                await connection.remove_listener(
                                    register.POSTMAN_CHANNEL, self.wake
                                )
            except REGISTER_DOWN:
                await _wait(stop, self.poll_seconds)

    async def _renew(self, stop: asyncio.Event) -> None:
        every = self.lease.total_seconds() / 3
        while not stop.is_set():
            await _wait(stop, every)
            held: Sequence[Note] = list(self._held)
            if held:
                with contextlib.suppress(*REGISTER_DOWN):
                    await register.renew_leases(self.pool, self.owner, self.lease, held)

    async def _stop_attempts(self) -> None:
        """The attempts under way end, or after `STOP_GRACE` are cancelled and their rows
        given back at once rather than when the lease runs out."""
        pending = list(self._held.items())
        if not pending:
            return
        _, late = await asyncio.wait(
            [task for _, task in pending], timeout=STOP_GRACE.total_seconds()
        )
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        for note, task in pending:
            if task in late:
                with contextlib.suppress(*REGISTER_DOWN):
                    await register.end_lease(self.pool, self.owner, *note)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
