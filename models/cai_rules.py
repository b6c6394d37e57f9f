"""The rules of the CAI in France (H1–H5, I1–I3) as pure functions."""

from __future__ import annotations

from datetime import date
from typing import Any

from models import history
from models.cai_events import (
    Absence,
    CaiContractInput,
    LanguageTrainingState,
    LanguageTrainingStatus,
    PrefectDecision,
    PrefectDecisionKind,
    Service,
    ServiceCompleted,
    SkillsAssessmentCompleted,
    SkillsAssessmentConvened,
    SkillsAssessmentExemption,
)
from models.cai_state import (
    Absence as AbsenceRecord,
)
from models.cai_state import (
    CaiStage,
    CaiState,
    Convocation,
    LanguageTrainingReport,
    PrefectDecisionRecord,
    Proposal,
    ServiceRecord,
    SkillsStatus,
)
from models.calendar import months_after
from models.common import DeadlineStatus, NotificationDue, Recipient, TrackedDeadline, age_on
from models.core import Step, TimerDue
from models.dossier import Moment, fulfil
from models.errors import InputRejected
from models.events import Event
from models.history import on
from models.intake import parse_payload
from models.notifications import Kind
from models.reference import ReferenceData
from models.visa_rules import letter_language

VALIDITY_MONTHS = 12  # H5: the contract is valid one year
REMINDER_MONTHS_BEFORE = (2, 1)  # H5, I1: OFII is reminded two months, then one, before the end
MAX_ASSESSMENT_HOURS = 3  # H3: half a day, 3 hours at most
EXEMPT_PERMITS = frozenset({"L.313-8", "L.313-9", "L.313-10"})  # H2
ADULT_AGE, SENIOR_AGE = 18, 55  # H2
SKILLS_ASSESSMENT_FROM = date(2008, 12, 1)  # H1: compulsory since 1 December 2008
MAX_EXTENSION_MONTHS = 12  # I1: the contract is extended, at most by its own length


def workflow_id_for(contract_id: str) -> str:
    return f"cai-{contract_id}"


def statutory_exemption(contract: CaiContractInput) -> str | None:
    """H1, H2: why no skills assessment is owed, from the contract's own data."""
    if contract.signed_on < SKILLS_ASSESSMENT_FROM:
        return f"H1: contract signed before {SKILLS_ASSESSMENT_FROM}, when the assessment began"
    age = age_on(contract.signatory.birth_date, contract.signed_on)
    if age < ADULT_AGE and contract.in_school:
        return f"H2: minor aged {age}, in school"
    if (
        age >= SENIOR_AGE
    ):  # "plus de 55 ans": the 55th birthday reached, as A1 reads "plus de 16 ans"
        return f"H2: aged {age}, over 55"
    if contract.residence_permit_basis in EXEMPT_PERMITS:
        return f"H2: residence permit under {contract.residence_permit_basis}"
    return None


def open_contract(
    raw: Any, reference: ReferenceData, today: Moment, received_at: str, workflow_id: str
) -> Step[CaiState]:
    contract = parse_payload(
        CaiContractInput, raw, CaiContractInput.RULE, CaiContractInput.FIELD_RULES
    )
    if workflow_id != workflow_id_for(contract.contract_id):
        raise InputRejected(
            "contract",
            f"the workflow id must be {workflow_id_for(contract.contract_id)}",
            "contract_id",
        )
    return history.open_dossier(RULES, contract, reference, today)


