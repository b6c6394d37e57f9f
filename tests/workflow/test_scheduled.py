"""`SessionPlanning` on the time-skipping server with the real activities on the real
register: each waiting signatory is convened once, a closed contract does not fail the run,
and a retried planning activity books no second seat."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.reference import ReferenceActivities
from activities.scheduled import ScheduledActivities
from models.sessions import PlanSessions, Seat, SeatsToRelease, Service
from tests.conftest import Harness, cai_input, family_input
from workers.main import worker_activities, workflow_runner
from workflows import WORKFLOWS

# Two seats a half day: three signatories fill the first morning and overflow.
PLAN = {
    "skills_assessment": {
        "capacity": 2,
        "slots": ["morning", "afternoon"],
        "weekdays": [0, 1, 2, 3, 4],
        "days_ahead": 7,
        "horizon_days": 28,
    },
    "parents_training": {
        "capacity": 12,
        "slots": ["day"],
        "weekdays": [2],
        "days_ahead": 7,
        "horizon_days": 56,
    },
}


class Planner(Harness):
    """A harness whose reference data holds one platform of this test alone, so that the
    dossiers other tests leave in the shared register are never planned here."""

    platform: str

    async def plan(self, service: str) -> dict[str, Any]:
        # A run takes minutes, not the year the contracts' timers would skip to while its
        # convocations are delivered.
        with self.env.auto_time_skipping_disabled():
            result: dict[str, Any] = await self.client.execute_workflow(
                "SessionPlanning",
                {"service": service, "platforms": [self.platform]},
                id=f"plan-{uuid.uuid4()}",
                task_queue=self.task_queue,
                result_type=dict,
            )
        return result

    async def state(self, handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
        state: dict[str, Any] = await handle.query("state")
        return state

    async def waiting(self, handle: WorkflowHandle[Any, Any]) -> None:
        """Until the register lists the dossier's signatories as waiting for a convocation."""

        async def projected() -> bool:
            row = await self.dossier(handle.id)
            return row is not None and bool(row["waiting"])

        await self.until(projected)


@pytest.fixture
async def planner(
    time_env: WorkflowEnvironment, pool: asyncpg.Pool, tmp_path: Path
) -> AsyncIterator[Planner]:
    platform = f"OFII Test {uuid.uuid4().hex[:8]}"
    override = tmp_path / "reference.json"
    override.write_text(json.dumps({"platforms": {platform: PLAN}}), encoding="utf-8")
    task_queue = f"test-{uuid.uuid4()}"
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=worker_activities(pool, override, tmp_path / "reports"),
    ):
        harness = Planner(time_env, pool, task_queue)
        harness.platform = platform
        try:
            yield harness
        finally:
            await harness.close()


@pytest.mark.rule("H1")
@pytest.mark.rule("H5")
async def test_each_waiting_signatory_is_convened_once_and_a_closed_contract_is_reported(
    planner: Planner,
) -> None:
    today = await planner.today()
    handles = [
        await planner.start_cai(cai_input(today, platform=planner.platform)) for _ in range(3)
    ]
    closed = await planner.start_cai(cai_input(today, platform=planner.platform))
    for handle in [*handles, closed]:
        await planner.waiting(handle)
    await closed.terminate("contract withdrawn before the planning run")

    first = await planner.plan("skills_assessment")
    assert sorted(seat["workflow_id"] for seat in first["convened"]) == sorted(
        h.id for h in handles
    )
    # Two seats a half day: the first morning fills, the others overflow to the afternoon.
    seated = first["convened"] + [failure["seat"] for failure in first["failed"]]
    assert sorted(seat["slot"] for seat in seated) == [
        "afternoon",
        "afternoon",
        "morning",
        "morning",
    ]
    assert len({seat["session_on"] for seat in seated}) == 1
    assert [failure["seat"]["workflow_id"] for failure in first["failed"]] == [closed.id]
    counts = first["platforms"][planner.platform]
    assert (counts["waiting"], counts["assigned"], counts["unassigned"]) == (4, 4, 0)
    # The undelivered convocation's seat is given back.
    seats = await planner.pool.fetch(
        "SELECT workflow_id FROM session_seat WHERE platform = $1", planner.platform
    )
    assert sorted(row["workflow_id"] for row in seats) == sorted(h.id for h in handles)

    # Whether the register already shows them convened or still waiting with a seat to come,
    # nobody is convened a second time; the closed contract is reported again.
    second = await planner.plan("skills_assessment")
    assert second["convened"] == []
    assert [failure["seat"]["workflow_id"] for failure in second["failed"]] == [closed.id]

    for handle in handles:
        state = await planner.state(handle)
        assert state["skills_assessment"]["status"] == "convened"
        assert len(state["skills_assessment"]["convocations"]) == 1
        assert state["rejected_inputs"] == []
        assert await planner.until_kind(handle.id, "skills_assessment_convocation") == ["applicant"]


@pytest.mark.rule("G2")
async def test_both_parents_of_a_family_are_convened_to_a_parents_training_day(
    planner: Planner,
) -> None:
    today = await planner.today()
    handle = await planner.start_family(family_input(today, platform=planner.platform))
    await planner.waiting(handle)

    first = await planner.plan("parents_training")
    convened = {seat["person_id"]: seat for seat in first["convened"]}
    assert sorted(convened) == ["P1", "P2"]
    session_on = date.fromisoformat(convened["P1"]["session_on"])
    assert session_on.weekday() == 2 and session_on >= today + timedelta(days=7)
    assert (await planner.plan("parents_training"))["convened"] == []

    async def both_convened() -> bool:
        state = await planner.state(handle)
        return all(p["status"] == "convened" for p in state["parents"].values())

    await planner.until(both_convened)
    state = await planner.state(handle)
    assert [len(p["convocations"]) for p in state["parents"].values()] == [1, 1]
    assert await planner.until_kind(handle.id, "parents_training_convocation") == [
        "applicant",
        "applicant",
    ]


