"""B5, judged per delay; D5, E6, F2: a non-attendance reported after the decision.

An absence without a legitimate reason makes attributable only the delay it caused, and an
appointment made up later ends it; a delay the body caused is never the applicant's. The
same facts give the same answer whatever order they arrive in."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from models.common import Recipient
from models.visa.state import Stage, VisaState
from tests.unit.builders import (
    Event,
    application,
    feed,
    language_evaluation,
    notes_of,
    open_,
    pairs,
    run_timers,
    send,
    training_absence,
    training_prescribed,
    training_started,
    values_evaluation,
    visa_decision,
)

MISSED = date(2009, 2, 10)
EVALUATED = date(2009, 2, 20)
PRESCRIBED = date(2009, 2, 25)
STARTED = date(2009, 3, 2)
AFTER_SURSIS = date(2009, 8, 3)
NOT_FOLLOWED = ["training_not_followed"]


def evaluation_absence(on: date, kind: str = "language", reason: str | None = None) -> Event:
    return (
        "evaluation_absence",
        {"kind": kind, "absent_on": on.isoformat(), "legitimate_reason": reason},
    )


# The applicant missed the language evaluation, then came to the one made up later; the
# language training is prescribed but never starts (the body's delay, B7).
MADE_UP_THEN_NOT_STARTED: list[Event] = [
    evaluation_absence(MISSED),
    language_evaluation(EVALUATED, oral=20, written=10),
    values_evaluation(EVALUATED),
    training_prescribed(PRESCRIBED),
]


def sursis_expired(state: VisaState) -> tuple[VisaState, dict[str, Any]]:
    state, fired = run_timers(state, AFTER_SURSIS)
    [note] = [n for step in fired for n in notes_of(step, "sursis_expired")]
    return state, note.payload


@pytest.mark.rule("B5")
@pytest.mark.rule("B7")
def test_b5_an_absence_made_up_later_no_longer_makes_the_delay_the_applicants() -> None:
    state, payload = sursis_expired(feed(MADE_UP_THEN_NOT_STARTED).state)
    assert payload["delay_attributable_to_applicant"] is False
    assert payload["may_refuse_for_training_not_followed"] is False
    assert payload["delays"] == [
        {
            "domain": "language",
            "awaiting": "training_prescribed",
            "attributable_to_applicant": False,
            "cause": "B7: the training has not started",
        }
    ]
    # F2, B5: a refusal for "training not followed" on the body's delay is rejected.
    refused = send(state, *visa_decision(AFTER_SURSIS, "refused", NOT_FOLLOWED))
    assert refused.rejection is not None
    assert refused.rejection.rule == "B5"
    assert "(F2)" in refused.rejection.reason and "B7" in refused.rejection.reason
    issued = send(state, *visa_decision(AFTER_SURSIS))
    assert issued.rejection is None
    assert issued.state.outcome is not None and issued.state.outcome.issued_under_b5


@pytest.mark.rule("B5")
def test_b5_the_absence_reported_late_gives_the_same_answer() -> None:
    in_order = feed(MADE_UP_THEN_NOT_STARTED).state
    evaluated = feed(MADE_UP_THEN_NOT_STARTED[1:]).state
    late = send(evaluated, *MADE_UP_THEN_NOT_STARTED[0], today=date(2009, 3, 10))
    assert late.rejection is None
    _, expected = sursis_expired(in_order)
    _, got = sursis_expired(late.state)
    assert got["delays"] == expected["delays"]


@pytest.mark.rule("B5")
@pytest.mark.rule("D5")
def test_b5_each_delay_says_whether_it_is_the_applicants() -> None:
    """In training, absent from a session without reason: that delay is the applicant's."""
    events: list[Event] = [
        language_evaluation(EVALUATED, oral=20, written=10),
        values_evaluation(EVALUATED),
        training_prescribed(PRESCRIBED),
        training_started(STARTED),
        training_absence(date(2009, 3, 9)),
    ]
    _, payload = sursis_expired(feed(events).state)
    delays = {d["domain"]: d for d in payload["delays"]}
    assert delays["language"]["attributable_to_applicant"] is True
    assert delays["language"]["cause"] == "B5: absent without legitimate reason on 2009-03-09"
    assert payload["delay_attributable_to_applicant"] is True


