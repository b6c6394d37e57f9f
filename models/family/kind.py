"""`CaiFamilyContract`'s dossier kind: the CAI for the family (part II), assembled once."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from models.common import NotificationDue
from models.dossier_kind import Descriptor, Handler, Registered, on
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
from models.reference import ReferenceData

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


# Keys as the dossiers begun before parents were named by rank wrote them: a parent's
# notification keyed by their person id. Their keys are in the register and the delivery
# workflow ids already, and a re-fold must find them again; the workflow picks these for
# such runs (a `workflow.patched`). New dossiers name a parent `parent-1`, `parent-2`.
def naming_person_ids(kind: Descriptor[FamilyState]) -> Descriptor[FamilyState]:
    def handled(handle: Handler[FamilyState]) -> Handler[FamilyState]:
        def by_person_id(
            state: FamilyState, event: Any, reference: ReferenceData, received_on: date
        ) -> list[NotificationDue]:
            return _by_person_id(state, handle(state, event, reference, received_on))

        return by_person_id

    def fire(state: FamilyState, key: str, day: date) -> list[NotificationDue]:
        return _by_person_id(state, kind.fire(state, key, day))

    return replace(
        kind,
        events={name: on(e.model, handled(e.handle)) for name, e in kind.events.items()},
        fire=fire,
    )


def _by_person_id(state: FamilyState, notes: list[NotificationDue]) -> list[NotificationDue]:
    person_ids = {state.rank(parent): parent.person_id for parent in state.parents.values()}
    return [
        note.model_copy(update={"about": person_ids[note.about]})
        if note.about in person_ids
        else note
        for note in notes
    ]


FAMILY_NAMING_PERSON_IDS = naming_person_ids(FAMILY)
FAMILY_REPORTING_AT_FIRST_ABSENCE_NAMING_PERSON_IDS = naming_person_ids(
    FAMILY_REPORTING_AT_FIRST_ABSENCE
)
