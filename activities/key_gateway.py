"""The statements on `dossier_key` (migration 014): the data key of each dossier, wrapped by
the master key, and its erasure's tombstone. The worker's role reads and adds keys; the
schema's owner alone rewraps them (retention destroys them, through migration 014's
trigger)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from activities.register_gateway import Queryable


@dataclass(frozen=True)
class StoredKey:
    """A dossier's row: its wrapped key and the master key that wrapped it, or neither once
    retention erased it."""

    workflow_id: str
    key_id: str | None
    wrapped: bytes | None

    @property
    def erased(self) -> bool:
        return self.wrapped is None


_READ = """SELECT workflow_id, key_id, wrapped FROM dossier_key
            WHERE workflow_id = ANY($1::text[])"""


async def stored_keys(db: Queryable, workflow_ids: Collection[str]) -> list[StoredKey]:
    """The rows of those dossiers that have one (held or erased)."""
    rows = await db.fetch(_READ, list(workflow_ids))
    return [StoredKey(row["workflow_id"], row["key_id"], row["wrapped"]) for row in rows]


_ADD = """INSERT INTO dossier_key (workflow_id, key_id, wrapped) VALUES ($1, $2, $3)
          ON CONFLICT (workflow_id) DO NOTHING"""


async def add_key(db: Queryable, workflow_id: str, key_id: str, wrapped: bytes) -> None:
    """The key of a dossier that has none; a key already there (another process was first,
    or retention erased it) stays, and is what the caller reads next."""
    await db.execute(_ADD, workflow_id, key_id, wrapped)


_WRAPPED_WITH_OTHER = """SELECT workflow_id, key_id, wrapped FROM dossier_key
                          WHERE wrapped IS NOT NULL AND key_id <> $1
                          ORDER BY workflow_id LIMIT $2"""


async def keys_wrapped_with_other(db: Queryable, key_id: str, limit: int) -> list[StoredKey]:
    """Held keys wrapped by another master key than `key_id` (rotation), a batch at a time."""
    rows = await db.fetch(_WRAPPED_WITH_OTHER, key_id, limit)
    return [StoredKey(row["workflow_id"], row["key_id"], row["wrapped"]) for row in rows]


_REWRAP = """UPDATE dossier_key SET key_id = $3, wrapped = $4
              WHERE workflow_id = $1 AND key_id = $2 AND wrapped IS NOT NULL"""


async def rewrap_key(db: Queryable, old: StoredKey, key_id: str, wrapped: bytes) -> bool:
    """The same data key, wrapped by master key `key_id` now; False if it was erased (or
    rewrapped) meanwhile. The schema owner's alone."""
    status = await db.execute(_REWRAP, old.workflow_id, old.key_id, key_id, wrapped)
    return status.endswith(" 1")
