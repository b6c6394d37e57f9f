"""The rules of part I of the circular, as pure functions (A1–F4).

`open_dossier` judges a new application; `receive` applies one event; `due_timer` and
`on_deadline` drive the statutory delays. None of them does I/O or reads a clock: the
shell passes `today` and gets back the new state and the notifications due.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from models import history
from models.calendar import days_after, months_after
from models.common import (
    DeadlineStatus,
    NotificationDue,
    Recipient,
    TrackedDeadline,
    age_on,
)
from models.core import Step, TimerDue
from models.dossier import Moment, fulfil
from models.errors import InputRejected
from models.events import Event
from models.history import on
from models.intake import parse_payload
from models.notifications import Kind
from models.reference import BodyKind, ReferenceData
from models.visa_events import (
    Decision,
    Domain,
    EvaluationAbsence,
    LanguageEvaluation,
    LanguageTestExemption,
    Procedure,
    RefusalGround,
    TrainingAbsence,
    TrainingCompleted,
    TrainingExemption,
    TrainingPrescribed,
    TrainingStarted,
    ValuesEvaluation,
    VisaApplicationFiled,
    VisaApplicationInput,
    VisaDecision,
)
from models.visa_state import (
    SETTLED,
    TRAINING_OUTSTANDING,
    Absence,
    CaiCarryOver,
    DomainTrack,
    Evaluation,
    Exemption,
    ResponsibleBody,
    TrackStatus,
    Training,
    VisaOutcome,
    VisaState,
)

EVALUATION_DELAY_DAYS = 60  # B1, B3
PREFECTURE_DELAY_MONTHS = 6  # B2 (L.421-4)
SURSIS_MONTHS = 6  # B4
RESULTS_DELAY_DAYS = 7  # B6: "dans la semaine"
TRAINING_START_MONTHS = 2  # B7
TRAINING_LENGTH_MONTHS = 2  # B8
MIN_LANGUAGE_HOURS = 40  # D3
MAX_VALUES_HOURS = 3  # E3: half a day, read as the circular reads it in II.2 (3 hours at most)
FAMILY_MIN_AGE, MAX_AGE = 16, 65  # A1
SCHEME_STARTS_ON = date(2008, 12, 1)  # A2: applications filed from 1 December 2008


# --- opening the dossier (A1–A6, B1–B4) -------------------------------------------


def parse_input(raw: Any) -> VisaApplicationInput:
    return parse_payload(
        VisaApplicationInput, raw, VisaApplicationInput.RULE, VisaApplicationInput.FIELD_RULES
    )


def letter_language(declared: list[str], available: list[str]) -> tuple[str, bool]:
    """The first declared language a letter exists in; French, flagged, otherwise (A4)."""
    for language in declared:
        if language in available:
            return language, False
    return "fr", True


def scope_reason(application: VisaApplicationInput, reference: ReferenceData) -> str | None:
    """Why the applicant is outside the evaluation abroad, or None when subject (A1, A2, A6).
    Family reunification is judged at the complete file, when its dossier opens; a spouse
    at the visa application."""
    if application.procedure == Procedure.FAMILY_REUNIFICATION:
        judged_on, on_what = application.complete_file_date, "the complete-file date"
    else:
        assert application.visa_application_date is not None  # required for a spouse
        judged_on, on_what = application.visa_application_date, "the visa application date"
    age = age_on(application.applicant.birth_date, judged_on)
    if application.procedure == Procedure.FAMILY_REUNIFICATION and not (
        FAMILY_MIN_AGE <= age < MAX_AGE
    ):
        return f"A1: aged {age} on {on_what}; family reunification covers 16 to 64"
    if application.procedure == Procedure.SPOUSE_OF_FRENCH and age >= MAX_AGE:
        return f"A1: aged {age} on {on_what}; spouses are covered under 65"
    if application.resides_in_france_married_over_6_months:
        return (
            "A6: spouse residing in France, married over six months: CAI arrangements in "
            "France, never required to return abroad"
        )
    entry = reference.countries.get(application.country_of_residence)
    if entry is None or entry.scheme_starts_on is None:
        return (
            f"A2: the scheme does not run yet in {application.country_of_residence} "
            "(no OFII representation nor delegated organisation)"
        )
    starts_on = max(entry.scheme_starts_on, SCHEME_STARTS_ON)
    # A2: the visa application comes after the complete file, so a file completed since
    # the scheme started in the country leads to an application filed since then too.
    filed = application.visa_application_date or application.complete_file_date
    if filed < starts_on:
        return (
            f"A2: visa application filed {filed}, before the scheme "
            f"started in {entry.name} on {starts_on}"
        )
    return None


def workflow_id_for(application_id: str) -> str:
    """The contract's workflow id: one dossier per application."""
    return f"visa-{application_id}"


