"""B1–B8: the statutory delays, their durable timers and the alerts when they run out.

The dossier of the builders: complete file on 12 January 2009, visa application on
2 February 2009 (Morocco, OFII Rabat), so that
- evaluation_due (B1/B3): 12 Jan + 60 days = 13 March 2009, alert on 14 March;
- prefecture_decision_due (B2): 12 Jan + 6 months = 12 July 2009, alert ON 12 July;
- decision_suspension_ends (B4): 2 Feb + 6 months = 2 August 2009, alert on 3 August.
"""

from __future__ import annotations

from datetime import date

import pytest

from models.common import DeadlineStatus, Recipient
from models.core import TimerDue
from models.visa.state import Stage, VisaState, visa_view
from tests.unit.builders import (
    DELEGATE_COUNTRY,
    application,
    delegate_reference,
    due_timer,
    feed,
    language_evaluation,
    notes_of,
    on_deadline,
    open_,
    pairs,
    resume,
    run_timers,
    send,
    spouse_application,
    training_absence,
    training_completed,
    training_prescribed,
    training_started,
    values_evaluation,
    visa_decision,
    working_day_reference,
)

EVALUATION_DUE = date(2009, 3, 13)
PREFECTURE_DUE = date(2009, 7, 12)
SURSIS_ENDS = date(2009, 8, 2)
EVALUATED = date(2009, 2, 20)
FILED_ISO = "2009-02-02"

BOTH_SUFFICIENT = [language_evaluation(EVALUATED), values_evaluation(EVALUATED)]
LANGUAGE_INSUFFICIENT = [
    language_evaluation(EVALUATED, oral=20, written=10),
    values_evaluation(EVALUATED),
]


# B2 reminds the prefect only while no visa application is on file (the visa follows the
# prefect's authorisation).
NOT_FILED = application(visa_application_date=None)


def fire(state: VisaState, timer: TimerDue) -> tuple[VisaState, list[tuple[str, Recipient]]]:
    step = on_deadline(state, timer.fire_on)
    return step.state, sorted(pairs(step))


# --- B1: family reunification, evaluation within 60 days of the complete file ---------


@pytest.mark.rule("B1")
@pytest.mark.rule("B9")
def test_b1_evaluation_is_due_60_days_after_the_complete_file() -> None:
    state = open_().state
    deadline = state.tracked_deadlines["evaluation_due"]
    assert deadline.due == EVALUATION_DUE
    assert deadline.rule == "B1"
    assert state.deadlines["evaluation_due"] == EVALUATION_DUE


@pytest.mark.rule("B1")
def test_b1_alert_fires_the_day_after_the_last_day() -> None:
    assert due_timer(open_().state) == TimerDue("evaluation_due", date(2009, 3, 14))


@pytest.mark.rule("B1")
def test_b1_alerts_the_body_and_the_consulate_never_against_the_applicant() -> None:
    state = open_().state
    timer = due_timer(state)
    assert timer is not None
    step = on_deadline(state, timer.fire_on)
    assert sorted(pairs(step)) == [
        ("evaluation_overdue", Recipient.CONSULATE),
        ("evaluation_overdue", Recipient.OFII),
    ]
    for note in step.notifications:
        assert note.rule == "B1"
        assert note.payload["held_against_applicant"] is False
        assert note.payload["evaluations"] == ["language", "values"]
        assert note.payload["due"] == EVALUATION_DUE.isoformat()
    assert step.state.tracked_deadlines["evaluation_due"].status == DeadlineStatus.MISSED
    assert step.state.overdue == ["evaluation_due"]
    assert step.state.seq == state.seq + 1


@pytest.mark.rule("B1")
def test_b1_both_evaluations_on_the_last_day_meet_the_deadline() -> None:
    state = feed([language_evaluation(EVALUATION_DUE), values_evaluation(EVALUATION_DUE)]).state
    assert state.tracked_deadlines["evaluation_due"].status == DeadlineStatus.MET
    timer = due_timer(state)
    assert timer is not None
    assert timer.key != "evaluation_due"


