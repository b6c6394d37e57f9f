"""E1–E6: the evaluation of the values of the Republic, its attestation and its training."""

from __future__ import annotations

from datetime import date

import pytest

from models.common import Recipient
from models.visa.state import Stage, TrackStatus
from tests.unit.builders import (
    Event,
    application,
    feed,
    language_evaluation,
    open_,
    pairs,
    reference,
    send,
    to_applicant,
    training_absence,
    training_completed,
    training_prescribed,
    training_started,
    unchanged_but_seq,
    values_evaluation,
    visa_decision,
)

EVALUATED = date(2009, 2, 20)
PRESCRIBED = date(2009, 3, 1)
STARTED = date(2009, 3, 10)
COMPLETED = date(2009, 3, 10)
RE_EVALUATED = date(2009, 3, 20)

LANGUAGE_OK = language_evaluation(EVALUATED)
LANGUAGE_KO = language_evaluation(EVALUATED, oral=20, written=10)
VALUES_KO = values_evaluation(EVALUATED, correct=4)
VALUES_TRAINED: list[Event] = [
    LANGUAGE_OK,
    VALUES_KO,
    training_prescribed(PRESCRIBED, kind="values", hours=3),
    training_started(STARTED, kind="values"),
    training_completed(COMPLETED, kind="values", hours=3),
]
BOTH_KO = [LANGUAGE_KO, VALUES_KO]


def satisfactory(correct: int, asked: int = 6) -> bool:
    state = feed([values_evaluation(EVALUATED, correct=correct, asked=asked)]).state
    assert state.values.evaluation is not None
    return state.values.evaluation.sufficient


# --- E1: oral questions in a declared language, 5 correct out of 6 -------------------


@pytest.mark.rule("E1")
def test_e1_five_out_of_six_is_satisfactory() -> None:
    assert satisfactory(5) is True
    assert satisfactory(6) is True


@pytest.mark.rule("E1")
def test_e1_four_out_of_six_is_insufficient() -> None:
    assert satisfactory(4) is False
    assert satisfactory(0) is False


@pytest.mark.rule("E1")
def test_e1_the_result_carries_language_answers_and_questions() -> None:
    state = feed([values_evaluation(EVALUATED, correct=5, language="fr")]).state
    evaluation = state.values.evaluation
    assert evaluation is not None
    assert evaluation.language_used == "fr"
    assert (evaluation.correct_answers, evaluation.questions_asked) == (5, 6)
    assert evaluation.evaluated_on == EVALUATED
    assert evaluation.evaluator == "OFII Rabat"


@pytest.mark.rule("E1")
def test_e1_questions_in_a_language_not_declared_are_rejected() -> None:
    before = open_().state  # declared: ar, fr
    step = send(before, *values_evaluation(EVALUATED, language="tr"))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("E1: language_used")
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("E1")
def test_e1_more_correct_answers_than_questions_is_rejected() -> None:
    before = open_().state
    step = send(before, *values_evaluation(EVALUATED, correct=7, asked=6))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("E1:")
    assert "correct_answers" in step.rejection.reason
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("E1")
def test_e1_the_bareme_is_configuration_versioned_by_effective_date() -> None:
    ref = reference(
        {
            "values_baremes": [
                {"effective_from": "2008-12-01", "min_correct": 5, "out_of": 6},
                {"effective_from": "2009-06-01", "min_correct": 6, "out_of": 6},
            ]
        }
    )
    raw = application(complete_file_date="2009-05-01", visa_application_date="2009-05-10")
    before = feed([values_evaluation(date(2009, 5, 31), correct=5)], raw, ref).state
    on = feed([values_evaluation(date(2009, 6, 1), correct=5)], raw, ref).state
    assert before.values.evaluation is not None and on.values.evaluation is not None
    assert before.values.evaluation.sufficient is True
    assert on.values.evaluation.sufficient is False
    assert on.values.evaluation.bareme_from == date(2009, 6, 1)


# --- E2: satisfactory → the attestation, no training abroad ----------------------------


