"""The one gateway to the register's dossier tables: every statement on `dossier`,
`dossier_event` and `notification` (with those it joins, `dossier_run`, `document` and
`session_seat`), as a named query taking a connection or the pool.

Statements on the other tables alone (the seats of `session_seat`, the PDFs of `document`,
the migrations) stay with the module that owns them. The idempotence of the writes is
here: each insert is keyed by the contract's unique keys and does nothing on conflict, so a
retried activity writes no row twice (docs/contract.md; migrations 001, 007)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from models.metrics import (
    DOSSIERS,
    DOSSIERS_OVERDUE,
    INPUTS_REJECTED,
    NOTIFICATIONS_OLDEST_UNDELIVERED,
    NOTIFICATIONS_REFUSED,
    NOTIFICATIONS_UNDELIVERED,
    MetricSpec,
)
from models.records import DossierClaim, DossierRow, EventRecord, NotificationRecord

Connection = asyncpg.Connection | PoolConnectionProxy
# One statement on its own needs no connection of its own: the pool lends one.
Queryable = asyncpg.Pool | Connection


def _count(status: str) -> int:
    """The rows an UPDATE or DELETE touched, from its status ("UPDATE 3")."""
    return int(status.split()[-1])


# --- the steps of the dossiers: events, notifications, projection --------------------------

# One round trip, through the function that holds the rule (migration 011): the worker's
# role may follow a reset's branch, but not mark rows abandoned by itself.
_FOLLOW_BRANCH = "SELECT register_follow_branch($1, $2, $3)"


async def follow_branch(
    connection: Connection, workflow_id: str, run_id: str, seq: int
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
         run_id, abandoned_by, rule, status, placed, refused_held)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::timestamptz, $9, $10, $11, $12,
            COALESCE($13, CASE WHEN $5 THEN 'accepted' ELSE 'rejected' END), $14, $15)
    ON CONFLICT (workflow_id, seq, run_id) DO NOTHING"""


async def insert_event(
    connection: Connection, record: EventRecord, abandoned_by: str | None
) -> None:
    """Record an input, accepted or not; a retried write of the same step does nothing."""
    await connection.execute(
        _INSERT_EVENT,
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
        record.status,
        record.placed or None,
        record.refused_held or None,
    )


_INSERT_NOTIFICATION = """
    INSERT INTO notification (workflow_id, key, recipient, kind, language, payload, run_id,
                              seq, abandoned_by, handed_off_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $10::boolean THEN now() END)
    ON CONFLICT (workflow_id, key, run_id) DO NOTHING
    RETURNING true"""


def _notification_row(
    note: NotificationRecord, abandoned_by: str | None, handed_off: bool = False
) -> tuple[Any, ...]:
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
        handed_off,
    )


async def insert_notification(
    connection: Connection, note: NotificationRecord, abandoned_by: str | None
) -> bool:
    """Write a notification a step made due; True when this call created it."""
    created = await connection.fetchval(
        _INSERT_NOTIFICATION, *_notification_row(note, abandoned_by)
    )
    return bool(created)


async def insert_notifications(
    connection: Connection,
    notes: Sequence[NotificationRecord],
    abandoned_by: str | None,
    *,
    handed_off: bool = False,
) -> None:
    """Write the notifications a step made due, in one round trip. `handed_off`: each has a
    `NotificationDelivery` workflow of its own (a dossier begun before the postman), so that
    no postman takes them."""
    await connection.executemany(
        _INSERT_NOTIFICATION,
        [_notification_row(note, abandoned_by, handed_off) for note in notes],
    )


async def claim_dossier(connection: Connection, claim: DossierClaim) -> str | None:
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


async def project_dossier(connection: Connection, row: DossierRow) -> None:
    """Project the dossier; an older version retried late never overwrites a newer one."""
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


# --- delivery and documents ----------------------------------------------------------------


@dataclass(frozen=True)
class StoredNotification:
    """A notification on the dossier's current branch, as the delivery and its document
    read it, with the authorities its dossier names (for the addressee)."""

    workflow_id: str
    key: str
    kind: str
    recipient: str
    language: str | None
    payload: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None
    document_sha256: str | None
    consulate: str | None
    prefecture: str | None
    responsible_body: str | None
    # The input that opened the dossier, if recorded: the name on its documents (D4), the
    # addressee's contact and postal address. Read with the row, not by a query of its own.
    start: Any = None


