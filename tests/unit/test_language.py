"""D1–D7: the French-language evaluation, the AMDFL, the training and the re-evaluation."""

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
    notes_of,
    open_,
    pairs,
    reference,
    resume,
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
COMPLETED = date(2009, 4, 30)
RE_EVALUATED = date(2009, 5, 5)
DECIDED = date(2009, 5, 10)

INSUFFICIENT = language_evaluation(EVALUATED, oral=20, written=10)
VALUES_OK = values_evaluation(EVALUATED)
TRAINED: list[Event] = [
    INSUFFICIENT,
    VALUES_OK,
    training_prescribed(PRESCRIBED, hours=120),
    training_started(STARTED),
    training_completed(COMPLETED),
]


def sufficient(oral: int, written: int) -> bool:
    evaluation = feed([language_evaluation(EVALUATED, oral=oral, written=written)]).state
    assert evaluation.language.evaluation is not None
    return evaluation.language.evaluation.sufficient


# --- D1: the barème of R.311-23 -------------------------------------------------------


@pytest.mark.rule("D1")
def test_d1_oral_34_is_insufficient_even_with_a_high_total() -> None:
    assert sufficient(34, 30) is False  # total 64


@pytest.mark.rule("D1")
def test_d1_oral_35_with_total_50_is_sufficient() -> None:
    assert sufficient(35, 15) is True


@pytest.mark.rule("D1")
def test_d1_total_49_is_insufficient_even_with_oral_above_35() -> None:
    assert sufficient(35, 14) is False
    assert sufficient(49, 0) is False


@pytest.mark.rule("D1")
def test_d1_total_50_with_oral_above_35_is_sufficient() -> None:
    assert sufficient(50, 0) is True
    assert sufficient(70, 30) is True


@pytest.mark.rule("D1")
def test_d1_the_result_carries_scores_date_and_evaluator() -> None:
    state = feed(
        [language_evaluation(EVALUATED, oral=41, written=12, evaluator="OFII Rabat")]
    ).state
    evaluation = state.language.evaluation
    assert evaluation is not None
    assert (evaluation.oral_score, evaluation.written_score) == (41, 12)
    assert evaluation.evaluated_on == EVALUATED
    assert evaluation.evaluator == "OFII Rabat"
    assert evaluation.bareme_from == date(2008, 12, 1)


@pytest.mark.rule("D1")
def test_d1_the_bareme_is_configuration_versioned_by_effective_date() -> None:
    ref = reference(
        {
            "language_baremes": [
                {"effective_from": "2008-12-01", "oral_min": 35, "total_min": 50},
                {"effective_from": "2009-06-01", "oral_min": 40, "total_min": 55},
            ]
        }
    )
    raw = application(complete_file_date="2009-05-01", visa_application_date="2009-05-10")
    before = feed([language_evaluation(date(2009, 5, 31), oral=38, written=14)], raw, ref).state
    on = feed([language_evaluation(date(2009, 6, 1), oral=38, written=14)], raw, ref).state
    assert before.language.evaluation is not None and on.language.evaluation is not None
    assert before.language.evaluation.sufficient is True
    assert before.language.evaluation.bareme_from == date(2008, 12, 1)
    assert on.language.evaluation.sufficient is False
    assert on.language.evaluation.bareme_from == date(2009, 6, 1)


@pytest.mark.rule("D1")
@pytest.mark.parametrize(
    ("field", "value"),
    [("oral_score", 71), ("oral_score", -1), ("written_score", 31), ("written_score", -1)],
)
def test_d1_scores_out_of_range_are_rejected(field: str, value: int) -> None:
    before = open_().state
    name, payload = language_evaluation(EVALUATED)
    payload[field] = value
    step = send(before, name, payload)
    assert step.rejection is not None
    assert step.rejection.reason.startswith(f"D1: {field}")
    assert step.rejection.rule == "D1"
    assert step.rejection.field == field
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)


# --- D2: sufficient → the AMDFL -----------------------------------------------------------


@pytest.mark.rule("D2")
def test_d2_sufficient_gives_the_amdfl_to_the_applicant_and_the_consulate() -> None:
    step = feed([language_evaluation(EVALUATED, oral=35, written=15)])
    assert pairs(step) == {
        ("evaluation_results", Recipient.CONSULATE),
        ("attestation_language_exemption", Recipient.APPLICANT),
        ("attestation_language_exemption", Recipient.CONSULATE),
    }
    letter = to_applicant(step, "attestation_language_exemption")
    assert letter.rule == "D2"
    assert letter.language == "ar"
    assert letter.payload["language_fallback"] is False
    assert step.state.track_status["language"] == TrackStatus.SUFFICIENT


