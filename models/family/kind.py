"""`CaiFamilyContract`'s dossier kind: the CAI for the family (part II), assembled once."""

from __future__ import annotations

from models.dossier_kind import Descriptor, Registered, on
from models.family.events import (
    ConseilGeneralReferral,
    ParentsTrainingAbsence,
    ParentsTrainingAttended,
    ParentsTrainingConvened,
    SchoolAttendanceBreach,
)
from models.family.rules import (
    admissible,
    fire,
    on_absence,
    on_attended,
    on_breach,
    on_convened,
    on_referral,
    open_input,
    start_input,
)
from models.family.state import FamilyState, family_view

# The one catalogue of `CaiFamilyContract`: each event of the contract, its model, its rule.
EVENTS: dict[str, Registered[FamilyState]] = {
    "parents_training_convened": on(ParentsTrainingConvened, on_convened),
    "parents_training_attended": on(ParentsTrainingAttended, on_attended),
    "parents_training_absence": on(ParentsTrainingAbsence, on_absence),
    "school_attendance_breach": on(SchoolAttendanceBreach, on_breach),
    "conseil_general_referral": on(ConseilGeneralReferral, on_referral),
}

FAMILY: Descriptor[FamilyState] = Descriptor(
    kind="cai_family_contract",
    state_type=FamilyState,
    view=family_view,
    events=EVENTS,
    start_input=start_input,
    open_input=open_input,
    admit=admissible,
    fire=fire,
)