@pytest.mark.rule("B1")
def test_b1_one_evaluation_alone_does_not_meet_the_deadline() -> None:
    state = feed([language_evaluation(EVALUATED)]).state
    assert state.tracked_deadlines["evaluation_due"].status == DeadlineStatus.PENDING
    timer = due_timer(state)
    assert timer == TimerDue("evaluation_due", date(2009, 3, 14))
    step = on_deadline(state, timer.fire_on)
    assert all(note.payload["evaluations"] == ["values"] for note in step.notifications)


@pytest.mark.rule("B1")
@pytest.mark.rule("A3")
def test_b1_alert_goes_to_the_delegate_where_there_is_no_representation() -> None:
    ref = delegate_reference()
    state = open_(application(country_of_residence=DELEGATE_COUNTRY), ref).state
    timer = due_timer(state)
    assert timer is not None
    _, sent = fire(state, timer)
    assert sent == [
        ("evaluation_overdue", Recipient.CONSULATE),
        ("evaluation_overdue", Recipient.DELEGATE),
    ]


@pytest.mark.rule("B1")
def test_b1_a_late_evaluation_is_recorded_as_met_late() -> None:
    state, fired = run_timers(open_().state, date(2009, 3, 14))
    assert [step.notifications[0].kind for step in fired] == ["evaluation_overdue"]
    step = feed(
        [language_evaluation(date(2009, 3, 20)), values_evaluation(date(2009, 3, 20))],
        start=resume(state),
    )
    assert step.state.tracked_deadlines["evaluation_due"].status == DeadlineStatus.MET_LATE
    assert step.state.overdue == []


# --- B2: the prefect rules within six months of the complete file ------------------------


@pytest.mark.rule("B2")
def test_b2_prefecture_decision_is_due_six_months_after_the_complete_file() -> None:
    deadline = open_().state.tracked_deadlines["prefecture_decision_due"]
    assert deadline.due == PREFECTURE_DUE
    assert deadline.rule == "B2"


@pytest.mark.rule("B2")
def test_b2_reminder_fires_on_its_last_day() -> None:
    state = feed(BOTH_SUFFICIENT, start=open_(NOT_FILED, today=EVALUATED)).state
    assert due_timer(state) == TimerDue("prefecture_decision_due", PREFECTURE_DUE)


@pytest.mark.rule("B2")
def test_b2_reminder_goes_to_the_prefecture() -> None:
    state = feed(BOTH_SUFFICIENT, start=open_(NOT_FILED, today=EVALUATED)).state
    state, sent = fire(state, TimerDue("prefecture_decision_due", PREFECTURE_DUE))
    assert sent == [("prefecture_decision_due", Recipient.PREFECTURE)]
    assert state.tracked_deadlines["prefecture_decision_due"].status == DeadlineStatus.REACHED
    assert state.overdue == []  # nothing for the dossier to catch up on
    assert due_timer(state) is None  # the sursis waits for the visa application (B4)


@pytest.mark.rule("B2")
def test_b2_reminder_names_the_prefecture() -> None:
    state = feed(BOTH_SUFFICIENT, start=open_(NOT_FILED, today=EVALUATED)).state
    step = on_deadline(state, PREFECTURE_DUE)
    [note] = step.notifications
    assert note.payload["prefecture"] == "Paris"
    assert note.payload["due"] == PREFECTURE_DUE.isoformat()


@pytest.mark.rule("B2")
@pytest.mark.rule("B9")
def test_b2_month_end_complete_file() -> None:
    raw = application(complete_file_date="2009-08-31", visa_application_date="2009-09-10")
    assert open_(raw).state.deadlines["prefecture_decision_due"] == date(2010, 2, 28)


