"""F1–F4 (and B5 at the decision): the consulate's ruling on the long-stay visa."""

from __future__ import annotations

from datetime import date

import pytest

from models.common import DeadlineStatus, Recipient
from models.visa.state import Stage, VisaState
from tests.unit.builders import (
    DELEGATE_COUNTRY,
    Event,
    application,
    delegate_reference,
    feed,
    language_evaluation,
    pairs,
    run_timers,
    send,
    training_absence,
    training_completed,
    training_exemption,
    training_prescribed,
    training_started,
    unchanged_but_seq,
    values_evaluation,
    visa_decision,
)

EVALUATED = date(2009, 2, 20)
DECIDED = date(2009, 3, 1)
SURSIS_ENDS = date(2009, 8, 2)
AFTER_SURSIS = date(2009, 8, 3)

BOTH_OK = [language_evaluation(EVALUATED), values_evaluation(EVALUATED)]
LANGUAGE_KO = [language_evaluation(EVALUATED, oral=20, written=10), values_evaluation(EVALUATED)]
IN_TRAINING: list[Event] = [
    *LANGUAGE_KO,
    training_prescribed(date(2009, 2, 25)),
    training_started(date(2009, 3, 2)),
]


def after_sursis(events: list[Event]) -> VisaState:
    """The dossier once every timer up to the end of the sursis has fired."""
    state, fired = run_timers(feed(events).state, AFTER_SURSIS)
    assert any(note.kind == "sursis_expired" for step in fired for note in step.notifications)
    return state


def rejected(before: VisaState, event: Event, prefix: str) -> None:
    step = send(before, *event)
    assert step.rejection is not None
    assert step.rejection.reason.startswith(prefix), step.rejection.reason
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)


# --- F1: the consulate rules ---------------------------------------------------------


@pytest.mark.rule("F1")
def test_f1_issuance_closes_the_dossier() -> None:
    step = feed([*BOTH_OK, visa_decision(DECIDED)])
    assert step.rejection is None
    assert step.state.stage == Stage.VISA_ISSUED
    assert step.state.outcome is not None
    assert step.state.outcome.decision == "issued"
    assert step.state.outcome.decided_on == DECIDED


@pytest.mark.rule("F1")
def test_f1_refusal_closes_the_dossier_with_its_grounds() -> None:
    step = feed([*BOTH_OK, visa_decision(DECIDED, "refused", ["public_order", "fraud"])])
    assert step.rejection is None
    assert step.state.stage == Stage.VISA_REFUSED
    assert step.state.outcome is not None
    assert step.state.outcome.grounds == ["public_order", "fraud"]


@pytest.mark.rule("F1")
def test_f1_a_refusal_gives_its_grounds() -> None:
    rejected(feed(BOTH_OK).state, visa_decision(DECIDED, "refused", []), "F1:")


@pytest.mark.rule("F1")
def test_f1_a_decision_before_the_visa_application_is_rejected() -> None:
    rejected(feed(BOTH_OK).state, visa_decision(date(2009, 2, 1)), "F1: decided_on")


@pytest.mark.rule("F1")
def test_f1_nothing_is_accepted_after_the_decision() -> None:
    closed = feed([*BOTH_OK, visa_decision(DECIDED)]).state
    rejected(closed, visa_decision(date(2009, 3, 2), "refused", ["fraud"]), "F1:")
    rejected(closed, language_evaluation(date(2009, 3, 2)), "F1:")


# --- F2: issuance only on production of the attestation of training followed ----------


@pytest.mark.rule("F2")
def test_f2_issuance_without_the_attestation_is_rejected() -> None:
    rejected(feed(IN_TRAINING).state, visa_decision(date(2009, 3, 5)), "F2: decision")


@pytest.mark.rule("F2")
def test_f2_issuance_before_the_training_is_prescribed_is_rejected() -> None:
    rejected(feed(LANGUAGE_KO).state, visa_decision(DECIDED), "F2: decision")


@pytest.mark.rule("F2")
@pytest.mark.rule("D4")
def test_f2_issuance_on_production_of_the_attestation() -> None:
    step = feed(
        [*IN_TRAINING, training_completed(date(2009, 4, 30)), visa_decision(date(2009, 5, 2))]
    )
    assert step.rejection is None
    assert step.state.stage == Stage.VISA_ISSUED
    assert step.state.outcome is not None
    assert step.state.outcome.issued_under_b5 is False


@pytest.mark.rule("F2")
@pytest.mark.rule("C2")
def test_f2_issuance_after_a_c2_exemption() -> None:
    step = feed([*LANGUAGE_KO, training_exemption(DECIDED, ["language"]), visa_decision(DECIDED)])
    assert step.rejection is None
    assert step.state.stage == Stage.VISA_ISSUED


@pytest.mark.rule("F2")
@pytest.mark.rule("B5")
def test_f2_after_the_sursis_an_unfinished_training_not_attributable_allows_issuance() -> None:
    state = after_sursis(IN_TRAINING)
    step = send(state, *visa_decision(AFTER_SURSIS))
    assert step.rejection is None
    assert step.state.stage == Stage.VISA_ISSUED
    assert step.state.outcome is not None
    assert step.state.outcome.issued_under_b5 is True
    assert step.state.outcome.delay_attributable_to_applicant is False


@pytest.mark.rule("F2")
@pytest.mark.rule("B5")
def test_f2_after_the_sursis_an_absence_without_reason_still_requires_the_attestation() -> None:
    state = after_sursis([*IN_TRAINING, training_absence(date(2009, 3, 9))])
    rejected(state, visa_decision(AFTER_SURSIS), "F2: decision")


