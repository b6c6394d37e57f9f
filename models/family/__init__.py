"""The CAI for the family (G1–G4): the parents' commitments for their children.
`FAMILY` is the dossier kind the fold and the `CaiFamilyContract` workflow drive."""

from models.family.events import CaiFamilyInput
from models.family.kind import FAMILY
from models.family.rules import workflow_id_for
from models.family.state import FamilyStage, FamilyState, family_view

__all__ = [
    "FAMILY",
    "CaiFamilyInput",
    "FamilyStage",
    "FamilyState",
    "family_view",
    "workflow_id_for",
]
