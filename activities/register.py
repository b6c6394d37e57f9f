"""The dossier register: idempotent writes keyed by the contract's unique keys, so a
retried activity never writes a row twice and never loses one."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import asyncpg
from temporalio import activity

from models.register import DossierClaim, DossierRow, EventRecord, NotificationRecord

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


class RegisterActivities:
    """Activities writing to PostgreSQL through one asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn(name="claim_dossier")
    async def claim_dossier(self, claim: DossierClaim) -> str | None:
        """Reserve the workflow id for this run; the run that already holds it, if another.
        Starting the same id twice must not create a second dossier (contract)."""
        alert_if_retrying()
        holder: str = await self.pool.fetchval(
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

    @activity.defn(name="record_event")
    async def record_event(self, record: EventRecord) -> None:
        """Record an input, accepted or not. A payload the database cannot hold (a NUL
        character, say) or too large to keep whole is kept as its size and digest, so
        that nothing is lost and no retry loops on it."""
        alert_if_retrying()
        payload = record.payload
        if stored_size(payload) > MAX_STORED_PAYLOAD:
            record = record.model_copy(update={"payload": digest_of(payload, "too large")})
        try:
            await self._insert_event(record)
        except asyncpg.DataError as error:
            unstorable = digest_of(payload, type(error).__name__)
            await self._insert_event(record.model_copy(update={"payload": unstorable}))

    async def _insert_event(self, record: EventRecord) -> None:
        await self.pool.execute(
            """INSERT INTO dossier_event
                   (workflow_id, seq, event, source, accepted, payload, reason, received_at,
                    corrects)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::timestamptz, $9)
               ON CONFLICT (workflow_id, seq) DO NOTHING""",
            record.workflow_id,
            record.seq,
            record.event,
            record.source,
            record.accepted,
            record.payload,
            record.reason,
            record.received_at,
            record.corrects,
        )

    @activity.defn(name="send_notification")
    async def send_notification(self, notification: NotificationRecord) -> bool:
        """Write the notification due; True when this call created it. Delivery to the
        authority's channel reads the undelivered rows and sets `delivered_at`."""
        alert_if_retrying()
        created = await self.pool.fetchval(
            """INSERT INTO notification (workflow_id, key, recipient, kind, language, payload)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (workflow_id, key) DO NOTHING
               RETURNING true""",
            notification.workflow_id,
            notification.key,
            notification.recipient,
            notification.kind,
            notification.language,
            notification.payload,
        )
        return bool(created)

    @activity.defn(name="upsert_dossier")
    async def upsert_dossier(self, row: DossierRow) -> None:
        """Project the dossier; an older version retried late never overwrites a newer one."""
        alert_if_retrying()
        view = row.view
        await self.pool.execute(
            """INSERT INTO dossier
                   (workflow_id, first_run_id, kind, reference, procedure, country, consulate,
                    prefecture, responsible_body, stage, outcome, deadlines, next_deadline, overdue,
                    version, closed_at, waiting, exemptions, deadlines_missed, trainings,
                    corrections)
               VALUES ($1, $16, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                       CASE WHEN $15 THEN now() END, $17, $18, $19, $20, $21)
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
                   updated_at = now(),
                   closed_at = COALESCE(dossier.closed_at, excluded.closed_at)
               WHERE dossier.version < excluded.version""",
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
        )
