"""A worker SIGKILLed in the middle of a delivery: the next worker delivers it, and the
recipient takes it once (docs/contract.md: the `Idempotency-Key` of the contract)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from scripts.devstack import start_worker_process, stop_worker_process, wait_for_worker
from tests.conftest import visa_input
from tests.delivery_servers import webhook_server
from tools.private_stack import private_stack
from workers.client import connect

WAIT = 150.0  # seconds: the dead worker's attempt times out (45 s heartbeat) and is retried
TASK_QUEUE = "delivery-kill"


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not await check():
        assert loop.time() < deadline, f"{what}: not within {WAIT:.0f} s"
        await asyncio.sleep(0.5)


@pytest.mark.rule("A5")
async def test_a_worker_killed_mid_delivery_delivers_it_once(tmp_path: Path) -> None:
    with webhook_server() as (url, hook):
        async with private_stack(tmp_path, TASK_QUEUE) as stack:
            settings = stack.settings.model_copy(update={"notify_webhook_url": url})
            client = await connect(settings)
            application = visa_input(
                datetime.now(UTC).date(), procedure="spouse_of_french", prefecture=None
            )
            workflow_id = f"visa-{application['application_id']}"
            key = f"{workflow_id}/000001.visa_application_copy.ofii"
            release = threading.Event()
            hook.held[key] = release
            worker = await start_worker_process(settings, stack.server.address, stack.database_url)
            second = None
            try:
                await wait_for_worker(client, worker, settings)
                await client.start_workflow(
                    "VisaApplication", application, id=workflow_id, task_queue=TASK_QUEUE
                )

                async def in_flight() -> bool:
                    return any(k == key for k, _ in hook.requests)

                await _until(in_flight, "the delivery reached the webhook")
                worker.kill()  # SIGKILL, the request still unanswered
                await worker.wait()
                release.set()  # the recipient answers 200 to a worker that is gone

                second = await start_worker_process(
                    settings, stack.server.address, stack.database_url
                )
                await wait_for_worker(client, second, settings)

                async def delivered() -> bool:
                    at = await _delivered_at(stack.database_url, workflow_id)
                    return at is not None

                await _until(delivered, "the next worker delivered it")
            finally:
                release.set()
                if worker.returncode is None:
                    worker.kill()
                    await worker.wait()
                if second is not None:
                    await stop_worker_process(second)

    sent = [k for k, _ in hook.requests if k == key]
    assert len(sent) == 2, "sent again by the next worker, with the same Idempotency-Key"
    assert hook.accepted.count(key) == 1, "taken once"


async def _delivered_at(database_url: str, workflow_id: str) -> datetime | None:
    connection = await asyncpg.connect(database_url)
    try:
        at: datetime | None = await connection.fetchval(
            """SELECT delivered_at FROM notification
               WHERE workflow_id = $1 AND key = '000001.visa_application_copy.ofii'""",
            workflow_id,
        )
        return at
    finally:
        await connection.close()
