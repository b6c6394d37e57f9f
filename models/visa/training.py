"""Trainings abroad (D3–D7, E3–E6, C2–C3): prescriptions, exemptions, sessions and the
attestations of training followed."""

from __future__ import annotations

from datetime import date

from models.calendar import months_after
from models.common import NotificationDue, Recipient, TrackedDeadline
from models.dossier import fulfil
from models.errors import InputRejected, Waiting
from models.notifications import Kind
from models.reference import ReferenceData
from models.visa.delays import TRAINING_LENGTH_MONTHS, start_module_by, training_needed
from models.visa.events import (
    Domain,
    TrainingAbsence,
    TrainingCompleted,
    TrainingExemption,
    TrainingPrescribed,
    TrainingStarted,
)
from models.visa.letters import exemption_notes, note, to_applicant_and_consulate
from models.visa.state import (
    TRAINING_OUTSTANDING,
    Absence,
    Evaluation,
    Exemption,
    TrackStatus,
    Training,
    VisaState,
)

MIN_LANGUAGE_HOURS = 40  # D3
MAX_VALUES_HOURS = 3  # E3: half a day, read as the circular reads it in II.2 (3 hours at most)
# Where a domain stands when its training may still be prescribed: an event about that
# training waits for the prescription (its evaluation may not be on file yet either).
PRESCRIPTION_MAY_COME = frozenset({TrackStatus.AWAITING_EVALUATION, TrackStatus.TRAINING_NEEDED})


def completion(state: VisaState, domain: Domain) -> date | None:
    training = state.training_of(domain)
    return training.completed_on if training is not None else None


def _not_before(evaluation: Evaluation | None, day: date, rule: str, field: str) -> None:
    """What follows an evaluation is not dated before it."""
    if evaluation is not None and day < evaluation.evaluated_on:
        raise InputRejected(rule, f"precedes the evaluation of {evaluation.evaluated_on}", field)