@pytest.mark.rule("B2")
def test_b2_does_not_apply_to_a_spouse_of_a_french_national() -> None:
    state = open_(spouse_application()).state
    assert "prefecture_decision_due" not in state.tracked_deadlines


# --- B3: spouse, evaluation within 60 days of presenting the récépissé ------------------


@pytest.mark.rule("B3")
def test_b3_spouse_evaluation_is_due_60_days_after_the_recepisse() -> None:
    state = open_(spouse_application(complete_file_date="2009-02-05"), today=EVALUATED).state
    deadline = state.tracked_deadlines["evaluation_due"]
    assert deadline.due == date(2009, 4, 6)
    assert deadline.rule == "B3"
    assert due_timer(state) == TimerDue("evaluation_due", date(2009, 4, 7))


@pytest.mark.rule("B3")
def test_b3_overdue_alert_to_the_body_and_the_consulate() -> None:
    state = open_(spouse_application(complete_file_date=FILED_ISO)).state
    timer = due_timer(state)
    assert timer is not None
    step = on_deadline(state, timer.fire_on)
    assert sorted(pairs(step)) == [
        ("evaluation_overdue", Recipient.CONSULATE),
        ("evaluation_overdue", Recipient.OFII),
    ]
    assert {note.rule for note in step.notifications} == {"B3"}
    assert all(note.payload["held_against_applicant"] is False for note in step.notifications)


# --- B4: the sursis à statuer, at most six months from the visa application ------------


@pytest.mark.rule("B4")
def test_b4_sursis_ends_six_months_after_the_visa_application() -> None:
    deadline = open_().state.tracked_deadlines["decision_suspension_ends"]
    assert deadline.due == SURSIS_ENDS  # from 2 Feb (application), not 12 Jan (file)
    assert deadline.rule == "B4"


@pytest.mark.rule("B4")
@pytest.mark.rule("B9")
def test_b4_month_end_visa_application() -> None:
    raw = application(complete_file_date="2009-08-20", visa_application_date="2009-08-31")
    assert open_(raw).state.deadlines["decision_suspension_ends"] == date(2010, 2, 28)


@pytest.mark.rule("B4")
def test_b4_alert_fires_the_day_after_and_tells_the_consulate_to_rule() -> None:
    state, _ = run_timers(feed(BOTH_SUFFICIENT).state, PREFECTURE_DUE)
    timer = due_timer(state)
    assert timer == TimerDue("decision_suspension_ends", date(2009, 8, 3))
    step = on_deadline(state, timer.fire_on)
    assert sorted(pairs(step)) == [("sursis_expired", Recipient.CONSULATE)]
    assert step.state.tracked_deadlines["decision_suspension_ends"].status == (
        DeadlineStatus.MISSED
    )
    assert "visa_decision from the consulate" in step.state.awaiting
    assert due_timer(step.state) is None


@pytest.mark.rule("B4")
def test_b4_issuance_before_evaluation_is_suspended_until_the_sursis_ends() -> None:
    opened = open_()
    within = send(opened.state, *visa_decision(SURSIS_ENDS))
    assert within.rejection is not None
    assert within.rejection.reason.startswith("B4: decision")
    after = send(opened.state, *visa_decision(date(2009, 8, 3)))
    assert after.rejection is None
    assert after.state.stage == Stage.VISA_ISSUED


# --- B5: attribution of the delay at the end of the sursis -------------------------------


def in_training(absence_reason: str | None, absent: bool = True) -> VisaState:
    events = [
        *LANGUAGE_INSUFFICIENT,
        training_prescribed(date(2009, 3, 1)),
        training_started(date(2009, 3, 10)),
    ]
    if absent:
        events.append(training_absence(date(2009, 3, 20), reason=absence_reason))
    return feed(events).state


def sursis_note_payload(state: VisaState) -> dict[str, object]:
    _, fired = run_timers(state, date(2009, 8, 3))
    [note] = [n for step in fired for n in notes_of(step, "sursis_expired")]
    assert note.recipient == Recipient.CONSULATE
    return note.payload