def _open_input(contract: CaiContractInput, reference: ReferenceData) -> Step[CaiState]:
    language, fallback = letter_language(contract.signatory.languages, reference.letter_languages)
    validity_ends = months_after(contract.signed_on, VALIDITY_MONTHS, reference.calendar)
    prescriptions = contract.prescriptions
    state = CaiState(
        contract_id=contract.contract_id,
        input=contract,
        letter_language=language,
        letter_language_fallback=fallback,
        validity_ends=validity_ends,
        services={
            Service.CIVIC_TRAINING.value: ServiceRecord(prescribed=prescriptions.civic_training),
            Service.LANGUAGE_TRAINING.value: ServiceRecord(
                prescribed=prescriptions.language_training_hours > 0
            ),
            Service.VIVRE_EN_FRANCE.value: ServiceRecord(prescribed=prescriptions.vivre_en_france),
        },
    )
    state.skills_assessment.exemption = statutory_exemption(contract)
    state.tracked_deadlines["validity_ends"] = TrackedDeadline(due=validity_ends, rule="H5")
    if state.skills_assessment.exemption is None:
        state.tracked_deadlines["skills_assessment_due"] = TrackedDeadline(
            due=validity_ends, rule="H5"
        )
    _plan_reminders(state, reference)
    return Step(state, [])


def _plan_reminders(state: CaiState, reference: ReferenceData) -> None:
    for months in REMINDER_MONTHS_BEFORE:
        due = months_after(state.current_end, -months, reference.calendar)
        state.tracked_deadlines[f"reminder.{months}m"] = TrackedDeadline(due=due, rule="H5")


# --- events -----------------------------------------------------------------------------


def receive(
    state: CaiState, name: str, raw: Any, reference: ReferenceData, today: Moment, received_at: str
) -> Step[CaiState]:
    return history.receive(RULES, state, name, raw, reference, today, received_at)


def _admissible(state: CaiState, event: Event) -> None:
    if state.closed:
        raise InputRejected("I1", f"the contract is {state.stage.value}")


def _require_open(state: CaiState, rule: str, what: str) -> None:
    if not state.open_for_services:
        raise InputRejected(
            rule, f"{what} after the contract's validity ended on {state.current_end}"
        )


