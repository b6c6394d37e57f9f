"""Personal data is sealed (docs/contract.md): a whole visa lifecycle on `make run`'s parts (the
dev server's SQLite file, PostgreSQL, `python -m workers` and `python -m workers.codec_server`
as processes) leaves no byte of the applicant's name, birth date or free text in Temporal's
database, in the worker's log, in a search attribute, a summary or a failure message; the
codec server, with its token, gives them back."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError

from scripts.devstack import (
    TemporalDevServer,
    process_env,
    start_codec_server,
    stop_worker_process,
    wait_for_worker,
)
from scripts.ports import free_port
from tests.conftest import visa_input
from tests.e2e.remote_codec import remote_data_converter
from tools.private_stack import private_stack
from workers.settings import Settings

TASK_QUEUE = "sealed"
TOKEN = "sealed-codec-token"
NAME = "Zoubida Benkirane-Quatremains"
BIRTH = "1987-04-23"
MEDICAL = "hospitalisée pour une appendicectomie"
WAIT = 20.0
CONTINUE_AFTER = 150  # history events


@dataclass
class Sealed:
    server: TemporalDevServer
    settings: Settings
    codec_url: str
    log_path: Path
    worker: asyncio.subprocess.Process


@pytest.fixture(scope="module")
async def sealed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sealed]:
    root = tmp_path_factory.mktemp("sealed")
    # Continue-as-new is suggested early, so that a dossier carries its state across runs
    # within a test.
    suggest = {"limit.historyCount.suggestContinueAsNew": str(CONTINUE_AFTER)}
    async with private_stack(root, TASK_QUEUE, dynamic_config=suggest) as stack:
        settings, server = stack.settings, stack.server
        codec_address = f"127.0.0.1:{free_port()}"
        codec = await start_codec_server(settings, codec_address, None, auth=f"token:{TOKEN}")
        log_path = root / "worker.log"
        with log_path.open("wb") as log:
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "workers",
                env=process_env(settings, server.address, stack.database_url),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        try:
            yield Sealed(server, settings, f"http://{codec_address}", log_path, worker)
        finally:
            await stop_worker_process(worker)
            codec.terminate()
            await codec.wait()


def _application(prefix: str, today: date, **overrides: Any) -> dict[str, Any]:
    """A family-reunification application from Morocco, its complete file 30 days ago."""
    application = visa_input(
        today - timedelta(days=30),
        application_id=f"RBT-{prefix}-{uuid.uuid4().hex[:8]}",
        applicant={"full_name": NAME, "birth_date": BIRTH, "nationality": "MA",
                   "languages": ["ar", "fr"]},
        visa_application_date=None,
    )  # fmt: skip
    return {**application, **overrides}


async def _until(handle: WorkflowHandle[Any, Any], stage: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        state: dict[str, Any] = await handle.query("state")
        if state.get("stage") == stage:
            return state
        assert asyncio.get_running_loop().time() < deadline, state.get("stage")
        await asyncio.sleep(0.1)


@pytest.mark.e2e
@pytest.mark.rule("D5")
@pytest.mark.rule("F4")
async def test_no_personal_data_in_clear_anywhere_but_through_the_codec(sealed: Sealed) -> None:
    upstream = await Client.connect(
        sealed.server.address, data_converter=remote_data_converter(sealed.codec_url, TOKEN)
    )
    await wait_for_worker(upstream, sealed.worker, sealed.settings)
    today = datetime.now(UTC).date()
    day = (today - timedelta(days=20)).isoformat
    application = _application(
        "SEALED", today, visa_application_date=(today - timedelta(days=25)).isoformat()
    )
    workflow_id = f"visa-{application['application_id']}"
    handle = await upstream.start_workflow(
        "VisaApplication", application, id=workflow_id, task_queue=TASK_QUEUE
    )
    await _until(handle, "awaiting_evaluation")
    steps: list[tuple[str, dict[str, Any]]] = [
        (
            "language_evaluation",
            {"evaluated_on": day(), "oral_score": 20, "written_score": 10, "evaluator": "OFII"},
        ),
        (
            "values_evaluation",
            {
                "evaluated_on": day(),
                "language_used": "ar",
                "questions_asked": 6,
                "correct_answers": 6,
                "evaluator": "OFII",
            },
        ),
        (
            "training_prescribed",
            {"kind": "language", "hours": 80, "provider": "IF", "notified_on": day()},
        ),
        ("training_started", {"kind": "language", "started_on": day()}),
        (
            "training_absence",
            {"kind": "language", "absent_on": day(), "legitimate_reason": MEDICAL},
        ),
        (
            "training_completed",
            {
                "kind": "language",
                "completed_on": day(),
                "hours_attended": 80,
                "attestation_ref": "ATT-1",
            },
        ),
    ]
    for name, payload in steps:
        await handle.execute_update(name, payload)
    # A refusal: its message travels in a failure, sealed too.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            "visa_decision",
            {"decision": "refused", "decided_on": day(), "grounds": ["evaluation_result"]},
        )
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.message.startswith("F3: grounds:")
    await handle.execute_update(
        "language_evaluation",
        {"evaluated_on": day(), "oral_score": 50, "written_score": 20, "evaluator": "OFII"},
    )
    await handle.execute_update(
        "visa_decision", {"decision": "issued", "decided_on": today.isoformat()}
    )
    final = await handle.result()
    assert final["stage"] == "visa_issued"

    # Through the codec server, with its token, the dossier reads in full.
    state = await handle.query("state")
    assert state["input"]["applicant"]["full_name"] == NAME
    assert state["input"]["applicant"]["birth_date"] == BIRTH
    assert state["language"]["training"]["absences"][0]["legitimate_reason"] == MEDICAL

    # Without it, nothing personal: not in the search attributes, the summary, the
    # failures of the history, nor any byte of Temporal's database.
    bare = await Client.connect(sealed.server.address)
    described = await bare.get_workflow_handle(workflow_id).describe()
    visible = " ".join(
        [
            str(described.raw_description.workflow_execution_info.search_attributes),
            str(described.raw_description.execution_config),
            str(described.raw_description.workflow_extended_info),
        ]
    )
    history = await bare.get_workflow_handle(workflow_id).fetch_history()
    failures = [
        str(event.workflow_execution_update_completed_event_attributes.outcome.failure)
        for event in history.events
        if event.HasField("workflow_execution_update_completed_event_attributes")
    ]
    assert any("Encoded failure" in failure for failure in failures), failures
    database = b"".join(
        path.read_bytes() for path in (sealed.server.log_path.parent).glob("temporal.db*")
    )
    assert b"binary/encrypted" in database
    worker_log = sealed.log_path.read_bytes()
    assert b"worker started" in worker_log
    for secret in (NAME, BIRTH, MEDICAL):
        encoded = secret.encode()
        assert encoded not in database, f"{secret!r} in Temporal's database"
        assert encoded not in worker_log, f"{secret!r} in the worker's log"
        assert secret not in visible, f"{secret!r} in a search attribute or summary"
        assert not any(secret in failure for failure in failures)


@pytest.mark.e2e
async def test_a_forged_carried_state_is_refused_at_start(sealed: Sealed) -> None:
    """The second argument is for continue-as-new only: handed in at a first start, it
    would skip validation and the one-dossier-per-id claim."""
    upstream = await Client.connect(
        sealed.server.address, data_converter=remote_data_converter(sealed.codec_url, TOKEN)
    )
    application_id = f"RBT-FORGED-{uuid.uuid4().hex[:8]}"
    forged = {"state": {"stage": "visa_issued"}, "reference": {}, "changes": 0}
    handle = await upstream.start_workflow(
        "VisaApplication",
        args=[{"application_id": application_id}, forged],
        id=f"visa-{application_id}",
        task_queue=TASK_QUEUE,
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InputRejected"
    assert cause.message.startswith("contract: carried: a carried state is accepted only")


@pytest.mark.e2e
@pytest.mark.rule("B6")
async def test_a_real_continue_as_new_carries_the_sealed_state(sealed: Sealed) -> None:
    upstream = await Client.connect(
        sealed.server.address, data_converter=remote_data_converter(sealed.codec_url, TOKEN)
    )
    today = datetime.now(UTC).date()
    application = _application("CAN", today)
    handle = await upstream.start_workflow(
        "VisaApplication",
        application,
        id=f"visa-{application['application_id']}",
        task_queue=TASK_QUEUE,
    )
    first_run = handle.result_run_id
    await _until(handle, "awaiting_evaluation")
    filed_on = (today - timedelta(days=20)).isoformat()
    await handle.execute_update("visa_application_filed", {"filed_on": filed_on})
    # Refused inputs pile up history until the server suggests continuing as new (a step
    # is a handful of events: how many signals that takes depends on how they batch).
    for _ in range(200):
        await handle.signal("training_started", {"kind": "language", "started_on": "x"})
        if (await upstream.get_workflow_handle(handle.id).describe()).run_id != first_run:
            break
    deadline = asyncio.get_running_loop().time() + WAIT
    while (await upstream.get_workflow_handle(handle.id).describe()).run_id == first_run:
        assert asyncio.get_running_loop().time() < deadline, "never continued as new"
        await asyncio.sleep(0.2)
    latest = upstream.get_workflow_handle(handle.id)
    state = await latest.query("state")
    assert state["input"]["applicant"]["full_name"] == NAME
    assert state["visa_application_date"] == filed_on  # the accepted fact crossed over
    assert len(state["rejected_inputs"]) >= 1 and state["stage"] == "awaiting_evaluation"