@pytest.mark.rule("F2")
@pytest.mark.rule("B4")
def test_f2_on_the_last_day_of_the_sursis_the_attestation_is_still_required() -> None:
    state = feed(IN_TRAINING).state
    rejected(state, visa_decision(SURSIS_ENDS), "F2: decision")


@pytest.mark.rule("F2")
def test_f2_training_not_followed_cannot_be_cited_when_none_was_prescribed() -> None:
    rejected(
        feed(BOTH_OK).state,
        visa_decision(DECIDED, "refused", ["training_not_followed"]),
        "F2: grounds",
    )


# --- B5: a delay independent of the applicant cannot ground a refusal ------------------


@pytest.mark.rule("B5")
def test_b5_refusal_for_training_not_followed_without_fault_is_rejected() -> None:
    state = after_sursis(IN_TRAINING)
    rejected(
        state,
        visa_decision(AFTER_SURSIS, "refused", ["training_not_followed"]),
        "B5: grounds",
    )


@pytest.mark.rule("B5")
@pytest.mark.rule("D5")
def test_b5_refusal_for_training_not_followed_after_unjustified_absence_is_accepted() -> None:
    state = after_sursis([*IN_TRAINING, training_absence(date(2009, 3, 9))])
    step = send(state, *visa_decision(AFTER_SURSIS, "refused", ["training_not_followed"]))
    assert step.rejection is None
    assert step.state.stage == Stage.VISA_REFUSED
    assert step.state.outcome is not None
    assert step.state.outcome.delay_attributable_to_applicant is True


@pytest.mark.rule("B5")
def test_b5_a_justified_absence_does_not_ground_a_refusal() -> None:
    state = after_sursis([*IN_TRAINING, training_absence(date(2009, 3, 9), reason="maladie")])
    rejected(
        state,
        visa_decision(AFTER_SURSIS, "refused", ["training_not_followed"]),
        "B5: grounds",
    )


# --- F3: never refused because of an evaluation result ---------------------------------


@pytest.mark.rule("F3")
def test_f3_refusal_citing_an_evaluation_result_is_rejected() -> None:
    before = feed(LANGUAGE_KO).state
    step = send(before, *visa_decision(DECIDED, "refused", ["evaluation_result"]))
    assert step.rejection is not None
    assert step.rejection.reason.startswith("F3: grounds")
    assert step.rejection.rule == "F3"
    assert step.rejection.field == "grounds"
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)
    assert step.state.rejected_inputs[-1] == step.rejection


@pytest.mark.rule("F3")
def test_f3_evaluation_result_among_other_grounds_is_still_rejected() -> None:
    rejected(
        feed(BOTH_OK).state,
        visa_decision(DECIDED, "refused", ["fraud", "evaluation_result"]),
        "F3: grounds",
    )


@pytest.mark.rule("F3")
@pytest.mark.rule("D7")
def test_f3_issuance_does_not_depend_on_the_re_evaluation_result() -> None:
    step = feed(
        [
            *IN_TRAINING,
            training_completed(date(2009, 4, 30)),
            language_evaluation(date(2009, 5, 5), oral=10, written=5),
            visa_decision(date(2009, 5, 10)),
        ]
    )
    assert step.rejection is None
    assert step.state.stage == Stage.VISA_ISSUED


@pytest.mark.rule("F3")
def test_f3_issuance_does_not_wait_for_the_re_evaluation() -> None:
    step = feed(
        [*IN_TRAINING, training_completed(date(2009, 4, 30)), visa_decision(date(2009, 5, 2))]
    )
    assert step.rejection is None
    assert step.state.stage == Stage.VISA_ISSUED


# --- F4: OFII is told of the decision --------------------------------------------------


@pytest.mark.rule("F4")
def test_f4_ofii_is_told_of_the_issuance_and_its_date() -> None:
    step = feed([*BOTH_OK, visa_decision(DECIDED)])
    assert pairs(step) == {("visa_decision", Recipient.OFII)}
    [note] = step.notifications
    assert note.rule == "F4"
    assert note.payload["decision"] == "issued"
    assert note.payload["decided_on"] == DECIDED.isoformat()


@pytest.mark.rule("F4")
def test_f4_ofii_is_told_of_the_refusal() -> None:
    step = feed([*BOTH_OK, visa_decision(DECIDED, "refused", ["conditions_not_met"])])
    assert pairs(step) == {("visa_decision", Recipient.OFII)}
    [note] = step.notifications
    assert note.payload["decision"] == "refused"
    assert note.payload["grounds"] == ["conditions_not_met"]


@pytest.mark.rule("F4")
def test_f4_ofii_is_told_in_a_delegate_country_too() -> None:
    step = feed(
        [*BOTH_OK, visa_decision(DECIDED)],
        application(country_of_residence=DELEGATE_COUNTRY),
        delegate_reference(),
    )
    assert pairs(step) == {("visa_decision", Recipient.OFII)}


@pytest.mark.rule("F1")
@pytest.mark.rule("B4")
def test_f1_a_decision_fulfils_the_sursis() -> None:
    state = feed([*BOTH_OK, visa_decision(DECIDED)]).state
    assert state.tracked_deadlines["decision_suspension_ends"].status == DeadlineStatus.MET
    late = send(after_sursis(BOTH_OK), *visa_decision(AFTER_SURSIS))
    assert (
        late.state.tracked_deadlines["decision_suspension_ends"].status == DeadlineStatus.MET_LATE
    )
    assert late.state.stage == Stage.VISA_ISSUED