_STORED_NOTIFICATION = """
    SELECT n.workflow_id, n.key, n.kind, n.recipient, n.language, n.payload,
           n.created_at, n.delivered_at, n.document_sha256,
           d.consulate, d.prefecture, d.responsible_body,
           (SELECT e.payload FROM dossier_event e
             WHERE e.workflow_id = n.workflow_id AND e.event = 'start' AND e.accepted
               AND e.abandoned_by IS NULL
             ORDER BY e.seq LIMIT 1) AS start
    FROM notification n LEFT JOIN dossier d ON d.workflow_id = n.workflow_id"""


async def notification_for_delivery(
    db: Queryable, workflow_id: str, key: str
) -> StoredNotification | None:
    """The notification to deliver; None when a reset abandoned it or it was never written."""
    row = await db.fetchrow(
        f"""{_STORED_NOTIFICATION}
           WHERE n.workflow_id = $1 AND n.key = $2 AND n.abandoned_by IS NULL""",
        workflow_id,
        key,
    )
    return _stored(row) if row is not None else None


def _stored(row: asyncpg.Record) -> StoredNotification:
    return StoredNotification(**{**dict(row), "payload": dict(row["payload"] or {})})


async def documents_of(db: Queryable, workflow_ids: Sequence[str]) -> list[StoredNotification]:
    """The notifications of these dossiers that were made into a document, oldest first."""
    rows = await db.fetch(
        f"""{_STORED_NOTIFICATION}
           WHERE n.workflow_id = ANY($1::text[]) AND n.document_sha256 IS NOT NULL
           ORDER BY n.created_at, n.workflow_id, n.key""",
        list(workflow_ids),
    )
    return [_stored(row) for row in rows]


async def mark_delivered(db: Queryable, workflow_id: str, key: str, endpoint: str) -> None:
    await db.execute(
        """UPDATE notification SET delivered_at = now(), delivery_error = NULL,
                                   refused_at = NULL, delivery_endpoint = $3
           WHERE workflow_id = $1 AND key = $2 AND abandoned_by IS NULL""",
        workflow_id,
        key,
        endpoint,
    )


# --- the postman (migration 016) ---------------------------------------------------------

# What PostgreSQL tells the postmen when notifications were committed (`LISTEN`).
POSTMAN_CHANNEL = "notification_outbox"


async def wake_postmen(db: Queryable) -> None:
    """Tell every listening postman that notifications are waiting."""
    await db.execute(f"NOTIFY {POSTMAN_CHANNEL}")


async def lease_notifications(
    db: Queryable, owner: str, lease: timedelta, limit: int
) -> list[StoredNotification]:
    """Up to `limit` notifications no postman holds, oldest first, leased to `owner` and
    read as their delivery reads them: a row another postman is leasing at the same moment
    is skipped, not waited for."""
    rows = await db.fetch(
        f"""WITH leased AS (
              UPDATE notification n SET lease_owner = $1, lease_until = now() + $2::interval
              FROM (SELECT id FROM notification
                    WHERE delivered_at IS NULL AND abandoned_by IS NULL
                      AND handed_off_at IS NULL
                      AND (lease_until IS NULL OR lease_until < now())
                    ORDER BY created_at LIMIT $3
                    FOR UPDATE SKIP LOCKED) due
              WHERE n.id = due.id
              RETURNING n.id)
           {_STORED_NOTIFICATION}
           JOIN leased ON leased.id = n.id
           ORDER BY n.created_at""",
        owner,
        lease,
        limit,
    )
    return [_stored(row) for row in rows]


async def renew_leases(
    db: Queryable, owner: str, lease: timedelta, notes: Sequence[tuple[str, str]]
) -> None:
    """The leases `owner` still holds, extended while it works on them."""
    await db.execute(
        """UPDATE notification n SET lease_until = now() + $2::interval
           FROM unnest($3::text[], $4::text[]) AS held(workflow_id, key)
           WHERE n.workflow_id = held.workflow_id AND n.key = held.key
             AND n.lease_owner = $1 AND n.abandoned_by IS NULL""",
        owner,
        lease,
        [workflow_id for workflow_id, _ in notes],
        [key for _, key in notes],
    )


