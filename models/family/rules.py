"""The rules of the CAI for the family (G1–G4), as pure functions: the parents' training,
the children's schooling, and the prefect's referral to the conseil général."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from models.cai.state import Absence, Convocation
from models.calendar import months_after
from models.common import DeadlineStatus, NotificationDue, Recipient, TrackedDeadline, age_on
from models.core import Step
from models.dossier_kind import contract_start
from models.errors import InputRejected, Waiting
from models.events import Event
from models.family.events import (
    CaiFamilyInput,
    ConseilGeneralReferral,
    ParentsTrainingAbsence,
    ParentsTrainingAttended,
    ParentsTrainingConvened,
    SchoolAttendanceBreach,
)
from models.family.state import Breach, FamilyState, Parent, ParentStatus, Referral, is_school_age
from models.language import letter_language
from models.notifications import Kind
from models.reference import ReferenceData

IN_FORCE_FROM = date(2009, 1, 1)  # G1: the CAI for the family applies from 1 January 2009
CHILD_AGE_LIMIT = 16  # G1: children under 16


def workflow_id_for(contract_id: str) -> str:
    return f"caif-{contract_id}"


def start_input(raw: Any, workflow_id: str) -> CaiFamilyInput:
    return contract_start(CaiFamilyInput, raw, workflow_id, "contract_id", workflow_id_for)


def open_input(contract: CaiFamilyInput, reference: ReferenceData) -> Step[FamilyState]:
    if contract.signed_on < IN_FORCE_FROM:
        raise InputRejected(
            "G1", f"the CAI for the family applies from {IN_FORCE_FROM}", "signed_on"
        )
    eligible = [
        c.child_id
        for c in contract.children
        if c.admitted_through_family_reunification
        and age_on(c.birth_date, contract.signed_on) < CHILD_AGE_LIMIT
    ]
    if not eligible:
        raise InputRejected(
            "G1", "no child under 16 admitted through family reunification", "children"
        )
    parents = {}
    for signatory in contract.signatories:
        language, fallback = letter_language(signatory.languages, reference.letter_languages)
        parents[signatory.person_id] = Parent(
            person_id=signatory.person_id,
            letter_language=language,
            letter_language_fallback=fallback,
        )
    follow_up = reference.family_follow_up
    holiday_calendar = reference.holiday_calendar_in_france(contract.prefecture)  # B9
    validity_ends = months_after(
        contract.signed_on, follow_up.months, reference.calendar, holiday_calendar
    )
    state = FamilyState(
        contract_id=contract.contract_id,
        input=contract,
        parents=parents,
        validity_ends=validity_ends,
        referral_window_ends=months_after(
            validity_ends, follow_up.referral_window_months, reference.calendar, holiday_calendar
        ),
        holiday_calendar=holiday_calendar,
    )
    state.tracked_deadlines["parents_training_due"] = TrackedDeadline(due=validity_ends, rule="G2")
    state.tracked_deadlines["validity_ends"] = TrackedDeadline(due=validity_ends, rule="G1")
    return Step(state, [])


def admissible(state: FamilyState, event: Event) -> None:
    if state.closed:
        raise InputRejected("G2", f"the contract's follow-up is over ({state.validity_ends})")
    if state.follow_up_over and not isinstance(event, ConseilGeneralReferral):
        raise InputRejected(
            "G4",
            f"the follow-up ended on {state.validity_ends}; only the prefect's referral to the "
            f"conseil général is awaited, until {state.referral_window_ends}",
        )


def _signatory(state: FamilyState, person_id: str) -> Parent:
    parent = state.parents.get(person_id)
    if parent is None:
        raise InputRejected("G1", f"{person_id} is not a signatory of this contract", "person_id")
    return parent


def _parent(state: FamilyState, person_id: str) -> Parent:
    parent = _signatory(state, person_id)
    if parent.status == ParentStatus.ATTENDED:
        raise InputRejected(
            "G2", f"{person_id} attended the training on {parent.attended_on}", "person_id"
        )
    return parent


def on_convened(
    state: FamilyState, event: ParentsTrainingConvened, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    parent = _parent(state, event.person_id)
    if any(c.session_id == event.session_id for c in parent.convocations):
        raise InputRejected("G2", f"already convened to session {event.session_id}", "session_id")
    pending = parent.pending_convocation
    if pending is not None:
        raise Waiting(
            "G2",
            f"already convened to session {pending.session_id} on {pending.session_on}",
            "session_id",
        )
    if not state.input.signed_on <= event.session_on <= state.validity_ends:
        raise InputRejected("G2", "outside the contract's year", "session_on")
    parent.convocations.append(
        Convocation(
            session_id=event.session_id, session_on=event.session_on, platform=state.input.platform
        )
    )
    return [
        _to_parent(
            state,
            parent,
            Kind.PARENTS_TRAINING_CONVOCATION,
            session_id=event.session_id,
            session_on=event.session_on.isoformat(),
        )
    ]


def on_attended(
    state: FamilyState, event: ParentsTrainingAttended, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    parent = _parent(state, event.person_id)
    if not parent.convocations:
        raise Waiting("G2", f"{event.person_id} was never convened", "person_id")
    parent.attended_on = event.attended_on
    parent.attestation_ref = event.attestation_ref
    if all(p.status == ParentStatus.ATTENDED for p in state.parents.values()):
        deadline = state.tracked_deadlines["parents_training_due"]
        deadline.status = DeadlineStatus.MET
    return [
        _to_parent(
            state,
            parent,
            Kind.PARENTS_TRAINING_ATTESTATION,
            attended_on=event.attended_on.isoformat(),
            attestation_ref=event.attestation_ref,
        )
    ]


def on_absence(
    state: FamilyState, event: ParentsTrainingAbsence, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    """G4: an absence is recorded; the parent is convened again, and reported only if they
    have not attended by the end of the follow-up (see `fire`)."""
    _record_absence(state, event)
    return []


def on_absence_reported_at_once(
    state: FamilyState, event: ParentsTrainingAbsence, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    """G4 as dossiers begun before the convened-parents reading apply it: an absence without
    a legitimate reason is reported to the prefect at once."""
    parent = _record_absence(state, event)
    if event.legitimate_reason is not None:
        return []  # convened again at a later session
    parent.reported_missed = True
    return [_missed_note(state, parent, f"absent on {event.absent_on} without legitimate reason")]


def _record_absence(state: FamilyState, event: ParentsTrainingAbsence) -> Parent:
    parent = _parent(state, event.person_id)
    if parent.pending_convocation is None:
        raise Waiting("G4", f"{event.person_id} is not convened", "person_id")
    parent.absences.append(
        Absence(absent_on=event.absent_on, legitimate_reason=event.legitimate_reason)
    )
    return parent


def on_breach(
    state: FamilyState, event: SchoolAttendanceBreach, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    child = next((c for c in state.input.children if c.child_id == event.child_id), None)
    if child is None:
        raise InputRejected("G3", f"{event.child_id} is not a child of this contract", "child_id")
    if not is_school_age(child.birth_date, event.reported_on):
        age = age_on(child.birth_date, event.reported_on)
        raise InputRejected(
            "G3",
            f"{event.child_id} is aged {age}; school attendance is compulsory from 6 to 16",
            "child_id",
        )
    state.breaches.append(
        Breach(child_id=event.child_id, reported_on=event.reported_on, detail=event.detail)
    )
    return [
        _note(
            state,
            Kind.SCHOOL_ATTENDANCE_BREACH,
            Recipient.PREFECTURE,
            "G3",
            child_id=event.child_id,
            reported_on=event.reported_on.isoformat(),
            detail=event.detail,
        )
    ]


def on_referral(
    state: FamilyState, event: ConseilGeneralReferral, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    if state.referral is not None:
        raise InputRejected("G4", f"already referred on {state.referral.decided_on}", "decided_on")
    _referable(state, event.person_id)
    state.referral = Referral(decided_on=event.decided_on, reason=event.reason)
    if state.follow_up_over:
        state.ended = True
    return [
        _note(
            state,
            Kind.CONSEIL_GENERAL_REFERRAL,
            Recipient.CONSEIL_GENERAL,
            "G4",
            decided_on=event.decided_on.isoformat(),
            reason=event.reason,
            casf_article="L.222-4-1",
            **({"person_id": event.person_id} if event.person_id is not None else {}),
        )
    ]


def _referable(state: FamilyState, person_id: str | None) -> None:
    """G4: the prefect refers a parent OFII reported; a parent OFII never convened is not
    reported, and no referral is made for them."""
    candidates = (
        [_signatory(state, person_id)] if person_id is not None else list(state.parents.values())
    )
    if any(p.status == ParentStatus.MISSED for p in candidates):
        return
    if any(p.status == ParentStatus.NOT_CONVENED for p in candidates):
        raise InputRejected(
            "G4",
            "OFII never convened the signatory to the training: it is told to convene them, "
            "and no referral follows",
            "person_id" if person_id is not None else "decided_on",
        )
    raise InputRejected(
        "G4",
        "a referral follows OFII's report of a signatory convened who did not attend the training",
        "person_id" if person_id is not None else "decided_on",
    )


def fire(state: FamilyState, key: str, today: date) -> list[NotificationDue]:
    """The follow-up ends: each parent convened who has not attended is reported to the
    prefect, one report per parent; OFII is told of each parent it never convened, who is
    not reported (G4). The dossier then stays open for the prefect's referral."""
    if key == "parents_training_due":
        return _end_of_follow_up(state, _report_convened_alert_not_convened)
    return _end(state, key)