@pytest.mark.rule("B5")
@pytest.mark.rule("D5")
def test_b5_absence_without_legitimate_reason_is_attributable_to_the_applicant() -> None:
    payload = sursis_note_payload(in_training(absence_reason=None))
    assert payload["delay_attributable_to_applicant"] is True
    assert payload["incomplete"] == ["language"]


@pytest.mark.rule("B5")
def test_b5_absence_with_a_legitimate_reason_is_not_attributable() -> None:
    payload = sursis_note_payload(in_training(absence_reason="hospitalisation"))
    assert payload["delay_attributable_to_applicant"] is False


@pytest.mark.rule("B5")
def test_b5_a_training_not_finished_without_absence_is_not_attributable() -> None:
    payload = sursis_note_payload(in_training(absence_reason=None, absent=False))
    assert payload["delay_attributable_to_applicant"] is False


@pytest.mark.rule("B5")
@pytest.mark.rule("B1")
def test_b5_a_missed_evaluation_deadline_is_never_attributable() -> None:
    payload = sursis_note_payload(open_().state)
    assert payload["delay_attributable_to_applicant"] is False
    assert payload["incomplete"] == ["language", "values"]


# --- B6: results to the consulate within the week ---------------------------------------


@pytest.mark.rule("B6")
def test_b6_results_recorded_on_the_seventh_day_are_on_time() -> None:
    name, payload = language_evaluation(date(2009, 3, 2))
    step = send(open_().state, name, payload, today=date(2009, 3, 9))
    assert step.rejection is None
    evaluation = step.state.language.evaluation
    assert evaluation is not None and evaluation.late is False
    deadline = step.state.tracked_deadlines["results_to_consulate_due.language"]
    assert deadline.due == date(2009, 3, 9)
    assert deadline.status == DeadlineStatus.MET
    [note] = notes_of(step, "evaluation_results")
    assert note.recipient == Recipient.CONSULATE
    assert note.rule == "B6"
    assert note.payload["late"] is False


@pytest.mark.rule("B6")
def test_b6_results_recorded_on_the_eighth_day_are_flagged_late() -> None:
    name, payload = language_evaluation(date(2009, 3, 2))
    step = send(open_().state, name, payload, today=date(2009, 3, 10))
    assert step.rejection is None
    evaluation = step.state.language.evaluation
    assert evaluation is not None and evaluation.late is True
    assert step.state.tracked_deadlines["results_to_consulate_due.language"].status == (
        DeadlineStatus.MET_LATE
    )
    [note] = notes_of(step, "evaluation_results")
    assert note.payload["late"] is True


@pytest.mark.rule("B6")
def test_b6_values_results_are_sent_to_the_consulate_too() -> None:
    name, payload = values_evaluation(date(2009, 3, 2))
    step = send(open_().state, name, payload, today=date(2009, 3, 10))
    [note] = notes_of(step, "evaluation_results")
    assert note.recipient == Recipient.CONSULATE
    assert note.payload["domain"] == "values"
    assert note.payload["late"] is True


@pytest.mark.rule("B6")
@pytest.mark.rule("B9")
def test_b6_week_ending_on_throne_day_runs_to_the_31st_with_the_policy_on() -> None:
    # The consulate in Rabat keeps the week on Morocco's working days: 30 July is Throne Day.
    raw = application(complete_file_date="2009-06-01", visa_application_date="2009-06-15")
    ref = working_day_reference()
    name, payload = language_evaluation(date(2009, 7, 23))
    step = send(open_(raw, ref).state, name, payload, ref, today=date(2009, 7, 31))
    evaluation = step.state.language.evaluation
    assert evaluation is not None and evaluation.late is False
    assert step.state.tracked_deadlines["results_to_consulate_due.language"].due == date(
        2009, 7, 31
    )
    # Policy off: the week ends on the holiday itself, so the 31st is late.
    off = send(open_(raw).state, name, payload, today=date(2009, 7, 31))
    assert off.state.language.evaluation is not None
    assert off.state.language.evaluation.late is True