@pytest.mark.rule("B5")
def test_b5_a_missed_evaluation_still_awaited_is_the_applicants() -> None:
    _, payload = sursis_expired(feed([evaluation_absence(MISSED)]).state)
    delays = {d["domain"]: d for d in payload["delays"]}
    assert delays["language"]["attributable_to_applicant"] is True
    # The values evaluation was never convened: the body's (B1).
    assert delays["values"]["attributable_to_applicant"] is False
    assert delays["values"]["cause"] == "B1, B3: no evaluation held"


# --- D5, E6, F2: reported after the decision -----------------------------------------------


@pytest.mark.rule("D5")
@pytest.mark.rule("F2")
def test_d5_an_evaluation_absence_reported_after_a_refusal_is_passed_on_and_changes_nothing() -> (
    None
):
    decided = feed(
        [
            language_evaluation(EVALUATED),
            visa_decision(date(2009, 3, 1), "refused", ["public_order"]),
        ]
    ).state
    step = send(decided, *evaluation_absence(MISSED, kind="values"), today=date(2009, 3, 20))
    assert step.rejection is None
    assert pairs(step) == {("non_attendance", Recipient.CONSULATE)}
    assert step.state.outcome == decided.outcome
    assert step.state.stage == Stage.VISA_REFUSED


@pytest.mark.rule("D5")
@pytest.mark.rule("F1")
def test_d5_an_absence_dated_after_the_decision_is_still_refused() -> None:
    decided = feed(
        [
            language_evaluation(EVALUATED),
            visa_decision(date(2009, 3, 1), "refused", ["public_order"]),
        ]
    ).state
    step = send(decided, *evaluation_absence(date(2009, 3, 5), kind="values"))
    assert step.rejection is not None and step.rejection.rule == "F1"


@pytest.mark.rule("B5")
def test_b5_nothing_missed_nothing_attributable() -> None:
    _, payload = sursis_expired(open_().state)
    assert all(not d["attributable_to_applicant"] for d in payload["delays"])


# --- A4: a letter held for translation ------------------------------------------------------

UNTRANSLATED = application(applicant={"languages": ["ber"]})


@pytest.mark.rule("A4")
@pytest.mark.rule("B5")
def test_a4_a_delay_while_the_letters_are_held_is_never_the_applicants() -> None:
    step = feed([evaluation_absence(MISSED)], UNTRANSLATED)
    [report] = notes_of(step, "non_attendance")
    assert report.payload["attributable_to_applicant"] is False
    state, payload = sursis_expired(step.state)
    assert payload["delay_attributable_to_applicant"] is False
    language = next(d for d in payload["delays"] if d["domain"] == "language")
    assert language["cause"] == "A4: the letter to the applicant is held for translation"
    refused = send(state, *visa_decision(AFTER_SURSIS, "refused", NOT_FOLLOWED))
    assert refused.rejection is not None  # F2: no delay of theirs to ground it on


@pytest.mark.rule("A4")
@pytest.mark.rule("D3")
def test_a4_every_letter_held_is_one_translation_needed_to_ofii() -> None:
    step = feed(
        [
            language_evaluation(EVALUATED, oral=20, written=10),
            values_evaluation(EVALUATED, language="ber"),
            training_prescribed(PRESCRIBED),
        ],
        UNTRANSLATED,
    )
    assert ("training_prescription", Recipient.APPLICANT) not in pairs(step)
    [held] = notes_of(step, "translation_needed")
    assert held.recipient == Recipient.OFII
    assert held.about == "training_prescription"
    assert held.payload["held_payload"]["hours"] == 120
    assert held.payload["attributable_to_applicant"] is False


@pytest.mark.rule("A4")
def test_a4_french_goes_out_only_to_a_person_who_declared_it() -> None:
    declared = open_(application(applicant={"languages": ["ber", "fr"]}))
    assert pairs(declared) == {("invitation", Recipient.APPLICANT)}
    assert declared.notifications[0].language == "fr"
    undeclared = open_(UNTRANSLATED)
    assert pairs(undeclared) == {("translation_needed", Recipient.OFII)}
