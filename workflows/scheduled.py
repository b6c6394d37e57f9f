"""The periodic workflows that the contract's schedules start (docs/operators.md,
"Scheduled workflows").

- `SessionPlanning`: plans the skills-assessment half days (H1, H3, H5) or the days "Droits
  et devoirs des parents" (G2) of each OFII platform, seats the signatories waiting, earliest
  due date first, and convenes each one by a signal to their contract.
- `DeadlineSweep`: the daily `deadline_digest` to each authority (B1–B8, H5).
- `MinistryReport`: the weekly `ministry_report` and its CSV file (J1).
- `RetentionSweep`: the daily erasure of the personal data no longer needed (J1;
  `activities/retention.py`).

They decide nothing themselves: the planning and the digests are pure functions of
`models/`, the register is read and written by activities.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import FailureError

from workflows import operator_language, register

with workflow.unsafe.imports_passed_through():
    from activities.retention import RetentionActivities, RetentionDone
    from activities.scheduled import ScheduledActivities
    from models.notifications import Kind
    from models.operator_text import (
        SERVICES,
        Label,
        format_date,
        phrase,
        service_label,
        titled,
    )
    from models.reporting import (
        ReportRequest,
        ReportResult,
        SweepDeadlines,
        SweepRequest,
        SweepResult,
        WriteReport,
    )
    from models.sessions import (
        FailedConvocation,
        PlannedSessions,
        PlanningRequest,
        PlanningResult,
        PlanSessions,
        Seat,
        SeatsToRelease,
    )

# Schedule ids of the contract; the sweep's and the report's are also the `workflow_id` of
# their notifications, so that each day's digest and each week's report is written once.
SKILLS_ASSESSMENT_SCHEDULE = "skills-assessment-sessions"
PARENTS_TRAINING_SCHEDULE = "parents-training-sessions"
DEADLINE_SWEEP_SCHEDULE = "deadline-sweep"
MINISTRY_REPORT_SCHEDULE = "ministry-report"
RETENTION_SCHEDULE = "retention"

# Convocations go by update, in batches of one activity each (patched in: earlier runs
# signalled each seat).
CONVENE_BY_UPDATE = "convene-by-update"
CONVENE_BATCH = 100
CONVENE_TIMEOUT = timedelta(minutes=10)

# A planning run reads and writes the whole waiting list in one transaction.
PLANNING_TIMEOUT = timedelta(minutes=5)
REPORT_TIMEOUT = timedelta(minutes=5)
# An erasure of a day's due dossiers, in one transaction.
RETENTION_TIMEOUT = timedelta(minutes=30)
RETENTION_SUMMARY = Label(
    "Efface les données personnelles dont la durée de conservation est écoulée (J1)",
    "Erases the personal data past its retention period (J1)",
)

# Set by the schedule on the runs it starts: the time the run was meant for, which a
# backfill sets in the past.
SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


def _nominal_day() -> date:
    """The day a scheduled run stands for (a backfilled run's own day); today otherwise."""
    scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_START_TIME)
    return (scheduled or workflow.now()).date()