@pytest.mark.rule("B6")
@pytest.mark.rule("J1")
def test_b6_is_kept_for_each_evaluation_and_a_late_one_stays_late() -> None:
    """Language late, values on time, then the language re-evaluation on time: the first
    language result stays late, and the J1 report counts the miss."""
    evaluated = date(2009, 3, 2)
    state = send(
        open_().state, *language_evaluation(evaluated, oral=20), today=date(2009, 3, 20)
    ).state
    state = send(state, *values_evaluation(evaluated), today=date(2009, 3, 5)).state
    trained = [
        training_prescribed(date(2009, 3, 25)),
        training_started(date(2009, 4, 1)),
        training_completed(date(2009, 5, 20)),
        language_evaluation(date(2009, 5, 25)),
    ]
    state = feed(trained, start=resume(state)).state
    deadlines = state.tracked_deadlines
    assert deadlines["results_to_consulate_due.language"].status == DeadlineStatus.MET_LATE
    assert deadlines["results_to_consulate_due.values"].status == DeadlineStatus.MET
    assert deadlines["results_to_consulate_due.language_re_evaluation"].status == DeadlineStatus.MET
    assert "evaluation_results" in visa_view(state).deadlines_missed
    # The same facts in another order of arrival give the same answer.
    reordered = send(
        send(open_().state, *values_evaluation(evaluated), today=date(2009, 3, 5)).state,
        *language_evaluation(evaluated, oral=20),
        today=date(2009, 3, 20),
    ).state
    reordered = feed(trained, start=resume(reordered)).state
    assert reordered.tracked_deadlines == deadlines


@pytest.mark.rule("B6")
@pytest.mark.rule("J1")
def test_b6_on_time_everywhere_counts_no_miss() -> None:
    state = feed(BOTH_SUFFICIENT).state
    assert "evaluation_results" not in visa_view(state).deadlines_missed


@pytest.mark.rule("B6")
def test_b6_has_no_timer() -> None:
    state = feed(BOTH_SUFFICIENT).state
    timer = due_timer(state)
    assert timer is not None and timer.key != "results_to_consulate_due"


# --- B7: a training starts within two months of the notification of the results -------

PRESCRIBED = date(2009, 3, 20)
# Two months from the insufficient results reaching the dossier (20 February), before any
# prescription; the prescription of 20 March does not move them.
START_DUE = date(2009, 4, 20)


def prescribed(delegate: bool = False) -> VisaState:
    events = [*LANGUAGE_INSUFFICIENT, training_prescribed(PRESCRIBED)]
    if delegate:
        return feed(
            events, application(country_of_residence=DELEGATE_COUNTRY), delegate_reference()
        ).state
    return feed(events).state


@pytest.mark.rule("B7")
def test_b7_training_must_start_within_two_months_of_the_insufficient_results() -> None:
    before = feed(LANGUAGE_INSUFFICIENT).state  # no prescription yet: the delay runs
    assert before.tracked_deadlines["training_start_due.language"].due == START_DUE
    state = prescribed()
    deadline = state.tracked_deadlines["training_start_due.language"]
    assert deadline.due == START_DUE
    assert deadline.rule == "B7"
    assert state.deadlines["training_start_due"] == START_DUE


@pytest.mark.rule("B7")
def test_b7_alert_fires_the_day_after_to_the_body_and_the_consulate() -> None:
    state = prescribed()
    timer = due_timer(state)
    assert timer == TimerDue("training_start_due.language", date(2009, 4, 21))
    state, sent = fire(state, timer)
    assert sent == [
        ("training_start_overdue", Recipient.CONSULATE),
        ("training_start_overdue", Recipient.OFII),
    ]
    assert state.tracked_deadlines["training_start_due.language"].status == (DeadlineStatus.MISSED)
    assert state.overdue == ["training_start_due.language"]


