"""What users get, measured end to end (`tools.bench`'s last measures): whole lifecycles
with their letters laid out and their deliveries drained to the outbox, against the bare
workflow in the same run, and the CPU each process spent per lifecycle.

The worker here is the benchmark's worker with its deliveries on (`BENCH_DELIVER`): it
polls the dossiers' and the documents' task queues, as `python -m workers` does by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import asyncpg

from activities import register_gateway as register
from tools.private_stack import PrivateStack

# A lifecycle's deliveries drained this long after its last update is stuck: the
# benchmark fails instead of hanging.
DRAIN_PATIENCE = 300.0
DRAIN_POLL = 0.2
# The environment variable that turns the benchmark worker's deliveries on.
DELIVER_ENV = "BENCH_DELIVER"


# Clock ticks per second of /proc/<pid>/stat's CPU times.
TICKS = os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass(frozen=True)
class Processes:
    """The processes whose CPU a lifecycle costs, by role."""

    server: int
    worker: int
    postgres_root: Path

    def by_role(self) -> dict[str, list[int]]:
        parents = _parents()
        postgres = [pid for pid in parents if str(self.postgres_root) in _cmdline(pid)]
        return {
            "server": [self.server],
            "worker": [self.worker],
            "renderer": _descendants(self.worker, parents),
            "PostgreSQL": sorted(
                {*postgres, *(c for p in postgres for c in _descendants(p, parents))}
            ),
        }


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command's name (which may hold spaces)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    return ""


def _parents() -> dict[int, int]:
    """Every process's parent."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                found[int(entry.name)] = int(_stat(int(entry.name))[1])
    return found


def _descendants(root: int, parents: dict[int, int]) -> list[int]:
    children = [pid for pid, parent in parents.items() if parent == root]
    return children + [pid for child in children for pid in _descendants(child, parents)]


def cpu_seconds(processes: Processes) -> dict[str, float]:
    """User and system CPU seconds so far of each role's processes (children that ended
    are not counted: the renderers and the register's backends live as long as the run)."""
    spent: dict[str, float] = {}
    for role, pids in processes.by_role().items():
        total = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                fields = _stat(pid)
                total += int(fields[11]) + int(fields[12])  # utime, stime
        spent[role] = total / TICKS
    return spent


async def drained(pool: asyncpg.Pool) -> None:
    """Until the register holds no undelivered notification (`notification.delivered_at`)."""
    async with asyncio.timeout(DRAIN_PATIENCE):
        while await register.undelivered(pool, timedelta(0)):
            await asyncio.sleep(DRAIN_POLL)


@dataclasses.dataclass(frozen=True)
class EndToEnd:
    """Lifecycles per second, letters and deliveries included, and CPU ms per lifecycle."""

    per_second: float
    cpu_ms: dict[str, float]


async def end_to_end(
    lifecycle: Callable[[], Awaitable[None]],
    count: int,
    lanes: int,
    pool: asyncpg.Pool,
    processes: Processes,
) -> EndToEnd:
    """`count` lifecycles, `lanes` in flight, until the last of their deliveries is drained."""
    before = cpu_seconds(processes)
    started = time.perf_counter()
    remaining = count

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await lifecycle()

    await asyncio.gather(*(lane() for _ in range(lanes)))
    await drained(pool)
    elapsed = time.perf_counter() - started
    after = cpu_seconds(processes)
    return EndToEnd(
        count / elapsed,
        {role: (after[role] - before[role]) * 1e3 / count for role in after},
    )


def combined(rounds: list[EndToEnd]) -> EndToEnd:
    """The median rate of `rounds` and their mean CPU per lifecycle."""
    return EndToEnd(
        statistics.median(each.per_second for each in rounds),
        {role: statistics.mean(each.cpu_ms[role] for each in rounds) for role in rounds[0].cpu_ms},
    )


def processes_of(stack: PrivateStack, worker_pid: int) -> Processes:
    return Processes(stack.server.process.pid, worker_pid, stack.root / "postgres")


@contextlib.asynccontextmanager
async def register_pool(stack: PrivateStack) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


def cpu_line(label: str, result: EndToEnd) -> str:
    shares = ", ".join(f"{role} {ms:.0f} ms" for role, ms in result.cpu_ms.items())
    return f"{label}: CPU per lifecycle: {shares} (total {sum(result.cpu_ms.values()):.0f} ms)"
