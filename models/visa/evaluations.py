"""The evaluations abroad (D1, E1, B5, B6) and the language-test exemption (C1)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from models.calendar import days_after
from models.common import DeadlineStatus, NotificationDue, Recipient, TrackedDeadline
from models.errors import InputRejected
from models.notifications import Kind
from models.reference import ReferenceData
from models.visa.delays import RESULTS_DELAY_DAYS, training_needed
from models.visa.events import (
    Domain,
    EvaluationAbsence,
    LanguageEvaluation,
    LanguageTestExemption,
    ValuesEvaluation,
)
from models.visa.letters import exemption_notes, note, results_note, to_applicant_and_consulate
from models.visa.state import Absence, DomainTrack, Evaluation, Exemption, TrackStatus, VisaState
from models.visa.training import completion


def on_evaluation_absence(
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
        Absence(
            absent_on=event.absent_on,
            legitimate_reason=event.legitimate_reason,
            received_on=received_on,
        )
    )
    return [
        note(
            state,
            Kind.NON_ATTENDANCE,
            Recipient.CONSULATE,
            "B5",
            evaluation=event.kind.value,
            absent_on=event.absent_on.isoformat(),
            legitimate_reason=event.legitimate_reason,
            # B5; A4: never while the letter that convened them is held
            attributable_to_applicant=event.legitimate_reason is None and not state.letters_held,
        )
    ]


def on_language_test_exemption(
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
    return exemption_notes(state, "C1", ["language_test"], event.ground.value, event.decided_on)


def results_deadline_key(domain: Domain, place: Placement) -> str:
    """B6 is kept for each evaluation: one delay per domain and per first evaluation or
    re-evaluation, so that a late one stays late after later ones arrive (J1 counts it)."""
    suffix = {Placement.FIRST: "", Placement.AGAIN: "_re_evaluation"}.get(place, "_superseded")
    return f"results_to_consulate_due.{domain.value}{suffix}"


def _evaluation_record(
    state: VisaState,
    reference: ReferenceData,
    event: LanguageEvaluation | ValuesEvaluation,
    received_on: date,
    sufficient: bool,
    bareme_from: date,
    deadline_key: str,
    **detail: Any,
) -> Evaluation:
    evaluated_on = event.evaluated_on
    if evaluated_on < state.evaluations_from:
        raise InputRejected(
            state.opening_rule,  # B1, or B3 for a spouse's récépissé
            f"{evaluated_on} precedes the complete-file date {state.evaluations_from}",
            "evaluated_on",
        )
    # B6: the week runs from the evaluation to the results reaching the consulate, which
    # is told on receipt.
    results_due = days_after(
        evaluated_on, RESULTS_DELAY_DAYS, reference.calendar, state.holiday_calendar
    )
    late = received_on > results_due
    state.tracked_deadlines[deadline_key] = TrackedDeadline(
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


class Placement(StrEnum):
    FIRST = "first"
    AGAIN = "again"  # D4, E5: the re-evaluation after training
    SUPERSEDED = "superseded"  # C1: a test held after the exemption was decided


def _place_evaluation(
    state: VisaState, domain: Domain, rule_again: str, evaluated_on: date
) -> tuple[DomainTrack, Placement]:
    """Where an evaluation goes: the first one, the re-evaluation after training, or the
    record of a test an exemption decided before it supersedes (C1)."""
    track = state.track(domain)
    status = state.status_of(domain)
    if status == TrackStatus.AWAITING_EVALUATION:
        return track, Placement.FIRST
    if status == TrackStatus.AWAITING_RE_EVALUATION:
        completed_on = completion(state, domain)
        if completed_on is not None and evaluated_on < completed_on:
            raise InputRejected(
                rule_again,
                f"a re-evaluation follows the training completed on {completed_on}",
                "evaluated_on",
            )
        return track, Placement.AGAIN
    if status == TrackStatus.TEST_EXEMPT:
        exemption = track.test_exemption
        assert exemption is not None
        # C1: an exemption decided before the test governs, whenever either reaches the
        # dossier (the fold puts the earlier-dated first); the test's record is kept.
        if exemption.decided_on < evaluated_on:
            return track, Placement.SUPERSEDED
        raise InputRejected("C1", "the applicant is exempt from the language test")
    raise InputRejected(
        rule_again,
        f"a re-evaluation follows a completed training; "
        f"the {domain.value} domain is {status.value}",
    )


def on_language_evaluation(
    state: VisaState, event: LanguageEvaluation, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    track, place = _place_evaluation(state, Domain.LANGUAGE, "D4", event.evaluated_on)
    bareme = reference.language_bareme_on(event.evaluated_on)
    sufficient = language_sufficient(event, reference)
    evaluation = _evaluation_record(
        state,
        reference,
        event,
        received_on,
        sufficient,
        bareme.effective_from,
        results_deadline_key(Domain.LANGUAGE, place),
        oral_score=event.oral_score,
        written_score=event.written_score,
    )
    if place == Placement.SUPERSEDED:
        return _superseded(state, track, evaluation)
    again = place == Placement.AGAIN
    notes = [results_note(state, Domain.LANGUAGE, evaluation, again)]
    if again:
        track.re_evaluation = evaluation  # D6 / D7, carried to the CAI at the decision
        return notes
    track.evaluation = evaluation
    if sufficient:  # D2: the AMDFL
        notes += to_applicant_and_consulate(state, Kind.ATTESTATION_LANGUAGE_EXEMPTION, "D2")
    else:
        training_needed(state, Domain.LANGUAGE, evaluation, reference)
    return notes


def on_values_evaluation(
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
    track, place = _place_evaluation(state, Domain.VALUES, "E5", event.evaluated_on)
    sufficient = values_sufficient(event, reference)
    evaluation = _evaluation_record(
        state,
        reference,
        event,
        received_on,
        sufficient,
        bareme.effective_from,
        results_deadline_key(Domain.VALUES, place),
        language_used=event.language_used,
        questions_asked=event.questions_asked,
        correct_answers=event.correct_answers,
    )
    again = place == Placement.AGAIN
    notes = [results_note(state, Domain.VALUES, evaluation, again)]
    if again:
        track.re_evaluation = evaluation  # E5: the attestation is that of training followed
        return notes
    track.evaluation = evaluation
    if sufficient:  # E2: issued once, at a first evaluation that is satisfactory
        notes += to_applicant_and_consulate(state, Kind.ATTESTATION_VALUES, "E2")
    else:
        training_needed(state, Domain.VALUES, evaluation, reference)
    return notes


def _superseded(
    state: VisaState, track: DomainTrack, evaluation: Evaluation
) -> list[NotificationDue]:
    """C1: the test held after the exemption is kept on file, marked superseded; it finds
    no need and earns no AMDFL. The consulate still has its results, saying so (B6)."""
    kept = evaluation.model_copy(update={"superseded_by": "language_test_exemption"})
    track.superseded_evaluations.append(kept)
    return [results_note(state, Domain.LANGUAGE, kept, False)]


def language_sufficient(event: LanguageEvaluation, reference: ReferenceData) -> bool:
    """D1: sufficient at the barème in force on the evaluation's day."""
    bareme = reference.language_bareme_on(event.evaluated_on)
    total = event.oral_score + event.written_score
    return event.oral_score >= bareme.oral_min and total >= bareme.total_min


def values_sufficient(event: ValuesEvaluation, reference: ReferenceData) -> bool:
    """E1: satisfactory at the barème in force on the evaluation's day."""
    return event.correct_answers >= reference.values_bareme_on(event.evaluated_on).min_correct


def need_found_by_correction(name: str, before: Any, after: Any, reference: ReferenceData) -> bool:
    """B7: a correction that turns a sufficient result into an insufficient one notifies
    the need on its own date; the two months of the training run from there."""
    if name == "language_evaluation":
        first, corrected = LanguageEvaluation(**before), LanguageEvaluation(**after)
        return language_sufficient(first, reference) and not language_sufficient(
            corrected, reference
        )
    if name == "values_evaluation":
        first_v, corrected_v = ValuesEvaluation(**before), ValuesEvaluation(**after)
        return values_sufficient(first_v, reference) and not values_sufficient(
            corrected_v, reference
        )
    return False
