"""Each dossier's data key (docs/production.md, "Personal data is sealed").

A random AES-256 key per dossier seals its payloads (`workers.codec`). The register keeps it
wrapped by the master key (`PAYLOAD_KEYS`, AES-256-GCM, authenticated with the dossier's id
so that a wrapped key moved to another row does not open); retention destroys it. Processes
keep the unwrapped keys they use in a bounded cache, so that a payload costs no round trip
to the register once its dossier's key is known.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from activities import key_gateway
from activities.database import open_pool
from activities.register_gateway import Queryable
from workers.codec import KEY_BYTES, NONCE_BYTES, DataKeys, KeyRing, PayloadKeyError
from workers.postgres import database_url
from workers.settings import Settings

log = structlog.get_logger("data_keys")

# 32 bytes a key: ten thousand dossiers in use at once cost a few hundred KiB.
CACHE_CAPACITY = 10_000
# How long a process trusts a key it read: a key erased meanwhile still opens payloads here
# for at most this long (the worker forgets the keys it erases at once).
CACHE_SECONDS = 300.0
REWRAP_BATCH = 500


def _wrapping_data(workflow_id: str) -> bytes:
    return f"dossier key\0{workflow_id}".encode()


def wrap(ring: KeyRing, workflow_id: str, key: bytes) -> tuple[str, bytes]:
    """(the master key's id, nonce + ciphertext) of `key`, for `workflow_id` only."""
    key_id, master = ring.current
    nonce = secrets.token_bytes(NONCE_BYTES)
    return key_id, nonce + AESGCM(master).encrypt(nonce, key, _wrapping_data(workflow_id))


def unwrap(ring: KeyRing, stored: key_gateway.StoredKey) -> bytes:
    """The data key of a held row; an unknown master key or a tampered row is named."""
    assert stored.key_id is not None and stored.wrapped is not None
    master = ring.get(stored.key_id)
    nonce, ciphertext = stored.wrapped[:NONCE_BYTES], stored.wrapped[NONCE_BYTES:]
    try:
        key = AESGCM(master).decrypt(nonce, ciphertext, _wrapping_data(stored.workflow_id))
    except (InvalidTag, ValueError):
        raise PayloadKeyError(
            f"the data key of {stored.workflow_id} does not authenticate under master key "
            f"{stored.key_id!r}: tampered"
        ) from None
    if len(key) != KEY_BYTES:
        raise PayloadKeyError(f"the data key of {stored.workflow_id} is not an AES-256 key")
    return key


class RegisterDataKeys:
    """The codec's `KeySource` on the register: keys read (or made) once, then served from a
    bounded LRU cache for `ttl` seconds. Used from one event loop."""

    def __init__(
        self,
        db: Queryable,
        ring: KeyRing,
        *,
        capacity: int = CACHE_CAPACITY,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.ring = ring
        self.capacity = capacity
        self.ttl = ttl
        self.clock = clock
        self._cache: OrderedDict[str, tuple[float, bytes | None]] = OrderedDict()

    async def data_keys(self, dossiers: Collection[str], *, create: bool) -> DataKeys:
        found: dict[str, bytes | None] = {}
        for dossier in dossiers:
            entry = self._fresh(dossier)
            if entry is not None:
                found[dossier] = entry[1]
        missing = [dossier for dossier in dossiers if dossier not in found]
        if missing:
            found.update(await self._read(missing))
        if create:
            for dossier in [dossier for dossier in missing if dossier not in found]:
                wrapped_by, wrapped = wrap(self.ring, dossier, secrets.token_bytes(KEY_BYTES))
                await key_gateway.add_key(self.db, dossier, wrapped_by, wrapped)
            # What the register holds now: ours, or one made by another process first.
            found.update(await self._read([d for d in missing if d not in found]))
        return found

    def forget(self, dossiers: Iterable[str]) -> None:
        """Drop keys this process knows (retention just erased them)."""
        for dossier in dossiers:
            self._cache.pop(dossier, None)

    def _fresh(self, dossier: str) -> tuple[float, bytes | None] | None:
        """The cache's entry (read at, key), unless absent or read too long ago."""
        entry = self._cache.get(dossier)
        if entry is None:
            return None
        read_at, key = entry
        if self.clock() - read_at > self.ttl and key is not None:
            del self._cache[dossier]  # an erased key never comes back: no need to reread
            return None
        self._cache.move_to_end(dossier)
        return entry

    async def _read(self, dossiers: Collection[str]) -> dict[str, bytes | None]:
        if not dossiers:
            return {}
        read: dict[str, bytes | None] = {}
        now = self.clock()
        for stored in await key_gateway.stored_keys(self.db, dossiers):
            key = None if stored.erased else unwrap(self.ring, stored)
            read[stored.workflow_id] = key
            self._cache[stored.workflow_id] = (now, key)
            self._cache.move_to_end(stored.workflow_id)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return read


class LazyRegisterKeys:
    """The data keys of a client process (the CLI, the demo): the register is reached at
    the first payload of a dossier, so that a process that seals none (the schedules' setup)
    never needs it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._keys: RegisterDataKeys | None = None
        self._opening = asyncio.Lock()

    async def data_keys(self, dossiers: Collection[str], *, create: bool) -> DataKeys:
        async with self._opening:
            if self._keys is None:
                url = await asyncio.to_thread(database_url, self.settings)
                # No floor: a client outliving its register (a benchmark's stack stopping)
                # is not told, over and over, that it cannot reconnect.
                pool = await open_pool(url, min_size=0, max_size=2, migrated=False)
                self._keys = RegisterDataKeys(pool, self.settings.key_ring())
        return await self._keys.data_keys(dossiers, create=create)


async def rewrap_all(db: Queryable, ring: KeyRing, batch: int = REWRAP_BATCH) -> int:
    """Master key rotation: every held data key wrapped by another key of the ring is
    wrapped again by the first, so that the old master key can leave PAYLOAD_KEYS. The data
    keys do not change: every payload sealed with them still opens. Run as the schema's
    owner; returns how many keys were rewrapped."""
    key_id, _ = ring.current
    done = 0
    while stale := await key_gateway.keys_wrapped_with_other(db, key_id, batch):
        for stored in stale:
            _, wrapped = wrap(ring, stored.workflow_id, unwrap(ring, stored))
            done += await key_gateway.rewrap_key(db, stored, key_id, wrapped)
    log.info("data keys rewrapped", keys=done, master_key=key_id)
    return done
