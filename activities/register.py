"""The dossier register: idempotent writes keyed by the contract's unique keys, so a
retried activity never writes a row twice and never loses one."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import asyncpg
from temporalio import activity

from activities import register_gateway as register
from activities.outbox import DeliveryStarter
from models.cai.abroad import outcome_of, record_abroad
from models.records import (
    DossierClaim,
    DossierRow,
    EventRecord,
    NotificationRecord,
    StepRecord,
)

MAX_STORED_PAYLOAD = 64 * 1024  # bytes of JSON kept whole in dossier_event


def stored_size(payload: Any) -> int:
    return len(json.dumps(payload, ensure_ascii=False, default=str).encode())


def digest_of(payload: Any, why: str) -> dict[str, Any]:
    """What stands for a payload the register does not keep whole."""
    text = json.dumps(payload, ensure_ascii=False, default=str, sort_keys=True).encode(
        errors="replace"
    )
    return {"not_stored": why, "bytes": len(text), "sha256": hashlib.sha256(text).hexdigest()}


ALERT_EVERY_ATTEMPTS = 10


def alert_if_retrying() -> None:
    """Attempts piling up on a register write say the database is unreachable: each tenth
    one is logged as an error, for the operators' alerting."""
    if not activity.in_activity():
        return  # called directly, as tests do
    attempt = activity.info().attempt
    if attempt >= ALERT_EVERY_ATTEMPTS and attempt % ALERT_EVERY_ATTEMPTS == 0:
        activity.logger.error("register write still failing after %d attempts", attempt - 1)


def storable(record: EventRecord) -> EventRecord:
    """The record with a payload too large to keep whole replaced by its digest."""
    if stored_size(record.payload) > MAX_STORED_PAYLOAD:
        return record.model_copy(update={"payload": digest_of(record.payload, "too large")})
    return record


def unstorable(record: EventRecord, error: Exception) -> EventRecord:
    """The record with a payload PostgreSQL refused (a NUL character, say) replaced by its
    digest, so that nothing is lost and no retry loops on it."""
    return record.model_copy(update={"payload": digest_of(record.payload, type(error).__name__)})


class RegisterActivities:
    """Activities writing to PostgreSQL through one asyncpg pool. Given `start_deliveries`,
    each step's notifications are handed to it once committed (the outbox); without it,
    they stay in the register."""

    def __init__(
        self, pool: asyncpg.Pool, *, start_deliveries: DeliveryStarter | None = None
    ) -> None:
        self.pool = pool
        self.start_deliveries = start_deliveries

    @activity.defn(name="record_step")
    async def record_step(self, step: StepRecord) -> str | None:
        """Write one step whole, in one transaction: the input, the notifications it made
        due and the projection of the dossier. Every write is keyed (the step's number, the
        notifications' keys, the projection's version), so a step retried after its commit
        writes nothing twice; a step whose transaction fails writes nothing at all.

        With a claim (the first step), the run already holding the dossier is returned
        and nothing is written."""
        alert_if_retrying()
        step = step.model_copy(update={"event": storable(step.event)})
        try:
            holder = await self._write_step(step)
        except asyncpg.DataError as error:
            holder = await self._write_step(
                step.model_copy(update={"event": unstorable(step.event, error)})
            )
        if holder is None and self.start_deliveries is not None and step.notifications:
            # After the commit (the outbox): a retry starts none twice (one workflow id each).
            await self.start_deliveries(
                [(note.workflow_id, note.key) for note in step.notifications],
                handed_off=step.tell_deliveries,
                # A closing step's deliveries have no running dossier left to tell.
                tell_dossier=step.tell_deliveries
                and (step.projection is None or not step.projection.view.closed),
            )
        return holder

    async def _write_step(self, step: StepRecord) -> str | None:
        record = step.event
        async with self.pool.acquire() as connection, connection.transaction():
            if step.claim is not None:
                holder = await register.claim_dossier(connection, step.claim)
                if holder is not None:
                    return holder
            abandoned_by = await register.follow_branch(
                connection, record.workflow_id, record.run_id, record.seq
            )
            await register.insert_event(connection, record, abandoned_by)
            if step.notifications:
                await register.insert_notifications(
                    connection,
                    step.notifications,
                    abandoned_by,
                    # A dossier begun before the postman: a workflow delivers each.
                    handed_off=step.tell_deliveries,
                )
            if step.projection is not None and abandoned_by is None:
                await self._project(connection, step.projection)
        return None

    @activity.defn(name="language_outcome_abroad")
    async def language_outcome_abroad(self, application_id: str) -> str | None:
        """D2, D6, D7: the language outcome abroad, read from the visa dossier of
        `application_id` in the register (None when it is not there or not decided)."""
        carry_over = await register.visa_carry_over(self.pool, application_id)
        outcome = outcome_of(record_abroad(carry_over))
        return outcome.value if outcome is not None else None

    @activity.defn(name="language_record_abroad")
    async def language_record_abroad(self, application_id: str) -> dict[str, Any] | None:
        """D2, D6, D7, C1: the language record the visa dossier of `application_id` decided
        (AMDFL, DILF, training followed, last evaluation sufficient, C1 exemption), read from
        the register (None when it is not there or not decided)."""
        carry_over = await register.visa_carry_over(self.pool, application_id)
        record = record_abroad(carry_over)
        return record.model_dump(mode="json") if record is not None else None

    @activity.defn(name="claim_dossier")
    async def claim_dossier(self, claim: DossierClaim) -> str | None:
        """Reserve the workflow id for this run; the run that already holds it, if another.
        Starting the same id twice must not create a second dossier (contract)."""
        alert_if_retrying()
        async with self.pool.acquire() as connection:
            return await register.claim_dossier(connection, claim)

    @activity.defn(name="record_event")
    async def record_event(self, record: EventRecord) -> None:
        """Record an input, accepted or not. A payload the database cannot hold (a NUL
        character, say) or too large to keep whole is kept as its size and digest, so
        that nothing is lost and no retry loops on it."""
        alert_if_retrying()
        record = storable(record)
        try:
            await self._insert_event(record)
        except asyncpg.DataError as error:
            await self._insert_event(unstorable(record, error))

    async def _insert_event(self, record: EventRecord) -> None:
        async with self.pool.acquire() as connection, connection.transaction():
            abandoned_by = await register.follow_branch(
                connection, record.workflow_id, record.run_id, record.seq
            )
            await register.insert_event(connection, record, abandoned_by)

    @activity.defn(name="send_notification")
    async def send_notification(self, notification: NotificationRecord) -> bool:
        """Write the notification due; True when this call created it. Delivery to the
        authority's channel reads the undelivered rows and sets `delivered_at`."""
        alert_if_retrying()
        async with self.pool.acquire() as connection, connection.transaction():
            abandoned_by = await register.follow_branch(
                connection, notification.workflow_id, notification.run_id, notification.seq
            )
            return await register.insert_notification(connection, notification, abandoned_by)

    @activity.defn(name="upsert_dossier")
    async def upsert_dossier(self, row: DossierRow) -> None:
        """Project the dossier; an older version retried late never overwrites a newer one."""
        alert_if_retrying()
        view = row.view
        async with self.pool.acquire() as connection, connection.transaction():
            if await register.follow_branch(connection, row.workflow_id, row.run_id, view.version):
                return  # a run a reset abandoned projects nothing
            await self._project(connection, row)

    async def _project(self, connection: register.Connection, row: DossierRow) -> None:
        """The projection's write, apart: the last write of a step's transaction."""
        await register.project_dossier(connection, row)
