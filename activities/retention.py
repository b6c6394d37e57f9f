"""Retention: the personal data of a dossier is erased from the register once it is no
longer needed; pseudonymised rows stay for the ministry's statistics (J1).

What is due (migration 012, `register_erase_expired`): dossiers closed more than
`RETENTION_DAYS` ago; dossiers never closed (terminated, failed, abandoned) whose last
activity is older than `RETENTION_MAX_OPEN_DAYS`, erased as if closed; and the rejected
starts of dossiers that never opened (the seq 0 row holds the whole application), once
received more than `RETENTION_DAYS` ago.

What stays: each dossier's kind, procedure, country, consulate, stage, deadlines missed,
trainings, exemptions and decision; each event's name, number, source and rule; each
notification's kind, recipient and rule, whether its delivery was refused, and the digest
of its document. What goes: every payload (names, birth dates, free text), the wording of
rejections and of refused deliveries, the seats, and the letters and attestations
themselves.

The daily `RetentionSweep` erases through the function, as the worker's role, which may
rewrite nothing else of the audit trail; `python -m scripts.retention --dossier` erases one
closed dossier as the schema's owner. Each erasure is logged by dossier id only.

Erasing a dossier also destroys its data key (migration 014): what Temporal keeps of it (its
history, archives, the deliveries' histories) no longer opens (crypto-erasure). The sweep
also removes the erased dossiers' files from the workstation outboxes (`file://` routes),
those of dossiers erased by an earlier run or by hand included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import structlog
from pydantic import BaseModel
from temporalio import activity

from activities import key_gateway
from activities import register_gateway as register
from activities.delivery import erase_from_outboxes, outbox_dossiers
from activities.register_gateway import Connection, Queryable

log = structlog.get_logger("retention")

RETENTION_DAYS = 1095
RETENTION_MAX_OPEN_DAYS = RETENTION_DAYS + 730


class RetentionRefused(Exception):
    """A dossier that may not be erased (still open, or closed too recently)."""


class Erased(BaseModel):
    """What a retention run erased: the dossiers (by id, with why they were due) and the
    rows."""

    causes: dict[str, str] = {}  # workflow id → closed, never_closed or rejected_start
    events: int = 0
    notifications: int = 0
    documents: int = 0

    @property
    def workflow_ids(self) -> list[str]:
        return sorted(self.causes)

    def add(self, workflow_id: str, cause: str, counts: asyncpg.Record) -> None:
        self.causes[workflow_id] = cause
        self.events += counts["events"]
        self.notifications += counts["notifications"]
        self.documents += counts["documents"]
        log.info("personal data erased", workflow_id=workflow_id, cause=cause)


class RetentionDone(BaseModel):
    """The result of a `RetentionSweep` run: counts only, no dossier id in the history."""

    dossiers: int
    events: int
    notifications: int
    documents: int


async def erase_expired(db: Queryable, retention_days: int, max_open_days: int) -> Erased:
    """Erase, in one transaction, everything retention finds due."""
    erased = Erased()
    for row in await register.erase_expired(db, retention_days, max_open_days):
        erased.add(row["workflow_id"], row["cause"], row)
    return erased


async def erase_dossier(connection: Connection, workflow_id: str, retention_days: int) -> Erased:
    """Erase one dossier, which must have been closed more than `retention_days` ago (run
    as the schema's owner)."""
    closed_before = datetime.now(UTC) - timedelta(days=retention_days)
    erased = Erased()
    async with connection.transaction():
        row = await register.dossier_closing(connection, workflow_id)
        if row is None:
            raise RetentionRefused(f"{workflow_id}: no such dossier in the register")
        if row["closed_at"] is None:
            raise RetentionRefused(f"{workflow_id} is still open: its data is still needed")
        if row["closed_at"] >= closed_before:
            raise RetentionRefused(
                f"{workflow_id} closed on {row['closed_at']:%Y-%m-%d}, within the retention period"
            )
        erased.add(workflow_id, "closed", await register.erase_dossier(connection, workflow_id))
    return erased


class RetentionActivities:
    """The activity of `RetentionSweep`, with the periods of the worker's settings."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        retention_days: int = RETENTION_DAYS,
        max_open_days: int = RETENTION_MAX_OPEN_DAYS,
        *,
        forget: Callable[[Iterable[str]], None] | None = None,
        outboxes: Sequence[Path] = (),
    ) -> None:
        self.pool = pool
        self.retention_days = retention_days
        self.max_open_days = max_open_days
        # The worker's cache of data keys: an erased key must not open payloads here.
        self.forget = forget
        # The workstation outboxes (`file://` routes), whose files name persons.
        self.outboxes = outboxes

    @activity.defn(name="erase_expired")
    async def erase_expired(self) -> RetentionDone:
        """Erase what is due; a retry finds only what the failed attempt left."""
        erased = await erase_expired(self.pool, self.retention_days, self.max_open_days)
        if self.forget is not None:
            self.forget(erased.workflow_ids)
        await self.erase_outbox_files(erased.workflow_ids)
        return RetentionDone(
            dossiers=len(erased.causes),
            events=erased.events,
            notifications=erased.notifications,
            documents=erased.documents,
        )

    async def erase_outbox_files(self, erased_now: Iterable[str]) -> int:
        """The outbox folders of the dossiers just erased and of any erased before (a
        retried run, `scripts.retention`): their keys' tombstones say which."""
        if not self.outboxes:
            return 0
        named = await asyncio.to_thread(outbox_dossiers, self.outboxes)
        erased = {
            key.workflow_id for key in await key_gateway.stored_keys(self.pool, named) if key.erased
        }
        return await asyncio.to_thread(erase_from_outboxes, self.outboxes, erased.union(erased_now))
