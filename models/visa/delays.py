"""Part I's statutory delays (B1–B9): the deadlines a dossier runs, what happens when one
passes, and whether a delay is attributable to the applicant (B5)."""

from __future__ import annotations

from datetime import date

from models.calendar import months_after
from models.common import DeadlineStatus, NotificationDue, Recipient, TrackedDeadline
from models.dossier import fulfil
from models.errors import InputRejected
from models.notifications import Kind
from models.reference import ReferenceData
from models.visa.events import Domain
from models.visa.letters import body_recipient, note
from models.visa.state import SETTLED, Absence, DomainTrack, Evaluation, TrackStatus, VisaState

EVALUATION_DELAY_DAYS = 60  # B1, B3
PREFECTURE_DELAY_MONTHS = 6  # B2 (L.421-4)
SURSIS_MONTHS = 6  # B4
RESULTS_DELAY_DAYS = 7  # B6: "dans la semaine"
TRAINING_START_MONTHS = 2  # B7
TRAINING_LENGTH_MONTHS = 2  # B8


def file_visa_application(state: VisaState, filed_on: date, reference: ReferenceData) -> None:
    """B4: the sursis à statuer runs six months from the visa application."""
    state.visa_application_date = filed_on
    state.tracked_deadlines["decision_suspension_ends"] = TrackedDeadline(
        due=months_after(filed_on, SURSIS_MONTHS, reference.calendar, state.holiday_calendar),
        rule="B4",
    )


def filed(state: VisaState) -> date:
    if state.visa_application_date is None:
        raise InputRejected(
            "F1", "no visa application is filed yet (visa_application_filed)", "decided_on"
        )
    return state.visa_application_date


def settle_evaluation_deadline(state: VisaState) -> None:
    """B1/B3 are met once neither domain awaits its first evaluation."""
    deadline = state.tracked_deadlines.get("evaluation_due")
    if deadline is None or any(
        state.status_of(domain) == TrackStatus.AWAITING_EVALUATION for domain in Domain
    ):
        return
    fulfil(deadline)


def training_needed(
    state: VisaState, domain: Domain, evaluation: Evaluation, reference: ReferenceData
) -> None:
    """B7: the two months to start a training run from the notification of the
    insufficient results (on receipt), before any prescription; E4: a values need found
    while a language module runs joins that module."""
    module = state.language.training
    joins_module = (
        domain == Domain.VALUES
        and module is not None
        and module.completed_on is None
        and state.language.training_exemption is None
    )
    start_by = months_after(
        evaluation.received_on, TRAINING_START_MONTHS, reference.calendar, state.holiday_calendar
    )
    if joins_module:
        assert module is not None
        module.integrates_values = True
        if module.started_on is None:
            start_module_by(state, start_by)
        return  # a module already started meets B7 for values too
    state.tracked_deadlines[f"training_start_due.{domain.value}"] = TrackedDeadline(
        due=start_by, rule="B7"
    )


def start_module_by(state: VisaState, start_by: date) -> None:
    """E4, B7: one module, one start deadline, the earlier of the two domains'."""
    language = state.tracked_deadlines.get("training_start_due.language")
    values = state.tracked_deadlines.pop("training_start_due.values", None)
    due = min(d.due for d in (language, values) if d is not None) if language or values else None
    earliest = start_by if due is None else min(due, start_by)
    if language is None or language.due != earliest:
        state.tracked_deadlines["training_start_due.language"] = TrackedDeadline(
            due=earliest, rule="B7"
        )


def delay_attributable_to_applicant(state: VisaState) -> bool:
    """B5: only an absence without a legitimate reason, from a training or from an
    evaluation, counts against the applicant."""
    return any(
        absence.legitimate_reason is None
        for domain in Domain
        for absence in _absences(state.track(domain))
    )


def _absences(track: DomainTrack) -> list[Absence]:
    training = track.training
    return [*track.evaluation_absences, *(training.absences if training is not None else [])]


# B2 is a reminder on its last day; every other alert fires once its last day has passed.
FIRES_ON_LAST_DAY = frozenset({"prefecture_decision_due"})


def fire(state: VisaState, key: str, today: date) -> list[NotificationDue]:
    deadline = state.tracked_deadlines[key]
    name, _, domain_name = key.partition(".")
    body = body_recipient(state)
    if name == "evaluation_due":  # B1, B3: never held against the applicant
        deadline.status = DeadlineStatus.MISSED
        pending = [d.value for d in Domain if state.status_of(d) == TrackStatus.AWAITING_EVALUATION]
        return [
            note(
                state,
                Kind.EVALUATION_OVERDUE,
                r,
                deadline.rule,
                evaluations=pending,
                due=deadline.due.isoformat(),
                held_against_applicant=False,
            )
            for r in (body, Recipient.CONSULATE)
        ]
    if name == "prefecture_decision_due":  # B2
        deadline.status = DeadlineStatus.REACHED
        return [
            note(
                state,
                Kind.PREFECTURE_DECISION_DUE,
                Recipient.PREFECTURE,
                "B2",
                prefecture=state.input.prefecture,
                due=deadline.due.isoformat(),
            )
        ]
    if name == "decision_suspension_ends":  # B4, B5
        deadline.status = DeadlineStatus.MISSED
        statuses = {d.value: state.status_of(d).value for d in Domain}
        incomplete = [d for d, s in statuses.items() if TrackStatus(s) not in SETTLED]
        attributable = delay_attributable_to_applicant(state)
        return [
            note(
                state,
                Kind.SURSIS_EXPIRED,
                Recipient.CONSULATE,
                "B4, B5",
                due=deadline.due.isoformat(),
                incomplete=incomplete,
                delay_attributable_to_applicant=attributable,
                may_refuse_for_training_not_followed=attributable and bool(incomplete),
            )
        ]
    deadline.status = DeadlineStatus.MISSED
    if name == "training_start_due":  # B7
        return [
            note(
                state,
                Kind.TRAINING_START_OVERDUE,
                r,
                "B7",
                training=domain_name,
                due=deadline.due.isoformat(),
            )
            for r in (body, Recipient.CONSULATE)
        ]
    # training_end_due, B8
    return [
        note(
            state,
            Kind.TRAINING_OVERRUN,
            body,
            "B8",
            training=domain_name,
            due=deadline.due.isoformat(),
        )
    ]
