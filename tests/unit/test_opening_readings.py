"""The opening facts as the third audit reads them (docs/interpretations.md): scope judged on
the visa application's date, per consular district (A2, A3); a spouse's B3 from the
récépissé (A5, B3); B2 met by the visa application; and the opening corrected like any
other fact, a dossier not subject staying open for it during a window (A1, A2)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from models.common import DeadlineStatus, Recipient
from models.core import Step
from models.reference import ReferenceDataInvalid
from models.visa.state import Stage, VisaState
from tests.unit.builders import (
    COMPLETE_FILE,
    DELEGATE_COUNTRY,
    DELEGATE_ENTRY,
    FILED,
    application,
    correction,
    due_timer,
    language_evaluation,
    open_,
    pairs,
    reference,
    run_timers,
    send,
    spouse_application,
    values_evaluation,
)

# Tunisia: the scheme starts on 1 January 2009.
TN_FILE = date(2008, 12, 20)


def tunisian(**overrides: Any) -> dict[str, Any]:
    """A Tunisian file completed before the scheme started, no visa application yet."""
    fields: dict[str, Any] = {
        "country_of_residence": "TN",
        "consulate": "Tunis",
        "complete_file_date": TN_FILE.isoformat(),
        "visa_application_date": None,
    }
    return application(**{**fields, **overrides})


def filed(on: date) -> tuple[str, dict[str, Any]]:
    return ("visa_application_filed", {"filed_on": on.isoformat()})


def receipt(on: date) -> tuple[str, dict[str, Any]]:
    return ("receipt_presented", {"presented_on": on.isoformat()})


def accepted(step: Step[VisaState]) -> VisaState:
    assert step.rejection is None, step.rejection
    return step.state


# --- A2: the visa application's date settles the scope ------------------------------------


@pytest.mark.rule("A2")
def test_a_file_completed_before_the_start_stays_open_awaiting_the_visa_application() -> None:
    step = open_(tunisian(), today=TN_FILE)
    state = step.state
    assert state.scope_awaits_visa_application
    assert not state.closed and state.subject is False and state.not_subject_reason is None
    assert step.notifications == [] and state.tracked_deadlines == {}
    assert state.awaiting == [
        "visa_application_filed from the consulate (A2: its date settles the scope)"
    ]
    refused = send(state, *language_evaluation(date(2008, 12, 22)))
    assert refused.rejection is not None and refused.rejection.rule == "A2"


@pytest.mark.rule("A2")
def test_a_visa_application_filed_before_the_start_is_not_subject_naming_it() -> None:
    opened = open_(tunisian(), today=TN_FILE).state
    step = send(opened, *filed(date(2008, 12, 31)))
    state = accepted(step)
    assert state.subject is False
    assert state.not_subject_reason is not None
    assert state.not_subject_reason.startswith("A2: visa application filed 2008-12-31")
    assert pairs(step) == {("not_subject", Recipient.CONSULATE)}
    assert state.stage == Stage.NOT_SUBJECT and not state.closed  # the correction window


@pytest.mark.rule("A2")
@pytest.mark.rule("A4")
@pytest.mark.rule("B1")
@pytest.mark.rule("B2")
def test_a_visa_application_filed_since_the_start_runs_a4_and_b1_from_the_start() -> None:
    opened = open_(tunisian(), today=TN_FILE).state
    step = send(opened, *filed(date(2009, 1, 5)))
    state = accepted(step)
    assert state.subject is True and not state.scope_awaits_visa_application
    assert ("invitation", Recipient.APPLICANT) in pairs(step)
    # B1 from the later of the complete file (20 December) and the start (1 January).
    assert state.deadlines["evaluation_due"] == date(2009, 3, 2)
    assert state.tracked_deadlines["prefecture_decision_due"].status == DeadlineStatus.MET


@pytest.mark.rule("A2")
def test_the_visa_application_corrected_across_the_start_re_judges_the_scope() -> None:
    opened = open_(tunisian(), today=TN_FILE).state
    before = accepted(send(opened, *filed(date(2008, 12, 31)), today=date(2009, 1, 2)))
    fixed = send(before, *correction(2, filed(date(2009, 1, 5))[1], date(2009, 1, 6)))
    state = accepted(fixed)
    assert state.subject is True and state.deadlines["evaluation_due"] == date(2009, 3, 2)
    # What was said stays said: the consulate is told the not-subject notice no longer holds.
    [notice] = [n for n in fixed.notifications if n.kind == "correction_notice"]
    assert notice.payload["superseded_kind"] == "not_subject"
    direct = accepted(send(opened, *filed(date(2009, 1, 5)), today=date(2009, 1, 6)))
    assert direct.deadlines == state.deadlines and direct.subject == state.subject


@pytest.mark.rule("A2")
def test_a_file_completed_since_the_start_is_judged_at_opening_as_before() -> None:
    state = open_(tunisian(complete_file_date="2009-01-02"), today=date(2009, 1, 2)).state
    assert state.subject is True and not state.scope_awaits_visa_application


# --- A2, A3: per consular district --------------------------------------------------------

DISTRICTS = {
    "countries": {
        DELEGATE_COUNTRY: {
            **DELEGATE_ENTRY,
            "scheme_starts_on": "2009-06-01",
            "consulates": {
                "Yaoundé": {
                    "scheme_starts_on": "2009-01-15",
                    "body": "delegate",
                    "body_name": "Organisme délégataire de Yaoundé",
                }
            },
        }
    }
}


@pytest.mark.rule("A2")
@pytest.mark.rule("A3")
def test_a_consular_district_with_its_own_convention_overrides_its_country() -> None:
    ref = reference(DISTRICTS)
    yaounde = open_(application(country_of_residence="CM", consulate="Yaoundé"), ref).state
    assert yaounde.subject is True
    assert yaounde.responsible_body is not None
    assert yaounde.responsible_body.name == "Organisme délégataire de Yaoundé"
    douala = open_(application(country_of_residence="CM", consulate="Douala"), ref).state
    assert douala.subject is False  # the country's start, 1 June 2009
    assert douala.not_subject_reason is not None and "2009-06-01" in douala.not_subject_reason


@pytest.mark.rule("A2")
def test_an_unknown_key_in_the_reference_data_is_refused_naming_its_path() -> None:
    broken = {
        "countries": {
            "CM": {
                **DISTRICTS["countries"]["CM"],
                "consulates": {"Yaoundé": {"start": "2009-01-15"}},
            }
        }
    }
    with pytest.raises(
        ReferenceDataInvalid, match=r"countries\.CM\.consulates\.Yaoundé\.start: unknown key"
    ):
        reference(broken)


# --- A5, B3: the spouse's récépissé --------------------------------------------------------


@pytest.mark.rule("A5")
@pytest.mark.rule("B3")
def test_b3_runs_from_the_recepisse_and_not_before_it() -> None:
    opened = open_(spouse_application()).state
    assert "evaluation_due" not in opened.tracked_deadlines
    timer = due_timer(opened)
    assert timer is not None and timer.key == "decision_suspension_ends"  # B4 only
    assert "receipt_presented from OFII or the delegated organisation (B3)" in opened.awaiting
    state = accepted(send(opened, *receipt(date(2009, 2, 10))))
    assert state.tracked_deadlines["evaluation_due"].due == date(2009, 4, 11)
    assert state.tracked_deadlines["evaluation_due"].rule == "B3"


@pytest.mark.rule("B3")
def test_a_recepisse_before_the_visa_application_is_refused_naming_b3() -> None:
    opened = open_(spouse_application()).state
    step = send(opened, *receipt(date(2009, 1, 30)))
    assert step.rejection is not None
    assert (step.rejection.rule, step.rejection.field) == ("B3", "presented_on")
    with pytest.raises(Exception, match="B3: complete_file_date"):
        open_(spouse_application(complete_file_date="2009-01-30"))


@pytest.mark.rule("B3")
def test_a_second_recepisse_and_one_for_family_reunification_are_refused() -> None:
    given = open_(spouse_application(complete_file_date=FILED.isoformat())).state
    again = send(given, *receipt(date(2009, 2, 10)))
    assert again.rejection is not None and again.rejection.rule == "B3"
    family = send(open_().state, *receipt(date(2009, 2, 10)))
    assert family.rejection is not None and family.rejection.rule == "B3"


@pytest.mark.rule("B3")
def test_the_recepisse_reported_after_the_evaluations_gives_the_same_dossier() -> None:
    evaluations = [language_evaluation(date(2009, 2, 20)), values_evaluation(date(2009, 2, 20))]
    in_order = open_(spouse_application()).state
    for event in [receipt(date(2009, 2, 10)), *evaluations]:
        in_order = accepted(send(in_order, *event))
    late = open_(spouse_application()).state
    for event in evaluations:
        late = accepted(send(late, *event))
    late = accepted(send(late, *receipt(date(2009, 2, 10)), today=date(2009, 2, 25)))
    assert late.tracked_deadlines == in_order.tracked_deadlines
    assert late.tracked_deadlines["evaluation_due"].status == DeadlineStatus.MET


# --- B2: the visa application means the prefect has ruled ------------------------------------

NOT_FILED = application(visa_application_date=None)
B2_REMINDER = date(2009, 7, 12)


@pytest.mark.rule("B2")
def test_no_b2_reminder_after_the_visa_application() -> None:
    opened = open_(NOT_FILED, today=COMPLETE_FILE).state
    state = accepted(send(opened, *filed(date(2009, 6, 1))))
    assert state.tracked_deadlines["prefecture_decision_due"].status == DeadlineStatus.MET
    state, fired = run_timers(state, date(2009, 7, 31))
    assert all(n.kind != "prefecture_decision_due" for step in fired for n in step.notifications)


@pytest.mark.rule("B2")
def test_a_visa_application_dated_before_the_reminder_arriving_late_withdraws_it() -> None:
    opened = open_(NOT_FILED, today=COMPLETE_FILE).state
    reminded, fired = run_timers(opened, B2_REMINDER)
    assert [n.kind for step in fired for n in step.notifications][-1] == "prefecture_decision_due"
    step = send(reminded, *filed(date(2009, 6, 1)), today=date(2009, 7, 20))
    state = accepted(step)
    assert state.tracked_deadlines["prefecture_decision_due"].status == DeadlineStatus.MET
    [notice] = [n for n in step.notifications if n.kind == "correction_notice"]
    assert notice.recipient == Recipient.PREFECTURE and notice.payload["now"] is None


@pytest.mark.rule("B2")
def test_a_visa_application_dated_after_the_reminder_leaves_it_standing() -> None:
    reminded, _ = run_timers(open_(NOT_FILED, today=COMPLETE_FILE).state, B2_REMINDER)
    step = send(reminded, *filed(date(2009, 7, 15)))
    state = accepted(step)
    assert state.tracked_deadlines["prefecture_decision_due"].status == DeadlineStatus.REACHED
    assert all(n.kind != "correction_notice" for n in step.notifications)


# --- all: the opening facts corrected, the window of a dossier not subject -------------------

TOO_YOUNG = application(applicant={"birth_date": "1993-06-01"})  # 15 at the complete file


@pytest.mark.rule("A1")
def test_a_dossier_not_subject_stays_open_for_the_window_then_closes() -> None:
    opened = open_(TOO_YOUNG).state
    assert not opened.closed
    window = opened.tracked_deadlines["correction_window_ends"]
    assert window.due == date(2009, 3, 4)  # 30 days from its opening on 2 February
    state, fired = run_timers(opened, date(2009, 3, 5))
    assert [step.notifications for step in fired] == [[]]
    assert state.closed and state.stage == Stage.NOT_SUBJECT and due_timer(state) is None


@pytest.mark.rule("A1")
def test_the_window_is_configurable() -> None:
    opened = open_(TOO_YOUNG, reference({"not_subject_correction_days": 10})).state
    assert opened.tracked_deadlines["correction_window_ends"].due == date(2009, 2, 12)


@pytest.mark.rule("A1")
@pytest.mark.rule("A4")
@pytest.mark.rule("B1")
def test_a_corrected_birth_date_re_opens_the_procedure() -> None:
    opened = open_(TOO_YOUNG).state
    fixed = application(applicant={"birth_date": "1983-06-01"})
    step = send(opened, *correction(1, fixed, date(2009, 2, 10)))
    state = accepted(step)
    assert step.corrects == 1
    assert state.subject is True and state.stage == Stage.AWAITING_EVALUATION
    assert "correction_window_ends" not in state.tracked_deadlines
    assert state.deadlines["evaluation_due"] == date(2009, 3, 13)
    assert state.input.applicant.birth_date == date(1983, 6, 1)
    assert state.opening_corrected_by == [2] and state.corrections == 1
    kinds = {(n.kind, n.recipient) for n in step.notifications}
    assert ("invitation", Recipient.APPLICANT) in kinds
    assert ("correction_notice", Recipient.CONSULATE) in kinds  # the not-subject notice
    # The same as a dossier opened with the right date from the start.
    direct = open_(fixed).state
    assert state.deadlines == direct.deadlines and state.responsible_body == direct.responsible_body


@pytest.mark.rule("A1")
def test_a_correction_keeping_it_not_subject_restarts_the_window() -> None:
    opened = open_(TOO_YOUNG).state
    still = application(applicant={"birth_date": "1993-07-01"})
    state = accepted(send(opened, *correction(1, still, date(2009, 2, 20))))
    assert state.subject is False
    assert state.tracked_deadlines["correction_window_ends"].due == date(2009, 3, 22)


@pytest.mark.rule("B1")
def test_a_corrected_complete_file_date_re_judges_b1() -> None:
    opened = open_().state
    state = accepted(
        send(opened, *correction(1, application(complete_file_date="2009-01-20"), FILED))
    )
    assert state.deadlines["evaluation_due"] == date(2009, 3, 21)


@pytest.mark.parametrize(
    ("payload", "rule", "field", "says"),
    [
        (None, "correction", "payload", "never withdrawn"),
        (
            application(application_id="RBT-2009-999999"),
            "contract",
            "payload.application_id",
            "workflow id",
        ),
        (application(), "correction", None, "nothing changed"),
        (
            application(visa_application_date=None, complete_file_date="2009-03-20"),
            "B1",
            "payload.complete_file_date",
            "future",
        ),
    ],
    ids=["withdrawn", "another-id", "unchanged", "in-the-future"],
)
@pytest.mark.rule("A1")
def test_a_correction_of_the_opening_that_cannot_stand_is_refused(
    payload: dict[str, Any] | None, rule: str, field: str | None, says: str
) -> None:
    opened = open_().state
    step = send(opened, *correction(1, payload, FILED))
    assert step.rejection is not None
    assert (step.rejection.rule, step.rejection.field) == (rule, field)
    assert says in step.rejection.reason
    assert step.state.input == opened.input


@pytest.mark.rule("B1")
def test_a_corrected_opening_after_an_accepted_fact_is_refused_naming_both() -> None:
    evaluated = accepted(send(open_().state, *language_evaluation(date(2009, 1, 20))))
    step = send(evaluated, *correction(1, application(complete_file_date="2009-01-25"), FILED))
    assert step.rejection is not None and step.rejection.rule == "B1"
    assert "contradicts event #2 (language_evaluation" in step.rejection.reason
    assert step.rejection.field == "payload"