def fire_reporting_every_parent(state: FamilyState, key: str, today: date) -> list[NotificationDue]:
    """`fire` as dossiers begun before the convened-parents reading apply it: every parent
    who has not attended is reported to the prefect, convened or not."""
    if key == "parents_training_due":
        return _end_of_follow_up(state, _report)
    return _end(state, key)


def _end_of_follow_up(
    state: FamilyState, tell: Callable[[FamilyState, Parent], NotificationDue]
) -> list[NotificationDue]:
    state.tracked_deadlines["parents_training_due"].status = DeadlineStatus.MISSED
    return [
        tell(state, parent)
        for parent in state.parents.values()
        if parent.status in (ParentStatus.AWAITING_CONVOCATION, ParentStatus.CONVENED)
    ]


def _report(state: FamilyState, parent: Parent) -> NotificationDue:
    parent.reported_missed = True
    return _missed_note(state, parent, f"did not attend by {state.validity_ends}")


def _report_convened_alert_not_convened(state: FamilyState, parent: Parent) -> NotificationDue:
    if parent.was_convened:
        return _report(state, parent)
    parent.not_convened = True
    return _note(
        state,
        Kind.PARENTS_NOT_CONVENED,
        Recipient.OFII,
        "G4",
        about=state.rank(parent),
        person_id=parent.person_id,
        why=f"never convened to the training by {state.validity_ends}: not reported",
    )


