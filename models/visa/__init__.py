"""Part I of the circular (A1–F4): the long-stay visa application, evaluated and trained
abroad. `VISA` is the dossier kind the fold and the `VisaApplication` workflow drive."""

from models.visa.events import Domain, Procedure, VisaApplicationInput
from models.visa.kind import VISA
from models.visa.scope import workflow_id_for
from models.visa.state import CLOSED_STAGES, Stage, TrackStatus, VisaState, visa_view

__all__ = [
    "CLOSED_STAGES",
    "VISA",
    "Domain",
    "Procedure",
    "Stage",
    "TrackStatus",
    "VisaApplicationInput",
    "VisaState",
    "visa_view",
    "workflow_id_for",
]