def start_input(raw: Any, workflow_id: str) -> VisaApplicationInput:
    application = parse_input(raw)
    if workflow_id != workflow_id_for(application.application_id):
        raise InputRejected(
            "contract",
            f"the workflow id must be {workflow_id_for(application.application_id)}",
            "application_id",
        )
    return application


def open_dossier(
    raw: Any, reference: ReferenceData, today: Moment, received_at: str, workflow_id: str
) -> Step[VisaState]:
    """Judge a new application: scope, responsible body, deadlines and first letters."""
    return history.open_dossier(RULES, start_input(raw, workflow_id), reference, today)


def _open_input(application: VisaApplicationInput, reference: ReferenceData) -> Step[VisaState]:
    language, fallback = letter_language(
        application.applicant.languages, reference.letter_languages
    )
    reason = scope_reason(application, reference)
    state = VisaState(
        application_id=application.application_id,
        procedure=application.procedure,
        input=application,
        subject=reason is None,
        not_subject_reason=reason,
        letter_language=language,
        letter_language_fallback=fallback,
        time_zone=reference.time_zone_of(application.country_of_residence, application.consulate),
    )
    if reason is not None:
        if application.resides_in_france_married_over_6_months:
            return Step(state, [_note(state, Kind.ROUTED_TO_CAI_IN_FRANCE, Recipient.OFII, "A6")])
        return Step(
            state, [_note(state, Kind.NOT_SUBJECT, Recipient.CONSULATE, reason[:2], reason=reason)]
        )

    entry = reference.countries[application.country_of_residence]
    state.responsible_body = ResponsibleBody(
        kind=entry.body, country=application.country_of_residence, name=entry.body_name
    )
    policy = reference.calendar
    evaluation_rule = "B1" if application.procedure == Procedure.FAMILY_REUNIFICATION else "B3"
    state.tracked_deadlines["evaluation_due"] = TrackedDeadline(
        due=days_after(application.complete_file_date, EVALUATION_DELAY_DAYS, policy),
        rule=evaluation_rule,
    )
    if application.visa_application_date is not None:
        _file_visa_application(state, application.visa_application_date, reference)
    if application.procedure == Procedure.FAMILY_REUNIFICATION:
        state.tracked_deadlines["prefecture_decision_due"] = TrackedDeadline(
            due=months_after(application.complete_file_date, PREFECTURE_DELAY_MONTHS, policy),
            rule="B2",
        )
        notes = [
            _note(state, Kind.INVITATION, Recipient.APPLICANT, "A4", body=_body_payload(state))
        ]
    else:
        notes = [
            _note(state, Kind.INVITATION, Recipient.APPLICANT, "A5", body=_body_payload(state)),
            _note(
                state,
                Kind.VISA_APPLICATION_COPY,
                Recipient.OFII,
                "A5",
                visa_application_date=_filed(state).isoformat(),
            ),
        ]
    return Step(state, notes)


def _file_visa_application(state: VisaState, filed_on: date, reference: ReferenceData) -> None:
    """B4: the sursis à statuer runs six months from the visa application."""
    state.visa_application_date = filed_on
    state.tracked_deadlines["decision_suspension_ends"] = TrackedDeadline(
        due=months_after(filed_on, SURSIS_MONTHS, reference.calendar), rule="B4"
    )


def _filed(state: VisaState) -> date:
    if state.visa_application_date is None:
        raise InputRejected(
            "F1", "no visa application is filed yet (visa_application_filed)", "decided_on"
        )
    return state.visa_application_date


