"""Bad input: every rejection names the field and the rule, changes nothing but `seq` and
`rejected_inputs`, and produces no notification."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from models import history
from models.errors import InputRejected
from models.visa import VISA
from models.visa.state import VisaState
from tests.unit.builders import (
    COMPLETE_FILE,
    FILED,
    Event,
    application,
    feed,
    language_evaluation,
    open_,
    reference,
    send,
    spouse_application,
    stamp,
    training_completed,
    training_exemption,
    training_prescribed,
    training_started,
    unchanged_but_seq,
    values_evaluation,
    visa_decision,
)

EVALUATED = date(2009, 2, 20)
LANGUAGE_KO = [language_evaluation(EVALUATED, oral=20, written=10), values_evaluation(EVALUATED)]


def reject(
    before: VisaState,
    name: str,
    payload: Any,
    prefix: str | tuple[str, ...],
    today: date = date(2009, 3, 1),
) -> str:
    """Send a bad event; check the rejection is recorded and nothing else changed."""
    step = send(before, name, payload, today=today)
    assert step.rejection is not None, "the event should have been rejected"
    reason = step.rejection.reason
    assert reason.startswith(prefix), reason
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)
    assert step.state.seq == before.seq + 1
    assert step.state.rejected_inputs == [*before.rejected_inputs, step.rejection]
    assert step.rejection.event == name
    assert step.rejection.received_at == stamp(today)
    assert step.rejection.seq == step.state.seq
    return reason


def hold(
    before: VisaState, name: str, payload: Any, prefix: str, today: date = date(2009, 3, 1)
) -> VisaState:
    """Send an event whose ground is not on file: accepted and held (core), nothing else
    changed; the state is returned."""
    step = send(before, name, payload, today=today)
    assert step.rejection is None and step.held is not None, "the event should be held"
    assert step.held.reason.startswith(prefix), step.held.reason
    assert step.notifications == []
    assert step.state.facts == before.facts and step.state.rejected_inputs == before.rejected_inputs
    assert step.state.held_inputs == [*before.held_inputs, step.held]
    assert (step.held.event, step.held.seq) == (name, before.seq + 1)
    assert step.held.received_at == stamp(today)
    return step.state


def payload_of(event: Event, **changes: Any) -> dict[str, Any]:
    return {**event[1], **changes}


# --- malformed payloads ------------------------------------------------------------------


@pytest.mark.rule("D1")
@pytest.mark.parametrize("payload", ["oops", 42, None, ["evaluated_on"]])
def test_a_payload_that_is_not_an_object_is_rejected(payload: Any) -> None:
    reason = reject(open_().state, "language_evaluation", payload, "D1: ")
    assert "JSON object" in reason


@pytest.mark.rule("D1")
@pytest.mark.rule("B6")
def test_a_string_that_is_not_a_date_is_rejected_naming_the_field() -> None:
    payload = payload_of(language_evaluation(EVALUATED), evaluated_on="last tuesday")
    reject(open_().state, "language_evaluation", payload, "B6: evaluated_on")


@pytest.mark.rule("D1")
def test_an_unknown_field_is_rejected_naming_it() -> None:
    payload = payload_of(language_evaluation(EVALUATED), level="A1.1")
    reason = reject(open_().state, "language_evaluation", payload, "D1: level")
    assert "unknown field" in reason


@pytest.mark.rule("D1")
def test_a_missing_field_is_rejected_naming_it() -> None:
    payload = payload_of(language_evaluation(EVALUATED))
    del payload["evaluator"]
    reason = reject(open_().state, "language_evaluation", payload, "D1: evaluator")
    assert "is required" in reason


@pytest.mark.rule("D1")
def test_a_score_out_of_range_is_rejected_naming_the_field() -> None:
    payload = payload_of(language_evaluation(EVALUATED), oral_score=80)
    reject(open_().state, "language_evaluation", payload, "D1: oral_score")


@pytest.mark.rule("D1")
def test_a_score_given_as_text_is_rejected() -> None:
    payload = payload_of(language_evaluation(EVALUATED), written_score="twenty")
    reject(open_().state, "language_evaluation", payload, "D1: written_score")


@pytest.mark.rule("F1")
def test_an_unknown_decision_value_is_rejected() -> None:
    payload = payload_of(visa_decision(date(2009, 3, 1)), decision="postponed")
    reject(feed(LANGUAGE_KO).state, "visa_decision", payload, "F1: decision")


@pytest.mark.rule("F3")
def test_an_unknown_refusal_ground_is_rejected() -> None:
    payload = payload_of(visa_decision(date(2009, 3, 1), "refused", ["weather"]))
    reject(feed(LANGUAGE_KO).state, "visa_decision", payload, "F3: grounds")


@pytest.mark.rule("D1")
def test_an_unknown_event_is_rejected() -> None:
    reason = reject(open_().state, "language_test", {"evaluated_on": "2009-02-20"}, "contract:")
    assert "language_evaluation" in reason  # the expected names are listed


@pytest.mark.rule("D1")
@pytest.mark.rule("B6")
def test_an_event_dated_in_the_future_is_rejected() -> None:
    # Received on 1 March; a day of slack for time zones, not two.
    reject(open_().state, *language_evaluation(date(2009, 3, 3)), "D1: evaluated_on")
    accepted = send(open_().state, *language_evaluation(date(2009, 3, 2)), today=date(2009, 3, 1))
    assert accepted.rejection is None


@pytest.mark.rule("B1")
def test_an_evaluation_before_the_complete_file_is_rejected() -> None:
    reject(open_().state, *language_evaluation(date(2009, 1, 11)), "B1: evaluated_on")


# --- events out of order -----------------------------------------------------------------


@pytest.mark.rule("D4")
@pytest.mark.rule("core")
def test_training_completed_before_any_prescription_is_held_until_it_comes() -> None:
    held = hold(feed(LANGUAGE_KO).state, *training_completed(date(2009, 2, 28)), "D4: kind")
    assert "no language training was prescribed" in held.held_inputs[0].reason


@pytest.mark.rule("D4")
@pytest.mark.rule("core")
def test_training_completed_before_it_started_is_held_then_placed_in_event_time() -> None:
    before = feed([*LANGUAGE_KO, training_prescribed(date(2009, 2, 25))]).state
    held = hold(before, *training_completed(date(2009, 2, 28)), "D4: kind")
    started = send(held, "training_started", {"kind": "language", "started_on": "2009-02-26"})
    assert started.rejection is None and started.placed == [held.held_inputs[0].seq]
    assert started.state.held_inputs == []
    training = started.state.language.training
    assert training is not None and training.completed_on == date(2009, 2, 28)


@pytest.mark.rule("D3")
@pytest.mark.rule("core")
def test_a_prescription_before_any_evaluation_waits_for_the_evaluation_that_found_the_need() -> (
    None
):
    held = hold(open_().state, *training_prescribed(date(2009, 2, 25)), "D3: kind")
    assert "no language evaluation has found the need yet" in held.held_inputs[0].reason
    step = send(held, *LANGUAGE_KO[0])
    assert step.rejection is None and step.placed == [held.held_inputs[0].seq]
    assert step.state.held_inputs == [] and step.state.language.training is not None


@pytest.mark.rule("B7")
@pytest.mark.rule("core")
def test_a_training_started_before_it_was_prescribed_waits_and_is_refused_at_closing() -> None:
    # Judged in event time: on 24 February no training was prescribed yet. It waits for a
    # prescription dated before it (a correction of this one may bring it); none comes, and
    # the dossier's closing refuses it with its reason (nothing is dropped).
    before = feed([*LANGUAGE_KO, training_prescribed(date(2009, 2, 25))]).state
    held = hold(
        before, "training_started", {"kind": "language", "started_on": "2009-02-24"}, "B7: kind"
    )
    assert "no language training was prescribed" in held.held_inputs[0].reason
    refused = send(held, *visa_decision(date(2009, 3, 2), "refused", ["public_order"]))
    [rejection] = refused.refused_held
    assert refused.state.closed and refused.state.held_inputs == []
    assert rejection.seq == held.held_inputs[0].seq and rejection.rule == "B7"
    assert "the dossier closed before it arrived" in rejection.reason
    assert refused.state.rejected_inputs[-1] == rejection


# An event dated before the event it follows is out of order too: its date would set a
# statutory delay (B7) or claim an attestation (F2) that did not exist yet.

TRAINED: list[Event] = [
    *LANGUAGE_KO,
    training_prescribed(date(2009, 3, 1)),
    training_started(date(2009, 3, 10)),
    training_completed(date(2009, 4, 30)),
]


@pytest.mark.rule("D3")
@pytest.mark.rule("B7")
def test_a_prescription_notified_before_the_evaluation_waits_and_is_refused_at_closing() -> None:
    # The results were notified on 20 February at the earliest; judged on 1 February, the
    # prescription finds no evaluation yet. It waits (a correction of the evaluation may
    # bring one dated before it); none comes, and the closing refuses it.
    held = hold(feed(LANGUAGE_KO).state, *training_prescribed(date(2009, 2, 1)), "D3: kind")
    refused = send(held, *visa_decision(date(2009, 3, 2), "refused", ["public_order"]))
    [rejection] = refused.refused_held
    assert rejection.rule == "D3" and refused.state.held_inputs == []


@pytest.mark.rule("C2")
def test_a_training_exemption_decided_before_the_evaluation_is_rejected() -> None:
    # C2: only after an evaluation that concludes a need for training; on 10 February the
    # evaluation was still awaited.
    reason = reject(
        feed(LANGUAGE_KO).state,
        *training_exemption(date(2009, 2, 10), ["language"]),
        "C2: trainings",
    )
    assert "awaiting_evaluation" in reason


@pytest.mark.rule("D4")
def test_a_re_evaluation_dated_before_the_training_ended_is_rejected() -> None:
    # D4: the new evaluation comes after the training; on 1 April it was under way.
    reason = reject(
        feed(TRAINED).state,
        *language_evaluation(date(2009, 4, 1)),
        "D4: ",
        today=date(2009, 5, 1),
    )
    assert "in_training" in reason


@pytest.mark.rule("F2")
def test_an_issuance_dated_before_the_attestation_of_training_is_rejected() -> None:
    # F2: issued only on production of the attestation, which dates from 30 April.
    reject(
        feed(TRAINED).state,
        *visa_decision(date(2009, 2, 25)),
        "F2:",
        today=date(2009, 5, 1),
    )


# --- events contradicting the circular ---------------------------------------------------


@pytest.mark.rule("F3")
def test_a_refusal_citing_the_evaluation_result_is_rejected() -> None:
    reason = reject(
        feed(LANGUAGE_KO).state,
        *visa_decision(date(2009, 3, 1), "refused", ["evaluation_result"]),
        "F3: grounds",
    )
    assert "evaluation result" in reason


@pytest.mark.rule("D3")
def test_a_prescription_of_30_hours_is_rejected() -> None:
    reason = reject(
        feed(LANGUAGE_KO).state, *training_prescribed(date(2009, 2, 25), hours=30), "D3: hours"
    )
    assert "40" in reason


# --- duplicates --------------------------------------------------------------------------


@pytest.mark.rule("B6")
def test_a_duplicate_event_is_rejected_and_notified_once() -> None:
    first = feed([language_evaluation(EVALUATED)])
    assert first.rejection is None and first.notifications
    reason = reject(first.state, *language_evaluation(EVALUATED), "duplicate:")
    assert f"#{first.state.seq}" in reason


@pytest.mark.rule("D3")
def test_a_duplicate_prescription_is_rejected_and_notified_once() -> None:
    prescribed = feed([*LANGUAGE_KO, training_prescribed(date(2009, 2, 25))])
    assert prescribed.rejection is None and prescribed.notifications
    reject(prescribed.state, *training_prescribed(date(2009, 2, 25)), "duplicate:")


@pytest.mark.rule("D1")
def test_rejections_accumulate_in_order() -> None:
    state = open_().state
    first = send(state, "language_evaluation", "oops", today=date(2009, 3, 1))
    second = send(first.state, "values_evaluation", {}, today=date(2009, 3, 1))
    assert [r.event for r in second.state.rejected_inputs] == [
        "language_evaluation",
        "values_evaluation",
    ]
    assert second.state.seq == state.seq + 2
    assert unchanged_but_seq(state, second.state)


# --- a malformed application -------------------------------------------------------------


def open_raw(raw: Any) -> None:
    history.open_dossier(VISA, raw, reference(), FILED, "visa-RBT-2009-000123")


@pytest.mark.rule("A1")
def test_an_application_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(InputRejected) as caught:
        open_raw("RBT-2009-000123")
    assert caught.value.reason.startswith("A1:")
    assert "JSON object" in caught.value.reason


@pytest.mark.rule("A1")
def test_an_application_with_a_malformed_birth_date_is_rejected() -> None:
    raw = application(applicant={"birth_date": "02/03/1985"})
    with pytest.raises(InputRejected) as caught:
        open_raw(raw)
    assert caught.value.reason.startswith("A1: applicant.birth_date")


@pytest.mark.rule("A2")
def test_an_application_with_a_malformed_country_is_rejected() -> None:
    with pytest.raises(InputRejected) as caught:
        open_raw(application(country_of_residence="Maroc"))
    assert caught.value.reason.startswith("A2: country_of_residence")


@pytest.mark.rule("A1")
def test_an_application_with_an_unknown_field_is_rejected() -> None:
    with pytest.raises(InputRejected) as caught:
        open_raw(application(spouse_name="X"))
    assert caught.value.reason.startswith("A1: spouse_name: unknown field")


@pytest.mark.rule("B4")
def test_a_spouse_application_without_its_date_is_rejected() -> None:
    # A spouse's dossier opens at the visa application; family reunification opens at
    # the complete file and may come without it (visa_application_filed follows).
    raw = spouse_application()
    del raw["visa_application_date"]
    with pytest.raises(InputRejected) as caught:
        open_raw(raw)
    assert caught.value.reason.startswith("B4: visa_application_date: is required")
    family = application()
    del family["visa_application_date"]
    opened = history.open_dossier(VISA, family, reference(), COMPLETE_FILE, "visa-RBT-2009-000123")
    assert opened.state.visa_application_date is None


@pytest.mark.rule("B2")
def test_a_family_reunification_application_without_a_prefecture_is_rejected() -> None:
    raw = application()
    del raw["prefecture"]
    with pytest.raises(InputRejected) as caught:
        open_raw(raw)
    assert caught.value.rule == "B2"
    assert caught.value.field == "prefecture"
    assert caught.value.reason.startswith("B2: prefecture")


@pytest.mark.rule("A4")
def test_an_application_without_a_declared_language_is_rejected() -> None:
    with pytest.raises(InputRejected) as caught:
        open_raw(application(applicant={"languages": []}))
    assert caught.value.reason.startswith("A1: applicant.languages")
