"""Part I's statutory delays (B1–B9): the deadlines a dossier runs, what happens when one
passes, and whether a delay is attributable to the applicant (B5)."""

from __future__ import annotations

from datetime import date

from models.calendar import months_after
from models.common import DeadlineStatus, NotificationDue, Recipient, Record, TrackedDeadline
from models.dossier import fulfil
from models.errors import Waiting
from models.notifications import Kind
from models.reference import ReferenceData
from models.visa.events import Domain
from models.visa.letters import body_recipient, note
from models.visa.state import SETTLED, Absence, Evaluation, TrackStatus, VisaState

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
    """The visa application's date. A decision arriving before the filing waits for it (F1:
    it is taken on an application; held, it stands between facts only once admitted)."""
    if state.visa_application_date is None:
        raise Waiting(
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


class Delay(Record):
    """B5, judged per delay: what one domain still waits for at a given moment, and
    whether the applicant caused it."""

    domain: Domain
    awaiting: TrackStatus
    attributable_to_applicant: bool
    cause: str


def outstanding_delays(state: VisaState, known_before: date | None = None) -> list[Delay]:
    """B5: each domain not settled, and who caused its delay. An absence without a
    legitimate reason makes attributable only the delay it caused: the evaluation (or
    re-evaluation) missed, or the training session missed; an appointment made up later
    (the evaluation held, the training completed) ends it. A delay the body caused (no
    session offered, no training started within B7, results late) and one a letter held
    for translation caused (A4) are never the applicant's. `known_before`: the absences
    reported before that day only (what the consulate knew when it ruled, D5, F2)."""
    delays: list[Delay] = []
    for domain in Domain:
        status = state.status_of(domain)
        if status in SETTLED:
            continue
        missed = [
            absence
            for absence in _absences_behind(state, domain, status)
            if absence.legitimate_reason is None
            and (
                known_before is None
                or absence.received_on is None
                or absence.received_on < known_before
            )
        ]
        if missed and state.letters_held:
            attributable, cause = False, "A4: the letter to the applicant is held for translation"
        elif missed:
            attributable = True
            cause = f"B5: absent without legitimate reason on {missed[-1].absent_on}"
        else:
            attributable, cause = False, _BODY_CAUSES[status]
        delays.append(
            Delay(
                domain=domain, awaiting=status, attributable_to_applicant=attributable, cause=cause
            )
        )
    return delays


# What keeps a domain waiting when the applicant missed nothing: the body's doing (B5).
_BODY_CAUSES = {
    TrackStatus.AWAITING_EVALUATION: "B1, B3: no evaluation held",
    TrackStatus.TRAINING_NEEDED: "D3, E3: no training session offered",
    TrackStatus.TRAINING_PRESCRIBED: "B7: the training has not started",
    TrackStatus.IN_TRAINING: "B8: the training is not completed",
    TrackStatus.AWAITING_RE_EVALUATION: "D4, E5: no re-evaluation held",
}


def _absences_behind(state: VisaState, domain: Domain, status: TrackStatus) -> list[Absence]:
    """The absences that caused the wait `status` is: from the evaluation awaited, or
    from the training under way; those an appointment made up since has ended are not."""
    track = state.track(domain)
    if status == TrackStatus.AWAITING_EVALUATION:
        return track.evaluation_absences
    if status == TrackStatus.AWAITING_RE_EVALUATION:
        training = state.training_of(domain)
        completed = training.completed_on if training is not None else None
        return [a for a in track.evaluation_absences if completed and a.absent_on >= completed]
    if status == TrackStatus.IN_TRAINING:
        training = state.training_of(domain)
        return training.absences if training is not None else []
    return []


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
        delays = outstanding_delays(state)
        attributable = any(d.attributable_to_applicant for d in delays)
        return [
            note(
                state,
                Kind.SURSIS_EXPIRED,
                Recipient.CONSULATE,
                "B4, B5",
                due=deadline.due.isoformat(),
                incomplete=[d.domain.value for d in delays],
                delay_attributable_to_applicant=attributable,
                may_refuse_for_training_not_followed=attributable,
                # B5: per delay, whether it is the applicant's and what caused it.
                delays=[d.model_dump(mode="json") for d in delays],
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
