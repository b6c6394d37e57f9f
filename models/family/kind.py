"""`CaiFamilyContract`'s dossier kind: the CAI for the family (part II), assembled once."""

from __future__ import annotations

from dataclasses import replace

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
    fire_reporting_every_parent,
    on_absence,
    on_absence_reported_at_once,
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

# G4 as the dossiers begun before the convened-parents reading apply it, for as long as one
# runs: a parent is reported at an absence without legitimate reason, and at the end of the
# follow-up whether OFII convened them or not. The workflow picks it (a `workflow.patched`).
FAMILY_REPORTING_AT_FIRST_ABSENCE: Descriptor[FamilyState] = replace(
    FAMILY,
    events={
        **EVENTS,
        "parents_training_absence": on(ParentsTrainingAbsence, on_absence_reported_at_once),
    },
    fire=fire_reporting_every_parent,
)