@pytest.mark.rule("E2")
def test_e2_satisfactory_gives_the_attestation_to_the_applicant_and_the_consulate() -> None:
    step = feed([values_evaluation(EVALUATED, correct=5, language="fr")])
    assert pairs(step) == {
        ("evaluation_results", Recipient.CONSULATE),
        ("attestation_values", Recipient.APPLICANT),
        ("attestation_values", Recipient.CONSULATE),
    }
    letter = to_applicant(step, "attestation_values")
    assert letter.rule == "E2"
    assert letter.language == "ar"  # the letter follows A4, whatever language was used orally
    assert letter.payload["language_fallback"] is False
    assert step.state.track_status["values"] == TrackStatus.SUFFICIENT


@pytest.mark.rule("E2")
def test_e2_no_training_after_a_satisfactory_evaluation() -> None:
    before = feed([LANGUAGE_OK, values_evaluation(EVALUATED, correct=5)]).state
    assert before.stage == Stage.AWAITING_VISA_DECISION
    step = send(before, *training_prescribed(PRESCRIBED, kind="values", hours=3))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("E3: kind")
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("E2")
def test_e2_insufficient_gives_no_attestation() -> None:
    step = feed([VALUES_KO])
    assert pairs(step) == {("evaluation_results", Recipient.CONSULATE)}


# --- E3: insufficient → a half-day training starting within two months -----------------


@pytest.mark.rule("E3")
@pytest.mark.rule("B7")
def test_e3_insufficient_values_get_a_training_prescribed_and_notified() -> None:
    before = feed([LANGUAGE_OK, VALUES_KO]).state
    assert before.track_status["values"] == TrackStatus.TRAINING_NEEDED
    assert before.stage == Stage.AWAITING_TRAINING
    step = send(before, *training_prescribed(PRESCRIBED, kind="values", hours=3))
    assert step.rejection is None
    assert pairs(step) == {
        ("training_prescription", Recipient.APPLICANT),
        ("training_prescription", Recipient.CONSULATE),
        ("training_prescription", Recipient.OFII),
    }
    letter = to_applicant(step, "training_prescription")
    assert letter.rule == "E3"
    assert letter.language == "ar"
    assert letter.payload["training"] == "values"
    # B7: two months from the insufficient results (20 February), not the prescription.
    assert step.state.deadlines["training_start_due"] == date(2009, 4, 20)


@pytest.mark.rule("E3")
def test_e3_a_training_longer_than_half_a_day_is_rejected() -> None:
    before = feed([LANGUAGE_OK, VALUES_KO]).state
    step = send(before, *training_prescribed(PRESCRIBED, kind="values", hours=4))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("E3: hours")
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)


# --- E4: with a language training, the values training is part of it -------------------


@pytest.mark.rule("E4")
def test_e4_a_separate_values_training_is_rejected_when_language_is_also_needed() -> None:
    before = feed(BOTH_KO).state
    step = send(before, *training_prescribed(PRESCRIBED, kind="values", hours=3))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("E4: kind")
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("E4")
def test_e4_the_language_module_integrates_the_values_training() -> None:
    step = feed([*BOTH_KO, training_prescribed(PRESCRIBED, hours=120)])
    assert step.rejection is None
    training = step.state.language.training
    assert training is not None and training.integrates_values is True
    assert step.state.values.training is None
    # One training, one start deadline.
    assert [k for k in step.state.tracked_deadlines if k.startswith("training_start_due")] == [
        "training_start_due.language"
    ]
    assert step.state.track_status["values"] == TrackStatus.TRAINING_PRESCRIBED
    letter = to_applicant(step, "training_prescription")
    assert letter.payload["integrates_values"] is True
    assert "E4" in letter.rule
    # A values training on top of it is refused.
    again = send(step.state, *training_prescribed(date(2009, 3, 2), kind="values", hours=3))
    assert again.rejection is not None
    assert again.rejection.reason.startswith("E4: kind")


@pytest.mark.rule("E4")
def test_e4_a_values_training_not_yet_started_is_folded_into_the_language_module() -> None:
    state = feed(
        [
            VALUES_KO,
            training_prescribed(PRESCRIBED, kind="values", hours=3),
            language_evaluation(date(2009, 3, 5), oral=20, written=10),
            training_prescribed(date(2009, 3, 6), hours=80),
        ]
    ).state
    assert state.values.training is None
    assert "training_start_due.values" not in state.tracked_deadlines
    training = state.language.training
    assert training is not None and training.integrates_values is True