def on_training_prescribed(
    state: VisaState, event: TrainingPrescribed, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    domain = event.kind
    rule = "D3" if domain == Domain.LANGUAGE else "E3"
    status = state.status_of(domain)
    if domain == Domain.VALUES and state.values_integrated:
        raise InputRejected(
            "E4", "the values training is already integrated into the language module", "kind"
        )
    # What the prescription itself breaks is refused at once, whatever it would wait for.
    if domain == Domain.LANGUAGE and event.hours < MIN_LANGUAGE_HOURS:
        raise InputRejected("D3", f"{event.hours} hours prescribed; never fewer than 40", "hours")
    if domain == Domain.VALUES and event.hours > MAX_VALUES_HOURS:
        raise InputRejected(
            "E3", f"{event.hours} hours; the values training lasts half a day", "hours"
        )
    if status == TrackStatus.AWAITING_EVALUATION:
        # The evaluation that found the need has not arrived yet: the prescription waits for
        # it, and is judged in event time once it comes (B7: not dated before it).
        raise Waiting(rule, f"no {domain.value} evaluation has found the need yet", "kind")
    if status != TrackStatus.TRAINING_NEEDED:
        raise InputRejected(
            rule, f"no {domain.value} training is needed: the domain is {status.value}", "kind"
        )
    _not_before(state.track(domain).evaluation, event.notified_on, "B7", "notified_on")
    language_training_ahead = state.status_of(Domain.LANGUAGE) == TrackStatus.TRAINING_NEEDED
    if domain == Domain.VALUES and language_training_ahead:
        raise InputRejected(
            "E4",
            "a language training is also needed: the values training is integrated into the "
            "language module; prescribe kind 'language'",
            "kind",
        )
    # E4: a values training still waiting to start is folded into the language module.
    values_waiting = state.status_of(Domain.VALUES) in (
        TrackStatus.TRAINING_NEEDED,
        TrackStatus.TRAINING_PRESCRIBED,
    )
    integrates = domain == Domain.LANGUAGE and values_waiting
    if integrates:
        if state.values.training is not None:
            state.values.training = None
            state.tracked_deadlines.pop("training_end_due.values", None)
        values_start = state.tracked_deadlines.get("training_start_due.values")
        if values_start is not None:
            start_module_by(state, values_start.due)
    state.track(domain).training = Training(
        hours=event.hours,
        provider=event.provider,
        notified_on=event.notified_on,
        integrates_values=integrates,
    )
    start_due = state.tracked_deadlines.get(f"training_start_due.{domain.value}")
    details = {
        "training": domain.value,
        "hours": event.hours,
        "provider": event.provider,
        "integrates_values": integrates,
        "start_by": start_due.due.isoformat() if start_due is not None else None,
    }
    rules = "D3, E3, E4" if integrates else rule
    return [
        note(state, Kind.TRAINING_PRESCRIPTION, recipient, rules, **details)
        for recipient in (Recipient.APPLICANT, Recipient.CONSULATE, Recipient.OFII)
    ]


def on_training_exemption(
    state: VisaState, event: TrainingExemption, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    for domain in event.trainings:
        status = state.status_of(domain)
        if status not in TRAINING_OUTSTANDING:
            raise InputRejected(
                "C2",
                f"no {domain.value} training need to exempt from: the domain is {status.value}",
                "trainings",
            )
        _not_before(state.track(domain).evaluation, event.decided_on, "C2", "decided_on")
    integrated = state.values_integrated
    for domain in event.trainings:
        state.track(domain).training_exemption = Exemption(
            decided_on=event.decided_on,
            ground=event.ground.value,
            evidence_ref=event.evidence_ref,
            detail=event.detail,
        )
        drop_training_deadlines(state, domain)
    if integrated and Domain.VALUES not in event.trainings:
        # C2, E4: the language module is exempted alone; the half-day values training it
        # carried is due on its own, within the two months of its results (B7).
        values = state.values.evaluation
        assert values is not None
        if f"training_start_due.{Domain.VALUES.value}" not in state.tracked_deadlines:
            training_needed(state, Domain.VALUES, values, reference)
    trainings = [f"{domain.value}_training" for domain in event.trainings]
    return exemption_notes(state, "C2", trainings, event.ground.value, event.decided_on)


def _open_training(state: VisaState, domain: Domain, rule: str) -> Training:
    """The training an event about `domain` refers to, or a rejection saying why none."""
    if domain == Domain.VALUES and state.values_integrated:
        raise InputRejected(
            "E4",
            "the values training is integrated into the language module: use kind 'language'",
            "kind",
        )
    training = state.track(domain).training
    if training is None and state.status_of(domain) in PRESCRIPTION_MAY_COME:
        raise Waiting(rule, f"no {domain.value} training was prescribed", "kind")
    if training is None:
        raise InputRejected(rule, f"no {domain.value} training was prescribed", "kind")
    if state.track(domain).training_exemption is not None:
        raise InputRejected("C2", f"the {domain.value} training was exempted", "kind")
    return training


def _served_by(state: VisaState, domain: Domain) -> list[Domain]:
    """The domains a training of `domain` serves (E4: the module serves both)."""
    if domain == Domain.LANGUAGE and state.values_integrated:
        return [Domain.LANGUAGE, Domain.VALUES]
    return [domain]


def on_training_started(
    state: VisaState, event: TrainingStarted, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    training = _open_training(state, event.kind, "B7")
    if training.started_on is not None:
        raise InputRejected("B7", f"the training already started on {training.started_on}", "kind")
    if event.started_on < training.notified_on:
        raise InputRejected(
            "B7", f"precedes the prescription notified on {training.notified_on}", "started_on"
        )
    training.started_on = event.started_on
    for domain in _served_by(state, event.kind):
        fulfil(state.tracked_deadlines.get(f"training_start_due.{domain.value}"))
    state.tracked_deadlines[f"training_end_due.{event.kind.value}"] = TrackedDeadline(
        due=months_after(
            event.started_on, TRAINING_LENGTH_MONTHS, reference.calendar, state.holiday_calendar
        ),
        rule="B8",
    )
    return []


def on_training_absence(
    state: VisaState, event: TrainingAbsence, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    rule = "D5" if event.kind == Domain.LANGUAGE else "E6"
    training = _open_training(state, event.kind, rule)
    if training.started_on is None:
        raise Waiting(rule, "an absence is reported from a training under way", "absent_on")
    if event.absent_on < training.started_on:
        raise InputRejected(rule, "an absence is reported from a training under way", "absent_on")
    if training.completed_on is not None and event.absent_on > training.completed_on:
        raise InputRejected(
            rule, f"after the training completed on {training.completed_on}", "absent_on"
        )
    training.absences.append(
        Absence(
            absent_on=event.absent_on,
            legitimate_reason=event.legitimate_reason,
            received_on=received_on,
        )
    )
    rules = "D5, E6" if training.integrates_values else rule
    return [
        note(
            state,
            Kind.NON_ATTENDANCE,
            Recipient.CONSULATE,
            rules,
            training=event.kind.value,
            absent_on=event.absent_on.isoformat(),
            legitimate_reason=event.legitimate_reason,
            # B5; A4: never while the letter that convened them is held
            attributable_to_applicant=event.legitimate_reason is None and not state.letters_held,
        )
    ]


def on_training_completed(
    state: VisaState, event: TrainingCompleted, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    rule = "D4" if event.kind == Domain.LANGUAGE else "E5"
    training = _open_training(state, event.kind, rule)
    if training.started_on is None:
        raise Waiting(rule, "the training has not started (send training_started first)", "kind")
    if training.completed_on is not None:
        raise InputRejected(
            rule, f"the training already completed on {training.completed_on}", "kind"
        )
    if event.completed_on < training.started_on:
        raise InputRejected(rule, f"precedes the start on {training.started_on}", "completed_on")
    if event.hours_attended == 0:
        raise InputRejected(
            rule,
            "an attestation of training followed with no hour attended is not an attestation",
            "hours_attended",
        )
    training.completed_on = event.completed_on
    training.hours_attended = event.hours_attended
    training.attestation_ref = event.attestation_ref
    fulfil(state.tracked_deadlines.get(f"training_end_due.{event.kind.value}"))
    rules = "D4, E5" if training.integrates_values else rule
    # D4, E5: the attestation is nominative and the applicant's; the consulate gets the copy.
    notes = to_applicant_and_consulate(
        state,
        Kind.TRAINING_ATTESTATION,
        rules,
        training=event.kind.value,
        integrates_values=training.integrates_values,
        completed_on=event.completed_on.isoformat(),
        hours_attended=event.hours_attended,
        hours_prescribed=training.hours,
        attestation_ref=event.attestation_ref,
    )
    if event.hours_attended < training.hours:  # D4, D5: reported with the attestation
        notes.append(
            note(
                state,
                Kind.NON_ATTENDANCE,
                Recipient.CONSULATE,
                "D4, D5" if event.kind == Domain.LANGUAGE else "E5, E6",
                training=event.kind.value,
                hours_attended=event.hours_attended,
                hours_prescribed=training.hours,
                completed_on=event.completed_on.isoformat(),
            )
        )
    return notes


def followed(training: Training | None) -> bool:
    """D4: an attestation of training followed is on file (hours were attended)."""
    return training is not None and training.completed_on is not None


def drop_training_deadlines(state: VisaState, domain: Domain) -> None:
    for name in ("training_start_due", "training_end_due"):
        state.tracked_deadlines.pop(f"{name}.{domain.value}", None)
