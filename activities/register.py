"""The dossier register: idempotent writes keyed by the contract's unique keys, so a
retried activity never writes a row twice and never loses one."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from temporalio import activity

from activities.delivery import start_deliveries
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


# One round trip: note the run, find the latest (a run seen for the first time is the
# latest), and, when the writer is the latest, mark the rows other runs wrote from `seq` on.
_FOLLOW_BRANCH = """
    WITH seen AS (
        INSERT INTO dossier_run (workflow_id, run_id) VALUES ($1, $2)
        ON CONFLICT DO NOTHING RETURNING run_id),
    latest AS (
        SELECT coalesce(
            (SELECT run_id FROM seen),
            (SELECT run_id FROM dossier_run WHERE workflow_id = $1
             ORDER BY first_seen_at DESC, run_id DESC LIMIT 1)) AS run_id),
    events AS (
        UPDATE dossier_event SET abandoned_by = $2
        WHERE workflow_id = $1 AND seq >= $3 AND run_id <> $2 AND abandoned_by IS NULL
          AND (SELECT run_id FROM latest) = $2
        RETURNING 1),
    notes AS (
        UPDATE notification SET abandoned_by = $2
        WHERE workflow_id = $1 AND seq >= $3 AND run_id <> $2 AND abandoned_by IS NULL
          AND (SELECT run_id FROM latest) = $2
        RETURNING 1)
    SELECT run_id FROM latest"""


async def follow_branch(
    connection: asyncpg.Connection | PoolConnectionProxy, workflow_id: str, run_id: str, seq: int
) -> str | None:
    """Resets: the register follows the branch the latest run of the dossier is on.

    The run writing step `seq` is noted; if it is the latest run (first seen last), the rows
    of other runs from `seq` on belong to a branch a reset abandoned and are marked so. A
    write of an older run (a zombie of the abandoned branch) is itself marked abandoned;
    the run that replaced it is returned. Runs continued as new number their steps on, so
    their predecessors' rows are never touched."""
    if not run_id:
        return None
    latest: str = await connection.fetchval(_FOLLOW_BRANCH, workflow_id, run_id, seq)
    return None if latest == run_id else latest


_INSERT_EVENT = """
    INSERT INTO dossier_event
        (workflow_id, seq, event, source, accepted, payload, reason, received_at, corrects,
         run_id, abandoned_by, rule)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::timestamptz, $9, $10, $11, $12)
    ON CONFLICT (workflow_id, seq, run_id) DO NOTHING"""

_INSERT_NOTIFICATION = """
    INSERT INTO notification (workflow_id, key, recipient, kind, language, payload, run_id,
                              seq, abandoned_by)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (workflow_id, key, run_id) DO NOTHING
    RETURNING true"""


def _event_row(record: EventRecord, abandoned_by: str | None) -> tuple[Any, ...]:
    return (
        record.workflow_id,
        record.seq,
        record.event,
        record.source,
        record.accepted,
        record.payload,
        record.reason,
        record.received_at,
        record.corrects,
        record.run_id,
        abandoned_by,
        record.rule,
    )