@pytest.mark.rule("D2")
@pytest.mark.rule("A4")
def test_d2_the_amdfl_letter_is_held_without_a_declared_language_and_ofii_told() -> None:
    step = feed(
        [language_evaluation(EVALUATED, oral=35, written=15)],
        application(applicant={"languages": ["ber"]}),
    )
    assert pairs(step) == {
        ("evaluation_results", Recipient.CONSULATE),
        ("translation_needed", Recipient.OFII),
        ("attestation_language_exemption", Recipient.CONSULATE),
    }
    [held] = notes_of(step, "translation_needed")
    assert (held.payload["held_kind"], held.payload["held_rule"]) == (
        "attestation_language_exemption",
        "D2",
    )


@pytest.mark.rule("D2")
def test_d2_insufficient_gives_no_amdfl() -> None:
    step = feed([language_evaluation(EVALUATED, oral=34, written=30)])
    assert pairs(step) == {("evaluation_results", Recipient.CONSULATE)}


@pytest.mark.rule("D2")
def test_d2_the_amdfl_is_carried_to_the_cai() -> None:
    state = feed([language_evaluation(EVALUATED), VALUES_OK, visa_decision(DECIDED)]).state
    assert state.outcome is not None
    assert state.outcome.cai.amdfl is True
    assert state.outcome.cai.dilf_required is False
    assert state.outcome.cai.language_training_required is False


# --- D3: insufficient → a training of at least 40 hours -----------------------------------


@pytest.mark.rule("D3")
def test_d3_insufficient_calls_for_a_training() -> None:
    state = feed([INSUFFICIENT, VALUES_OK]).state
    assert state.track_status["language"] == TrackStatus.TRAINING_NEEDED
    assert state.stage == Stage.AWAITING_TRAINING


@pytest.mark.rule("D3")
def test_d3_39_hours_are_rejected() -> None:
    before = feed([INSUFFICIENT, VALUES_OK]).state
    step = send(before, *training_prescribed(PRESCRIBED, hours=39))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("D3: hours")
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("D3")
def test_d3_40_hours_are_prescribed_and_notified() -> None:
    step = feed([INSUFFICIENT, VALUES_OK, training_prescribed(PRESCRIBED, hours=40)])
    assert step.rejection is None
    assert pairs(step) == {
        ("training_prescription", Recipient.APPLICANT),
        ("training_prescription", Recipient.CONSULATE),
        ("training_prescription", Recipient.OFII),
    }
    letter = to_applicant(step, "training_prescription")
    assert letter.language == "ar"
    assert letter.payload["hours"] == 40
    assert letter.payload["training"] == "language"
    assert letter.payload["start_by"] == "2009-04-20"  # B7: two months from the results
    training = step.state.language.training
    assert training is not None and training.hours == 40
    assert step.state.track_status["language"] == TrackStatus.TRAINING_PRESCRIBED


@pytest.mark.rule("D3")
def test_d3_no_training_when_the_language_is_sufficient() -> None:
    before = feed([language_evaluation(EVALUATED), VALUES_OK]).state
    step = send(before, *training_prescribed(PRESCRIBED))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("D3: kind")
    assert unchanged_but_seq(before, step.state)


# --- D4: after training, an attestation and a new evaluation ------------------------------


@pytest.mark.rule("D4")
def test_d4_the_attestation_of_training_followed_goes_to_the_applicant_and_the_consulate() -> None:
    step = feed(TRAINED)
    assert pairs(step) == {
        ("training_attestation", Recipient.APPLICANT),
        ("training_attestation", Recipient.CONSULATE),
    }
    # Nominative: the applicant holds the document the visa depends on (D4).
    assert to_applicant(step, "training_attestation").payload["full_name"] == "Amina El Idrissi"
    note = notes_of(step, "training_attestation")[1]
    assert note.recipient == Recipient.CONSULATE
    assert note.rule == "D4"
    assert note.payload["attestation_ref"] == "ATT-2009-1"
    assert note.payload["completed_on"] == COMPLETED.isoformat()
    assert step.state.stage == Stage.AWAITING_RE_EVALUATION
    training = step.state.language.training
    assert training is not None and training.attestation_ref == "ATT-2009-1"