@pytest.mark.rule("H1")
async def test_a_retried_planning_activity_books_the_same_seats(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    platform = f"OFII Test {uuid.uuid4().hex[:8]}"
    override = tmp_path / "reference.json"
    override.write_text(json.dumps({"platforms": {platform: PLAN}}), encoding="utf-8")
    activities = ScheduledActivities(pool, ReferenceActivities(override))
    run_on = date(2030, 1, 7)
    people = [f"cai-RETRY-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for index, workflow_id in enumerate(people):
        await pool.execute(
            """INSERT INTO dossier (workflow_id, first_run_id, kind, reference, stage, version,
                                    waiting)
               VALUES ($1, 'run', 'cai_contract', $1, 'in_progress', 1, $2)""",
            workflow_id,
            [
                {
                    "service": "skills_assessment",
                    "person_id": "",
                    "platform": platform,
                    "due": (run_on + timedelta(days=60 + index)).isoformat(),
                    "language": "fr",
                }
            ],
        )
    request = PlanSessions(
        service=Service.SKILLS_ASSESSMENT, run_on=run_on, planned_by="run-1", platforms=[platform]
    )
    first = await activities.plan_sessions(request)
    again = await activities.plan_sessions(request)
    assert [seat.workflow_id for seat in first.seats] == people
    assert again.seats == first.seats
    other_run = await activities.plan_sessions(request.model_copy(update={"planned_by": "run-2"}))
    assert other_run.seats == []
    assert other_run.platforms[platform].already_seated == 3
    booked = await pool.fetchval("SELECT count(*) FROM session_seat WHERE platform = $1", platform)
    assert booked == 3


@pytest.mark.rule("H1")
@pytest.mark.rule("H2")
async def test_a_refused_convocation_gives_its_seat_back_and_a_retry_convenes_nobody_twice(
    planner: Planner,
) -> None:
    """Convocations go by update: the contract's refusal (an exempt signatory) is known at
    once and its seat released; the same batch retried convenes the others only once."""
    today = await planner.today()
    waiting = await planner.start_cai(cai_input(today, platform=planner.platform))
    exempt = await planner.start_cai(
        cai_input(
            today,
            platform=planner.platform,
            signatory={
                "full_name": "Fatma Kaya",
                "birth_date": "1940-01-01",
                "nationality": "TR",
                "languages": ["tr"],
            },
        )
    )
    session_on = today + timedelta(days=8)
    seats = [
        Seat(
            session_id=f"S-{uuid.uuid4().hex[:6]}",
            service=Service.SKILLS_ASSESSMENT,
            platform=planner.platform,
            session_on=session_on,
            slot="morning",
            workflow_id=handle.id,
            due=today + timedelta(days=300),
        )
        for handle in (waiting, exempt)
    ]
    for seat in seats:
        await planner.pool.execute(
            """INSERT INTO session_seat (session_id, service, platform, session_on,
                                         workflow_id, person_id, planned_by)
               VALUES ($1, 'skills_assessment', $2, $3, $4, '', 'run-1')""",
            seat.session_id,
            seat.platform,
            seat.session_on,
            seat.workflow_id,
        )
    activities = ScheduledActivities(planner.pool, ReferenceActivities(None))
    environment = ActivityEnvironment(client=planner.client)
    batch = SeatsToRelease(planned_by="run-1", seats=seats)
    for _ in range(2):  # the second run stands for a retried activity
        failed = await environment.run(activities.convene_seats, batch)
        assert [f.seat.workflow_id for f in failed] == [exempt.id]
        assert failed[0].error.startswith("H2:")
    rows = await planner.pool.fetch(
        "SELECT workflow_id FROM session_seat WHERE session_id = ANY($1::text[])",
        [seat.session_id for seat in seats],
    )
    assert [row["workflow_id"] for row in rows] == [waiting.id]
    state = await planner.state(waiting)
    assert len(state["skills_assessment"]["convocations"]) == 1


@pytest.mark.rule("H1")
async def test_a_run_interrupted_after_booking_gives_its_seats_back_to_the_next_run(
    planner: Planner,
) -> None:
    today = await planner.today()
    handle = await planner.start_cai(cai_input(today, platform=planner.platform))
    await planner.waiting(handle)
    # A run booked a seat two hours ago and died before convening anyone.
    await planner.pool.execute(
        """INSERT INTO session_seat (session_id, service, platform, session_on, workflow_id,
                                     person_id, planned_by, assigned_at)
           VALUES ('S-LOST', 'skills_assessment', $1, $2, $3, '', 'run-killed',
                   now() - interval '2 hours')""",
        planner.platform,
        today + timedelta(days=9),
        handle.id,
    )
    result = await planner.plan("skills_assessment")
    assert [seat["workflow_id"] for seat in result["convened"]] == [handle.id]
    assert not await planner.pool.fetchval(
        "SELECT count(*) FROM session_seat WHERE session_id = 'S-LOST'"
    )