@pytest.mark.rule("E4")
@pytest.mark.rule("E5")
def test_e4_completing_the_language_module_completes_the_values_training() -> None:
    step = feed(
        [
            *BOTH_KO,
            training_prescribed(PRESCRIBED, hours=120),
            training_started(STARTED),
            training_completed(date(2009, 4, 30)),
        ]
    )
    assert step.state.track_status == {
        "language": TrackStatus.AWAITING_RE_EVALUATION,
        "values": TrackStatus.AWAITING_RE_EVALUATION,
    }
    applicant, note = step.notifications
    assert (applicant.kind, applicant.recipient) == ("training_attestation", Recipient.APPLICANT)
    assert note.kind == "training_attestation"
    assert note.recipient == Recipient.CONSULATE
    assert note.rule == "D4, E5"
    assert note.payload["integrates_values"] is True
    decided = feed(
        [
            language_evaluation(date(2009, 5, 5)),
            values_evaluation(date(2009, 5, 5)),
            visa_decision(date(2009, 5, 10)),
        ],
        start=step,
    )
    assert decided.state.outcome is not None
    assert decided.state.outcome.cai.values_training_followed is True


@pytest.mark.rule("E4")
def test_e4_events_about_the_integrated_values_training_use_kind_language() -> None:
    before = feed([*BOTH_KO, training_prescribed(PRESCRIBED, hours=120)]).state
    step = send(before, *training_started(STARTED, kind="values"))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("E4: kind")
    assert unchanged_but_seq(before, step.state)


# --- E5: after training, the attestation and a new evaluation ---------------------------


@pytest.mark.rule("E5")
def test_e5_the_values_attestation_of_training_goes_to_the_applicant_and_the_consulate() -> None:
    step = feed(VALUES_TRAINED)
    assert pairs(step) == {
        ("training_attestation", Recipient.APPLICANT),
        ("training_attestation", Recipient.CONSULATE),
    }
    assert step.notifications[0].rule == "E5"
    assert step.state.track_status["values"] == TrackStatus.AWAITING_RE_EVALUATION
    assert step.state.stage == Stage.AWAITING_RE_EVALUATION


@pytest.mark.rule("E5")
def test_e5_the_second_values_evaluation_is_the_re_evaluation() -> None:
    step = feed([*VALUES_TRAINED, values_evaluation(RE_EVALUATED, correct=5)])
    assert step.rejection is None
    assert step.state.values.re_evaluation is not None
    assert step.state.track_status["values"] == TrackStatus.RE_EVALUATED
    assert step.state.stage == Stage.AWAITING_VISA_DECISION
    assert ("evaluation_results", Recipient.CONSULATE) in pairs(step)


@pytest.mark.rule("E5")
def test_e5_no_values_re_evaluation_before_the_training_is_completed() -> None:
    before = feed(VALUES_TRAINED[:-1]).state
    step = send(before, *values_evaluation(date(2009, 3, 11)))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("E5:")
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)


# --- E6: non-attendance is reported to the consulate ------------------------------------


@pytest.mark.rule("E6")
def test_e6_values_non_attendance_is_notified_to_the_consulate() -> None:
    step = feed([*VALUES_TRAINED[:-1], training_absence(STARTED, kind="values")])
    assert pairs(step) == {("non_attendance", Recipient.CONSULATE)}
    [note] = step.notifications
    assert note.rule == "E6"
    assert note.payload["training"] == "values"
    assert note.payload["attributable_to_applicant"] is True


@pytest.mark.rule("E6")
@pytest.mark.rule("E4")
def test_e6_absence_from_the_integrated_module_cites_both_rules() -> None:
    step = feed(
        [
            *BOTH_KO,
            training_prescribed(PRESCRIBED, hours=120),
            training_started(STARTED),
            training_absence(date(2009, 3, 12)),
        ]
    )
    [note] = step.notifications
    assert (note.kind, note.recipient) == ("non_attendance", Recipient.CONSULATE)
    assert note.rule == "D5, E6"