@workflow.defn(name="SessionPlanning")
class SessionPlanning:
    """Convene the signatories waiting for a skills assessment or a parents' training day."""

    @workflow.run
    async def run(self, request: PlanningRequest) -> PlanningResult:
        today = workflow.now().date()
        # Nobody is convened to a day already past, whatever a backfill asks.
        run_on = max(request.run_on or today, today)
        planned_by = workflow.info().run_id
        rule = SERVICES[request.service.value].rule or ""
        language = operator_language.current()
        planned: PlannedSessions = await register.call(
            ScheduledActivities.plan_sessions,
            PlanSessions(
                service=request.service,
                run_on=run_on,
                planned_by=planned_by,
                platforms=request.platforms,
            ),
            timeout=PLANNING_TIMEOUT,
            summary=phrase(
                "plan",
                language,
                service=service_label(request.service.value, language),
                date=format_date(run_on, language),
            ),
        )
        if workflow.patched(CONVENE_BY_UPDATE):
            failed = await self._convene_by_update(planned_by, planned.seats, rule)
        else:
            failed = await self._convene_by_signal(planned_by, planned.seats, rule)
        refused = {(f.seat.session_id, f.seat.workflow_id, f.seat.person_id) for f in failed}
        convened = [
            seat
            for seat in planned.seats
            if (seat.session_id, seat.workflow_id, seat.person_id) not in refused
        ]
        workflow.logger.info(
            "%s: %d convened, %d undelivered, %d without a seat",
            request.service.value,
            len(convened),
            len(failed),
            len(planned.unassigned),
        )
        return PlanningResult(
            service=request.service,
            run_on=run_on,
            platforms=planned.platforms,
            convened=convened,
            failed=failed,
            unassigned=planned.unassigned,
        )

    async def _convene_by_update(
        self, planned_by: str, seats: list[Seat], rule: str
    ) -> list[FailedConvocation]:
        """Convene in batches, each one activity: the contract's answer to each update says
        whether it took the convocation, and a refused seat is given back at once. Batches
        keep every run far under Temporal's limits on pending calls."""
        failed: list[FailedConvocation] = []
        for start in range(0, len(seats), CONVENE_BATCH):
            batch = seats[start : start + CONVENE_BATCH]
            failed += await register.call(
                ScheduledActivities.convene_seats,
                SeatsToRelease(planned_by=planned_by, seats=batch, first=start),
                timeout=CONVENE_TIMEOUT,
                heartbeat=timedelta(minutes=1),
                summary=phrase(
                    "convene",
                    operator_language.current(),
                    first=start + 1,
                    last=start + len(batch),
                    total=len(seats),
                    rule=rule,
                ),
            )
        return failed

    async def _convene_by_signal(
        self, planned_by: str, seats: list[Seat], rule: str
    ) -> list[FailedConvocation]:
        """Before CONVENE_BY_UPDATE: one signal per seat (kept for the runs recorded so)."""
        outcomes = await asyncio.gather(*(self._convene(seat) for seat in seats))
        failed = [outcome for outcome in outcomes if outcome is not None]
        if failed:
            await register.call(
                ScheduledActivities.release_seats,
                SeatsToRelease(planned_by=planned_by, seats=[f.seat for f in failed]),
                summary=phrase(
                    "release", operator_language.current(), count=len(failed), rule=rule
                ),
            )
        return failed

    async def _convene(self, seat: Seat) -> FailedConvocation | None:
        """Signal the convocation to the contract; a contract closed since the register was
        read refuses it, which the run reports instead of failing."""
        event, payload = seat.convocation()
        try:
            await workflow.get_external_workflow_handle(seat.workflow_id).signal(event, payload)
        except FailureError as error:
            # The refusal's message may name the person: the log keeps to the dossier.
            workflow.logger.warning("%s to %s not delivered", event, seat.workflow_id)
            return FailedConvocation(seat=seat, error=str(error))
        return None


@workflow.defn(name="DeadlineSweep")
class DeadlineSweep:
    """Tell each authority, once a day, which of its open dossiers are due within the week or
    overdue (B1–B8, H5)."""

    @workflow.run
    async def run(self, request: SweepRequest | None = None) -> SweepResult:
        request = request or SweepRequest()
        day = request.run_on or _nominal_day()
        result: SweepResult = await register.call(
            ScheduledActivities.sweep_deadlines,
            SweepDeadlines(
                register_id=DEADLINE_SWEEP_SCHEDULE, day=day, within_days=request.within_days
            ),
            timeout=REPORT_TIMEOUT,
            summary=titled(Kind.DEADLINE_DIGEST, "dated", day, operator_language.current()),
        )
        return result


@workflow.defn(name="MinistryReport")
class MinistryReport:
    """J1: keep the ministries informed, each week, of how the circular is applied."""

    @workflow.run
    async def run(self, request: ReportRequest | None = None) -> ReportResult:
        as_of = (request.run_on if request else None) or _nominal_day()
        result: ReportResult = await register.call(
            ScheduledActivities.write_ministry_report,
            WriteReport(register_id=MINISTRY_REPORT_SCHEDULE, as_of=as_of),
            timeout=REPORT_TIMEOUT,
            summary=titled(Kind.MINISTRY_REPORT, "as_of", as_of, operator_language.current()),
        )
        return result


@workflow.defn(name="RetentionSweep")
class RetentionSweep:
    """Erase, once a day, the personal data of the dossiers no longer needed: closed longer
    than the retention period, never closed and idle longer than the longest a dossier
    runs, and rejected starts of dossiers that never opened (J1). The periods are the
    worker's settings; the history keeps counts, not dossier ids."""

    @workflow.run
    async def run(self, request: dict[str, object] | None = None) -> RetentionDone:
        result: RetentionDone = await register.call(
            RetentionActivities.erase_expired,
            timeout=RETENTION_TIMEOUT,
            summary=RETENTION_SUMMARY.text(operator_language.current()),
        )
        workflow.logger.info("%d dossiers erased", result.dossiers)
        return result