@pytest.mark.rule("D4")
def test_d4_the_second_evaluation_is_the_re_evaluation() -> None:
    step = feed([*TRAINED, language_evaluation(RE_EVALUATED, oral=30, written=15)])
    assert step.rejection is None
    assert step.state.track_status["language"] == TrackStatus.RE_EVALUATED
    assert step.state.language.re_evaluation is not None
    assert step.state.language.evaluation is not None
    assert step.state.language.evaluation.oral_score == 20  # the first one is kept
    [note] = notes_of(step, "evaluation_results")
    assert note.recipient == Recipient.CONSULATE
    assert note.payload["re_evaluation"] is True
    assert step.state.stage == Stage.AWAITING_VISA_DECISION


@pytest.mark.rule("D4")
def test_d4_no_re_evaluation_before_the_training_is_completed() -> None:
    before = feed(TRAINED[:-1]).state  # started, not completed
    step = send(before, *language_evaluation(date(2009, 4, 1)))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("D4:")
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("D4")
def test_d4_no_third_evaluation() -> None:
    before = feed([*TRAINED, language_evaluation(RE_EVALUATED)]).state
    step = send(before, *language_evaluation(date(2009, 5, 6), oral=60))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("D4:")
    assert unchanged_but_seq(before, step.state)


# --- D5: non-attendance is reported to the consulate --------------------------------------


@pytest.mark.rule("D5")
def test_d5_non_attendance_is_notified_to_the_consulate() -> None:
    step = feed([*TRAINED[:-1], training_absence(date(2009, 3, 20))])
    assert pairs(step) == {("non_attendance", Recipient.CONSULATE)}
    [note] = step.notifications
    assert note.rule == "D5"
    assert note.payload["attributable_to_applicant"] is True
    assert note.payload["legitimate_reason"] is None
    training = step.state.language.training
    assert training is not None and len(training.absences) == 1


@pytest.mark.rule("D5")
@pytest.mark.rule("B5")
def test_d5_an_absence_with_a_legitimate_reason_is_not_attributable() -> None:
    step = feed([*TRAINED[:-1], training_absence(date(2009, 3, 20), reason="décès d'un parent")])
    [note] = step.notifications
    assert note.payload["attributable_to_applicant"] is False
    assert note.payload["legitimate_reason"] == "décès d'un parent"


@pytest.mark.rule("D5")
@pytest.mark.rule("core")
def test_d5_an_absence_before_the_training_started_is_held_until_it_starts() -> None:
    before = feed(TRAINED[:3]).state  # prescribed, not started
    step = send(before, *training_absence(date(2009, 3, 5)))
    assert step.rejection is None and step.held is not None
    assert step.held.reason.startswith("D5: absent_on")
    assert step.notifications == []
    assert step.state.held_inputs == [step.held] and step.state.facts == before.facts


# --- D6 / D7: the re-evaluation sets what the CAI in France inherits ----------------------


@pytest.mark.rule("D6")
def test_d6_sufficient_re_evaluation_requires_the_dilf_in_france() -> None:
    step = feed([*TRAINED, language_evaluation(RE_EVALUATED, oral=35, written=15)])
    # No AMDFL after a training: the DILF is to be passed in France instead.
    assert ("attestation_language_exemption", Recipient.APPLICANT) not in pairs(step)
    decided = feed([visa_decision(DECIDED)], start=resume(step.state))
    outcome = decided.state.outcome
    assert outcome is not None
    assert outcome.cai.dilf_required is True
    assert outcome.cai.language_training_required is False
    assert outcome.cai.language_results is None
    assert outcome.cai.amdfl is False
    # The register carries the whole record to the CAI (docs/interpretations.md).
    assert outcome.cai.language_training_followed is True
    assert outcome.cai.last_evaluation_sufficient is True
    assert outcome.cai.test_exempted is False
    [note] = decided.notifications
    assert note.payload["cai"]["dilf_required"] is True


@pytest.mark.rule("D7")
def test_d7_insufficient_re_evaluation_sets_the_cai_language_training() -> None:
    step = feed(
        [*TRAINED, language_evaluation(RE_EVALUATED, oral=34, written=20), visa_decision(DECIDED)]
    )
    outcome = step.state.outcome
    assert outcome is not None
    assert outcome.cai.language_training_required is True
    assert outcome.cai.language_results == {"oral_score": 34, "written_score": 20}
    assert outcome.cai.dilf_required is False
    assert outcome.cai.language_training_followed is True
    assert outcome.cai.last_evaluation_sufficient is False
    [note] = step.notifications
    assert note.payload["cai"]["language_training_required"] is True
    assert note.payload["cai"]["language_results"] == {"oral_score": 34, "written_score": 20}
