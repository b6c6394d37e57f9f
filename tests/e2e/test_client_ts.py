"""The integrator's contract holds for a client in another language: the TypeScript example
(examples/client-ts, the Temporal TypeScript SDK) starts a visa dossier and sends it events
through the codec server with its token, on `make run`'s parts as processes; a rejection
comes back with its rule and field, and a duplicate is an event already applied."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scripts.devstack import start_codec_server, start_worker_process, stop_worker_process
from scripts.ports import free_port
from tests.conftest import visa_input
from tools.private_stack import private_stack

CLIENT = Path(__file__).resolve().parents[2] / "examples" / "client-ts"
TASK_QUEUE = "client-ts"
TOKEN = "client-ts-codec-token"
NPM = shutil.which("npm")
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        NPM is None or NODE is None,
        reason="no Node.js toolchain (node and npm) on this machine: the TypeScript client "
        "example cannot run",
    ),
]


@dataclass
class Stack:
    environ: dict[str, str]


def _build_client() -> None:
    """The client as `.ci/run` builds it: the lock's packages, then the TypeScript compiler."""
    assert NPM is not None
    if not (CLIENT / "node_modules").is_dir():
        subprocess.run([NPM, "ci", "--no-audit", "--no-fund"], cwd=CLIENT, check=True)
    subprocess.run([NPM, "run", "--silent", "build"], cwd=CLIENT, check=True)


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    await asyncio.to_thread(_build_client)
    root = tmp_path_factory.mktemp("client-ts")
    async with private_stack(root, TASK_QUEUE) as private:
        settings, server = private.settings, private.server
        codec_address = f"127.0.0.1:{free_port()}"
        codec = await start_codec_server(settings, codec_address, None, auth=f"token:{TOKEN}")
        worker = await start_worker_process(settings, server.address, private.database_url)
        try:
            yield Stack(
                {
                    "PATH": os.environ.get("PATH", ""),
                    "TEMPORAL_ADDRESS": server.address,
                    "TEMPORAL_NAMESPACE": settings.temporal_namespace,
                    "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
                    "TEMPORAL_CODEC_ENDPOINT": f"http://{codec_address}",
                    "CODEC_TOKEN": TOKEN,
                }
            )
        finally:
            await stop_worker_process(worker)
            codec.terminate()
            await codec.wait()


async def _run_client(
    stack: Stack, tmp_path: Path, application: dict[str, Any], event: str, payload: Any
) -> tuple[int, dict[str, Any]]:
    application_file = tmp_path / "application.json"
    payload_file = tmp_path / f"{event}.json"
    application_file.write_text(json.dumps(application), encoding="utf-8")
    payload_file.write_text(json.dumps(payload), encoding="utf-8")
    assert NODE is not None
    process = await asyncio.create_subprocess_exec(
        NODE,
        str(CLIENT / "dist" / "client.js"),
        str(application_file),
        event,
        str(payload_file),
        env=stack.environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    assert out, err.decode()
    answer: dict[str, Any] = json.loads(out)
    return process.returncode, answer


async def test_the_typescript_client_starts_a_dossier_and_sends_events(
    stack: Stack, tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()
    application = visa_input(today - timedelta(days=3))
    evaluation = {
        "evaluated_on": (today - timedelta(days=1)).isoformat(),
        "oral_score": 30,
        "written_score": 12,
        "evaluator": "OFII Rabat",
    }
    code, answer = await _run_client(
        stack, tmp_path, application, "language_evaluation", evaluation
    )
    assert code == 0, answer
    assert answer["workflow_id"] == f"visa-{application['application_id']}"
    assert answer["started"] is True and answer["stage"] == "awaiting_evaluation"
    assert answer["accepted"] is True and answer["seq"] == 2

    # Sent again after a crash: the dossier is found, the event was already applied.
    code, answer = await _run_client(
        stack, tmp_path, application, "language_evaluation", evaluation
    )
    assert code == 0, answer
    assert answer["started"] is False and answer["accepted"] is False
    assert answer["rejection"]["rule"] == "duplicate" and answer["rejection"]["seq"] == 3

    # A refusal names the rule and the field (D3: never fewer than 40 hours).
    prescription = {
        "kind": "language",
        "hours": 30,
        "provider": "Alliance",
        "notified_on": today.isoformat(),
    }
    code, answer = await _run_client(
        stack, tmp_path, application, "training_prescribed", prescription
    )
    assert code == 3, answer
    rejection = answer["rejection"]
    assert (rejection["rule"], rejection["field"], rejection["event"]) == (
        "D3",
        "hours",
        "training_prescribed",
    )
    assert rejection["seq"] == 4  # every input is numbered, the refused ones too
