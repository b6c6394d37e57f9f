"""The benchmark's worker process: `python -m tools.bench_worker` (started by
`tools.bench`, stopped by SIGTERM or SIGINT, after which it drains like the real worker).

It runs the real worker (`workers.main.build_worker`, from `Settings.from_env()`) with, beside
every workflow and activity of the system, what the benchmarks compare the dossiers with:
`BareDossier` and its no-op activity, and the local-step and normal-step variants of
`VisaApplication` defined in `tools.bench_workflows`.

The top level of this module stays small on purpose: the workflow sandbox re-imports a
workflow's module for every workflow it runs, so anything imported here outside the
passed-through block would be paid again by every bare workflow, and the baseline would no
longer be bare.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from workers.logging import settings_with_logging
    from workers.main import run_worker
    from workers.settings import Settings

# The dossier's last event of the benchmark's lifecycle, which closes a bare workflow as the
# issued visa closes a dossier.
LAST_EVENT = "visa_decision"
NOOP_TIMEOUT = timedelta(seconds=30)
BARE_WORKFLOW = "BenchBareDossier"


@activity.defn(name="BenchNoop")
async def noop() -> None:
    """Nothing: the baseline's stand-in for a step's register transaction."""


async def _noop() -> None:
    await workflow.execute_activity(noop, start_to_close_timeout=NOOP_TIMEOUT)


@workflow.defn(name=BARE_WORKFLOW)
class BareDossier:
    """The minimal shape of a dossier: started with an application, settled by one normal
    activity, then one normal activity per update; `visa_decision` closes it. Its `state`
    query answers `stage` as a dossier's does, so that both are watched the same way."""

    def __init__(self) -> None:
        self._stage = "opening"

    @workflow.run
    async def run(self, application: Any) -> dict[str, Any]:
        await _noop()
        self._stage = "open"
        await workflow.wait_condition(lambda: self._stage == "closed")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    @workflow.update(dynamic=True)
    async def event(self, name: str, args: Sequence[RawValue]) -> dict[str, Any]:
        # Decoded and held until opened, as a dossier does with its events.
        workflow.payload_converter().from_payload(args[0].payload)
        await workflow.wait_condition(lambda: self._stage != "opening")
        await _noop()
        if name == LAST_EVENT:
            self._stage = "closed"
        return self.state()

    @workflow.query(name="state")
    def state(self) -> dict[str, Any]:
        return {"stage": self._stage}


async def serve(settings: Settings) -> None:
    """The worker until SIGTERM or SIGINT, then drained; a fatal worker error is raised."""
    # Imported here, not above: nothing of the variants belongs in the sandbox's re-imports
    # of this module for every bare workflow.
    # The module's own name, not `__main__`: the sandbox passes modules through by name.
    from tools.bench_delivery import DELIVER_ENV
    from tools.bench_worker import BareDossier, noop
    from tools.bench_workflows import VisaLocalStep, VisaNormalStep

    if settings.database_url is None:
        raise SystemExit("DATABASE_URL is required: the benchmark's stack sets it")
    await run_worker(
        settings,
        extra_workflows=[BareDossier, VisaLocalStep, VisaNormalStep],
        extra_activities=[noop],
        # The steps are measured, not the delivery, unless the end-to-end measure asks:
        # then both task queues are polled, as `python -m workers` does.
        deliver=os.environ.get(DELIVER_ENV) == "1",
    )


def main() -> int:
    """0 after a requested stop, 1 on a fatal error, 2 on invalid settings (as `workers`)."""
    settings = settings_with_logging()
    if settings is None:
        return 2
    try:
        asyncio.run(serve(settings))
    except Exception:
        logging.getLogger("bench_worker").exception("bench worker failed")
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: the SDK's native threads may crash interpreter teardown (as in
    # workers/__main__.py), which would turn a clean drain into a non-zero exit.
    os._exit(code)
