"""The skills assessment and the contract's services (H1–H4): convocations, completions,
exemptions, absences and the language training's status."""

from __future__ import annotations

from datetime import date

from models.cai.events import (
    Absence,
    DilfPreparationRequested,
    LanguageTrainingStatus,
    Service,
    ServiceCompleted,
    SkillsAssessmentCompleted,
    SkillsAssessmentConvened,
    SkillsAssessmentExemption,
)
from models.cai.letters import note
from models.cai.state import Absence as AbsenceRecord
from models.cai.state import (
    CaiState,
    Convocation,
    LanguageTrainingReport,
    ServiceRecord,
    SkillsStatus,
)
from models.common import NotificationDue, Recipient
from models.dossier import fulfil
from models.errors import InputRejected, Waiting
from models.notifications import Kind
from models.reference import ReferenceData

MAX_ASSESSMENT_HOURS = 3  # H3: half a day, 3 hours at most


def _require_open(state: CaiState, rule: str, what: str) -> None:
    if not state.open_for_services:
        raise InputRejected(
            rule, f"{what} after the contract's validity ended on {state.current_end}"
        )


def on_exemption(
    state: CaiState, event: SkillsAssessmentExemption, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    skills = state.skills_assessment
    if skills.status in (SkillsStatus.EXEMPT, SkillsStatus.COMPLETED):
        raise InputRejected("H2", f"the skills assessment is already {skills.status.value}")
    skills.exemption = "H2: already employed"
    skills.exemption_proof_ref = event.proof_ref
    skills.overdue = False
    state.tracked_deadlines.pop("skills_assessment_due", None)
    return []


def on_convened(
    state: CaiState, event: SkillsAssessmentConvened, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    _require_open(state, "H5", "a convocation")
    skills = state.skills_assessment
    if skills.status == SkillsStatus.EXEMPT:
        raise InputRejected("H2", f"the signatory is exempt ({skills.exemption})")
    if skills.status == SkillsStatus.COMPLETED:
        raise InputRejected("H1", f"the skills assessment was completed on {skills.completed_on}")
    if any(c.session_id == event.session_id for c in skills.convocations):
        raise InputRejected("H1", f"already convened to session {event.session_id}", "session_id")
    pending = skills.pending_convocation
    if pending is not None:
        raise Waiting(
            "H1",
            f"already convened to session {pending.session_id} on {pending.session_on}; "
            "an absence is reported before another convocation",
            "session_id",
        )
    if not state.input.signed_on <= event.session_on <= state.current_end:
        raise InputRejected(
            "H5",
            f"{event.session_on} is outside the contract's validity "
            f"({state.input.signed_on} to {state.current_end})",
            "session_on",
        )
    skills.convocations.append(
        Convocation(
            session_id=event.session_id, session_on=event.session_on, platform=event.platform
        )
    )
    return [
        note(
            state,
            Kind.SKILLS_ASSESSMENT_CONVOCATION,
            Recipient.APPLICANT,
            "H1, H5",
            session_id=event.session_id,
            session_on=event.session_on.isoformat(),
            platform=event.platform,
        )
    ]


def on_completed(
    state: CaiState, event: SkillsAssessmentCompleted, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    skills = state.skills_assessment
    if skills.status == SkillsStatus.EXEMPT:
        raise InputRejected("H2", f"the signatory is exempt ({skills.exemption})")
    if skills.completed_on is not None:
        raise InputRejected("H1", f"already completed on {skills.completed_on}")
    if event.duration_hours > MAX_ASSESSMENT_HOURS:
        raise InputRejected(
            "H3",
            f"{event.duration_hours} hours; an individual session lasts 3 hours at most",
            "duration_hours",
        )
    if not skills.convocations:
        raise Waiting("H1", "the signatory was never convened", "completed_on")
    if event.completed_on < skills.convocations[0].session_on:
        raise InputRejected("H1", "precedes the first convocation", "completed_on")
    skills.completed_on = event.completed_on
    skills.duration_hours = event.duration_hours
    skills.report_ref = event.report_ref
    fulfil(state.tracked_deadlines.get("skills_assessment_due"))
    result = {
        "completed_on": event.completed_on.isoformat(),
        "report_ref": event.report_ref,
        "duration_hours": event.duration_hours,
    }
    # H4: the copy to France Travail, and the signatory's own, to show an employer.
    return [
        note(state, Kind.SKILLS_ASSESSMENT_COPY, Recipient.FRANCE_TRAVAIL, "H4", **result),
        note(state, Kind.SKILLS_ASSESSMENT_RESULT, Recipient.APPLICANT, "H4", **result),
    ]


def on_completed_copy_only(
    state: CaiState, event: SkillsAssessmentCompleted, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    """H4 as dossiers begun before the signatory's own copy apply it: France Travail's only."""
    notes = on_completed(state, event, reference, received_on)
    return [note for note in notes if note.kind != Kind.SKILLS_ASSESSMENT_RESULT]


def on_absence(
    state: CaiState, event: Absence, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    record = AbsenceRecord(absent_on=event.absent_on, legitimate_reason=event.legitimate_reason)
    if event.service == Service.SKILLS_ASSESSMENT:
        pending = state.skills_assessment.pending_convocation
        if pending is None:
            raise Waiting("I2", "the signatory is not convened to a skills assessment", "service")
        if event.absent_on < pending.session_on:
            raise InputRejected("I2", f"precedes the session of {pending.session_on}", "absent_on")
        state.skills_assessment.absences.append(record)
        return []
    service = _prescribed(state, event.service, "I2")
    service.absences.append(record)
    return []


def _prescribed(state: CaiState, name: Service, rule: str) -> ServiceRecord:
    if name == Service.SKILLS_ASSESSMENT:
        raise InputRejected(
            rule, "report the skills assessment with skills_assessment_completed", "service"
        )
    service = state.services[name.value]
    if service.not_owed is not None:  # D2, D6, C1: nothing is owed, so nothing is missed
        rule = service.not_owed.split(":", 1)[0]  # the rule that discharged it
        raise InputRejected(rule, f"{name.value} is not owed: {service.not_owed}", "service")
    if not service.prescribed:
        raise InputRejected(rule, f"{name.value} is not prescribed in this contract", "service")
    if service.completed_on is not None:
        raise InputRejected(
            rule, f"{name.value} was completed on {service.completed_on}", "service"
        )
    return service


def on_service_completed(
    state: CaiState, event: ServiceCompleted, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    service = _prescribed(state, event.service, "I1")
    if event.completed_on < state.input.signed_on:
        raise InputRejected("I1", "precedes the signature of the contract", "completed_on")
    service.completed_on = event.completed_on
    service.attestation_ref = event.attestation_ref
    return []


def on_dilf_preparation(
    state: CaiState, event: DilfPreparationRequested, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    """D6: the DILF's holder-to-be may ask OFII for preparation support, once."""
    _require_open(state, "D6", "a request")
    if not state.dilf_required:
        raise InputRejected(
            "D6", "preparation support is for a signatory who owes the DILF", "requested_on"
        )
    if state.dilf_preparation_requested_on is not None:
        raise InputRejected(
            "D6", f"already requested on {state.dilf_preparation_requested_on}", "requested_on"
        )
    state.dilf_preparation_requested_on = event.requested_on
    return []


def on_language_status(
    state: CaiState, event: LanguageTrainingStatus, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    _prescribed(state, Service.LANGUAGE_TRAINING, "I1")
    state.language_training_status = LanguageTrainingReport(
        status=event.status.value, reason=event.reason, reported_on=event.reported_on
    )
    return []
