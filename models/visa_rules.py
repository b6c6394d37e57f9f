"""The rules of part I of the circular, as pure functions (A1–F4).

`open_dossier` judges a new application; `receive` applies one event; `due_timer` and
`on_deadline` drive the statutory delays. None of them does I/O or reads a clock: the
shell passes `today` and gets back the new state and the notifications due.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from models.calendar import days_after, months_after
from models.common import (
    DeadlineStatus,
    NotificationDue,
    Recipient,
    TrackedDeadline,
    age_on,
)
from models.core import Step, TimerDue
from models.dossier import fulfil, next_timer, take_event
from models.errors import InputRejected
from models.events import Event
from models.intake import parse_payload
from models.reference import BodyKind, ReferenceData
from models.visa_events import (
    VISA_EVENTS,
    Decision,
    Domain,
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
    """Why the applicant is outside the evaluation abroad, or None when subject (A1, A2, A6)."""
    age = age_on(application.applicant.birth_date, application.visa_application_date)
    if application.procedure == Procedure.FAMILY_REUNIFICATION and not (
        FAMILY_MIN_AGE <= age < MAX_AGE
    ):
        return f"A1: aged {age} on the visa application date; family reunification covers 16 to 64"
    if application.procedure == Procedure.SPOUSE_OF_FRENCH and age >= MAX_AGE:
        return f"A1: aged {age} on the visa application date; spouses are covered under 65"
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
    if application.visa_application_date < starts_on:
        return (
            f"A2: visa application filed {application.visa_application_date}, before the scheme "
            f"started in {entry.name} on {starts_on}"
        )
    return None


def workflow_id_for(application_id: str) -> str:
    """The contract's workflow id: one dossier per application."""
    return f"visa-{application_id}"