async def end_lease(db: Queryable, owner: str, workflow_id: str, key: str) -> None:
    """A lease given back before its end (the postman stops): another takes the row now."""
    await db.execute(
        """UPDATE notification SET lease_owner = NULL, lease_until = NULL
           WHERE workflow_id = $2 AND key = $3 AND lease_owner = $1""",
        owner,
        workflow_id,
        key,
    )


async def mark_handed_off(db: Queryable, workflow_id: str, key: str) -> None:
    """The notification's delivery is its `NotificationDelivery` workflow's from now on."""
    await db.execute(
        """UPDATE notification SET handed_off_at = now(), lease_owner = NULL, lease_until = NULL
           WHERE workflow_id = $1 AND key = $2 AND abandoned_by IS NULL""",
        workflow_id,
        key,
    )


async def note_delivery_error(
    db: Queryable, workflow_id: str, key: str, error: str, endpoint: str
) -> None:
    """Why a delivery that will be tried again failed (an operator reads it; the SDK's
    failure says only its status, since a recipient's answer may quote the letter)."""
    await db.execute(
        """UPDATE notification SET delivery_error = $3, delivery_endpoint = $4
           WHERE workflow_id = $1 AND key = $2 AND abandoned_by IS NULL
             AND delivered_at IS NULL""",
        workflow_id,
        key,
        error,
        endpoint,
    )


async def mark_refused(
    db: Queryable, workflow_id: str, key: str, error: str, endpoint: str | None
) -> None:
    await db.execute(
        """UPDATE notification SET delivery_error = $3, refused_at = now(),
                                   delivery_endpoint = $4
           WHERE workflow_id = $1 AND key = $2 AND abandoned_by IS NULL""",
        workflow_id,
        key,
        error,
        endpoint,
    )


async def keep_document(
    db: Queryable,
    workflow_id: str,
    key: str,
    run_id: str | None,
    digest: str,
    content: bytes,
    media_type: str,
    note: str | None = None,
) -> str | None:
    """Keep a document with its notification (`run_id` None: the one on the dossier's
    current branch), unless the notification keeps one already, and return the digest of
    the one it keeps; None when there is no such notification. One statement, so one
    round trip: the notification's row is locked while the document is stored and named
    (with why it was made otherwise than asked, `note`, migration 013), and a second
    writer at once finds the first one's digest."""
    row = await db.fetchrow(
        """WITH target AS (
             SELECT id, document_sha256 FROM notification
             WHERE workflow_id = $1 AND key = $2
               AND CASE WHEN $3::text IS NULL THEN abandoned_by IS NULL ELSE run_id = $3 END
             FOR UPDATE),
           stored AS (
             INSERT INTO document (sha256, content, media_type)
             SELECT $4, $5, $6 FROM target WHERE target.document_sha256 IS NULL
             ON CONFLICT (sha256) DO NOTHING),
           named AS (
             UPDATE notification n SET document_sha256 = $4, document_note = $7
             FROM target WHERE n.id = target.id AND target.document_sha256 IS NULL)
           SELECT coalesce(document_sha256, $4) AS kept FROM target""",
        workflow_id,
        key,
        run_id,
        digest,
        content,
        media_type,
        note,
    )
    return None if row is None else str(row["kept"])


async def document_note(db: Queryable, workflow_id: str, key: str) -> str | None:
    """Why a current notification's document was made otherwise than asked, if it was."""
    return await _document_column(db, workflow_id, key, "document_note")


async def document_digest(db: Queryable, workflow_id: str, key: str) -> str | None:
    """The digest of the document a current notification keeps, if it keeps one."""
    return await _document_column(db, workflow_id, key, "document_sha256")


async def _document_column(
    db: Queryable, workflow_id: str, key: str, column: Literal["document_note", "document_sha256"]
) -> str | None:
    found: str | None = await db.fetchval(
        f"""SELECT {column} FROM notification
           WHERE workflow_id = $1 AND key = $2 AND abandoned_by IS NULL""",
        workflow_id,
        key,
    )
    return found


