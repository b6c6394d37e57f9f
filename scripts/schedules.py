"""The schedules of the contract (docs/operators.md, "Scheduled workflows"), created or
brought up to date.

`make run` creates them once the stack is up; against a deployed cluster run
`python -m scripts.schedules` with the worker's environment (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE). Running it again updates what the schedules run
and when, and leaves alone whether an operator paused them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from models.operator_text import DEFAULT_LANGUAGE, Label, Language
from workers.client import connect, exit_process
from workers.codec import PayloadKeyError
from workers.logging import settings_with_logging
from workers.settings import Settings
from workflows.scheduled import (
    DEADLINE_SWEEP_SCHEDULE,
    MINISTRY_REPORT_SCHEDULE,
    PARENTS_TRAINING_SCHEDULE,
    RETENTION_SCHEDULE,
    SKILLS_ASSESSMENT_SCHEDULE,
)

log = structlog.get_logger("schedules")

MONDAY = 1  # ScheduleCalendarSpec counts weekdays from Sunday = 0
# The longest a scheduled run may take: well past a day's planning or a week's report,
# short of the next daily run.
RUN_TIMEOUT = timedelta(hours=6)


@dataclass(frozen=True)
class ScheduleDefinition:
    schedule_id: str
    workflow: str
    arg: dict[str, Any]
    summary: Label  # in the operator's language (OPERATOR_LANGUAGE)
    hour: int  # UTC: the statutory timers fire at midnight UTC, the runs come after them
    minute: int = 0
    weekly: bool = False  # on Mondays; daily otherwise

    def schedule(self, task_queue: str, language: Language = DEFAULT_LANGUAGE) -> Schedule:
        days = [ScheduleRange(MONDAY)] if self.weekly else [ScheduleRange(0, 6)]
        return Schedule(
            action=ScheduleActionStartWorkflow(
                self.workflow,
                self.arg,
                id=self.schedule_id,
                task_queue=task_queue,
                static_summary=self.summary.text(language),
                # A stuck run must not block every later one (they never overlap).
                execution_timeout=RUN_TIMEOUT,
            ),
            spec=ScheduleSpec(
                calendars=[
                    ScheduleCalendarSpec(
                        hour=[ScheduleRange(self.hour)],
                        minute=[ScheduleRange(self.minute)],
                        day_of_week=days,
                        comment=("weekly" if self.weekly else "daily")
                        + f" at {self.hour:02d}:{self.minute:02d} UTC",
                    )
                ]
            ),
            policy=SchedulePolicy(
                # A run never overlaps the previous one; a trigger during a run waits for it.
                overlap=ScheduleOverlapPolicy.BUFFER_ONE,
                # After an outage, the missed run of the period still happens, once.
                catchup_window=timedelta(days=7 if self.weekly else 1),
            ),
        )


SCHEDULES = (
    ScheduleDefinition(
        SKILLS_ASSESSMENT_SCHEDULE,
        "SessionPlanning",
        {"service": "skills_assessment"},
        Label(
            "Planifie les séances de bilan de compétences et convoque les signataires "
            "en attente (H1, H5)",
            "Plans skills-assessment sessions and convenes waiting signatories (H1, H5)",
        ),
        hour=5,
    ),
    ScheduleDefinition(
        PARENTS_TRAINING_SCHEDULE,
        "SessionPlanning",
        {"service": "parents_training"},
        Label(
            "Planifie les journées « Droits et devoirs des parents » et convoque les parents "
            "en attente (G2)",
            'Plans "Droits et devoirs des parents" days and convenes waiting parents (G2)',
        ),
        hour=5,
        minute=30,
        weekly=True,
    ),
    ScheduleDefinition(
        DEADLINE_SWEEP_SCHEDULE,
        "DeadlineSweep",
        {},
        Label(
            "Envoie le relevé des échéances à chaque autorité ayant des dossiers à échéance "
            "ou en retard (B1–B8, H5)",
            "Sends deadline_digest to each authority with dossiers due or overdue (B1-B8, H5)",
        ),
        hour=6,
    ),
    ScheduleDefinition(
        MINISTRY_REPORT_SCHEDULE,
        "MinistryReport",
        {},
        Label(
            "Envoie le rapport hebdomadaire aux ministères et écrit son CSV (J1)",
            "Sends ministry_report and writes its CSV (J1)",
        ),
        hour=7,
        weekly=True,
    ),
    ScheduleDefinition(
        RETENTION_SCHEDULE,
        "RetentionSweep",
        {},
        Label(
            "Efface les données personnelles dont la durée de conservation est écoulée : "
            "dossiers clos, jamais clos, demandes refusées (J1)",
            "Erases the personal data past its retention period: closed dossiers, never "
            "closed ones, rejected starts (J1)",
        ),
        hour=3,
    ),
)


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Create each schedule of the contract, or update the spec, action and policy of one that
    exists (its paused state and notes stay as an operator left them)."""
    for definition in SCHEDULES:
        wanted = definition.schedule(settings.temporal_task_queue, settings.operator_language)
        try:
            await client.create_schedule(definition.schedule_id, wanted)
            log.info("schedule created", schedule_id=definition.schedule_id)
        except ScheduleAlreadyRunningError:

            def update(current: ScheduleUpdateInput, wanted: Schedule = wanted) -> ScheduleUpdate:
                return ScheduleUpdate(
                    schedule=dataclasses.replace(
                        current.description.schedule,
                        action=wanted.action,
                        spec=wanted.spec,
                        policy=wanted.policy,
                    )
                )

            await client.get_schedule_handle(definition.schedule_id).update(update)
            log.info("schedule updated", schedule_id=definition.schedule_id)


async def _main(settings: Settings) -> None:
    client = await connect(settings)
    await ensure_schedules(client, settings)


def main() -> int:
    """`python -m scripts.schedules`: 0 once every schedule is in place, 2 on invalid
    settings."""
    settings = settings_with_logging()
    if settings is None:
        return 2
    try:
        asyncio.run(_main(settings))
    except PayloadKeyError as error:
        log.error("schedules not created", reason=str(error))
        return 2
    return 0


if __name__ == "__main__":
    exit_process(main())