def open_dossier(
    raw: Any, reference: ReferenceData, today: date, received_at: str, workflow_id: str
) -> Step[VisaState]:
    """Judge a new application: scope, responsible body, deadlines and first letters."""
    application = parse_input(raw)
    if workflow_id != workflow_id_for(application.application_id):
        raise InputRejected(
            "contract",
            f"the workflow id must be {workflow_id_for(application.application_id)}",
            "application_id",
        )
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
        seq=1,
    )
    if reason is not None:
        if application.resides_in_france_married_over_6_months:
            return Step(state, [_note(state, "routed_to_cai_in_france", Recipient.OFII, "A6")])
        return Step(
            state, [_note(state, "not_subject", Recipient.CONSULATE, reason[:2], reason=reason)]
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
    state.tracked_deadlines["decision_suspension_ends"] = TrackedDeadline(
        due=months_after(application.visa_application_date, SURSIS_MONTHS, policy), rule="B4"
    )
    if application.procedure == Procedure.FAMILY_REUNIFICATION:
        state.tracked_deadlines["prefecture_decision_due"] = TrackedDeadline(
            due=months_after(application.complete_file_date, PREFECTURE_DELAY_MONTHS, policy),
            rule="B2",
        )
        notes = [_note(state, "invitation", Recipient.APPLICANT, "A4", body=_body_payload(state))]
    else:
        notes = [
            _note(state, "invitation", Recipient.APPLICANT, "A5", body=_body_payload(state)),
            _note(
                state,
                "visa_application_copy",
                Recipient.OFII,
                "A5",
                visa_application_date=application.visa_application_date.isoformat(),
            ),
        ]
    return Step(state, notes)


# --- receiving an event ---------------------------------------------------------------


def receive(
    state: VisaState,
    name: str,
    raw: Any,
    reference: ReferenceData,
    today: date,
    received_at: str,
) -> Step[VisaState]:
    """Apply one event of `VisaApplication`."""

    def handle(new: VisaState, event: Event) -> list[NotificationDue]:
        notes: list[NotificationDue] = _HANDLERS[type(event)](new, event, reference, today)
        _settle_evaluation_deadline(new)
        return notes

    return take_event(state, name, raw, VISA_EVENTS, handle, today, received_at, _admissible)


def _admissible(state: VisaState) -> None:
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


def _on_language_test_exemption(
    state: VisaState, event: LanguageTestExemption, reference: ReferenceData, today: date
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
    today: date,
    sufficient: bool,
    bareme_from: date,
    **detail: Any,
) -> Evaluation:
    evaluated_on = event.evaluated_on
    if evaluated_on < state.input.complete_file_date:
        raise InputRejected(
            "B1",
            f"{evaluated_on} precedes the complete-file date {state.input.complete_file_date}",
            "evaluated_on",
        )
    results_due = days_after(evaluated_on, RESULTS_DELAY_DAYS, reference.calendar)
    late = today > results_due
    state.tracked_deadlines["results_to_consulate_due"] = TrackedDeadline(
        due=results_due,
        rule="B6",
        status=DeadlineStatus.MET_LATE if late else DeadlineStatus.MET,
    )
    return Evaluation(
        evaluated_on=evaluated_on,
        evaluator=event.evaluator,
        received_on=today,
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


def _on_language_evaluation(
    state: VisaState, event: LanguageEvaluation, reference: ReferenceData, today: date
) -> list[NotificationDue]:
    track, again = _place_evaluation(state, Domain.LANGUAGE, "D4", event.evaluated_on)
    bareme = reference.language_bareme_on(event.evaluated_on)
    total = event.oral_score + event.written_score
    sufficient = event.oral_score >= bareme.oral_min and total >= bareme.total_min  # D1
    evaluation = _evaluation_record(
        state,
        reference,
        event,
        today,
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
        notes += _to_applicant_and_consulate(state, "attestation_language_exemption", "D2")
    return notes


def _on_values_evaluation(
    state: VisaState, event: ValuesEvaluation, reference: ReferenceData, today: date
) -> list[NotificationDue]:
    if event.language_used not in state.input.applicant.languages:
        raise InputRejected(
            "E1",
            f"'{event.language_used}' is not a language the applicant declared understanding "
            f"({', '.join(state.input.applicant.languages)})",
            "language_used",
        )
    track, again = _place_evaluation(state, Domain.VALUES, "E5", event.evaluated_on)
    bareme = reference.values_bareme_on(event.evaluated_on)
    # E1: the barème's ratio, so that a different number of questions is judged alike.
    sufficient = event.correct_answers * bareme.out_of >= bareme.min_correct * event.questions_asked
    evaluation = _evaluation_record(
        state,
        reference,
        event,
        today,
        sufficient,
        bareme.effective_from,
        language_used=event.language_used,
        questions_asked=event.questions_asked,
        correct_answers=event.correct_answers,
    )
    notes = [_results_note(state, Domain.VALUES, evaluation, again)]
    if again:
        track.re_evaluation = evaluation
    else:
        track.evaluation = evaluation
    if sufficient:  # E2
        notes += _to_applicant_and_consulate(state, "attestation_values", "E2")
    return notes


def _on_training_prescribed(
    state: VisaState, event: TrainingPrescribed, reference: ReferenceData, today: date
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
    if integrates and state.values.training is not None:
        state.values.training = None
        _drop_training_deadlines(state, Domain.VALUES)
    state.track(domain).training = Training(
        hours=event.hours,
        provider=event.provider,
        notified_on=event.notified_on,
        integrates_values=integrates,
    )
    state.tracked_deadlines[f"training_start_due.{domain.value}"] = TrackedDeadline(
        due=months_after(event.notified_on, TRAINING_START_MONTHS, reference.calendar), rule="B7"
    )
    details = {
        "training": domain.value,
        "hours": event.hours,
        "provider": event.provider,
        "integrates_values": integrates,
        "start_by": state.tracked_deadlines[f"training_start_due.{domain.value}"].due.isoformat(),
    }
    rules = "D3, E3, E4" if integrates else rule
    return [
        _note(state, "training_prescription", recipient, rules, **details)
        for recipient in (Recipient.APPLICANT, Recipient.CONSULATE, Recipient.OFII)
    ]


def _on_training_exemption(
    state: VisaState, event: TrainingExemption, reference: ReferenceData, today: date
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
    if state.values_integrated and set(event.trainings) == {Domain.LANGUAGE}:
        raise InputRejected(
            "E4",
            "the values training is integrated into the language module: exempt both or neither",
            "trainings",
        )
    for domain in event.trainings:
        state.track(domain).training_exemption = Exemption(
            decided_on=event.decided_on,
            ground=event.ground.value,
            evidence_ref=event.evidence_ref,
            detail=event.detail,
        )
        _drop_training_deadlines(state, domain)
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


def _on_training_started(
    state: VisaState, event: TrainingStarted, reference: ReferenceData, today: date
) -> list[NotificationDue]:
    training = _open_training(state, event.kind, "B7")
    if training.started_on is not None:
        raise InputRejected("B7", f"the training already started on {training.started_on}", "kind")
    if event.started_on < training.notified_on:
        raise InputRejected(
            "B7", f"precedes the prescription notified on {training.notified_on}", "started_on"
        )
    training.started_on = event.started_on
    fulfil(state.tracked_deadlines[f"training_start_due.{event.kind.value}"])
    state.tracked_deadlines[f"training_end_due.{event.kind.value}"] = TrackedDeadline(
        due=months_after(event.started_on, TRAINING_LENGTH_MONTHS, reference.calendar), rule="B8"
    )
    return []


def _on_training_absence(
    state: VisaState, event: TrainingAbsence, reference: ReferenceData, today: date
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
            "non_attendance",
            Recipient.CONSULATE,
            rules,
            training=event.kind.value,
            absent_on=event.absent_on.isoformat(),
            legitimate_reason=event.legitimate_reason,
            attributable_to_applicant=event.legitimate_reason is None,  # B5
        )
    ]


def _on_training_completed(
    state: VisaState, event: TrainingCompleted, reference: ReferenceData, today: date
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
    training.completed_on = event.completed_on
    training.hours_attended = event.hours_attended
    training.attestation_ref = event.attestation_ref
    fulfil(state.tracked_deadlines[f"training_end_due.{event.kind.value}"])
    rules = "D4, E5" if training.integrates_values else rule
    return [
        _note(
            state,
            "training_attestation",
            Recipient.CONSULATE,
            rules,
            training=event.kind.value,
            integrates_values=training.integrates_values,
            completed_on=event.completed_on.isoformat(),
            hours_attended=event.hours_attended,
            attestation_ref=event.attestation_ref,
        )
    ]


def delay_attributable_to_applicant(state: VisaState) -> bool:
    """B5: only a reported absence without a legitimate reason counts against the applicant."""
    return any(
        absence.legitimate_reason is None
        for domain in Domain
        if (training := state.track(domain).training) is not None
        for absence in training.absences
    )


def _on_visa_decision(
    state: VisaState, event: VisaDecision, reference: ReferenceData, today: date
) -> list[NotificationDue]:
    if event.decided_on < state.input.visa_application_date:
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
            prescribed = any(state.track(d).training is not None for d in Domain)
            if not prescribed:
                raise InputRejected("F2", "no training was prescribed", "grounds")
            if not attributable:
                raise InputRejected(
                    "B5",
                    "a training not followed for a reason independent of the applicant cannot "
                    "ground a refusal",
                    "grounds",
                )
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
            "visa_decision",
            Recipient.OFII,
            "F4",
            decision=event.decision.value,
            decided_on=event.decided_on.isoformat(),
            grounds=state.outcome.grounds,
            cai=state.outcome.cai.model_dump(mode="json"),
        )
    ]


def cai_carry_over(state: VisaState) -> CaiCarryOver:
    """What the CAI in France inherits (D2, D6, D7)."""
    language = state.language
    re_evaluation = language.re_evaluation
    values_training = state.training_of(Domain.VALUES)
    return CaiCarryOver(
        amdfl=language.evaluation is not None and language.evaluation.sufficient,
        dilf_required=re_evaluation is not None and re_evaluation.sufficient,
        language_training_required=re_evaluation is not None and not re_evaluation.sufficient,
        language_results=(
            {
                "oral_score": re_evaluation.oral_score or 0,
                "written_score": re_evaluation.written_score or 0,
            }
            if re_evaluation is not None and not re_evaluation.sufficient
            else None
        ),
        values_training_followed=values_training is not None
        and values_training.completed_on is not None,
    )


_HANDLERS: dict[type[Event], Any] = {
    LanguageTestExemption: _on_language_test_exemption,
    LanguageEvaluation: _on_language_evaluation,
    ValuesEvaluation: _on_values_evaluation,
    TrainingPrescribed: _on_training_prescribed,
    TrainingExemption: _on_training_exemption,
    TrainingStarted: _on_training_started,
    TrainingAbsence: _on_training_absence,
    TrainingCompleted: _on_training_completed,
    VisaDecision: _on_visa_decision,
}


def _drop_training_deadlines(state: VisaState, domain: Domain) -> None:
    for name in ("training_start_due", "training_end_due"):
        state.tracked_deadlines.pop(f"{name}.{domain.value}", None)


# --- statutory delays -----------------------------------------------------------------

# B2 is a reminder on its last day; every other alert fires once its last day has passed.
_FIRES_ON_LAST_DAY = frozenset({"prefecture_decision_due"})


def due_timer(state: VisaState) -> TimerDue | None:
    """The next statutory alert to wait for, if any."""
    if state.closed:
        return None
    return next_timer(state.tracked_deadlines, lambda key: key in _FIRES_ON_LAST_DAY)


def on_deadline(state: VisaState, key: str, today: date, fired_at: str) -> Step[VisaState]:
    """A statutory delay has run out: record what became of it and alert who must act."""
    new = state.model_copy(deep=True)
    new.seq += 1
    deadline = new.tracked_deadlines[key]
    name, _, domain_name = key.partition(".")
    notes: list[NotificationDue] = []
    body = _body_recipient(new)
    if name == "evaluation_due":  # B1, B3: never held against the applicant
        deadline.status = DeadlineStatus.MISSED
        pending = [d.value for d in Domain if new.status_of(d) == TrackStatus.AWAITING_EVALUATION]
        notes = [
            _note(
                new,
                "evaluation_overdue",
                r,
                deadline.rule,
                evaluations=pending,
                due=deadline.due.isoformat(),
                held_against_applicant=False,
            )
            for r in (body, Recipient.CONSULATE)
        ]
    elif name == "prefecture_decision_due":  # B2
        deadline.status = DeadlineStatus.REACHED
        notes = [
            _note(
                new,
                "prefecture_decision_due",
                Recipient.PREFECTURE,
                "B2",
                prefecture=new.input.prefecture,
                due=deadline.due.isoformat(),
            )
        ]
    elif name == "decision_suspension_ends":  # B4, B5
        deadline.status = DeadlineStatus.MISSED
        statuses = {d.value: new.status_of(d).value for d in Domain}
        incomplete = [d for d, s in statuses.items() if TrackStatus(s) not in SETTLED]
        notes = [
            _note(
                new,
                "sursis_expired",
                Recipient.CONSULATE,
                "B4, B5",
                due=deadline.due.isoformat(),
                incomplete=incomplete,
                delay_attributable_to_applicant=delay_attributable_to_applicant(new),
                may_refuse_for_training_not_followed=delay_attributable_to_applicant(new),
            )
        ]
    elif name == "training_start_due":  # B7
        deadline.status = DeadlineStatus.MISSED
        notes = [
            _note(
                new,
                "training_start_overdue",
                r,
                "B7",
                training=domain_name,
                due=deadline.due.isoformat(),
            )
            for r in (body, Recipient.CONSULATE)
        ]
    elif name == "training_end_due":  # B8
        deadline.status = DeadlineStatus.MISSED
        notes = [
            _note(
                new,
                "training_overrun",
                body,
                "B8",
                training=domain_name,
                due=deadline.due.isoformat(),
            )
        ]
    return Step(new, notes)


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
    state: VisaState, kind: str, recipient: Recipient, rule: str, **payload: Any
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


def _to_applicant_and_consulate(state: VisaState, kind: str, rule: str) -> list[NotificationDue]:
    return [
        _note(state, kind, recipient, rule)
        for recipient in (Recipient.APPLICANT, Recipient.CONSULATE)
    ]


def _results_note(
    state: VisaState, domain: Domain, evaluation: Evaluation, again: bool
) -> NotificationDue:
    return _note(
        state,
        "evaluation_results",
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
            "exemption_granted",
            r,
            f"{rule}, C3",
            exemptions=exemptions,
            ground=ground,
            decided_on=decided_on.isoformat(),
        )
        for r in recipients
    ]
