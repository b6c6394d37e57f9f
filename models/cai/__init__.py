"""The CAI in France (H1–H5, I1–I3): one signatory's reception and integration contract.
`CAI` is the dossier kind the fold and the `CaiContract` workflow drive."""

from models.cai.events import CaiContractInput
from models.cai.kind import CAI
from models.cai.opening import workflow_id_for
from models.cai.state import CaiStage, CaiState, cai_view

__all__ = ["CAI", "CaiContractInput", "CaiStage", "CaiState", "cai_view", "workflow_id_for"]