def _on_exemption(
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


def _on_convened(
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
        raise InputRejected(
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
        _note(
            state,
            Kind.SKILLS_ASSESSMENT_CONVOCATION,
            Recipient.APPLICANT,
            "H1, H5",
            session_id=event.session_id,
            session_on=event.session_on.isoformat(),
            platform=event.platform,
        )
    ]


def _on_completed(
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
        raise InputRejected("H1", "the signatory was never convened", "completed_on")
    if event.completed_on < skills.convocations[0].session_on:
        raise InputRejected("H1", "precedes the first convocation", "completed_on")
    skills.completed_on = event.completed_on
    skills.duration_hours = event.duration_hours
    skills.report_ref = event.report_ref
    fulfil(state.tracked_deadlines.get("skills_assessment_due"))
    return [
        _note(
            state,
            Kind.SKILLS_ASSESSMENT_COPY,
            Recipient.FRANCE_TRAVAIL,
            "H4",
            completed_on=event.completed_on.isoformat(),
            report_ref=event.report_ref,
            duration_hours=event.duration_hours,
        )
    ]


def _on_absence(
    state: CaiState, event: Absence, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    record = AbsenceRecord(absent_on=event.absent_on, legitimate_reason=event.legitimate_reason)
    if event.service == Service.SKILLS_ASSESSMENT:
        pending = state.skills_assessment.pending_convocation
        if pending is None:
            raise InputRejected(
                "I2", "the signatory is not convened to a skills assessment", "service"
            )
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
    if not service.prescribed:
        raise InputRejected(rule, f"{name.value} is not prescribed in this contract", "service")
    if service.completed_on is not None:
        raise InputRejected(
            rule, f"{name.value} was completed on {service.completed_on}", "service"
        )
    return service


def _on_service_completed(
    state: CaiState, event: ServiceCompleted, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    service = _prescribed(state, event.service, "I1")
    if event.completed_on < state.input.signed_on:
        raise InputRejected("I1", "precedes the signature of the contract", "completed_on")
    service.completed_on = event.completed_on
    service.attestation_ref = event.attestation_ref
    return []


def _on_language_status(
    state: CaiState, event: LanguageTrainingStatus, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    _prescribed(state, Service.LANGUAGE_TRAINING, "I1")
    state.language_training_status = LanguageTrainingReport(
        status=event.status.value, reason=event.reason, reported_on=event.reported_on
    )
    return []


def extension_grounds(state: CaiState) -> str | None:
    """I1: a prescribed language training under way, or deferred for a legitimate reason."""
    language = state.services[Service.LANGUAGE_TRAINING.value]
    report = state.language_training_status
    if not language.prescribed or language.completed_on is not None or report is None:
        return None
    if report.status == LanguageTrainingState.IN_PROGRESS.value:
        return f"I1: language training under way (reported {report.reported_on})"
    return f"I1: language training deferred: {report.reason}"


def _on_prefect_decision(
    state: CaiState, event: PrefectDecision, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    if not state.awaiting_decision:
        raise InputRejected(
            "I1",
            "the prefect rules on OFII's proposal, made when the contract ends "
            f"({state.current_end})",
            "decision",
        )
    notes: list[NotificationDue] = []
    if event.decision == PrefectDecisionKind.EXTEND:
        assert event.extended_until is not None  # the event model requires it
        if extension_grounds(state) is None:
            raise InputRejected(
                "I1",
                "an extension needs a prescribed language training under way or deferred "
                "for a legitimate reason",
                "decision",
            )
        if event.extended_until <= state.current_end:
            raise InputRejected("I1", f"must follow {state.current_end}", "extended_until")
        longest = months_after(state.current_end, MAX_EXTENSION_MONTHS, reference.calendar)
        if event.extended_until > longest:
            raise InputRejected(
                "I1", f"an extension runs one more year at most (until {longest})", "extended_until"
            )
        state.extended_until = event.extended_until
        state.tracked_deadlines["extension_ends"] = TrackedDeadline(
            due=event.extended_until, rule="I1"
        )
        _offer_again(state, event.decided_on, event.extended_until)
        for key in [k for k in state.tracked_deadlines if k.startswith("reminder")]:
            del state.tracked_deadlines[key]
        _plan_reminders(state, reference)
    elif event.decision == PrefectDecisionKind.TERMINATE:
        notes.append(
            _note(
                state,
                Kind.CAI_TERMINATED,
                Recipient.PREFECTURE,
                "I3",
                decided_on=event.decided_on.isoformat(),
                consequence="may ground the refusal to renew the first residence card (I3)",
                reasons=state.proposal.reasons if state.proposal else [],
            )
        )
    state.decisions.append(
        PrefectDecisionRecord(
            decision=event.decision.value,
            decided_on=event.decided_on,
            extended_until=event.extended_until,
        )
    )
    state.awaiting_decision = False
    return notes


def _offer_again(state: CaiState, decided_on: date, until: date) -> None:
    """H1, H5: an assessment not yet done is offered again within the extension."""
    skills = state.skills_assessment
    if skills.status in (SkillsStatus.EXEMPT, SkillsStatus.COMPLETED):
        return
    skills.overdue = False
    skills.offered_again_on = decided_on
    state.tracked_deadlines["skills_assessment_due"] = TrackedDeadline(due=until, rule="H5")


# --- the year of validity ----------------------------------------------------------------


def due_timer(state: CaiState) -> TimerDue | None:
    return RULES.due_timer(state)


def propose(state: CaiState, today: date) -> Proposal:
    """I1, I2: OFII's proposal from what the signatory followed. `close` only when every
    prescribed service was followed or exempted; `terminate` on an absence without a
    legitimate reason; `extend` when a language training is under way or legitimately
    deferred; otherwise no proposal fits, and it says what is missing."""
    unexcused = [
        f"I2: absent from {name} on {a.absent_on} without legitimate reason"
        for name, absences in _all_absences(state)
        for a in absences
        if a.legitimate_reason is None
    ]
    outstanding = [
        f"{name} not completed"
        for name, service in state.services.items()
        if service.prescribed and service.completed_on is None
    ]
    if state.skills_assessment.status not in (SkillsStatus.EXEMPT, SkillsStatus.COMPLETED):
        outstanding.append("skills_assessment not completed")
    if unexcused:
        return Proposal(proposal="terminate", reasons=unexcused + outstanding, made_on=today)
    if not outstanding:
        return Proposal(
            proposal="close",
            reasons=["every prescribed service followed or exempted"],
            made_on=today,
        )
    extension = extension_grounds(state)
    if extension is not None:
        return Proposal(proposal="extend", reasons=[extension, *outstanding], made_on=today)
    return Proposal(
        proposal="undetermined",
        reasons=[
            "I1: no proposal fits: services are outstanding, with no absence without "
            "legitimate reason and no language training under way or deferred",
            *outstanding,
        ],
        missing=outstanding,
        made_on=today,
    )


def _all_absences(state: CaiState) -> list[tuple[str, list[AbsenceRecord]]]:
    """The absences that count (I2): a skills-assessment absence is voided by an exemption
    granted later, and by the assessment being offered again after an extension."""
    skills = state.skills_assessment
    counted = [] if skills.exemption is not None else skills.counted_absences
    return [("skills_assessment", counted)] + [
        (name, service.absences) for name, service in state.services.items()
    ]


def on_deadline(state: CaiState, key: str, today: Moment, fired_at: str) -> Step[CaiState]:
    return history.advance(RULES, state, today)


def _fire(state: CaiState, key: str, today: date) -> list[NotificationDue]:
    deadline = state.tracked_deadlines[key]
    if key.startswith("reminder"):
        deadline.status = DeadlineStatus.REACHED
        return [
            _note(
                state,
                Kind.CAI_EXPIRY_REMINDER,
                Recipient.OFII,
                "H5, I1",
                ends_on=state.current_end.isoformat(),
                skills_assessment=state.skills_assessment.status.value,
                awaiting=state.awaiting,
            )
        ]
    if key == "skills_assessment_due":
        deadline.status = DeadlineStatus.MISSED
        state.skills_assessment.overdue = True
        return [
            _note(state, Kind.SKILLS_ASSESSMENT_OVERDUE, r, "H5", due=deadline.due.isoformat())
            for r in (Recipient.OFII, Recipient.PREFECTURE)
        ]
    # validity_ends, extension_ends: OFII proposes, the prefect rules (I1)
    deadline.status = DeadlineStatus.REACHED
    state.proposal = propose(state, today)
    state.awaiting_decision = True
    return [
        _note(
            state,
            Kind.CAI_FOLLOW_UP_PROPOSAL,
            Recipient.PREFECTURE,
            "I1, I2",
            **state.proposal.model_dump(mode="json"),
        )
    ]


def _note(
    state: CaiState, kind: Kind, recipient: Recipient, rule: str, **payload: Any
) -> NotificationDue:
    base: dict[str, Any] = {
        "contract_id": state.contract_id,
        "prefecture": state.input.prefecture,
        "platform": state.input.platform,
    }
    language = None
    if recipient == Recipient.APPLICANT:
        language = state.letter_language
        base["full_name"] = state.input.signatory.full_name
        base["language_fallback"] = state.letter_language_fallback
    return NotificationDue(
        kind=kind, recipient=recipient, rule=rule, language=language, payload={**base, **payload}
    )


# The one catalogue of `CaiContract`: each event of the contract, its model, its rule.
EVENTS: dict[str, history.Registered[CaiState]] = {
    "skills_assessment_exemption": on(SkillsAssessmentExemption, _on_exemption),
    "skills_assessment_convened": on(SkillsAssessmentConvened, _on_convened),
    "skills_assessment_completed": on(SkillsAssessmentCompleted, _on_completed),
    "absence": on(Absence, _on_absence),
    "service_completed": on(ServiceCompleted, _on_service_completed),
    "language_training_status": on(LanguageTrainingStatus, _on_language_status),
    "prefect_decision": on(PrefectDecision, _on_prefect_decision),
}

RULES: history.Rules[CaiState] = history.Rules(
    events=EVENTS,
    open_input=_open_input,
    admit=_admissible,
    fire=_fire,
    fires_on_last_day=lambda key: key.startswith("reminder"),
)

__all__ = ["CaiStage", "due_timer", "on_deadline", "open_contract", "receive"]
