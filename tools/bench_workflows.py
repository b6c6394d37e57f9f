"""The two variants of `VisaApplication` the benchmarks and the outage measure compare: a
step's register transaction as a local activity (the dossier's default) or a normal one.

A module of their own, imported by the driver (`tools.bench`, `tools.outage`) and the
benchmark's worker (`tools.bench_worker`) alike: the workflow sandbox re-imports it for every
workflow of either variant, so it holds nothing else.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.dossier import dossier_workflow
from workflows.visa_application import VisaApplication

NORMAL_STEP_WORKFLOW = "BenchVisaNormalStep"
LOCAL_STEP_WORKFLOW = "BenchVisaLocalStep"


@dossier_workflow(NORMAL_STEP_WORKFLOW)
class VisaNormalStep(VisaApplication):
    """`VisaApplication` with each step's register transaction as a normal activity."""

    local_step = False

    # The SDK wants `@workflow.run` on the class it defines, even when inherited unchanged.
    @workflow.run
    async def run(self, application: Any, carried: Any = None) -> dict[str, Any]:
        return await self.run_dossier(application, carried)


@dossier_workflow(LOCAL_STEP_WORKFLOW)
class VisaLocalStep(VisaApplication):
    """`VisaApplication` unchanged (its step is local by default), as the local side of the
    comparison rather than `VisaApplication` itself: a subclass defined here costs the worker
    more per workflow (the sandbox re-imports this module and decorates one more class), and
    against `VisaApplication` this very class ran some 15 % fewer lifecycles per second.
    Two siblings pay alike, so that only `local_step` tells them apart."""

    local_step = True

    @workflow.run
    async def run(self, application: Any, carried: Any = None) -> dict[str, Any]:
        return await self.run_dossier(application, carried)
