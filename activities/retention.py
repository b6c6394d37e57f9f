"""Retention: the personal data of dossiers closed longer than the configured period is
erased from the register; pseudonymised rows stay for the ministry's statistics (J1).

What stays: each dossier's kind, procedure, country, consulate, stage, deadlines missed,
trainings, exemptions and decision; each event's name, number, source and rule; each
notification's kind, recipient and rule, and the digest of its document. What goes: every
payload (names, birth dates, free text), the wording of rejections, the seats' person ids,
and the letters and attestations themselves. Runs as the schema's owner: the worker's role
cannot rewrite the audit trail.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from pydantic import BaseModel


class RetentionRefused(Exception):
    """A dossier that may not be erased (still open, or closed too recently)."""


class Erased(BaseModel):
    workflow_ids: list[str]
    events: int
    notifications: int
    documents: int = 0


async def erase_personal_data(
    connection: asyncpg.Connection | PoolConnectionProxy,
    closed_before: datetime,
    workflow_id: str | None = None,
) -> Erased:
    """Erase, in one transaction, the dossiers closed before `closed_before` (or the one
    named, which must be), and return what was erased."""
    async with connection.transaction():
        if workflow_id is not None:
            row = await connection.fetchrow(
                "SELECT closed_at, erased_at FROM dossier WHERE workflow_id = $1", workflow_id
            )
            if row is None:
                raise RetentionRefused(f"{workflow_id}: no such dossier in the register")
            if row["closed_at"] is None:
                raise RetentionRefused(f"{workflow_id} is still open: its data is still needed")
            if row["closed_at"] >= closed_before:
                raise RetentionRefused(
                    f"{workflow_id} closed on {row['closed_at']:%Y-%m-%d}, within the "
                    "retention period"
                )
        ids: list[str] = [
            r["workflow_id"]
            for r in await connection.fetch(
                """SELECT workflow_id FROM dossier
                   WHERE closed_at IS NOT NULL AND closed_at < $1 AND erased_at IS NULL
                     AND ($2::text IS NULL OR workflow_id = $2)
                   ORDER BY workflow_id
                   FOR UPDATE""",
                closed_before,
                workflow_id,
            )
        ]
        events = await connection.execute(
            """UPDATE dossier_event
               SET payload = '{"erased": true}'::jsonb,
                   reason = NULLIF(split_part(reason, ':', 1), '')
               WHERE workflow_id = ANY($1::text[])""",
            ids,
        )
        # A document's digest stays with its notification: it still proves what was sent
        # to whoever shows the document, and reveals nothing without it.
        documents = await connection.execute(
            """DELETE FROM document
               WHERE sha256 IN (SELECT document_sha256 FROM notification
                                WHERE workflow_id = ANY($1::text[]))
                 AND NOT EXISTS (SELECT FROM notification other
                                 WHERE other.document_sha256 = document.sha256
                                   AND NOT other.workflow_id = ANY($1::text[]))""",
            ids,
        )
        notifications = await connection.execute(
            """UPDATE notification
               SET payload = jsonb_build_object('erased', true, 'rule', payload->'rule')
               WHERE workflow_id = ANY($1::text[])""",
            ids,
        )
        await connection.execute(
            "DELETE FROM session_seat WHERE workflow_id = ANY($1::text[])", ids
        )
        await connection.execute(
            """UPDATE dossier
               SET erased_at = now(), waiting = '[]'::jsonb,
                   outcome = CASE WHEN outcome IS NULL THEN NULL
                                  ELSE jsonb_build_object('decision', outcome->'decision') END
               WHERE workflow_id = ANY($1::text[])""",
            ids,
        )
    return Erased(
        workflow_ids=ids,
        events=int(events.split()[-1]),
        notifications=int(notifications.split()[-1]),
        documents=int(documents.split()[-1]),
    )
