"""Demo data: `python -m scripts.demo` (`make demo`, with `make run` going).

Submits a dozen realistic dossiers and drives them with events into the main stages of
the circular, so that a new user sees a living Web UI within a minute. Dates are relative
to today (the workflow refuses events dated in the future and counts every delay from the
dates in the events), and application ids carry a per-run tag, so the demo can run again
and again on the same server.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

import examples
from scripts.cli import (
    KINDS,
    query_state,
    send_event,
    submit_application,
    workflow_id_of,
)
from scripts.cli_errors import CommandError, Rejected
from workers.client import connect, exit_process
from workers.settings import Settings, SettingsError

DEFAULT_UI_URL = "http://localhost:8233"
OVERDUE_TIMEOUT = 20.0


@dataclass(frozen=True)
class Step:
    """One event sent as an update; `rejected` marks an input the demo sends on purpose so
    that operators see it refused in `rejected_inputs`."""

    event: str
    payload: dict[str, Any]
    rejected: bool = False


@dataclass
class DemoDossier:
    shows: str
    """What the dossier shows a new user, in a few words."""
    application: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    wait_for_overdue: bool = False
    kind: str = "visa"


@dataclass(frozen=True)
class Outcome:
    workflow_id: str
    shows: str
    country: str
    procedure: str
    stage: str
    overdue: list[str]
    rejected_inputs: int


# --- the dossiers ------------------------------------------------------------------------


def build_dossiers(today: date, run: str) -> list[DemoDossier]:
    """The demo's dossiers (`examples/demo/dossiers.json`), dated relative to `today`; `run`
    makes their ids unique."""
    data = examples.load("demo/dossiers", today=today, run=run, year=str(today.year))
    return [
        DemoDossier(
            shows=dossier["shows"],
            application=dossier["application"],
            steps=[
                Step(step["event"], step["payload"], step.get("rejected", False))
                for step in dossier.get("steps", [])
            ],
            wait_for_overdue=dossier.get("wait_for_overdue", False),
            kind=dossier["kind"],
        )
        for dossier in data["dossiers"]
    ]


# --- running them ------------------------------------------------------------------------


async def worker_is_polling(client: Client, settings: Settings) -> bool:
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=settings.temporal_namespace,
            task_queue=TaskQueue(name=settings.temporal_task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return len(described.pollers) > 0


async def run_dossier(client: Client, dossier: DemoDossier, settings: Settings) -> Outcome:
    """Submit the dossier (its Web UI summary in OPERATOR_LANGUAGE), send its events, and
    return where it stands."""
    kind = KINDS[dossier.kind]
    await submit_application(
        client,
        dossier.application,
        settings.temporal_task_queue,
        kind=kind,
        language=settings.operator_language,
    )
    workflow_id = workflow_id_of(kind, dossier.application)
    for step in dossier.steps:
        try:
            await send_event(client, workflow_id, step.event, step.payload)
        except Rejected as rejected:
            if not step.rejected:
                raise CommandError(f"{workflow_id}: {step.event} rejected: {rejected}") from None
        else:
            if step.rejected:
                raise CommandError(f"{workflow_id}: {step.event} was expected to be rejected")
    state = await query_state(client, workflow_id)
    if dossier.wait_for_overdue:
        state = await _until_overdue(client, workflow_id)
    return Outcome(
        workflow_id=workflow_id,
        shows=dossier.shows,
        country=dossier.application.get("country_of_residence", "FR"),
        procedure=dossier.application.get("procedure", kind.workflow_type),
        stage=str(state.get("stage")),
        overdue=list(state.get("overdue") or []),
        rejected_inputs=len(state.get("rejected_inputs") or []),
    )


async def _until_overdue(client: Client, workflow_id: str) -> dict[str, Any]:
    """The statutory timer of a long-past deadline fires at once; wait for its effect."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + OVERDUE_TIMEOUT
    while True:
        state = await query_state(client, workflow_id)
        if state.get("overdue") or loop.time() >= deadline:
            return state
        await asyncio.sleep(0.2)


def outcome_table(outcomes: Sequence[Outcome]) -> str:
    header = ("WORKFLOW ID", "COUNTRY", "PROCEDURE", "STAGE", "OVERDUE", "REJECTED", "SHOWS")
    rows = [header] + [
        (
            o.workflow_id,
            o.country,
            o.procedure,
            o.stage,
            ", ".join(o.overdue) or "-",
            str(o.rejected_inputs),
            o.shows,
        )
        for o in outcomes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


async def run_demo(settings: Settings, ui_url: str) -> int:
    try:
        client = await connect(settings)
        polling = await worker_is_polling(client, settings)
    except Exception as error:
        print(
            f"demo: cannot reach Temporal at {settings.temporal_address}: {error}\n"
            "Start the stack first: `make run`.",
            file=sys.stderr,
        )
        return 1
    if not polling:
        print(
            f"demo: no worker polls task queue {settings.temporal_task_queue!r}. "
            "Start the stack first: `make run`.",
            file=sys.stderr,
        )
        return 1

    today = datetime.now(UTC).date()
    run = secrets.token_hex(3)
    dossiers = build_dossiers(today, run)
    print(f"demo: submitting {len(dossiers)} dossiers (run {run})…", file=sys.stderr)
    results = await asyncio.gather(
        *(run_dossier(client, d, settings) for d in dossiers),
        return_exceptions=True,
    )
    outcomes = [r for r in results if isinstance(r, Outcome)]
    failures = [r for r in results if not isinstance(r, Outcome)]
    print(outcome_table(outcomes))
    namespace = settings.temporal_namespace
    print(
        f"\nWeb UI: {ui_url.rstrip('/')}/namespaces/{namespace}/workflows\n"
        'Try the query box with:  DossierStage = "in_training"   ·   Overdue = true'
        '   ·   CountryOfResidence = "MA"\n'
        f"Or here: python -m scripts.cli show {outcomes[0].workflow_id if outcomes else 'ID'}"
        " --summary"
    )
    for failure in failures:
        print(f"demo: failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.demo",
        description="Submit a dozen demo dossiers to a running stack (`make run`).",
    )
    parser.add_argument(
        "--ui-url", default=DEFAULT_UI_URL, help=f"the Web UI to link to ({DEFAULT_UI_URL})"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    return asyncio.run(run_demo(settings, args.ui_url))


if __name__ == "__main__":
    exit_process(main())