# --- receiving an event ---------------------------------------------------------------


def receive(
    state: VisaState,
    name: str,
    raw: Any,
    reference: ReferenceData,
    today: Moment,
    received_at: str,
) -> Step[VisaState]:
    """Take one event of `VisaApplication` (or a correction) in, judged in event time."""
    return history.receive(RULES, state, name, raw, reference, today, received_at)


def _admissible(state: VisaState, event: Event) -> None:
    if not state.subject:
        reason = state.not_subject_reason or ""
        raise InputRejected(reason[:2], f"the applicant is not subject: {reason[4:]}")
    if state.closed:
        raise InputRejected("F1", f"the dossier is closed ({state.stage.value})")


def _settle_evaluation_deadline(state: VisaState) -> None:
    """B1/B3 are met once neither domain awaits its first evaluation."""
    deadline = state.tracked_deadlines.get("evaluation_due")
    if deadline is None or any(
        state.status_of(domain) == TrackStatus.AWAITING_EVALUATION for domain in Domain
    ):
        return
    fulfil(deadline)


def _on_visa_application_filed(
    state: VisaState, event: VisaApplicationFiled, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    if state.visa_application_date is not None:
        raise InputRejected(
            "B4", f"the visa application was filed on {state.visa_application_date}", "filed_on"
        )
    _file_visa_application(state, event.filed_on, reference)
    return []


def _on_evaluation_absence(
    state: VisaState, event: EvaluationAbsence, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    status = state.status_of(event.kind)
    if status not in (TrackStatus.AWAITING_EVALUATION, TrackStatus.AWAITING_RE_EVALUATION):
        raise InputRejected(
            "B5",
            f"no {event.kind.value} evaluation is awaited: the domain is {status.value}",
            "kind",
        )
    state.track(event.kind).evaluation_absences.append(
        Absence(absent_on=event.absent_on, legitimate_reason=event.legitimate_reason)
    )
    return [
        _note(
            state,
            Kind.NON_ATTENDANCE,
            Recipient.CONSULATE,
            "B5",
            evaluation=event.kind.value,
            absent_on=event.absent_on.isoformat(),
            legitimate_reason=event.legitimate_reason,
            attributable_to_applicant=event.legitimate_reason is None,  # B5
        )
    ]


def _on_language_test_exemption(
    state: VisaState, event: LanguageTestExemption, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    if state.language.evaluation is not None:
        raise InputRejected("C1", "a language test exemption is asked before the evaluation")
    if state.language.test_exemption is not None:
        raise InputRejected("C1", "a language test exemption was already granted")
    state.language.test_exemption = Exemption(
        decided_on=event.decided_on, ground=event.ground.value, evidence_ref=event.evidence_ref
    )
    # C1: the values evaluation still applies; C3: OFII (and the delegate) are told.
    return _exemption_notes(state, "C1", ["language_test"], event.ground.value, event.decided_on)


def _evaluation_record(
    state: VisaState,
    reference: ReferenceData,
    event: LanguageEvaluation | ValuesEvaluation,
    received_on: date,
    sufficient: bool,
    bareme_from: date,
    **detail: Any,
) -> Evaluation:
    evaluated_on = event.evaluated_on
    if evaluated_on < state.input.complete_file_date:
        raise InputRejected(
            state.opening_rule,  # B1, or B3 for a spouse's récépissé
            f"{evaluated_on} precedes the complete-file date {state.input.complete_file_date}",
            "evaluated_on",
        )
    # B6: the week runs from the evaluation to the results reaching the consulate, which
    # is told on receipt.
    results_due = days_after(evaluated_on, RESULTS_DELAY_DAYS, reference.calendar)
    late = received_on > results_due
    state.tracked_deadlines["results_to_consulate_due"] = TrackedDeadline(
        due=results_due,
        rule="B6",
        status=DeadlineStatus.MET_LATE if late else DeadlineStatus.MET,
    )
    return Evaluation(
        evaluated_on=evaluated_on,
        evaluator=event.evaluator,
        received_on=received_on,
        late=late,
        sufficient=sufficient,
        bareme_from=bareme_from,
        **detail,
    )


def _place_evaluation(
    state: VisaState, domain: Domain, rule_again: str, evaluated_on: date
) -> tuple[DomainTrack, bool]:
    """Where an evaluation goes: the first one, or the re-evaluation after training."""
    track = state.track(domain)
    status = state.status_of(domain)
    if status == TrackStatus.AWAITING_EVALUATION:
        return track, False
    if status == TrackStatus.AWAITING_RE_EVALUATION:
        completed_on = _completion(state, domain)
        if completed_on is not None and evaluated_on < completed_on:
            raise InputRejected(
                rule_again,
                f"a re-evaluation follows the training completed on {completed_on}",
                "evaluated_on",
            )
        return track, True
    if status == TrackStatus.TEST_EXEMPT:
        raise InputRejected("C1", "the applicant is exempt from the language test")
    raise InputRejected(
        rule_again,
        f"a re-evaluation follows a completed training; "
        f"the {domain.value} domain is {status.value}",
    )


def _completion(state: VisaState, domain: Domain) -> date | None:
    training = state.training_of(domain)
    return training.completed_on if training is not None else None


def _not_before(evaluation: Evaluation | None, day: date, rule: str, field: str) -> None:
    """What follows an evaluation is not dated before it."""
    if evaluation is not None and day < evaluation.evaluated_on:
        raise InputRejected(rule, f"precedes the evaluation of {evaluation.evaluated_on}", field)


def _training_needed(
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
    start_by = months_after(evaluation.received_on, TRAINING_START_MONTHS, reference.calendar)
    if joins_module:
        assert module is not None
        module.integrates_values = True
        if module.started_on is None:
            _start_module_by(state, start_by)
        return  # a module already started meets B7 for values too
    state.tracked_deadlines[f"training_start_due.{domain.value}"] = TrackedDeadline(
        due=start_by, rule="B7"
    )


def _start_module_by(state: VisaState, start_by: date) -> None:
    """E4, B7: one module, one start deadline, the earlier of the two domains'."""
    language = state.tracked_deadlines.get("training_start_due.language")
    values = state.tracked_deadlines.pop("training_start_due.values", None)
    due = min(d.due for d in (language, values) if d is not None) if language or values else None
    earliest = start_by if due is None else min(due, start_by)
    if language is None or language.due != earliest:
        state.tracked_deadlines["training_start_due.language"] = TrackedDeadline(
            due=earliest, rule="B7"
        )


def _on_language_evaluation(
    state: VisaState, event: LanguageEvaluation, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    track, again = _place_evaluation(state, Domain.LANGUAGE, "D4", event.evaluated_on)
    bareme = reference.language_bareme_on(event.evaluated_on)
    total = event.oral_score + event.written_score
    sufficient = event.oral_score >= bareme.oral_min and total >= bareme.total_min  # D1
    evaluation = _evaluation_record(
        state,
        reference,
        event,
        received_on,
        sufficient,
        bareme.effective_from,
        oral_score=event.oral_score,
        written_score=event.written_score,
    )
    notes = [_results_note(state, Domain.LANGUAGE, evaluation, again)]
    if again:
        track.re_evaluation = evaluation  # D6 / D7, carried to the CAI at the decision
        return notes
    track.evaluation = evaluation
    if sufficient:  # D2: the AMDFL
        notes += _to_applicant_and_consulate(state, Kind.ATTESTATION_LANGUAGE_EXEMPTION, "D2")
    else:
        _training_needed(state, Domain.LANGUAGE, evaluation, reference)
    return notes


def _on_values_evaluation(
    state: VisaState, event: ValuesEvaluation, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    if event.language_used not in state.input.applicant.languages:
        raise InputRejected(
            "E1",
            f"'{event.language_used}' is not a language the applicant declared understanding "
            f"({', '.join(state.input.applicant.languages)})",
            "language_used",
        )
    bareme = reference.values_bareme_on(event.evaluated_on)
    if event.questions_asked != bareme.out_of:
        raise InputRejected(
            "E1",
            f"{event.questions_asked} questions asked; the evaluation is {bareme.out_of} "
            "questions (arrêté du 1er décembre 2008)",
            "questions_asked",
        )
    track, again = _place_evaluation(state, Domain.VALUES, "E5", event.evaluated_on)
    sufficient = event.correct_answers >= bareme.min_correct  # E1
    evaluation = _evaluation_record(
        state,
        reference,
        event,
        received_on,
        sufficient,
        bareme.effective_from,
        language_used=event.language_used,
        questions_asked=event.questions_asked,
        correct_answers=event.correct_answers,
    )
    notes = [_results_note(state, Domain.VALUES, evaluation, again)]
    if again:
        track.re_evaluation = evaluation  # E5: the attestation is that of training followed
        return notes
    track.evaluation = evaluation
    if sufficient:  # E2: issued once, at a first evaluation that is satisfactory
        notes += _to_applicant_and_consulate(state, Kind.ATTESTATION_VALUES, "E2")
    else:
        _training_needed(state, Domain.VALUES, evaluation, reference)
    return notes


def _on_training_prescribed(
    state: VisaState, event: TrainingPrescribed, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    domain = event.kind
    rule = "D3" if domain == Domain.LANGUAGE else "E3"
    status = state.status_of(domain)
    if domain == Domain.VALUES and state.values_integrated:
        raise InputRejected(
            "E4", "the values training is already integrated into the language module", "kind"
        )
    if status != TrackStatus.TRAINING_NEEDED:
        raise InputRejected(
            rule, f"no {domain.value} training is needed: the domain is {status.value}", "kind"
        )
    _not_before(state.track(domain).evaluation, event.notified_on, "B7", "notified_on")
    if domain == Domain.LANGUAGE and event.hours < MIN_LANGUAGE_HOURS:
        raise InputRejected("D3", f"{event.hours} hours prescribed; never fewer than 40", "hours")
    if domain == Domain.VALUES and event.hours > MAX_VALUES_HOURS:
        raise InputRejected(
            "E3", f"{event.hours} hours; the values training lasts half a day", "hours"
        )
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
            _start_module_by(state, values_start.due)
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
        _note(state, Kind.TRAINING_PRESCRIPTION, recipient, rules, **details)
        for recipient in (Recipient.APPLICANT, Recipient.CONSULATE, Recipient.OFII)
    ]


def _on_training_exemption(
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
        _drop_training_deadlines(state, domain)
    if integrated and Domain.VALUES not in event.trainings:
        # C2, E4: the language module is exempted alone; the half-day values training it
        # carried is due on its own, within the two months of its results (B7).
        values = state.values.evaluation
        assert values is not None
        if f"training_start_due.{Domain.VALUES.value}" not in state.tracked_deadlines:
            _training_needed(state, Domain.VALUES, values, reference)
    trainings = [f"{domain.value}_training" for domain in event.trainings]
    return _exemption_notes(state, "C2", trainings, event.ground.value, event.decided_on)


def _open_training(state: VisaState, domain: Domain, rule: str) -> Training:
    """The training an event about `domain` refers to, or a rejection saying why none."""
    if domain == Domain.VALUES and state.values_integrated:
        raise InputRejected(
            "E4",
            "the values training is integrated into the language module: use kind 'language'",
            "kind",
        )
    training = state.track(domain).training
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


def _on_training_started(
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
        due=months_after(event.started_on, TRAINING_LENGTH_MONTHS, reference.calendar), rule="B8"
    )
    return []


def _on_training_absence(
    state: VisaState, event: TrainingAbsence, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    rule = "D5" if event.kind == Domain.LANGUAGE else "E6"
    training = _open_training(state, event.kind, rule)
    if training.started_on is None or event.absent_on < training.started_on:
        raise InputRejected(rule, "an absence is reported from a training under way", "absent_on")
    if training.completed_on is not None and event.absent_on > training.completed_on:
        raise InputRejected(
            rule, f"after the training completed on {training.completed_on}", "absent_on"
        )
    training.absences.append(
        Absence(absent_on=event.absent_on, legitimate_reason=event.legitimate_reason)
    )
    rules = "D5, E6" if training.integrates_values else rule
    return [
        _note(
            state,
            Kind.NON_ATTENDANCE,
            Recipient.CONSULATE,
            rules,
            training=event.kind.value,
            absent_on=event.absent_on.isoformat(),
            legitimate_reason=event.legitimate_reason,
            attributable_to_applicant=event.legitimate_reason is None,  # B5
        )
    ]


def _on_training_completed(
    state: VisaState, event: TrainingCompleted, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    rule = "D4" if event.kind == Domain.LANGUAGE else "E5"
    training = _open_training(state, event.kind, rule)
    if training.started_on is None:
        raise InputRejected(
            rule, "the training has not started (send training_started first)", "kind"
        )
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
    notes = [
        _note(
            state,
            Kind.TRAINING_ATTESTATION,
            Recipient.CONSULATE,
            rules,
            training=event.kind.value,
            integrates_values=training.integrates_values,
            completed_on=event.completed_on.isoformat(),
            hours_attended=event.hours_attended,
            hours_prescribed=training.hours,
            attestation_ref=event.attestation_ref,
        )
    ]
    if event.hours_attended < training.hours:  # D4, D5: reported with the attestation
        notes.append(
            _note(
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


def _followed(training: Training | None) -> bool:
    """D4: an attestation of training followed is on file (hours were attended)."""
    return training is not None and training.completed_on is not None


def _refusable_for_training_not_followed(state: VisaState, decided_on: date) -> None:
    """B4, B5, F2: "training not followed" grounds a refusal only once the training is over
    (completed, or past B8) or the sursis has expired, never while an attestation of training
    followed is on file, and only when the delay is attributable to the applicant."""
    owed = [
        domain
        for domain in Domain
        if state.training_of(domain) is not None
        and state.track(domain).training_exemption is None
        and not (domain == Domain.VALUES and state.values_integrated)
    ]
    missed_evaluation = any(
        state.status_of(domain) == TrackStatus.AWAITING_EVALUATION for domain in Domain
    ) and any(
        absence.legitimate_reason is None
        for domain in Domain
        for absence in state.track(domain).evaluation_absences
    )
    if not owed and not missed_evaluation:
        raise InputRejected("F2", "no training was prescribed", "grounds")
    unfollowed = [domain for domain in owed if not _followed(state.training_of(domain))]
    if owed and not unfollowed and not missed_evaluation:
        refs = ", ".join(
            f"{d.value}: {t.attestation_ref}" for d in owed if (t := state.training_of(d))
        )
        raise InputRejected(
            "F2",
            f"the attestation of training followed is on file ({refs}); the training was followed",
            "grounds",
        )
    sursis = state.tracked_deadlines.get("decision_suspension_ends")
    sursis_over = sursis is None or sursis.status != DeadlineStatus.PENDING
    over = all(
        (end := state.tracked_deadlines.get(f"training_end_due.{d.value}")) is not None
        and end.status == DeadlineStatus.MISSED
        for d in unfollowed
    )
    if not sursis_over and not (unfollowed and over):
        raise InputRejected(
            "B4",
            "the training is not over and the sursis à statuer runs until "
            f"{sursis.due if sursis else decided_on}: it cannot be held as not followed yet",
            "grounds",
        )
    if not delay_attributable_to_applicant(state):
        raise InputRejected(
            "B5",
            "a training not followed for a reason independent of the applicant cannot "
            "ground a refusal",
            "grounds",
        )


def _on_visa_decision(
    state: VisaState, event: VisaDecision, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    if event.decided_on < _filed(state):
        raise InputRejected("F1", "precedes the visa application", "decided_on")
    sursis = state.tracked_deadlines["decision_suspension_ends"]
    sursis_over = sursis.status != DeadlineStatus.PENDING or event.decided_on > sursis.due
    attributable = delay_attributable_to_applicant(state)
    statuses = {domain: state.status_of(domain) for domain in Domain}
    untrained = [d.value for d, s in statuses.items() if s in TRAINING_OUTSTANDING]
    issued_under_b5 = False
    if event.decision == Decision.ISSUED:
        attestations = [day for d in Domain if (day := _completion(state, d)) is not None]
        if attestations and max(attestations) > event.decided_on:
            raise InputRejected(
                "F2",
                f"the attestation of training followed dates from {max(attestations)}, "
                "after the decision",
                "decided_on",
            )
        unevaluated = [d.value for d, s in statuses.items() if s == TrackStatus.AWAITING_EVALUATION]
        if unevaluated and not sursis_over:
            raise InputRejected(
                "B4",
                f"the decision is suspended (sursis à statuer) until the evaluation "
                f"({', '.join(unevaluated)}) is done, or until {sursis.due}",
                "decision",
            )
        if untrained:
            if not sursis_over or attributable:
                why = (
                    "the delay is attributable to the applicant (absence without legitimate reason)"
                    if sursis_over
                    else f"the sursis à statuer runs until {sursis.due}"
                )
                raise InputRejected(
                    "F2",
                    f"a visa is issued only on production of the attestation of training followed "
                    f"({', '.join(untrained)}); {why}",
                    "decision",
                )
            issued_under_b5 = True
    else:
        if RefusalGround.EVALUATION_RESULT in event.grounds:
            raise InputRejected(
                "F3", "a visa may not be refused because of an evaluation result", "grounds"
            )
        if RefusalGround.TRAINING_NOT_FOLLOWED in event.grounds:
            _refusable_for_training_not_followed(state, event.decided_on)
    fulfil(sursis)
    state.outcome = VisaOutcome(
        decision=event.decision.value,
        decided_on=event.decided_on,
        grounds=[ground.value for ground in event.grounds],
        issued_under_b5=issued_under_b5,
        delay_attributable_to_applicant=attributable,
        cai=cai_carry_over(state),
    )
    return [
        _note(
            state,
            Kind.VISA_DECISION,
            Recipient.OFII,
            "F4",
            decision=event.decision.value,
            decided_on=event.decided_on.isoformat(),
            grounds=state.outcome.grounds,
            cai=state.outcome.cai.model_dump(mode="json"),
        )
    ]


def cai_carry_over(state: VisaState) -> CaiCarryOver:
    """What the CAI in France inherits (D2, D6, D7): a language training is owed unless the
    last evaluation (or re-evaluation) was sufficient or C1 exempted the test; a training
    followed without a re-evaluation does not discharge it."""
    language = state.language
    last = language.re_evaluation or language.evaluation
    discharged = language.test_exemption is not None or (last is not None and last.sufficient)
    values_training = state.training_of(Domain.VALUES)
    return CaiCarryOver(
        amdfl=language.evaluation is not None and language.evaluation.sufficient,
        dilf_required=language.re_evaluation is not None and language.re_evaluation.sufficient,
        language_training_required=not discharged,
        language_results=(
            {"oral_score": last.oral_score or 0, "written_score": last.written_score or 0}
            if last is not None and not last.sufficient
            else None
        ),
        values_training_followed=_followed(values_training),
    )


def _drop_training_deadlines(state: VisaState, domain: Domain) -> None:
    for name in ("training_start_due", "training_end_due"):
        state.tracked_deadlines.pop(f"{name}.{domain.value}", None)


# --- statutory delays -----------------------------------------------------------------

# B2 is a reminder on its last day; every other alert fires once its last day has passed.
_FIRES_ON_LAST_DAY = frozenset({"prefecture_decision_due"})


def due_timer(state: VisaState) -> TimerDue | None:
    """The next statutory alert to wait for, if any."""
    return RULES.due_timer(state)


def on_deadline(state: VisaState, key: str, today: Moment, fired_at: str) -> Step[VisaState]:
    """A statutory delay has run out: record what became of it and alert who must act."""
    return history.advance(RULES, state, today)


def _fire(state: VisaState, key: str, today: date) -> list[NotificationDue]:
    deadline = state.tracked_deadlines[key]
    name, _, domain_name = key.partition(".")
    body = _body_recipient(state)
    if name == "evaluation_due":  # B1, B3: never held against the applicant
        deadline.status = DeadlineStatus.MISSED
        pending = [d.value for d in Domain if state.status_of(d) == TrackStatus.AWAITING_EVALUATION]
        return [
            _note(
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
            _note(
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
            _note(
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
            _note(
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
        _note(
            state,
            Kind.TRAINING_OVERRUN,
            body,
            "B8",
            training=domain_name,
            due=deadline.due.isoformat(),
        )
    ]


# --- notifications --------------------------------------------------------------------


def _body_recipient(state: VisaState) -> Recipient:
    """A3: the OFII representation, or the delegated organisation where there is none."""
    body = state.responsible_body
    if body is not None and body.kind == BodyKind.DELEGATE:
        return Recipient.DELEGATE
    return Recipient.OFII


def _body_payload(state: VisaState) -> dict[str, Any]:
    body = state.responsible_body
    return body.model_dump(mode="json") if body is not None else {}


def _note(
    state: VisaState, kind: Kind, recipient: Recipient, rule: str, **payload: Any
) -> NotificationDue:
    application = state.input
    base: dict[str, Any] = {
        "application_id": state.application_id,
        "procedure": state.procedure.value,
        "consulate": application.consulate,
        "country_of_residence": application.country_of_residence,
    }
    language = None
    if recipient == Recipient.APPLICANT:
        language = state.letter_language
        base["full_name"] = application.applicant.full_name
        base["language_fallback"] = state.letter_language_fallback  # A4
    return NotificationDue(
        kind=kind, recipient=recipient, rule=rule, language=language, payload={**base, **payload}
    )


def _to_applicant_and_consulate(state: VisaState, kind: Kind, rule: str) -> list[NotificationDue]:
    return [
        _note(state, kind, recipient, rule)
        for recipient in (Recipient.APPLICANT, Recipient.CONSULATE)
    ]


def _results_note(
    state: VisaState, domain: Domain, evaluation: Evaluation, again: bool
) -> NotificationDue:
    return _note(
        state,
        Kind.EVALUATION_RESULTS,
        Recipient.CONSULATE,
        "B6",
        domain=domain.value,
        re_evaluation=again,
        **evaluation.model_dump(mode="json", exclude_none=True),
    )


def _exemption_notes(
    state: VisaState, rule: str, exemptions: list[str], ground: str, decided_on: date
) -> list[NotificationDue]:
    """C3: OFII always; the delegated organisation too where there is no representation."""
    recipients = [Recipient.OFII]
    if _body_recipient(state) == Recipient.DELEGATE:
        recipients.append(Recipient.DELEGATE)
    return [
        _note(
            state,
            Kind.EXEMPTION_GRANTED,
            r,
            f"{rule}, C3",
            exemptions=exemptions,
            ground=ground,
            decided_on=decided_on.isoformat(),
        )
        for r in recipients
    ]


# The one catalogue of `VisaApplication`: each event of the contract, its model, its rule.
EVENTS: dict[str, history.Registered[VisaState]] = {
    "visa_application_filed": on(VisaApplicationFiled, _on_visa_application_filed),
    "evaluation_absence": on(EvaluationAbsence, _on_evaluation_absence),
    "language_test_exemption": on(LanguageTestExemption, _on_language_test_exemption),
    "language_evaluation": on(LanguageEvaluation, _on_language_evaluation),
    "values_evaluation": on(ValuesEvaluation, _on_values_evaluation),
    "training_prescribed": on(TrainingPrescribed, _on_training_prescribed),
    "training_exemption": on(TrainingExemption, _on_training_exemption),
    "training_started": on(TrainingStarted, _on_training_started),
    "training_absence": on(TrainingAbsence, _on_training_absence),
    "training_completed": on(TrainingCompleted, _on_training_completed),
    "visa_decision": on(VisaDecision, _on_visa_decision),
}

RULES: history.Rules[VisaState] = history.Rules(
    events=EVENTS,
    open_input=_open_input,
    admit=_admissible,
    fire=_fire,
    fires_on_last_day=lambda key: key in _FIRES_ON_LAST_DAY,
    settle=_settle_evaluation_deadline,
)
