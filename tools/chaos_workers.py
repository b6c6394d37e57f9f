"""Several workers, two of them SIGKILLed mid-run (`make chaos`'s companion): two
`WORKER_QUEUES=dossiers` workers and one `WORKER_QUEUES=documents` worker, each a
`python -m workers` process of its own, on one throwaway stack. A batch of dossiers goes
through its lifecycle undisturbed (the reference), then a second batch while one of the
dossiers' workers is SIGKILLed during a step and never restarted, and the documents' worker
is SIGKILLed with its postman's leases held and replaced by a new one, which takes the dead
one's notifications once their lease (`DELIVERY_LEASE_SECONDS`) ran out. Every dossier of the
second batch must end as its reference did, with the same register events and exactly the
same notifications, each delivered (the register's `delivered_at`); the two batches' times
measure what the kill cost. Exits 1 on any loss, duplicate, stuck dossier, undelivered
notification or difference.

    python -m tools.chaos_workers [--dossiers 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.client import Client

from activities import register_gateway as register
from scripts.devstack import process_env, stop_worker_process, wait_for_worker
from scripts.ports import free_port
from tools.chaos import STEPS, TASK_QUEUE, Report, compare, drive, result
from tools.private_stack import PrivateStack, private_stack
from workers.client import connect
from workers.settings import Settings

# The step of the second batch during which a dossiers' worker is killed: mid-lifecycle.
KILL_AT_STEP = STEPS // 2
# After the step's updates are sent, so that some are in the dying worker's hands.
KILL_DELAY = 0.3
KILLS = 2  # a dossiers' worker, the documents' worker
STEPS_IN_FLIGHT = 10
DRAIN_PATIENCE = 120.0
# The postmen's lease in this run: the dead one's notifications are taken again this soon.
LEASE_SECONDS = 5
# Each worker reads the register for its business gauges this often (seconds).
METRICS_INTERVAL = "1"


@dataclass
class WorkerProcess:
    """A `python -m workers` process, the queues it polls and where its metrics are."""

    queues: str
    process: asyncio.subprocess.Process
    metrics_address: str


@dataclass
class WorkersReport(Report):
    """The chaos run's report, with the measure of each batch and the kill."""

    workers: int = 0
    reference_seconds: float = 0.0
    killed_seconds: float = 0.0
    # (workflow id, key, recipient) of every notification of both batches.
    notes: list[tuple[str, str, str]] = field(default_factory=list)
    undelivered: int = 0

    @property
    def ok(self) -> bool:
        return super().ok and self.kills == KILLS and not self.undelivered

    def line(self) -> str:
        return (
            f"workers: {self.workers} ({self.kills} SIGKILLed mid-run), "
            f"{super().line()}, notifications: {len(self.notes)}, undelivered: "
            f"{self.undelivered}; {self.dossiers} lifecycles delivered in "
            f"{self.reference_seconds:.1f} s undisturbed, {self.killed_seconds:.1f} s "
            f"through the kill"
        )


async def start_worker(stack: PrivateStack, settings: Settings, queues: str) -> WorkerProcess:
    """`python -m workers` polling `queues` (WORKER_QUEUES), serving its metrics on a port
    of its own; its output goes to a log file under the stack's root."""
    address = f"127.0.0.1:{free_port()}"
    env = {
        **process_env(settings, stack.server.address, stack.database_url),
        "WORKER_QUEUES": queues,
        "METRICS_ADDRESS": address,
        "METRICS_INTERVAL": METRICS_INTERVAL,
        "DELIVERY_LEASE_SECONDS": str(settings.delivery_lease_seconds),
    }
    if settings.delivery_outbox_dir is not None:  # beside a webhook: the applicant's letters
        env["DELIVERY_OUTBOX_DIR"] = str(settings.delivery_outbox_dir)
    with (stack.root / f"worker-{queues}-{uuid.uuid4().hex[:6]}.log").open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "workers",
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    return WorkerProcess(queues, process, address)


async def polling(client: Client, settings: Settings, worker: WorkerProcess) -> None:
    """Until `worker` polls its queue (the documents' for a documents' worker)."""
    queue = settings.documents_task_queue if worker.queues == "documents" else None
    polled = settings.model_copy(update={"temporal_task_queue": queue}) if queue else settings
    await wait_for_worker(client, worker.process, polled)


