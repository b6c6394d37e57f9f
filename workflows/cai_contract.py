"""`CaiContract` and `CaiFamilyContract`: the CAI in France (circular part II)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.dossier import DossierWorkflow, dossier_workflow

with workflow.unsafe.imports_passed_through():
    from models.cai import CAI, CaiState
    from models.family import FAMILY, FamilyState


@dossier_workflow("CaiContract")
class CaiContract(DossierWorkflow[CaiState]):
    """Workflow id `cai-{contract_id}`: one signatory's reception and integration
    contract, its skills assessment (H1–H5) and its follow-up (I1–I3)."""

    dossier_kind = CAI

    @workflow.run
    async def run(self, contract: Any, carried: Any = None) -> dict[str, Any]:
        return await self.run_dossier(contract, carried)


@dossier_workflow("CaiFamilyContract")
class CaiFamilyContract(DossierWorkflow[FamilyState]):
    """Workflow id `caif-{contract_id}`: the CAI for the family (G1–G4)."""

    dossier_kind = FAMILY

    @workflow.run
    async def run(self, contract: Any, carried: Any = None) -> dict[str, Any]:
        return await self.run_dossier(contract, carried)