async def visa_carry_over(db: Queryable, application_id: str) -> Any:
    """What a decided visa dossier carries to the CAI in France (D2, D6, D7), if any."""
    return await db.fetchval(
        """SELECT outcome->'cai' FROM dossier
           WHERE kind = 'visa_application' AND reference = $1""",
        application_id,
    )


# --- the scheduled runs: seats, deadline digest, ministry report ---------------------------


async def waiting_for_service(connection: Connection, service: str) -> list[asyncpg.Record]:
    """(workflow_id, wait) of each open dossier's signatory waiting for `service` (H1, G2)."""
    return await connection.fetch(
        """SELECT d.workflow_id, w.value AS wait
           FROM dossier d, jsonb_array_elements(d.waiting) AS w(value)
           WHERE d.closed_at IS NULL AND w.value->>'service' = $1
           ORDER BY d.workflow_id""",
        service,
    )


async def release_stale_seats(connection: Connection, service: str, planned_by: str) -> None:
    """Give back the seats another run booked more than an hour ago whose holder still
    waits (a run convenes within minutes of booking)."""
    await connection.execute(
        """DELETE FROM session_seat s
           USING dossier d, jsonb_array_elements(d.waiting) AS w(value)
           WHERE s.service = $1 AND s.planned_by IS DISTINCT FROM $2
             AND s.assigned_at < now() - interval '1 hour'
             AND d.workflow_id = s.workflow_id AND d.closed_at IS NULL
             AND w.value->>'service' = $1 AND coalesce(w.value->>'person_id', '') = s.person_id""",
        service,
        planned_by,
    )


async def dossiers_due(db: Queryable, until: date) -> list[asyncpg.Record]:
    """The open dossiers overdue or with a deadline on or before `until` (B1–B8, H5)."""
    return await db.fetch(
        """SELECT workflow_id, kind, reference, stage, procedure, country, consulate,
                  prefecture, responsible_body, next_deadline, deadlines, overdue
           FROM dossier
           WHERE closed_at IS NULL AND stage <> 'opening'
             AND (overdue OR next_deadline <= $1)
           ORDER BY workflow_id""",
        until,
    )


async def delivery_states(
    db: Queryable, workflow_id: str | None, *, undelivered: bool, limit: int
) -> list[asyncpg.Record]:
    """How the current notifications stand, of one dossier or of all (the CLI's
    `notifications`): the undelivered oldest first, the others newest first. `state` is
    `delivered`, `refused` (until an operator redelivers), `retry` (a `NotificationDelivery`
    workflow tries again) or `waiting` (for a postman); `document_note` says why its
    letter was made otherwise than asked (a native name left out)."""
    return await db.fetch(
        """SELECT workflow_id, key, kind, recipient, created_at, delivered_at,
                  delivery_endpoint, split_part(delivery_error, ':', 1) AS error,
                  document_note,
                  CASE WHEN delivered_at IS NOT NULL THEN 'delivered'
                       WHEN refused_at IS NOT NULL THEN 'refused'
                       WHEN handed_off_at IS NOT NULL OR delivery_error IS NOT NULL THEN 'retry'
                       ELSE 'waiting' END AS state
           FROM notification
           WHERE abandoned_by IS NULL AND ($1::text IS NULL OR workflow_id = $1)
             AND (NOT $2 OR delivered_at IS NULL)
           ORDER BY CASE WHEN $2 THEN created_at END,
                    CASE WHEN NOT $2 THEN created_at END DESC, workflow_id, key
           LIMIT $3""",
        workflow_id,
        undelivered,
        limit,
    )


async def undelivered(db: Queryable, older_than: timedelta) -> list[asyncpg.Record]:
    """The current notifications still undelivered after `older_than`, oldest first."""
    return await db.fetch(
        """SELECT workflow_id, key, kind, recipient, created_at, delivery_error, refused_at
           FROM notification
           WHERE delivered_at IS NULL AND abandoned_by IS NULL
             AND created_at < now() - $1::interval
           ORDER BY created_at LIMIT 1000""",
        older_than,
    )


async def insert_scheduled_notification(
    db: Queryable, register_id: str, key: str, recipient: str, kind: str, payload: Any
) -> bool:
    """Write a notification of a scheduled run (no run, no step); True when this call
    created it."""
    created = await db.fetchval(
        """INSERT INTO notification (workflow_id, key, recipient, kind, language, payload)
           VALUES ($1, $2, $3, $4, NULL, $5)
           ON CONFLICT (workflow_id, key, run_id) DO NOTHING
           RETURNING true""",
        register_id,
        key,
        recipient,
        kind,
        payload,
    )
    return bool(created)


