"""Benchmarks, each a ratio against a baseline measured in the same run.

    python -m tools.bench                  # everything (`make bench`)
    python -m tools.bench --quick          # small counts: a smoke run of two or three minutes
    python -m tools.bench --core           # the pure core alone
    python -m tools.bench --letters        # the letters' CPU time alone
    python -m tools.bench --dossiers 2000  # fewer open dossiers for the memory measure
    python -m tools.bench --end-to-end     # only what users get: letters and deliveries
    python -m tools.bench --memory --dossiers 100000  # only the worker's memory

- core: a whole dossier through the pure rules, against only validating the same JSON.
- lifecycles: `VisaApplication` lifecycles per second (start, settle, then every event of
  `_events()` as an update), 20 in flight, against `BareDossier` (tools.bench_worker):
  started the same way, the same updates, each running one no-op normal activity.
- update latency, p50 and p99: 50 updates in flight against 50 open workflows, an accepted
  event against the bare workflow's no-op update.
- intake: dossiers started and settled (past "opening", as their `state` query says) per
  second, 20 in flight, against bare workflows settled by their one no-op activity.
- worker memory: the worker's resident set holding `--dossiers` open dossiers, against the
  same worker idle just after its start.
- end to end: lifecycles per second until their letters are laid out and their deliveries
  drained to the outbox (the worker polling both task queues), against bare lifecycles on
  the same worker; the updates' p50 and p99 meanwhile; CPU per lifecycle of the server, the
  worker, its renderer and PostgreSQL (`tools.bench_delivery`).
- letters: median CPU time of a letter per language, every template, in a renderer
  process (tools.bench_letters), against the goal of 30 ms; the renderer's start (every
  template laid out once) and its first letter apart.
- local step: lifecycles per second of `VisaLocalStep` (a step's register transaction as a
  local activity, as `VisaApplication` does) against `VisaNormalStep` (as a normal
  activity), two otherwise identical subclasses of `VisaApplication` (`tools.bench_workflows`).

Rates are the steady state: a round counts the steps done in a window that opens after a
warm-up, each step of a lifecycle counting for its share. Subject and baseline alternate
round by round, the side going first alternating too (a drift of the machine over the run
cancels out); each side's figure is its median round. Everything runs on a throwaway stack
(`tools.private_stack`), the worker in a process of its own (`tools.bench_worker`), so
that its resident set is its own and the driver's CPU is not counted in it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

import examples
from models import history
from models.reference import default_reference_data, merge_reference_data
from models.visa import VISA, VisaApplicationInput
from scripts.devstack import (
    DevStackError,
    ensure_search_attributes,
    process_env,
    stop_worker_process,
    wait_for_worker,
)
from tools.bench_delivery import (
    DELIVER_ENV,
    EndToEnd,
    combined,
    cpu_line,
    end_to_end,
    processes_of,
    register_pool,
)
from tools.bench_letters import LETTER_GOAL_MS, bench_letters, report
from tools.bench_worker import BARE_WORKFLOW
from tools.bench_workflows import LOCAL_STEP_WORKFLOW, NORMAL_STEP_WORKFLOW
from tools.private_stack import PrivateStack, private_stack
from tools.stop_signals import interrupt_on_stop_signals
from workers.client import connect
from workflows.search_attributes import DOSSIER_STAGE

T = TypeVar("T")

TASK_QUEUE = "bench"
# How often a starting workflow's `state` is asked whether it has left "opening".
SETTLE_POLL = 0.02
# A lifecycle or a start that takes longer is stuck: the benchmark fails instead of hanging.
STUCK_AFTER = 120.0
# Let a worker finish starting up (caches, pool, pollers) before its idle resident set.
IDLE_SETTLE = 3.0
# The memory measure's starts: so many RPCs at once, and so many dossiers started but not yet
# settled; how often it asks the server how many have settled.
FILL_STARTS_IN_FLIGHT = 10
FILL_BACKLOG = 100
FILL_POLL = 0.5
LIFECYCLE_GOAL = 0.8
INTAKE_GOAL = 0.8
END_TO_END_GOAL = 0.8
UPDATE_P99_GOAL = 2.0  # seconds
MEMORY_GOAL_MIB = 300.0


# --- the dossier of every measure ---------------------------------------------------------


def sample_application(application_id: str, today: date) -> dict[str, Any]:
    """A family-reunification application from Morocco filed today (the tests' `visa_input`),
    its applicant 36 whatever the day."""
    application = examples.load("visa/family_reunification", today=today)
    return {**application, "application_id": application_id}


def _events(today: date) -> list[tuple[str, dict[str, Any]]]:
    """Insufficient French, values, a combined training, both re-evaluations, the visa."""
    return examples.events(examples.load("visa/combined_training_events", today=today))


# --- the report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    measure: str
    subject: str
    baseline: str
    ratio: float
    goal: str = "-"
    met: bool | None = None


def _print_table(rows: list[Row]) -> None:
    header = ("measure", "subject", "baseline", "ratio", "goal", "met?")
    lines = [
        (
            row.measure,
            row.subject,
            row.baseline,
            f"{row.ratio:.2f}",
            row.goal,
            "-" if row.met is None else ("yes" if row.met else "NO"),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    for line in [header, tuple("-" * width for width in widths), *lines]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def _machine() -> str:
    total_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total_kib = int(line.split()[1])
    return (
        f"machine: {os.cpu_count()} cores, {total_kib / 2**20:.1f} GiB memory, "
        f"Python {platform.python_version()}, temporalio {version('temporalio')}"
    )


# --- the pure core --------------------------------------------------------------------------


def _timed(run: Callable[[], None], repeat: int) -> float:
    """Median seconds of one call over `repeat` calls, after one warm-up."""
    run()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_core(repeat: int = 200) -> Row:
    reference = merge_reference_data(default_reference_data(), {})
    today = date(2009, 2, 2)
    application = sample_application("RBT-BENCH-1", today)
    events = _events(today)

    def dossier() -> None:
        state = history.open_dossier(VISA, application, reference, today, "visa-RBT-BENCH-1").state
        for name, payload in events:
            step = history.receive(VISA, state, name, payload, reference, today, "t")
            assert step.rejection is None, step.rejection
            state = step.state

    def parsing_only() -> None:
        VisaApplicationInput.model_validate(application)
        for name, payload in events:
            VISA.events[name].model.model_validate(payload)

    rules, baseline = _timed(dossier, repeat), _timed(parsing_only, repeat)
    print(
        f"core: whole dossier {rules * 1e3:.2f} ms; parsing only {baseline * 1e3:.3f} ms; "
        f"ratio {rules / baseline:.1f}x",
        flush=True,
    )
    return Row("core: whole dossier (pure rules)", _ms(rules), _ms(baseline), rules / baseline)


# --- the letters -------------------------------------------------------------------------


def letter_rows(rounds: int) -> list[Row]:
    start, times = bench_letters(rounds)
    report(start, times)
    return [
        Row(
            f"letter CPU, {each.language} (median of {each.letters})",
            f"{each.median_ms:.1f} ms",
            f"{LETTER_GOAL_MS:.0f} ms goal",
            each.median_ms / LETTER_GOAL_MS,
            "<= 1.00",
            each.median_ms <= LETTER_GOAL_MS,
        )
        for each in times
    ]


# --- driving workflows ----------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A workflow type the measures drive, and the prefix of its workflow ids."""

    label: str
    workflow_type: str
    id_prefix: str


DOSSIER = Kind("VisaApplication", "VisaApplication", "visa")
LOCAL_STEP = Kind("VisaLocalStep", LOCAL_STEP_WORKFLOW, "visa")
NORMAL_STEP = Kind("VisaNormalStep", NORMAL_STEP_WORKFLOW, "visa")
BARE = Kind("bare", BARE_WORKFLOW, "bare")
# A lifecycle's steps: its start (until settled), then one per event.
LIFECYCLE_STEPS = 1 + len(_events(date(2009, 2, 2)))


def _today() -> date:
    # An event dated in the future is refused, and a dossier's day is its consulate's:
    # yesterday in UTC is past everywhere.
    return datetime.now(UTC).date() - timedelta(days=1)


@dataclass
class Window:
    """The part of a round that counts: it opens after a warm-up (lanes starting all at
    once are not the steady state) and closes `length` seconds later; lanes stop after the
    step in hand, so that nothing of a round is still in flight during the next one."""

    opens: float
    closes: float
    steps: int = 0

    @classmethod
    def after(cls, warmup: float, length: float) -> Window:
        now = asyncio.get_running_loop().time()
        return cls(now + warmup, now + warmup + length)

    def running(self) -> bool:
        return asyncio.get_running_loop().time() < self.closes

    def tick(self) -> None:
        """One step done; counted when it ends inside the window."""
        if self.opens <= asyncio.get_running_loop().time() < self.closes:
            self.steps += 1

    def per_second(self) -> float:
        return self.steps / (self.closes - self.opens)


async def _settled(handle: WorkflowHandle[Any, Any]) -> None:
    """Until the workflow has left "opening", as its `state` query says."""
    while True:
        try:
            stage = (await handle.query("state"))["stage"]
        except (RPCError, WorkflowQueryFailedError):
            stage = "opening"  # not queryable before its first workflow task
        if stage == "rejected":
            raise RuntimeError(f"{handle.id} was rejected at its start")
        if stage != "opening":
            return
        await asyncio.sleep(SETTLE_POLL)


async def _start(client: Client, kind: Kind) -> WorkflowHandle[Any, Any]:
    application_id = f"BENCH-{uuid.uuid4().hex[:12]}"
    return await client.start_workflow(
        kind.workflow_type,
        sample_application(application_id, _today()),
        id=f"{kind.id_prefix}-{application_id}",
        task_queue=TASK_QUEUE,
    )


async def _start_settled(client: Client, kind: Kind) -> WorkflowHandle[Any, Any]:
    async with asyncio.timeout(STUCK_AFTER):
        handle = await _start(client, kind)
        await _settled(handle)
    return handle


async def _update(handle: WorkflowHandle[Any, Any], name: str, payload: Any) -> None:
    async with asyncio.timeout(STUCK_AFTER):
        try:
            await handle.execute_update(name, payload)
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            # The SDK's name for a cancelled update: an interrupted benchmark cancels its
            # lanes, each of which would print this error's traceback on the way out.
            if _cancelling():
                raise asyncio.CancelledError from None
            raise


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _lanes(
    lanes: int, window: Window, step_loop: Callable[[Window], Awaitable[None]]
) -> float:
    """Steps per second inside `window`, with `lanes` copies of `step_loop` going."""
    warmup = window.opens - asyncio.get_running_loop().time()

    async def lane(index: int) -> None:
        # Spread over the warm-up, so that the lanes are not all at the same step.
        await asyncio.sleep(warmup * index / lanes)
        while window.running():
            await step_loop(window)

    await asyncio.gather(*(lane(index) for index in range(lanes)))
    return window.per_second()


async def lifecycles_per_second(client: Client, kind: Kind, lanes: int, window: Window) -> float:
    """Lifecycles per second in steady state, `lanes` of them in flight: each step counts
    for its share of a lifecycle, so a window need not hold whole lifecycles."""

    async def lifecycle(window: Window) -> None:
        handle = await _start_settled(client, kind)
        window.tick()
        for name, payload in _events(_today()):
            if not window.running():
                return  # left open half-way: idle, it costs the next round nothing
            await _update(handle, name, payload)
            window.tick()

    return await _lanes(lanes, window, lifecycle) / LIFECYCLE_STEPS


async def intake_per_second(client: Client, kind: Kind, lanes: int, window: Window) -> float:
    """Workflows started and settled per second in steady state, `lanes` at a time."""

    async def intake(window: Window) -> None:
        await _start_settled(client, kind)
        window.tick()

    return await _lanes(lanes, window, intake)


async def update_latencies(client: Client, kind: Kind, workflows: int) -> list[float]:
    """Seconds of each update, `workflows` clients each driving its own open workflow through
    the events, so that `workflows` updates are in flight throughout."""
    handles = await asyncio.gather(*(_start_settled(client, kind) for _ in range(workflows)))
    samples: list[float] = []

    async def drive(handle: WorkflowHandle[Any, Any]) -> None:
        for name, payload in _events(_today()):
            start = time.perf_counter()
            await _update(handle, name, payload)
            samples.append(time.perf_counter() - start)

    await asyncio.gather(*(drive(handle) for handle in handles))
    return samples


async def open_dossiers(
    client: Client, count: int, progress: Callable[[int], None] | None = None
) -> None:
    """`count` more dossiers started and settled, left open. Settled is told by the server
    (a dossier publishes its stage once opened), not by a query per dossier: the worker
    spends itself on the dossiers only, and 10,000 of them open some minutes sooner.
    `progress` is told how many have settled so far, at every poll that saw more."""
    settled_query = f'WorkflowType = "{DOSSIER.workflow_type}" AND {DOSSIER_STAGE.name} IS NOT NULL'

    async def settled() -> int:
        return (await client.count_workflows(settled_query)).count

    already = await settled()
    started = done = 0
    starting = asyncio.Semaphore(FILL_STARTS_IN_FLIGHT)

    async def start() -> None:
        async with starting:
            await _start(client, DOSSIER)

    loop = asyncio.get_running_loop()
    progress_at = loop.time()
    while done < count:
        # A bounded backlog: the worker takes them as fast as it can, none waits for long.
        wanted = min(count, done + FILL_BACKLOG)
        await asyncio.gather(*(start() for _ in range(wanted - started)))
        started = max(started, wanted)
        await asyncio.sleep(FILL_POLL)
        now_done = await settled() - already
        if now_done > done:
            done, progress_at = now_done, loop.time()
            if progress is not None:
                progress(done)
        elif loop.time() - progress_at > STUCK_AFTER:
            raise RuntimeError(f"{count - done} dossiers did not leave opening")


# --- subject against baseline ---------------------------------------------------------------


async def interleaved(
    rounds: int, subject: Callable[[], Awaitable[T]], baseline: Callable[[], Awaitable[T]]
) -> tuple[list[T], list[T]]:
    """`rounds` results of each, alternating, the side that goes first alternating too."""
    subjects: list[T] = []
    baselines: list[T] = []
    for index in range(rounds):
        if index % 2:
            subjects.append(await subject())
            baselines.append(await baseline())
        else:
            baselines.append(await baseline())
            subjects.append(await subject())
    return subjects, baselines


def _rate(value: float) -> str:
    return f"{value:.2f}/s"


def _ms(seconds: float) -> str:
    """Three significant digits or so: the core's baseline is a few microseconds."""
    ms = seconds * 1e3
    return f"{ms:.0f} ms" if ms >= 100 else f"{ms:.3g} ms"


def _show_rounds(
    label: str, subjects: list[float], baselines: list[float], show: Callable[[float], str]
) -> None:
    each = ", ".join(f"{show(s)} vs {show(b)}" for s, b in zip(subjects, baselines, strict=True))
    print(f"  {label}: {each}", flush=True)


@dataclass(frozen=True)
class Plan:
    rounds: int  # of each side, per measure
    warmup: float  # seconds of a throughput round before its window opens
    window: float  # seconds a throughput round counts
    dossiers: int  # held open for the memory measure
    letter_rounds: int = 5  # of every template in every language
    lanes: int = 20  # lifecycles and starts in flight
    updates_in_flight: int = 50
    end_to_end: int = 60  # lifecycles of each side, delivered to the end


# The figure: 100,000 open dossiers (an hour or more of starts on 2 cores).
FULL = Plan(rounds=5, warmup=1.5, window=5.0, dossiers=100_000)
QUICK = Plan(rounds=2, warmup=1.0, window=3.0, dossiers=300, letter_rounds=1, end_to_end=40)


async def measure_lifecycles(client: Client, plan: Plan, subject: Kind, baseline: Kind) -> Row:
    def run(kind: Kind) -> Callable[[], Awaitable[float]]:
        return lambda: lifecycles_per_second(
            client, kind, plan.lanes, Window.after(plan.warmup, plan.window)
        )

    subjects, baselines = await interleaved(plan.rounds, run(subject), run(baseline))
    _show_rounds(f"lifecycles, {subject.label} vs {baseline.label}", subjects, baselines, _rate)
    mine, theirs = statistics.median(subjects), statistics.median(baselines)
    ratio = mine / theirs
    if baseline is BARE:
        return Row(
            f"lifecycles/s, {plan.lanes} in flight",
            _rate(mine),
            _rate(theirs),
            ratio,
            f">= {LIFECYCLE_GOAL}",
            ratio >= LIFECYCLE_GOAL,
        )
    return Row("local step: lifecycles/s, local / normal", _rate(mine), _rate(theirs), ratio)


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure_latency(client: Client, plan: Plan) -> list[Row]:
    def run(kind: Kind) -> Callable[[], Awaitable[list[float]]]:
        return lambda: update_latencies(client, kind, plan.updates_in_flight)

    subjects, baselines = await interleaved(plan.rounds, run(DOSSIER), run(BARE))
    rows = []
    for name, fraction in (("p50", 0.50), ("p99", 0.99)):
        mine = [_percentile(samples, fraction) for samples in subjects]
        theirs = [_percentile(samples, fraction) for samples in baselines]
        _show_rounds(f"update latency {name}, VisaApplication vs bare", mine, theirs, _ms)
        dossier, bare = statistics.median(mine), statistics.median(theirs)
        rows.append(
            Row(
                f"update latency {name}, {plan.updates_in_flight} in flight",
                _ms(dossier),
                _ms(bare),
                dossier / bare,
                *_p99_goal(name, dossier),
            )
        )
    return rows


def _p99_goal(name: str, seconds: float) -> tuple[str, bool | None]:
    """The goal column of an update latency: p99 within `UPDATE_P99_GOAL`, p50 none."""
    if name != "p99":
        return "-", None
    return f"<= {UPDATE_P99_GOAL:.0f} s", seconds <= UPDATE_P99_GOAL


async def measure_intake(client: Client, plan: Plan) -> Row:
    def run(kind: Kind) -> Callable[[], Awaitable[float]]:
        return lambda: intake_per_second(
            client, kind, plan.lanes, Window.after(plan.warmup, plan.window)
        )

    subjects, baselines = await interleaved(plan.rounds, run(DOSSIER), run(BARE))
    _show_rounds("intake, VisaApplication vs bare", subjects, baselines, _rate)
    mine, theirs = statistics.median(subjects), statistics.median(baselines)
    ratio = mine / theirs
    return Row(
        f"intake: starts settled/s, {plan.lanes} in flight",
        _rate(mine),
        _rate(theirs),
        ratio,
        f">= {INTAKE_GOAL}",
        ratio >= INTAKE_GOAL,
    )


def resident_mib(pid: int) -> float:
    """VmRSS of process `pid`, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass
class MemoryCurve:
    """Prints the worker's resident set each time another tenth of the dossiers has
    settled: the curve shows whether it levels off once the cache is full (WORKER_CACHE_SIZE)
    or keeps growing with the open dossiers."""

    worker_pid: int
    count: int
    started: float
    next_tenth: int = 1

    def __call__(self, done: int) -> None:
        if done * 10 < self.next_tenth * self.count:
            return
        self.next_tenth = done * 10 // self.count + 1
        print(
            f"  memory: {done} dossiers open after {time.perf_counter() - self.started:.0f} s, "
            f"worker RSS {resident_mib(self.worker_pid):.0f} MiB",
            flush=True,
        )


async def measure_memory(client: Client, worker_pid: int, plan: Plan) -> Row:
    """The resident set of a worker just started, then holding `plan.dossiers` open."""
    await asyncio.sleep(IDLE_SETTLE)
    idle = resident_mib(worker_pid)
    print(f"  memory: worker RSS idle {idle:.0f} MiB", flush=True)
    start = time.perf_counter()
    await open_dossiers(client, plan.dossiers, MemoryCurve(worker_pid, plan.dossiers, start))
    loaded = resident_mib(worker_pid)
    print(
        f"  memory: {plan.dossiers} dossiers opened in {time.perf_counter() - start:.0f} s; "
        f"worker RSS {loaded:.0f} MiB, idle {idle:.0f} MiB",
        flush=True,
    )
    return Row(
        f"worker RSS, {plan.dossiers} open dossiers",
        f"{loaded:.0f} MiB",
        f"{idle:.0f} MiB idle",
        loaded / idle,
        f"<= {MEMORY_GOAL_MIB:.0f} MiB",
        loaded <= MEMORY_GOAL_MIB,
    )


# --- the stack and the worker process -------------------------------------------------------


@contextlib.asynccontextmanager
async def bench_worker(
    stack: PrivateStack, client: Client, log_path: Path, extra_env: dict[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m tools.bench_worker` on the stack, polling; stopped on the way out."""
    env = process_env(stack.settings, stack.server.address, stack.database_url)
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tools.bench_worker",
            env={**env, **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            # Its own session: Ctrl-C reaches the driver only, which stops it in order.
            start_new_session=True,
        )
    try:
        try:
            await wait_for_worker(client, process, stack.settings)
        except DevStackError as error:
            raise DevStackError(f"{error}:\n{_tail(log_path)}") from None
        yield process
    finally:
        await stop_worker_process(process)


def _tail(log_path: Path, lines: int = 30) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


async def watched(measure: Awaitable[T], worker: asyncio.subprocess.Process, log_path: Path) -> T:
    """`measure`, failing at once with the worker's log if the worker dies meanwhile."""
    measuring = asyncio.ensure_future(measure)
    exited = asyncio.ensure_future(worker.wait())
    try:
        await asyncio.wait({measuring, exited}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        exited.cancel()
    if not measuring.done():
        measuring.cancel()
        raise RuntimeError(f"the worker exited with code {worker.returncode}:\n{_tail(log_path)}")
    return measuring.result()


async def bench_stack(plan: Plan, root: Path) -> list[Row]:
    rows: list[Row] = []
    async with private_stack(root, TASK_QUEUE) as stack:
        client = await connect(stack.settings)
        # Idempotent: the stack's server registered them at its start.
        await ensure_search_attributes(client, stack.settings.temporal_namespace)
        log_path = root / "worker.log"
        # First: it waits until the register holds no undelivered notification, and the
        # measures without deliveries below leave theirs undelivered for good.
        rows += await measure_end_to_end(stack, client, plan, root / "worker-delivering.log")
        async with bench_worker(stack, client, log_path) as worker:

            async def run(measure: Awaitable[T]) -> T:
                return await watched(measure, worker, log_path)

            # Not measured: the first workflows of a kind pay for imports and caches.
            for kind in (DOSSIER, LOCAL_STEP, NORMAL_STEP, BARE):
                await run(lifecycles_per_second(client, kind, plan.lanes, Window.after(0, 2)))
            rows.append(await run(measure_lifecycles(client, plan, DOSSIER, BARE)))
            rows += await run(measure_latency(client, plan))
            rows.append(await run(measure_intake(client, plan)))
            rows.append(await run(measure_lifecycles(client, plan, LOCAL_STEP, NORMAL_STEP)))
        # A fresh worker: its idle resident set is that of a worker just started.
        async with bench_worker(stack, client, log_path) as worker:
            rows.append(await watched(measure_memory(client, worker.pid, plan), worker, log_path))
    return rows


async def measure_end_to_end(
    stack: PrivateStack, client: Client, plan: Plan, log_path: Path
) -> list[Row]:
    """Whole lifecycles with their letters laid out and their deliveries drained to the
    outbox, against bare lifecycles on the same worker; the updates' latency meanwhile;
    the CPU of each process per lifecycle (`tools.bench_delivery`)."""
    latencies: list[float] = []

    def lifecycle(kind: Kind) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            handle = await _start_settled(client, kind)
            for name, payload in _events(_today()):
                start = time.perf_counter()
                await _update(handle, name, payload)
                if kind is DOSSIER:
                    latencies.append(time.perf_counter() - start)

        return run

    extra_env = {DELIVER_ENV: "1"}
    async with (
        bench_worker(stack, client, log_path, extra_env) as worker,
        register_pool(stack) as pool,
    ):
        processes = processes_of(stack, worker.pid)

        async def measured(kind: Kind, count: int) -> EndToEnd:
            return await watched(
                end_to_end(lifecycle(kind), count, plan.lanes, pool, processes), worker, log_path
            )

        await measured(DOSSIER, plan.lanes)  # not counted: imports, caches, the renderer
        await measured(BARE, plan.lanes)
        latencies.clear()
        # Alternating rounds, as the other measures: what one side leaves the server to do
        # (closing, timers, visibility) falls on both alike.
        subjects, baselines = await interleaved(
            plan.rounds,
            lambda: measured(DOSSIER, plan.end_to_end),
            lambda: measured(BARE, plan.end_to_end),
        )
    _show_rounds(
        "end to end, VisaApplication vs bare",
        [each.per_second for each in subjects],
        [each.per_second for each in baselines],
        _rate,
    )
    dossier, bare = combined(subjects), combined(baselines)
    print(f"  {cpu_line('VisaApplication, delivered', dossier)}", flush=True)
    print(f"  {cpu_line('bare', bare)}", flush=True)
    cpu = sum(dossier.cpu_ms.values())
    ratio = dossier.per_second / bare.per_second
    return [
        Row(
            f"end to end: lifecycles/s, letters and deliveries drained, {plan.lanes} in flight",
            _rate(dossier.per_second),
            _rate(bare.per_second),
            ratio,
            f">= {END_TO_END_GOAL}",
            ratio >= END_TO_END_GOAL,
        ),
        *(
            Row(
                f"update latency {name} while delivering",
                _ms(_percentile(latencies, fraction)),
                "-",
                float("nan"),
                *_p99_goal(name, _percentile(latencies, fraction)),
            )
            for name, fraction in (("p50", 0.50), ("p99", 0.99))
        ),
        Row(
            "CPU per lifecycle, delivered: "
            + ", ".join(f"{role} {ms:.0f}" for role, ms in dossier.cpu_ms.items()),
            f"{cpu:.0f} ms",
            f"{sum(bare.cpu_ms.values()):.0f} ms bare",
            cpu / sum(bare.cpu_ms.values()),
        ),
    ]


async def bench_end_to_end(plan: Plan, root: Path) -> list[Row]:
    async with private_stack(root, TASK_QUEUE) as stack:
        client = await connect(stack.settings)
        await ensure_search_attributes(client, stack.settings.temporal_namespace)
        return await measure_end_to_end(stack, client, plan, root / "worker-delivering.log")


async def bench_memory(plan: Plan, root: Path) -> list[Row]:
    """The memory measure alone (`--memory`): a worker holding `plan.dossiers` open."""
    async with private_stack(root, TASK_QUEUE) as stack:
        client = await connect(stack.settings)
        await ensure_search_attributes(client, stack.settings.temporal_namespace)
        log_path = root / "worker.log"
        async with bench_worker(stack, client, log_path) as worker:
            return [await watched(measure_memory(client, worker.pid, plan), worker, log_path)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--core", action="store_true", help="only the core benchmark")
    parser.add_argument("--letters", action="store_true", help="only the letters benchmark")
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument(
        "--end-to-end", action="store_true", help="only the end-to-end measures (and the core)"
    )
    parser.add_argument(
        "--memory", action="store_true", help="only the memory measure (and the core)"
    )
    parser.add_argument(
        "--dossiers",
        type=int,
        help=f"open dossiers for the memory measure (default {FULL.dossiers}, "
        f"{QUICK.dossiers} with --quick)",
    )
    args = parser.parse_args(argv)
    interrupt_on_stop_signals()  # a benchmark stopped by SIGTERM leaves no process behind
    plan = QUICK if args.quick else FULL
    if args.dossiers is not None:
        if args.dossiers < 1:
            parser.error("--dossiers must be at least 1")
        plan = replace(plan, dossiers=args.dossiers)
    started = time.perf_counter()
    if args.letters:
        rows = letter_rows(plan.letter_rounds)
    else:
        rows = [bench_core(), *([] if args.core else letter_rows(plan.letter_rounds))]
    if not (args.core or args.letters):
        try:
            with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
                bench = (
                    bench_end_to_end
                    if args.end_to_end
                    else bench_memory
                    if args.memory
                    else bench_stack
                )
                rows += asyncio.run(bench(plan, Path(tmp)))
        except KeyboardInterrupt:
            print("interrupted: every process the benchmark started is stopped", file=sys.stderr)
            return 130
    print()
    _print_table(rows)
    print(_machine())
    print(f"run: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