@contextlib.asynccontextmanager
async def workers(
    client: Client, stack: PrivateStack, settings: Settings, queues: list[str]
) -> AsyncIterator[list[WorkerProcess]]:
    """One worker per entry of `queues`, all polling; each stopped (or reaped) at the end."""
    started = [await start_worker(stack, settings, each) for each in queues]
    try:
        for worker in started:
            await polling(client, settings, worker)
        yield started
    finally:
        for worker in started:
            await stop_worker_process(worker.process)


async def drained(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """Until the register holds no undelivered notification, or `DRAIN_PATIENCE` ran out:
    what is still undelivered then."""
    deadline = asyncio.get_running_loop().time() + DRAIN_PATIENCE
    while True:
        left = await register.undelivered(pool, timedelta(0))
        if not left or asyncio.get_running_loop().time() > deadline:
            return left
        await asyncio.sleep(0.2)


async def batch(
    client: Client,
    pool: asyncpg.Pool,
    ids: list[str],
    disruption: Callable[[], Awaitable[None]] | None = None,
) -> tuple[float, list[dict[str, Any]], list[asyncpg.Record]]:
    """Seconds to drive `ids` through the lifecycle with their deliveries drained, their
    final states, and what was left undelivered; `disruption` strikes at `KILL_AT_STEP`."""
    limit = asyncio.Semaphore(STEPS_IN_FLIGHT)

    async def limited(application_id: str, step: int) -> None:
        async with limit:
            await drive(client, application_id, step)

    started = time.perf_counter()
    for step in range(-1, STEPS):
        moves: list[Awaitable[None]] = [limited(each, step) for each in ids]
        if step == KILL_AT_STEP and disruption is not None:
            moves.append(disruption())
        await asyncio.gather(*moves)
    states = [await result(client, each) for each in ids]
    left = await drained(pool)
    return time.perf_counter() - started, states, left


async def run_workers_kill(
    dossiers: int,
    root: Path,
    settings_update: dict[str, Any] | None = None,
    inspect: Callable[[PrivateStack, list[WorkerProcess]], Awaitable[None]] | None = None,
) -> WorkersReport:
    """Two dossiers' workers and a documents' one; one dossiers' worker and the documents'
    one killed mid-run, the documents' one replaced.
    `settings_update` changes the workers' settings (a test's webhook); `inspect` is called
    at the end with the workers still running (the test reads their metrics)."""
    report = WorkersReport(dossiers=dossiers, workers=3)
    async with private_stack(root, TASK_QUEUE) as stack:
        settings = stack.settings.model_copy(
            update={"delivery_lease_seconds": LEASE_SECONDS, **(settings_update or {})}
        )
        replacements: list[WorkerProcess] = []
        client = await connect(settings)
        pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=2)
        try:
            queues = ["dossiers", "dossiers", "documents"]
            async with workers(client, stack, settings, queues) as running:
                run = uuid.uuid4().hex[:6]
                reference = [f"REF-{run}-{i:03d}" for i in range(dossiers)]
                killed = [f"KILL-{run}-{i:03d}" for i in range(dossiers)]
                report.reference_seconds, wanted, _ = await batch(client, pool, reference)

                async def kill_one() -> None:
                    await asyncio.sleep(KILL_DELAY)
                    for victim in (running[0].process, running[2].process):
                        # The worker and its renderers (its own session): the machine lost.
                        os.killpg(victim.pid, signal.SIGKILL)
                        await victim.wait()
                        report.kills += 1
                    # A new documents' worker: the dead postman's leases run out first.
                    replacements.append(await start_worker(stack, settings, "documents"))
                    await polling(client, settings, replacements[-1])

                report.killed_seconds, got, left = await batch(client, pool, killed, kill_one)
                report.undelivered = len(left)
                for killed_id, reference_id, state, want in zip(
                    killed, reference, got, wanted, strict=True
                ):
                    if state.get("stage") != "visa_issued":
                        report.stuck += 1
                    await compare(stack.database_url, killed_id, reference_id, state, want, report)
                report.notes = [
                    (row["workflow_id"], row["key"], row["recipient"])
                    for row in await pool.fetch(
                        """SELECT workflow_id, key, recipient FROM notification
                           WHERE abandoned_by IS NULL"""
                    )
                ]
                if inspect is not None:
                    await inspect(stack, [running[1], *replacements])
        finally:
            for worker in replacements:
                await stop_worker_process(worker.process)
            await pool.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chaos_workers", description=__doc__)
    parser.add_argument("--dossiers", type=int, default=10, help="per batch")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        report = asyncio.run(run_workers_kill(args.dossiers, Path(tmp)))
    report.show()
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
