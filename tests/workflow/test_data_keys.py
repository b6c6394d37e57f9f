"""Per-dossier data keys in the register (migration 014; docs/production.md, "Personal data
is sealed"): made once and then served from the cache, never replaced by the worker's role,
rewrapped when the master key rotates, and destroyed by retention, after which the dossier's
history in Temporal no longer opens (crypto-erasure) while other dossiers' still do."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import key_gateway
from activities.retention import RetentionActivities
from tests.conftest import TEST_KEYS, visa_input
from tests.workflow.test_register_privileges import worker_pool  # noqa: F401 (a fixture)
from workers.codec import (
    EncryptionCodec,
    InboundGuardCodec,
    KeyRing,
    PayloadErased,
    new_key_entry,
    sealed_data_converter,
)
from workers.data_keys import RegisterDataKeys, rewrap_all
from workers.main import worker_activities, workflow_runner
from workflows import WORKFLOWS


class CountingPool:
    """The pool, counting the statements sent through it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.statements = 0

    async def fetch(self, *args: Any) -> list[asyncpg.Record]:
        self.statements += 1
        return await self.pool.fetch(*args)

    async def execute(self, *args: Any) -> str:
        self.statements += 1
        return await self.pool.execute(*args)


def _dossier() -> str:
    return f"visa-KEY-{uuid.uuid4().hex[:10]}"


async def test_a_key_is_made_once_then_served_from_the_cache(pool: asyncpg.Pool) -> None:
    dossier = _dossier()
    counting = CountingPool(pool)
    keys = RegisterDataKeys(counting, TEST_KEYS)  # type: ignore[arg-type]
    other_process = RegisterDataKeys(pool, TEST_KEYS)
    # Two processes sealing the first payloads of a dossier at once agree on one key.
    made, raced = await asyncio.gather(
        keys.data_keys([dossier], create=True), other_process.data_keys([dossier], create=True)
    )
    assert made[dossier] is not None and made == raced
    before = counting.statements
    for _ in range(100):
        assert await keys.data_keys([dossier], create=True) == made
    assert counting.statements == before  # no round trip per payload once cached
    # The register holds it wrapped, never in clear.
    [stored] = await key_gateway.stored_keys(pool, [dossier])
    key = made[dossier]
    assert stored.key_id == "test-1" and key is not None and key not in (stored.wrapped or b"")
    # A dossier never seen has no key to open with.
    assert await keys.data_keys([_dossier()], create=False) == {}


async def test_the_worker_role_adds_keys_but_neither_replaces_nor_destroys_one(
    worker_pool: asyncpg.Pool,  # noqa: F811
) -> None:
    dossier = _dossier()
    await RegisterDataKeys(worker_pool, TEST_KEYS).data_keys([dossier], create=True)
    for statement in (
        "UPDATE dossier_key SET wrapped = NULL, key_id = NULL, erased_at = now() "
        "WHERE workflow_id = $1",
        "UPDATE dossier_key SET wrapped = '\\x00'::bytea WHERE workflow_id = $1",
        "DELETE FROM dossier_key WHERE workflow_id = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await worker_pool.execute(statement, dossier)


async def test_rotation_rewraps_every_key_and_the_payloads_still_open(
    pool: asyncpg.Pool,
) -> None:
    dossier = _dossier()
    sealer = EncryptionCodec(TEST_KEYS, bound_to=dossier, keys=RegisterDataKeys(pool, TEST_KEYS))
    sealed = await sealer.encode([Payload(metadata={"encoding": b"json/plain"}, data=b"{}")])
    new_entry = new_key_entry("rotated-2")
    rotated = KeyRing.parse(f"{new_entry},{TEST_KEYS.spec()}")
    try:
        assert await rewrap_all(pool, rotated) >= 1
        [stored] = await key_gateway.stored_keys(pool, [dossier])
        assert stored.key_id == "rotated-2"
        # The old master key may leave: the new one alone opens the dossier's payloads.
        only_new = KeyRing.parse(new_entry)
        reader = EncryptionCodec(only_new, keys=RegisterDataKeys(pool, only_new))
        assert await reader.decode(sealed) == [
            Payload(metadata={"encoding": b"json/plain"}, data=b"{}")
        ]
        assert await rewrap_all(pool, rotated) == 0  # done: nothing left to rewrap
    finally:
        # The session's register goes back to the tests' master key.
        await rewrap_all(pool, KeyRing.parse(f"{TEST_KEYS.spec()},{new_entry}"))


@pytest.fixture
async def keyed_client(
    time_env: WorkflowEnvironment, pool: asyncpg.Pool
) -> AsyncIterator[tuple[Client, str]]:
    """A client and a worker sealing each dossier with its data key, as production's do."""
    keys = RegisterDataKeys(pool, TEST_KEYS)
    config = time_env.client.config()
    config["data_converter"] = sealed_data_converter(TEST_KEYS, inbound_guard=True, keys=keys)
    client = Client(**config)
    task_queue = f"keys-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=worker_activities(
            pool, None, retention=RetentionActivities(pool, forget=keys.forget)
        ),
    ):
        yield client, task_queue


