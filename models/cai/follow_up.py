"""The contract's end (I1–I3): OFII's proposal, the prefect's decision, the extension,
and what passes with the year of validity."""

from __future__ import annotations

from datetime import date

from models.cai.events import LanguageTrainingState, PrefectDecision, PrefectDecisionKind, Service
from models.cai.letters import note
from models.cai.opening import plan_reminders
from models.cai.state import Absence as AbsenceRecord
from models.cai.state import CaiState, PrefectDecisionRecord, Proposal, SkillsStatus
from models.calendar import months_after
from models.common import DeadlineStatus, NotificationDue, Recipient, TrackedDeadline
from models.errors import InputRejected
from models.notifications import Kind
from models.reference import ReferenceData

MAX_EXTENSION_MONTHS = 12  # I1: the contract is extended, at most by its own length


def extension_grounds(state: CaiState) -> str | None:
    """I1: a prescribed language training under way, or deferred for a legitimate reason."""
    language = state.services[Service.LANGUAGE_TRAINING.value]
    report = state.language_training_status
    if not language.prescribed or language.completed_on is not None or report is None:
        return None
    if report.status == LanguageTrainingState.IN_PROGRESS.value:
        return f"I1: language training under way (reported {report.reported_on})"
    return f"I1: language training deferred: {report.reason}"


def on_prefect_decision(
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
        longest = months_after(
            state.current_end, MAX_EXTENSION_MONTHS, reference.calendar, state.holiday_calendar
        )
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
        plan_reminders(state, reference)
    elif event.decision == PrefectDecisionKind.TERMINATE:
        notes.append(
            note(
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


def propose(state: CaiState, today: date) -> Proposal:
    """I1, I2: OFII's proposal from what the signatory followed. `close` when every
    prescribed service was followed or exempted, whatever absences came before; otherwise
    `terminate` on an absence without a legitimate reason; `extend` when a language
    training is under way or legitimately deferred; otherwise no proposal fits, and it says
    what is missing."""
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
    if not outstanding:  # I1: services followed in the end prevail over earlier absences
        return Proposal(
            proposal="close",
            reasons=["every prescribed service followed or exempted"]
            + [f"{reason}, followed since" for reason in unexcused],
            made_on=today,
        )
    if unexcused:
        return Proposal(proposal="terminate", reasons=unexcused + outstanding, made_on=today)
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


def fire(state: CaiState, key: str, today: date) -> list[NotificationDue]:
    deadline = state.tracked_deadlines[key]
    if key.startswith("reminder"):
        deadline.status = DeadlineStatus.REACHED
        return [
            note(
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
            note(state, Kind.SKILLS_ASSESSMENT_OVERDUE, r, "H5", due=deadline.due.isoformat())
            for r in (Recipient.OFII, Recipient.PREFECTURE)
        ]
    # validity_ends, extension_ends: OFII proposes, the prefect rules (I1)
    deadline.status = DeadlineStatus.REACHED
    state.proposal = propose(state, today)
    state.awaiting_decision = True
    return [
        note(
            state,
            Kind.CAI_FOLLOW_UP_PROPOSAL,
            Recipient.PREFECTURE,
            "I1, I2",
            **state.proposal.model_dump(mode="json"),
        )
    ]