@pytest.mark.rule("B7")
@pytest.mark.rule("A3")
def test_b7_alert_goes_to_the_delegate_where_there_is_no_representation() -> None:
    state = prescribed(delegate=True)
    timer = due_timer(state)
    assert timer is not None and timer.key == "training_start_due.language"
    _, sent = fire(state, timer)
    assert sent == [
        ("training_start_overdue", Recipient.CONSULATE),
        ("training_start_overdue", Recipient.DELEGATE),
    ]


@pytest.mark.rule("B7")
def test_b7_a_start_on_the_last_day_meets_the_deadline() -> None:
    step = feed([training_started(START_DUE)], start=resume(prescribed()))
    assert step.rejection is None
    assert step.state.tracked_deadlines["training_start_due.language"].status == (
        DeadlineStatus.MET
    )
    timer = due_timer(step.state)
    assert timer is not None and not timer.key.startswith("training_start_due")


@pytest.mark.rule("B7")
@pytest.mark.rule("B9")
def test_b7_month_end_notification() -> None:
    # Results received on 31 December: two months end on the last day of February.
    raw = application(complete_file_date="2009-10-01", visa_application_date="2009-10-15")
    state = feed(
        [
            language_evaluation(date(2009, 12, 31), oral=20, written=10),
            values_evaluation(date(2009, 12, 31)),
            training_prescribed(date(2010, 1, 5)),
        ],
        raw,
    ).state
    assert state.deadlines["training_start_due"] == date(2010, 2, 28)


# --- B8: training abroad lasts at most two months ----------------------------------------

STARTED = date(2009, 4, 1)
END_DUE = date(2009, 6, 1)


def started() -> VisaState:
    return feed([training_started(STARTED)], start=resume(prescribed())).state


@pytest.mark.rule("B8")
def test_b8_training_ends_within_two_months_of_its_start() -> None:
    state = started()
    deadline = state.tracked_deadlines["training_end_due.language"]
    assert deadline.due == END_DUE
    assert deadline.rule == "B8"
    assert state.stage == Stage.IN_TRAINING


@pytest.mark.rule("B8")
def test_b8_a_training_still_open_is_flagged_the_day_after() -> None:
    state = started()
    timer = due_timer(state)
    assert timer == TimerDue("training_end_due.language", date(2009, 6, 2))
    state, sent = fire(state, timer)
    assert sent == [("training_overrun", Recipient.OFII)]
    assert state.overdue == ["training_end_due.language"]


@pytest.mark.rule("B8")
def test_b8_a_training_completed_on_the_last_day_is_not_flagged() -> None:
    step = feed([training_completed(END_DUE)], start=resume(started()))
    assert step.rejection is None
    assert step.state.tracked_deadlines["training_end_due.language"].status == (DeadlineStatus.MET)
    timer = due_timer(step.state)
    assert timer is not None and timer.key == "decision_suspension_ends"  # B2 met at filing


# --- the shell's view of the timers -----------------------------------------------------


@pytest.mark.rule("B1")
@pytest.mark.rule("B2")
@pytest.mark.rule("B4")
def test_timers_fire_in_order_and_stop_when_the_dossier_closes() -> None:
    state, fired = run_timers(open_().state, date(2009, 12, 31))
    assert [(step.notifications[0].kind) for step in fired] == [
        "evaluation_overdue",
        "sursis_expired",  # B2: met by the visa application on file
    ]
    assert due_timer(state) is None
    state, fired = run_timers(open_(NOT_FILED, today=date(2009, 1, 12)).state, date(2009, 12, 31))
    assert [(step.notifications[0].kind) for step in fired] == [
        "evaluation_overdue",
        "prefecture_decision_due",
    ]
    closed = feed([*BOTH_SUFFICIENT, visa_decision(date(2009, 3, 1))]).state
    assert closed.stage == Stage.VISA_ISSUED
    assert due_timer(closed) is None