def _notification_row(note: NotificationRecord, abandoned_by: str | None) -> tuple[Any, ...]:
    return (
        note.workflow_id,
        note.key,
        note.recipient,
        note.kind,
        note.language,
        note.payload,
        note.run_id,
        note.seq,
        abandoned_by,
    )


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
    """Activities writing to PostgreSQL through one asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool, *, deliver: bool = False) -> None:
        self.pool = pool
        self.deliver = deliver  # start each notification's delivery once committed

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
        if holder is None and self.deliver and step.notifications and activity.in_activity():
            # After the commit (the outbox): a retry starts none twice (one workflow id each).
            await start_deliveries(
                activity.client(),
                activity.info().task_queue,
                [(note.workflow_id, note.key) for note in step.notifications],
                # A closing step's deliveries have no running dossier left to tell.
                tell_dossier=step.projection is None or not step.projection.view.closed,
            )
        return holder

    async def _write_step(self, step: StepRecord) -> str | None:
        record = step.event
        async with self.pool.acquire() as connection, connection.transaction():
            if step.claim is not None:
                holder = await self._claim(connection, step.claim)
                if holder is not None:
                    return holder
            abandoned_by = await follow_branch(
                connection, record.workflow_id, record.run_id, record.seq
            )
            await connection.execute(_INSERT_EVENT, *_event_row(record, abandoned_by))
            if step.notifications:
                await connection.executemany(
                    _INSERT_NOTIFICATION,
                    [_notification_row(note, abandoned_by) for note in step.notifications],
                )
            if step.projection is not None and abandoned_by is None:
                await self._project(connection, step.projection)
        return None

    async def _claim(
        self, connection: asyncpg.Connection | PoolConnectionProxy, claim: DossierClaim
    ) -> str | None:
        """Reserve the workflow id for this run; the run that already holds it, if another.
        Starting the same id twice must not create a second dossier (contract)."""
        holder: str = await connection.fetchval(
            """INSERT INTO dossier (workflow_id, first_run_id, kind, reference, stage, version)
               VALUES ($1, $2, $3, $4, 'opening', 0)
               ON CONFLICT (workflow_id) DO UPDATE SET workflow_id = excluded.workflow_id
               RETURNING first_run_id""",
            claim.workflow_id,
            claim.first_run_id,
            claim.kind,
            claim.reference,
        )
        return None if holder == claim.first_run_id else holder

    @activity.defn(name="claim_dossier")
    async def claim_dossier(self, claim: DossierClaim) -> str | None:
        """Reserve the workflow id for this run; the run that already holds it, if another.
        Starting the same id twice must not create a second dossier (contract)."""
        alert_if_retrying()
        async with self.pool.acquire() as connection:
            return await self._claim(connection, claim)

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
            abandoned_by = await follow_branch(
                connection, record.workflow_id, record.run_id, record.seq
            )
            await connection.execute(_INSERT_EVENT, *_event_row(record, abandoned_by))

    @activity.defn(name="send_notification")
    async def send_notification(self, notification: NotificationRecord) -> bool:
        """Write the notification due; True when this call created it. Delivery to the
        authority's channel reads the undelivered rows and sets `delivered_at`."""
        alert_if_retrying()
        async with self.pool.acquire() as connection, connection.transaction():
            abandoned_by = await follow_branch(
                connection, notification.workflow_id, notification.run_id, notification.seq
            )
            created = await connection.fetchval(
                _INSERT_NOTIFICATION, *_notification_row(notification, abandoned_by)
            )
        return bool(created)

    @activity.defn(name="upsert_dossier")
    async def upsert_dossier(self, row: DossierRow) -> None:
        """Project the dossier; an older version retried late never overwrites a newer one."""
        alert_if_retrying()
        view = row.view
        async with self.pool.acquire() as connection, connection.transaction():
            if await follow_branch(connection, row.workflow_id, row.run_id, view.version):
                return  # a run a reset abandoned projects nothing
            await self._project(connection, row)

    async def _project(
        self, connection: asyncpg.Connection | PoolConnectionProxy, row: DossierRow
    ) -> None:
        view = row.view
        await connection.execute(
            """INSERT INTO dossier
                   (workflow_id, first_run_id, kind, reference, procedure, country, consulate,
                    prefecture, responsible_body, stage, outcome, deadlines, next_deadline, overdue,
                    version, closed_at, waiting, exemptions, deadlines_missed, trainings,
                    corrections, run_id)
               VALUES ($1, $16, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                       CASE WHEN $15 THEN now() END, $17, $18, $19, $20, $21, $22)
               ON CONFLICT (workflow_id) DO UPDATE SET
                   procedure = excluded.procedure, country = excluded.country,
                   consulate = excluded.consulate, prefecture = excluded.prefecture,
                   stage = excluded.stage, outcome = excluded.outcome,
                   deadlines = excluded.deadlines, next_deadline = excluded.next_deadline,
                   overdue = excluded.overdue, version = excluded.version,
                   responsible_body = excluded.responsible_body, waiting = excluded.waiting,
                   exemptions = excluded.exemptions,
                   deadlines_missed = excluded.deadlines_missed,
                   trainings = excluded.trainings, corrections = excluded.corrections,
                   run_id = excluded.run_id,
                   updated_at = now(),
                   closed_at = COALESCE(dossier.closed_at, excluded.closed_at)
               WHERE dossier.version < excluded.version OR dossier.run_id <> excluded.run_id""",
            row.workflow_id,
            view.kind,
            view.reference,
            view.procedure,
            view.country,
            view.consulate,
            view.prefecture,
            view.responsible_body,
            view.stage,
            view.outcome,
            {name: due.isoformat() for name, due in view.deadlines.items()},
            view.next_deadline,
            bool(view.overdue),
            view.version,
            view.closed,
            row.first_run_id,
            [wait.model_dump(mode="json") for wait in view.waiting],
            view.exemptions,
            view.deadlines_missed,
            view.trainings,
            view.corrections,
            row.run_id,
        )