async def _started(client: Client, task_queue: str) -> WorkflowHandle[Any, Any]:
    application = visa_input(datetime.now(UTC).date())
    handle: WorkflowHandle[Any, Any] = await client.start_workflow(
        "VisaApplication",
        application,
        id=f"visa-{application['application_id']}",
        task_queue=task_queue,
    )
    deadline = asyncio.get_running_loop().time() + 20
    while (await handle.query("state")).get("stage") == "opening":
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)
    return handle


async def _start_input(handle: WorkflowHandle[Any, Any]) -> Payload:
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    payload: Payload = started.input.payloads[0]
    return payload


async def test_retention_destroys_the_key_and_the_history_no_longer_opens(
    keyed_client: tuple[Client, str], pool: asyncpg.Pool
) -> None:
    client, task_queue = keyed_client
    expired, kept = await _started(client, task_queue), await _started(client, task_queue)
    expired_input, kept_input = await _start_input(expired), await _start_input(kept)
    assert expired_input.metadata["dossier-key"] == expired.id.encode()
    reader = EncryptionCodec(TEST_KEYS, keys=RegisterDataKeys(pool, TEST_KEYS))
    [opened] = await reader.decode([expired_input])
    assert expired.id.removeprefix("visa-").encode() in opened.data
    # Closed more than the retention period ago (the owner corrects the clock's work).
    await pool.execute(
        "UPDATE dossier SET closed_at = now() - interval '4 years' WHERE workflow_id = $1",
        expired.id,
    )
    try:
        done: dict[str, Any] = await client.execute_workflow(
            "RetentionSweep",
            {},
            id=f"retention-{uuid.uuid4()}",
            task_queue=task_queue,
            result_type=dict,
        )
        assert done["dossiers"] >= 1
        [stored] = await key_gateway.stored_keys(pool, [expired.id])
        assert stored.erased and stored.key_id is None
        # A reader that never saw the key, and the worker's codec: erased, never a crash.
        fresh = EncryptionCodec(TEST_KEYS, keys=RegisterDataKeys(pool, TEST_KEYS))
        with pytest.raises(PayloadErased):
            await fresh.decode([expired_input])
        guard = InboundGuardCodec(TEST_KEYS, keys=RegisterDataKeys(pool, TEST_KEYS))
        [refused] = await guard.decode([expired_input])
        assert b"erased by retention" in refused.data
        # The other dossier is untouched.
        [still] = await fresh.decode([kept_input])
        assert kept.id.removeprefix("visa-").encode() in still.data
    finally:
        for handle in (expired, kept):
            # The sweep's run lets the shared server's clock jump: a dossier may have closed.
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test finished")
