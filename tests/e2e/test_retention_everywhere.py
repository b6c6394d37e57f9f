"""Nothing personal outlives its purpose (docs/production.md, "Personal data is sealed"): on
`make run`'s parts (the dev server's SQLite file, the embedded PostgreSQL, `python -m
workers` and `python -m workers.codec_server` as processes, the workstation's outbox),
dossiers with a distinctive name, birth date and free text are run to their end — one
closed, one rejected at its start, one never closed — and aged past their periods; the
`retention` schedule, triggered, leaves none of those strings in the register (every
table), Temporal's database, the outbox or any log of the stack, and the codec server
shows the dossier's history as erased.

The dev server has no archival (`temporal server start-dev` takes no archival
configuration): an archive holds the same sealed history as Temporal's database, which the
destroyed data key no longer opens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import asyncpg
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)

from activities.database import open_pool
from scripts.devstack import (
    process_env,
    start_codec_server,
    stop_worker_process,
    wait_for_worker,
)
from scripts.ports import free_port
from scripts.schedules import ensure_schedules
from tests.conftest import visa_input
from tools.private_stack import PrivateStack, private_stack
from workers.client import connect

TASK_QUEUE = "retention-e2e"
TOKEN = "retention-codec-token"
NAME = "Zoubeida Quatrebarbes-Lhomme"
BIRTH = "1986-11-29"
REASON = "convalescence après une opération du genou"
DETAIL = "inondations dans la vallée du Souss"
SECRETS = (NAME, BIRTH, REASON, DETAIL)
WAIT = 30.0


@dataclass
class Stack:
    private: PrivateStack
    client: Client
    pool: asyncpg.Pool
    codec_url: str
    worker: asyncio.subprocess.Process

    @property
    def root(self) -> Path:
        return self.private.root


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    root = tmp_path_factory.mktemp("retention")
    async with private_stack(root, TASK_QUEUE) as private:
        settings = private.settings
        codec_address = f"127.0.0.1:{free_port()}"
        with (root / "codec-server.log").open("wb") as codec_log:
            codec = await start_codec_server(
                settings, codec_address, None, auth=f"token:{TOKEN}", output=codec_log
            )
        with (root / "worker.log").open("wb") as log:
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "workers",
                env=process_env(settings, private.server.address, private.database_url),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        pool = await open_pool(private.database_url, migrated=False)
        try:
            client = await connect(settings)
            await wait_for_worker(client, worker, settings)
            await ensure_schedules(client, settings)
            yield Stack(private, client, pool, f"http://{codec_address}", worker)
        finally:
            await pool.close()
            await stop_worker_process(worker)
            codec.terminate()
            await codec.wait()


def _application(today: date, **overrides: Any) -> dict[str, Any]:
    application = visa_input(
        today - timedelta(days=30),
        application_id=f"RBT-RET-{uuid.uuid4().hex[:8]}",
        applicant={"full_name": NAME, "birth_date": BIRTH, "nationality": "MA",
                   "languages": ["ar", "fr"]},
        visa_application_date=(today - timedelta(days=25)).isoformat(),
    )  # fmt: skip
    return {**application, **overrides}


async def _until(what: str, check: Any) -> Any:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not (found := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"never reached: {what}"
        await asyncio.sleep(0.2)
    return found


async def _all_delivered(pool: asyncpg.Pool, workflow_ids: list[str]) -> bool:
    waiting = await pool.fetchval(
        """SELECT count(*) FROM notification
           WHERE workflow_id = ANY($1) AND delivered_at IS NULL AND abandoned_by IS NULL""",
        workflow_ids,
    )
    return bool(waiting == 0)


async def _start(stack: Stack, application: dict[str, Any]) -> WorkflowHandle[Any, Any]:
    workflow_id = f"visa-{application['application_id']}"
    return await stack.client.start_workflow(
        "VisaApplication", application, id=workflow_id, task_queue=TASK_QUEUE
    )


async def _closed_dossier(stack: Stack, today: date) -> str:
    """Evaluated, trained with a legitimate absence (its reason), issued: closed."""
    handle = await _start(stack, _application(today))
    day = (today - timedelta(days=20)).isoformat()
    steps: list[tuple[str, dict[str, Any]]] = [
        (
            "language_evaluation",
            {"evaluated_on": day, "oral_score": 20, "written_score": 10, "evaluator": "OFII"},
        ),
        (
            "values_evaluation",
            {
                "evaluated_on": day,
                "language_used": "ar",
                "questions_asked": 6,
                "correct_answers": 6,
                "evaluator": "OFII",
            },
        ),
        (
            "training_prescribed",
            {"kind": "language", "hours": 80, "provider": "IF", "notified_on": day},
        ),
        ("training_started", {"kind": "language", "started_on": day}),
        ("training_absence", {"kind": "language", "absent_on": day, "legitimate_reason": REASON}),
        (
            "training_completed",
            {
                "kind": "language",
                "completed_on": day,
                "hours_attended": 80,
                "attestation_ref": "ATT-1",
            },
        ),
        (
            "language_evaluation",
            {"evaluated_on": day, "oral_score": 50, "written_score": 20, "evaluator": "OFII"},
        ),
        ("visa_decision", {"decision": "issued", "decided_on": today.isoformat()}),
    ]
    await _until("awaiting the evaluation", lambda: _stage_is(handle, "awaiting_evaluation"))
    for name, payload in steps:
        await handle.execute_update(name, payload)
    assert (await handle.result())["stage"] == "visa_issued"
    return handle.id


async def _stage_is(handle: WorkflowHandle[Any, Any], stage: str) -> bool:
    state: dict[str, Any] = await handle.query("state")
    return state.get("stage") == stage


async def _rejected_start(stack: Stack, today: date) -> str:
    """Refused at its start (family reunification names its prefecture): the rejection's
    row holds the whole application."""
    handle = await _start(stack, _application(today, prefecture=None))
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    return handle.id


async def _never_closed(stack: Stack, today: date) -> str:
    """Evaluated, then a training exemption with its detail, then abandoned (terminated)."""
    handle = await _start(stack, _application(today))
    await _until("awaiting the evaluation", lambda: _stage_is(handle, "awaiting_evaluation"))
    day = (today - timedelta(days=20)).isoformat()
    await handle.execute_update(
        "values_evaluation",
        {
            "evaluated_on": day,
            "language_used": "ar",
            "questions_asked": 6,
            "correct_answers": 1,
            "evaluator": "OFII",
        },
    )
    exemption = {
        "decided_on": day,
        "trainings": ["values"],
        "ground": "country_situation",
        "detail": DETAIL,
        "evidence_ref": "NOTE-CONSULAT-7",
    }
    # Refused or not, the detail is recorded in the register.
    with contextlib.suppress(WorkflowUpdateFailedError):
        await handle.execute_update("training_exemption", exemption)
    await handle.terminate("abandoned")
    return handle.id


async def _aged(pool: asyncpg.Pool, closed: str, rejected: str, open_: str) -> None:
    """Past their periods: what years of waiting would do (the owner corrects the dates)."""
    await _until(
        "the closing in the register",
        lambda: pool.fetchval("SELECT closed_at FROM dossier WHERE workflow_id = $1", closed),
    )
    await pool.execute(
        "UPDATE dossier SET closed_at = now() - interval '4 years' WHERE workflow_id = $1", closed
    )
    await _until(
        "the rejected start in the register",
        lambda: pool.fetchval(
            "SELECT 1 FROM dossier_event WHERE workflow_id = $1 AND seq = 0", rejected
        ),
    )
    await pool.execute(
        "UPDATE dossier_event SET received_at = now() - interval '4 years' WHERE workflow_id = $1",
        rejected,
    )
    await pool.execute(
        "UPDATE dossier SET updated_at = now() - interval '6 years' WHERE workflow_id = $1", open_
    )
    await pool.execute(
        "UPDATE dossier_event SET received_at = now() - interval '6 years', "
        "recorded_at = now() - interval '6 years' WHERE workflow_id = $1",
        open_,
    )


async def _triggered_retention(client: Client) -> dict[str, Any]:
    """The `retention` schedule, triggered (not its activity called): its run's result."""
    handle = client.get_schedule_handle("retention")
    before = (await handle.describe()).info.num_actions
    await handle.trigger()

    async def started() -> bool:
        return (await handle.describe()).info.num_actions > before

    await _until("a run of the retention schedule", started)
    action = (await handle.describe()).info.recent_actions[-1].action
    assert isinstance(action, ScheduleActionExecutionStartWorkflow)
    run = client.get_workflow_handle(action.workflow_id, run_id=action.first_execution_run_id)
    done: dict[str, Any] = await run.result()
    return done


