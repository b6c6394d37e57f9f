"""`make fuzz`: hypothesis-generated inputs against the core, then against the live stack.

1. The core: `tests/unit/test_fuzz.py` with FUZZ_EXAMPLES (10,000 per dossier kind).
2. The live stack: a dev server, an embedded PostgreSQL and `python -m workers` under a
   temporary directory (free ports); dossiers of every kind, then SIGNALS generated inputs
   sent as signals. It then counts the stuck workflows (a workflow task failing, or a
   query unanswered) and the signals missing from `dossier_event` (an input neither
   accepted nor recorded as refused). Exits 1 unless both are 0.

    python -m tools.fuzz [--examples 10000] [--signals 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from temporalio.client import Client, WorkflowHandle

from scripts.devstack import start_worker_process, stop_worker_process, wait_for_worker
from tools.fuzz_inputs import KINDS, inputs
from tools.private_stack import private_stack
from workers.client import connect
from workers.settings import Settings

TASK_QUEUE = "fuzz"
DOSSIERS_PER_KIND = 5


def generated_signals(count: int) -> list[tuple[int, str, Any]]:
    """`count` (kind index, event name, payload) drawn by hypothesis, every kind alike."""
    drawn: list[tuple[int, str, Any]] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.integers(min_value=0, max_value=len(KINDS) - 1), st.data())
    def draw(kind: int, data: st.DataObject) -> None:
        name, payload, _ = data.draw(inputs(KINDS[kind][0]))
        drawn.append((kind, name, payload))

    draw()
    return drawn[:count]


def _fresh(raw: dict[str, Any], kind: int) -> tuple[str, str, dict[str, Any]]:
    """A start input of `kind` dated today, under a fresh id: (workflow type, id, input)."""
    today = datetime.now(UTC).date()
    suffix = uuid.uuid4().hex[:8]
    if kind == 0:
        application_id = f"FUZZ-{suffix}"
        return "VisaApplication", f"visa-{application_id}", {
            **raw, "application_id": application_id,
            "complete_file_date": (today - timedelta(days=10)).isoformat(),
        }  # fmt: skip
    contract_id = f"FUZZ-{suffix}"
    signed = (today - timedelta(days=10)).isoformat()
    if kind == 1:
        return "CaiContract", f"cai-{contract_id}", {
            **raw, "contract_id": contract_id, "signed_on": signed
        }  # fmt: skip
    children = [
        {**child, "birth_date": (today - timedelta(days=8 * 365)).isoformat()}
        for child in raw["children"]
    ]
    return "CaiFamilyContract", f"caif-{contract_id}", {
        **raw, "contract_id": contract_id, "signed_on": signed, "children": children
    }  # fmt: skip


async def _stuck(handle: WorkflowHandle[Any, Any]) -> bool:
    described = await handle.describe()
    pending = described.raw_description.pending_workflow_task
    if pending.attempt > 1:
        return True  # a workflow task failing again and again
    try:
        await asyncio.wait_for(handle.query("state"), 10)
    except Exception:
        return described.status is None or described.status.name == "RUNNING"
    return False


async def live(signals: int, root: Path) -> int:
    async with private_stack(root, TASK_QUEUE) as stack:
        return await _live(signals, stack.settings, stack.database_url)


async def _live(signals: int, settings: Settings, url: str) -> int:
    worker = await start_worker_process(settings, settings.temporal_address, url)
    try:
        client: Client = await connect(settings)
        await wait_for_worker(client, worker, settings)
        handles: dict[int, list[WorkflowHandle[Any, Any]]] = {}
        for kind, (_, raw, _) in enumerate(KINDS):
            for _ in range(DOSSIERS_PER_KIND):
                workflow_type, workflow_id, data = _fresh(raw, kind)
                handle = await client.start_workflow(
                    workflow_type, data, id=workflow_id, task_queue=TASK_QUEUE
                )
                handles.setdefault(kind, []).append(handle)
        sent: Counter[str] = Counter()
        for index, (kind, name, payload) in enumerate(generated_signals(signals)):
            handle = handles[kind][index % DOSSIERS_PER_KIND]
            await handle.signal(name, payload)
            sent[handle.id] += 1
        everyone = [handle for group in handles.values() for handle in group]
        # Signals are applied once the worker has them: wait until the register has them all.
        connection = await asyncpg.connect(url)
        try:
            deadline = asyncio.get_running_loop().time() + 300
            while True:
                rows = await connection.fetch(
                    """SELECT workflow_id, count(*) AS n, count(*) FILTER (WHERE accepted) AS ok
                       FROM dossier_event WHERE source = 'signal' GROUP BY workflow_id"""
                )
                recorded = {row["workflow_id"]: (row["n"], row["ok"]) for row in rows}
                closed = [
                    h.id
                    for h in everyone
                    if (await h.describe()).status.name != "RUNNING"  # type: ignore[union-attr]
                ]
                missing = {
                    wid: n - recorded.get(wid, (0, 0))[0]
                    for wid, n in sent.items()
                    if wid not in closed and recorded.get(wid, (0, 0))[0] < n
                }
                if not missing or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(1)
        finally:
            await connection.close()
        stuck = [h.id for h in everyone if await _stuck(h)]
        accepted = sum(ok for _, ok in recorded.values())
        total = sum(n for n, _ in recorded.values())
        print(
            f"live: {len(everyone)} dossiers, {sum(sent.values())} signals sent, "
            f"{total} recorded ({accepted} accepted, {total - accepted} refused), "
            f"{len(closed)} closed by their inputs, stuck: {len(stuck)}, "
            f"unrecorded: {sum(missing.values())}",
            flush=True,
        )
        return 0 if not stuck and not missing else 1
    finally:
        await stop_worker_process(worker)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz", description=__doc__)
    parser.add_argument("--examples", type=int, default=10_000, help="per dossier kind")
    parser.add_argument("--signals", type=int, default=1_000)
    args = parser.parse_args(argv)
    core = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/test_fuzz.py"],
        env={**os.environ, "FUZZ_EXAMPLES": str(args.examples)},
        check=False,
    )
    print(f"core: {args.examples} examples per dossier kind, exit {core.returncode}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        live_code = asyncio.run(live(args.signals, Path(tmp)))
    return 1 if core.returncode or live_code else 0


if __name__ == "__main__":
    sys.exit(main())
