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

from pydantic import BaseModel

from activities import register_gateway as register
from activities.register_gateway import Connection


class RetentionRefused(Exception):
    """A dossier that may not be erased (still open, or closed too recently)."""


class Erased(BaseModel):
    workflow_ids: list[str]
    events: int
    notifications: int
    documents: int = 0


async def erase_personal_data(
    connection: Connection,
    closed_before: datetime,
    workflow_id: str | None = None,
) -> Erased:
    """Erase, in one transaction, the dossiers closed before `closed_before` (or the one
    named, which must be), and return what was erased."""
    async with connection.transaction():
        if workflow_id is not None:
            row = await register.dossier_closing(connection, workflow_id)
            if row is None:
                raise RetentionRefused(f"{workflow_id}: no such dossier in the register")
            if row["closed_at"] is None:
                raise RetentionRefused(f"{workflow_id} is still open: its data is still needed")
            if row["closed_at"] >= closed_before:
                raise RetentionRefused(
                    f"{workflow_id} closed on {row['closed_at']:%Y-%m-%d}, within the "
                    "retention period"
                )
        ids = await register.lock_erasable(connection, closed_before, workflow_id)
        events = await register.erase_event_payloads(connection, ids)
        documents = await register.delete_documents_of(connection, ids)
        notifications = await register.erase_notification_payloads(connection, ids)
        await connection.execute(
            "DELETE FROM session_seat WHERE workflow_id = ANY($1::text[])", ids
        )
        await register.erase_dossiers(connection, ids)
    return Erased(workflow_ids=ids, events=events, notifications=notifications, documents=documents)