async def _register_dump(pool: asyncpg.Pool) -> str:
    """Every row of every table of the register, as text."""
    tables = [
        row["tablename"]
        for row in await pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    assert {"dossier", "dossier_event", "notification", "document", "dossier_key"} <= set(tables)
    rows = [
        row["line"]
        for table in tables
        for row in await pool.fetch(f"SELECT row_to_json(t)::text AS line FROM {table} t")
    ]
    return "\n".join(rows)


def _files(root: Path, pattern: str) -> list[Path]:
    return [path for path in root.rglob(pattern) if path.is_file()]


def _decode(codec_url: str, payload: Payload) -> dict[str, Any]:
    body = json_format.MessageToJson(Payloads(payloads=[payload])).encode()
    request = Request(f"{codec_url}/decode", data=body, method="POST")
    request.add_header("Authorization", f"Bearer {TOKEN}")
    with urlopen(request, timeout=10) as answer:
        [opened] = json_format.ParseDict(json.load(answer), Payloads()).payloads
    shown: dict[str, Any] = json.loads(opened.data)
    return shown


@pytest.mark.e2e
@pytest.mark.rule("J1")
async def test_retention_as_a_schedule_leaves_nothing_personal_anywhere(stack: Stack) -> None:
    today = datetime.now(UTC).date()
    closed = await _closed_dossier(stack, today)
    rejected = await _rejected_start(stack, today)
    open_ = await _never_closed(stack, today)
    outbox = stack.private.settings.data_dir / "outbox"

    # Before: the register and the outbox hold them (the test can see them).
    before = await _register_dump(stack.pool)
    assert all(secret in before for secret in SECRETS), "a secret never reached the register"
    await _until(
        "the letters in the outbox",
        lambda: asyncio.to_thread(
            lambda: any(NAME.encode() in path.read_bytes() for path in _files(outbox, "*"))
        ),
    )
    # Every notification delivered (a year passes before retention): none is written to the
    # outbox after the erasure.
    await _until(
        "every notification delivered",
        lambda: _all_delivered(stack.pool, [closed, rejected, open_]),
    )
    started = (await stack.client.get_workflow_handle(closed).fetch_history()).events[0]
    [start_input] = started.workflow_execution_started_event_attributes.input.payloads
    assert (await asyncio.to_thread(_decode, stack.codec_url, start_input))["applicant"][
        "full_name"
    ] == NAME

    await _aged(stack.pool, closed, rejected, open_)
    done = await _triggered_retention(stack.client)
    assert done["dossiers"] >= 3, done
    causes = {
        row["workflow_id"]: row["erased_at"]
        for row in await stack.pool.fetch(
            "SELECT workflow_id, erased_at FROM dossier_key WHERE workflow_id = ANY($1)",
            [closed, rejected, open_],
        )
    }
    assert all(causes.get(workflow_id) for workflow_id in (closed, open_)), causes

    # After: none of them anywhere.
    register = await _register_dump(stack.pool)
    temporal_db = b"".join(path.read_bytes() for path in _files(stack.root, "temporal.db*"))
    assert b"binary/encrypted" in temporal_db
    outbox_files = _files(outbox, "*")
    logs = _files(stack.root, "*.log") + _files(stack.root / "postgres", "*log*")
    assert {path.name for path in logs} >= {"worker.log", "codec-server.log", "temporal.log"}
    for secret in SECRETS:
        encoded = secret.encode()
        assert secret not in register, f"{secret!r} in the register"
        assert encoded not in temporal_db, f"{secret!r} in Temporal's database"
        for path in outbox_files:
            assert encoded not in path.read_bytes(), f"{secret!r} in the outbox: {path.name}"
        for path in logs:
            assert encoded not in path.read_bytes(), f"{secret!r} in the log {path.name}"
    assert not any(closed in str(path) for path in outbox_files)

    # Through the codec server, with its token: erased, not an error.
    # (within the seconds it trusts a key it read).
    async def erased() -> dict[str, Any] | None:
        shown = await asyncio.to_thread(_decode, stack.codec_url, start_input)
        return shown if "erased" in shown else None

    shown = await _until("the history shown erased", erased)
    assert NAME not in json.dumps(shown)
