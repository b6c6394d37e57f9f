"""`VisaApplication`: one long-stay visa application of a family member (circular part I)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.dossier import DossierWorkflow, dossier_workflow

with workflow.unsafe.imports_passed_through():
    from models.visa import VISA, VisaState


@dossier_workflow("VisaApplication")
class VisaApplication(DossierWorkflow[VisaState]):
    """Workflow id `visa-{application_id}`; input as in the contract. Every event of the
    contract is accepted as a signal and as an update under the same name."""

    dossier_kind = VISA

    @workflow.run
    async def run(self, application: Any, carried: Any = None) -> dict[str, Any]:
        return await self.run_dossier(application, carried)