async def notification_payload(db: Queryable, workflow_id: str, key: str) -> Any:
    return await db.fetchval(
        "SELECT payload FROM notification WHERE workflow_id = $1 AND key = $2",
        workflow_id,
        key,
    )


async def dossier_tally(connection: Connection) -> list[asyncpg.Record]:
    """J1: the dossiers counted by the columns the report reads; the register only counts,
    what each section holds is `models.reporting.report_sections`'s to decide."""
    return await connection.fetch(
        """SELECT kind, stage, country, procedure, overdue, closed_at IS NOT NULL AS closed,
                  deadlines_missed, exemptions, trainings, corrections, count(*) AS dossiers
           FROM dossier
           GROUP BY kind, stage, country, procedure, overdue, closed_at IS NOT NULL,
                    deadlines_missed, exemptions, trainings, corrections"""
    )


# --- the business metrics ------------------------------------------------------------------

# Each query returns the metric's labels in its catalogue order, then `value`. Rows of a
# branch a reset abandoned (migration 007) are not the dossier's any more: not counted.
_METRIC_QUERIES: dict[MetricSpec, str] = {
    DOSSIERS: "SELECT kind, stage, count(*) AS value FROM dossier GROUP BY kind, stage",
    DOSSIERS_OVERDUE: """
        SELECT kind, responsible_body, count(*) AS value FROM dossier
        WHERE overdue AND closed_at IS NULL GROUP BY kind, responsible_body""",
    NOTIFICATIONS_UNDELIVERED: """
        SELECT recipient, kind, count(*) AS value FROM notification
        WHERE delivered_at IS NULL AND abandoned_by IS NULL GROUP BY recipient, kind""",
    NOTIFICATIONS_REFUSED: """
        SELECT recipient, kind, count(*) AS value FROM notification
        WHERE delivered_at IS NULL AND abandoned_by IS NULL AND refused_at IS NOT NULL
        GROUP BY recipient, kind""",
    NOTIFICATIONS_OLDEST_UNDELIVERED: """
        SELECT recipient,
               floor(extract(epoch FROM now() - min(created_at)))::bigint AS value
        FROM notification
        WHERE delivered_at IS NULL AND abandoned_by IS NULL GROUP BY recipient""",
    INPUTS_REJECTED: """
        SELECT rule, count(*) AS value FROM dossier_event
        WHERE NOT accepted AND abandoned_by IS NULL GROUP BY rule""",
}


async def metric_counts(connection: Connection) -> dict[MetricSpec, list[asyncpg.Record]]:
    """Each metric's rows: its labels, then `value`."""
    return {spec: await connection.fetch(query) for spec, query in _METRIC_QUERIES.items()}


# --- retention (J1): through the functions of migration 012 -------------------------------


async def dossier_closing(connection: Connection, workflow_id: str) -> asyncpg.Record | None:
    """(closed_at, erased_at) of a dossier, locked until the transaction ends; None when the
    register has none."""
    return await connection.fetchrow(
        "SELECT closed_at, erased_at FROM dossier WHERE workflow_id = $1 FOR UPDATE",
        workflow_id,
    )


async def erase_dossier(connection: Connection, workflow_id: str) -> asyncpg.Record:
    """Erase one dossier's personal data (the owner's alone): (events, notifications,
    documents) erased."""
    row = await connection.fetchrow(
        "SELECT * FROM register_erase_dossiers(ARRAY[$1::text])", workflow_id
    )
    assert row is not None  # a function with OUT parameters returns one row
    return row


async def erase_expired(
    db: Queryable, retention_days: int, max_open_days: int
) -> list[asyncpg.Record]:
    """Erase whatever retention finds due, in one transaction, through the function that
    holds the rules (the worker's role may call it, not rewrite rows itself): one row per
    dossier, (workflow_id, cause, events, notifications, documents)."""
    return await db.fetch(
        "SELECT * FROM register_erase_expired($1, $2)", retention_days, max_open_days
    )
