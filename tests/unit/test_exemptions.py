"""C1–C3: the language-test exemption, the training exemptions, and who is told of them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from models.common import DeadlineStatus, Recipient
from models.visa.state import Stage, TrackStatus
from tests.unit.builders import (
    DELEGATE_COUNTRY,
    application,
    delegate_reference,
    due_timer,
    feed,
    language_evaluation,
    language_test_exemption,
    notes_of,
    open_,
    pairs,
    resume,
    send,
    training_exemption,
    training_prescribed,
    unchanged_but_seq,
    values_evaluation,
    visa_decision,
)

DECIDED = date(2009, 2, 10)
EVALUATED = date(2009, 2, 20)
LATER = date(2009, 3, 1)


# --- C1: exemption from the language test ---------------------------------------------


@pytest.mark.rule("C1")
@pytest.mark.parametrize(
    "ground", ["secondary_studies_francophone_3y", "higher_education_france_1y"]
)
def test_c1_either_ground_exempts_from_the_language_test(ground: str) -> None:
    step = feed([language_test_exemption(DECIDED, ground)])
    assert step.rejection is None
    state = step.state
    assert state.track_status["language"] == TrackStatus.TEST_EXEMPT
    assert state.language.test_exemption is not None
    assert state.language.test_exemption.ground == ground
    assert state.language.test_exemption.evidence_ref == "DIPLOME-42"


@pytest.mark.rule("C1")
def test_c1_the_values_evaluation_still_applies() -> None:
    state = feed([language_test_exemption(DECIDED)]).state
    assert state.stage == Stage.AWAITING_EVALUATION
    assert state.track_status["values"] == TrackStatus.AWAITING_EVALUATION
    assert state.tracked_deadlines["evaluation_due"].status == DeadlineStatus.PENDING
    step = feed([values_evaluation(EVALUATED)], start=resume(state))
    assert step.state.stage == Stage.AWAITING_VISA_DECISION
    assert step.state.tracked_deadlines["evaluation_due"].status == DeadlineStatus.MET


@pytest.mark.rule("C1")
@pytest.mark.rule("D7")
def test_c1_the_exemption_is_carried_to_the_cai() -> None:
    state = feed([language_test_exemption(DECIDED), values_evaluation(EVALUATED)]).state
    decided = feed([visa_decision(LATER)], start=resume(state)).state.outcome
    assert decided is not None
    assert decided.cai.test_exempted is True
    assert decided.cai.language_training_required is False
    assert decided.cai.amdfl is False and decided.cai.last_evaluation_sufficient is None


@pytest.mark.rule("C1")
def test_c1_a_test_held_after_the_exemption_is_kept_superseded() -> None:
    step = feed([language_test_exemption(DECIDED), language_evaluation(EVALUATED, oral=10)])
    assert step.rejection is None
    track = step.state.language
    assert track.test_exemption is not None and track.evaluation is None
    [kept] = track.superseded_evaluations
    assert kept.superseded_by == "language_test_exemption" and kept.sufficient is False
    assert step.state.track_status["language"] == TrackStatus.TEST_EXEMPT
    # No need found (no B7 delay), no AMDFL: the consulate has the record, marked.
    assert not any(key.startswith("training_start_due") for key in step.state.tracked_deadlines)
    [results] = step.notifications
    assert results.kind == "evaluation_results"
    assert results.payload["superseded_by"] == "language_test_exemption"


@pytest.mark.rule("C1")
def test_c1_an_exemption_decided_before_the_test_governs_when_it_arrives_after_it() -> None:
    in_order = feed([language_test_exemption(DECIDED), language_evaluation(EVALUATED, oral=10)])
    tested = feed([language_evaluation(EVALUATED, oral=10)])
    assert tested.state.tracked_deadlines.get("training_start_due.language") is not None
    late = send(tested.state, *language_test_exemption(DECIDED), today=EVALUATED + timedelta(5))
    assert late.rejection is None
    assert late.state.language.test_exemption is not None
    assert late.state.language.evaluation is None
    assert [e.evaluated_on for e in late.state.language.superseded_evaluations] == [EVALUATED]
    assert late.state.track_status == in_order.state.track_status
    assert set(late.state.tracked_deadlines) == set(in_order.state.tracked_deadlines)
    # What the test's record said is superseded: the need it found no longer stands.
    notices = notes_of(late, "correction_notice")
    assert {note.payload["superseded_kind"] for note in notices} == {"evaluation_results"}


@pytest.mark.rule("C1")
def test_c1_an_exemption_decided_after_the_test_is_refused() -> None:
    before = feed([language_evaluation(EVALUATED)]).state
    step = send(before, *language_test_exemption(EVALUATED + timedelta(3)))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("C1:")
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("C1")
def test_c1_any_other_ground_is_rejected() -> None:
    before = open_().state
    name, payload = language_test_exemption(DECIDED, "baccalaureat_francais")
    step = send(before, name, payload)
    assert step.rejection is not None
    assert step.rejection.reason.startswith("C1: ground")
    assert step.rejection.rule == "C1"
    assert step.rejection.field == "ground"
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("C1")
def test_c1_the_exemption_is_asked_before_the_evaluation() -> None:
    before = feed([language_evaluation(EVALUATED, oral=20, written=10)]).state
    step = send(before, *language_test_exemption(LATER))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("C1:")
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("C1")
def test_c1_a_second_exemption_is_rejected() -> None:
    before = feed([language_test_exemption(DECIDED)]).state
    step = send(before, *language_test_exemption(LATER, "higher_education_france_1y"))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("C1:")
    assert unchanged_but_seq(before, step.state)


# --- C2: exemption from the trainings, on two grounds only -----------------------------

LANGUAGE_INSUFFICIENT = [
    language_evaluation(EVALUATED, oral=20, written=10),
    values_evaluation(EVALUATED),
]
BOTH_INSUFFICIENT = [
    language_evaluation(EVALUATED, oral=20, written=10),
    values_evaluation(EVALUATED, correct=2),
]


@pytest.mark.rule("C2")
@pytest.mark.parametrize("ground", ["country_situation", "incompatible_constraints"])
def test_c2_a_training_need_is_exempted_on_either_ground(ground: str) -> None:
    step = feed([*LANGUAGE_INSUFFICIENT, training_exemption(LATER, ["language"], ground)])
    assert step.rejection is None
    state = step.state
    assert state.track_status["language"] == TrackStatus.TRAINING_EXEMPT
    assert state.stage == Stage.AWAITING_VISA_DECISION
    exemption = state.language.training_exemption
    assert exemption is not None
    assert exemption.ground == ground
    assert exemption.evidence_ref == "NOTE-CONSULAT-7"
    assert exemption.detail == "troubles à l'ordre public dans la région"


@pytest.mark.rule("C2")
def test_c2_exempting_a_prescribed_training_drops_its_start_timer() -> None:
    prescribed = feed([*LANGUAGE_INSUFFICIENT, training_prescribed(LATER)]).state
    assert "training_start_due.language" in prescribed.tracked_deadlines
    step = feed([training_exemption(date(2009, 3, 5), ["language"])], start=resume(prescribed))
    assert step.rejection is None
    assert "training_start_due.language" not in step.state.tracked_deadlines
    timer = due_timer(step.state)
    assert timer is not None and timer.key == "decision_suspension_ends"  # B2 met at filing


@pytest.mark.rule("C2")
def test_c2_any_other_ground_is_rejected() -> None:
    before = feed(LANGUAGE_INSUFFICIENT).state
    name, payload = training_exemption(LATER, ["language"], "personal_convenience")
    step = send(before, name, payload)
    assert step.rejection is not None
    assert step.rejection.reason.startswith("C2: ground")
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("C2")
def test_c2_the_evidence_reference_is_required() -> None:
    before = feed(LANGUAGE_INSUFFICIENT).state
    name, payload = training_exemption(LATER, ["language"])
    del payload["evidence_ref"]
    step = send(before, name, payload)
    assert step.rejection is not None
    assert step.rejection.reason.startswith("C2: evidence_ref")
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("C2")
def test_c2_no_exemption_before_any_need_was_found() -> None:
    before = open_().state
    step = send(before, *training_exemption(DECIDED, ["language"]))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("C2: trainings")
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("C2")
def test_c2_no_exemption_from_a_training_that_is_not_needed() -> None:
    # Values are satisfactory: there is no values training to exempt from.
    before = feed(LANGUAGE_INSUFFICIENT).state
    step = send(before, *training_exemption(LATER, ["values"]))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("C2: trainings")
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("C2")
@pytest.mark.rule("E4")
def test_c2_both_trainings_exempted_at_once() -> None:
    step = feed([*BOTH_INSUFFICIENT, training_exemption(LATER, ["language", "values"])])
    assert step.rejection is None
    assert step.state.track_status == {
        "language": TrackStatus.TRAINING_EXEMPT,
        "values": TrackStatus.TRAINING_EXEMPT,
    }
    assert step.state.stage == Stage.AWAITING_VISA_DECISION
    [ofii] = step.notifications
    assert ofii.payload["exemptions"] == ["language_training", "values_training"]


# --- C3: who is informed of every exemption ----------------------------------------------


@pytest.mark.rule("C3")
@pytest.mark.rule("C1")
def test_c3_language_test_exemption_is_notified_to_the_representation() -> None:
    step = feed([language_test_exemption(DECIDED)])
    assert pairs(step) == {("exemption_granted", Recipient.OFII)}
    [note] = step.notifications
    assert note.rule == "C1, C3"
    assert note.payload["exemptions"] == ["language_test"]
    assert note.payload["ground"] == "secondary_studies_francophone_3y"
    assert note.payload["decided_on"] == DECIDED.isoformat()


@pytest.mark.rule("C3")
@pytest.mark.rule("C2")
def test_c3_training_exemption_is_notified_to_the_representation() -> None:
    step = feed([*LANGUAGE_INSUFFICIENT, training_exemption(LATER, ["language"])])
    assert pairs(step) == {("exemption_granted", Recipient.OFII)}
    [note] = step.notifications
    assert note.rule == "C2, C3"
    assert note.payload["exemptions"] == ["language_training"]
    assert note.payload["ground"] == "country_situation"


@pytest.mark.rule("C3")
@pytest.mark.rule("C1")
def test_c3_without_a_representation_ofii_headquarters_and_the_delegate_are_told() -> None:
    step = feed(
        [language_test_exemption(DECIDED)],
        application(country_of_residence=DELEGATE_COUNTRY),
        delegate_reference(),
    )
    assert pairs(step) == {
        ("exemption_granted", Recipient.OFII),
        ("exemption_granted", Recipient.DELEGATE),
    }


@pytest.mark.rule("C3")
@pytest.mark.rule("C2")
def test_c3_training_exemption_in_a_delegate_country() -> None:
    step = feed(
        [
            *LANGUAGE_INSUFFICIENT,
            training_exemption(LATER, ["language"], "incompatible_constraints"),
        ],
        application(country_of_residence=DELEGATE_COUNTRY),
        delegate_reference(),
    )
    assert pairs(step) == {
        ("exemption_granted", Recipient.OFII),
        ("exemption_granted", Recipient.DELEGATE),
    }
    assert all(note.language is None for note in step.notifications)