def _end(state: FamilyState, key: str) -> list[NotificationDue]:
    state.tracked_deadlines[key].status = DeadlineStatus.REACHED
    if key == "validity_ends":
        state.follow_up_over = True
        awaits_referral = state.referral is None and any(
            p.status == ParentStatus.MISSED for p in state.parents.values()
        )
        if awaits_referral and state.referral_window_ends > state.validity_ends:
            state.tracked_deadlines["referral_window_ends"] = TrackedDeadline(
                due=state.referral_window_ends, rule="G4"
            )
            return []
    state.ended = True  # validity_ends with nothing awaited, or referral_window_ends
    return []


def _missed_note(state: FamilyState, parent: Parent, why: str) -> NotificationDue:
    return _note(
        state,
        Kind.PARENTS_TRAINING_MISSED,
        Recipient.PREFECTURE,
        "G4",
        about=state.rank(parent),
        person_id=parent.person_id,
        why=why,
        may_refer_to="président du conseil général (CASF L.222-4-1)",
        referral_window_ends=state.referral_window_ends.isoformat(),
    )


def _to_parent(state: FamilyState, parent: Parent, kind: Kind, **payload: Any) -> NotificationDue:
    signatory = next(s for s in state.input.signatories if s.person_id == parent.person_id)
    return _note(
        state,
        kind,
        Recipient.APPLICANT,
        "G2",
        language=parent.letter_language,
        person_id=parent.person_id,
        full_name=signatory.full_name,
        language_fallback=parent.letter_language_fallback,
        **payload,
    )


def _note(
    state: FamilyState,
    kind: Kind,
    recipient: Recipient,
    rule: str,
    language: str | None = None,
    about: str | None = None,
    **payload: Any,
) -> NotificationDue:
    base = {
        "contract_id": state.contract_id,
        "prefecture": state.input.prefecture,
        "platform": state.input.platform,
    }
    return NotificationDue(
        kind=kind,
        recipient=recipient,
        rule=rule,
        language=language,
        about=about,
        payload={**base, **payload},
    )
