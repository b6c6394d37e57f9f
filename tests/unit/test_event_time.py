"""Event time: a dossier is judged on the dates its facts carry, not on the day they arrive
(docs/interpretations.md, "Readings applied"; docs/contract.md, "Facts arrive late, and can be
corrected"). One test per reading, on the pure cores of the three dossier kinds.

The visa dossier of the builders: complete file on 12 January 2009 (day 0), visa
application on 2 February 2009, Morocco (OFII Rabat); evaluation_due (B1) on day 60,
13 March, its alert on day 61; the sursis (B4) ends on 2 August 2009.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from models import history
from models.cai import CAI
from models.cai import workflow_id_for as cai_workflow_id
from models.cai.state import CaiState
from models.common import DeadlineStatus, Recipient
from models.core import Step, TimerDue
from models.dossier import DossierRecord
from models.family import FAMILY
from models.family import workflow_id_for as family_workflow_id
from models.family.kind import (
    FAMILY_NAMING_PERSON_IDS,
    FAMILY_REPORTING_AT_FIRST_ABSENCE,
    FAMILY_REPORTING_AT_FIRST_ABSENCE_NAMING_PERSON_IDS,
)
from models.family.state import FamilyState
from models.reference import ReferenceData, default_reference_data
from models.visa import VISA
from models.visa.state import Stage, TrackStatus, VisaState
from tests.unit.builders import (
    COMPLETE_FILE,
    Event,
    application,
    deliver,
    feed,
    language_evaluation,
    language_test_exemption,
    notes_of,
    open_,
    pairs,
    pass_time,
    reference,
    run_timers,
    send,
    spouse_application,
    to_applicant,
    training_absence,
    training_completed,
    training_exemption,
    training_prescribed,
    training_started,
    unchanged_but_seq,
    values_evaluation,
    visa_decision,
)
from tests.unit.test_cai_rules import SIGNED, contract, family

DAY_30 = COMPLETE_FILE + timedelta(days=30)
DAY_40 = COMPLETE_FILE + timedelta(days=40)
DAY_61 = COMPLETE_FILE + timedelta(days=61)  # the B1 alert
DAY_65 = COMPLETE_FILE + timedelta(days=65)
FILED = date(2009, 2, 2)
EVALUATED = date(2009, 2, 20)
RESULTS_IN = date(2009, 3, 10)  # late results of the evaluation of 20 February
PRESCRIBED = date(2009, 2, 25)
STARTED = date(2009, 3, 2)
ABSENT = date(2009, 3, 20)
COMPLETED = date(2009, 4, 20)
RE_EVALUATED = date(2009, 4, 22)
AFTER_SURSIS = date(2009, 8, 3)  # the sursis ended on 2 August

LANGUAGE_KO = language_evaluation(EVALUATED, oral=20, written=10)
VALUES_OK = values_evaluation(EVALUATED)
VALUES_KO = values_evaluation(EVALUATED, correct=3)
IN_TRAINING: list[Event] = [
    LANGUAGE_KO,
    VALUES_OK,
    training_prescribed(PRESCRIBED),
    training_started(STARTED),
]
TRAINED: list[Event] = [*IN_TRAINING, training_completed(COMPLETED)]
REFUSED_NOT_FOLLOWED = ["training_not_followed"]

# The CAI of the tests of test_cai_rules: signed on 2 March 2009, valid until 2 March 2010.
YEAR_ENDS = date(2010, 3, 2)
AFTER_YEAR = date(2010, 3, 3)
SESSION = date(2009, 3, 12)

# What a dossier is, whatever the order its facts arrived in (not the journal).
JOURNAL = {"seq", "rejected_inputs", "facts", "said", "accepted_fingerprints", "clock"}


def judged(state: DossierRecord) -> dict[str, Any]:
    return state.model_dump(exclude=JOURNAL)


def kinds_to(notes: list[Any]) -> set[tuple[str, Recipient]]:
    return {(note.kind, note.recipient) for note in notes}


def open_reunification(**overrides: Any) -> Step[VisaState]:
    """Family reunification opened at the complete file, before any visa application."""
    return open_(application(visa_application_date=None, **overrides), today=COMPLETE_FILE)


def open_cai(ref: ReferenceData | None = None, **overrides: Any) -> CaiState:
    raw = contract(**overrides)
    signed = date.fromisoformat(raw["signed_on"])
    workflow_id = cai_workflow_id(raw["contract_id"])
    return history.open_dossier(CAI, raw, ref or reference(), signed, workflow_id).state


def open_family(ref: ReferenceData | None = None, **overrides: Any) -> FamilyState:
    raw = family(**overrides)
    workflow_id = family_workflow_id(raw["contract_id"])
    return history.open_dossier(FAMILY, raw, ref or reference(), SIGNED, workflow_id).state


def convened(session_on: date = SESSION) -> Event:
    return (
        "skills_assessment_convened",
        {"session_id": "S1", "session_on": session_on.isoformat(), "platform": "OFII Paris"},
    )


def cai_absence(service: str, on: date, reason: str | None = None) -> Event:
    return (
        "absence",
        {"service": service, "absent_on": on.isoformat(), "legitimate_reason": reason},
    )


def filed(on: date) -> Event:
    return ("visa_application_filed", {"filed_on": on.isoformat()})


# --- A1, A4, B1, B4: family reunification opens at the complete file -----------------------


@pytest.mark.rule("A4")
@pytest.mark.rule("B1")
@pytest.mark.rule("B2")
@pytest.mark.rule("B4")
def test_family_reunification_opens_at_the_complete_file_and_the_filing_starts_the_sursis() -> None:
    opened = open_reunification()
    state = opened.state
    assert state.stage == Stage.AWAITING_EVALUATION
    assert state.visa_application_date is None
    assert pairs(opened) == {("invitation", Recipient.APPLICANT)}  # A4, at the complete file
    assert state.deadlines == {
        "evaluation_due": date(2009, 3, 13),
        "prefecture_decision_due": date(2009, 7, 12),
    }
    assert "visa_application_filed from the consulate" in state.awaiting
    step = send(state, *filed(FILED))
    assert step.rejection is None and step.notifications == []
    assert step.state.visa_application_date == FILED
    assert step.state.deadlines["decision_suspension_ends"] == date(2009, 8, 2)  # B4


@pytest.mark.rule("F1")
@pytest.mark.rule("core")
def test_a_decision_arriving_before_the_visa_application_waits_for_it() -> None:
    state = open_reunification().state
    decision = visa_decision(date(2009, 2, 20), "refused", ["public_order"])
    held = send(state, *decision, today=date(2009, 2, 20))
    assert held.rejection is None and held.held is not None
    assert held.held.reason.startswith("F1: decided_on")
    assert not held.state.closed  # not taken until admitted
    step = send(held.state, *filed(FILED), today=date(2009, 2, 21))
    assert step.rejection is None and step.placed == [held.held.seq]
    assert step.state.closed and step.state.stage == Stage.VISA_REFUSED
    # One dated before the filing still waits for a filing dated before it (a correction
    # may bring it), and the dossier stays open.
    early = send(state, *visa_decision(date(2009, 1, 20), "refused", ["public_order"]))
    assert early.held is not None
    still = send(early.state, *filed(FILED))
    assert still.rejection is None and not still.state.closed
    assert [held.seq for held in still.state.held_inputs] == [early.held.seq]


@pytest.mark.rule("B4")
def test_the_visa_application_filed_twice_is_rejected() -> None:
    before = feed([filed(FILED)], start=open_reunification()).state
    step = send(before, *filed(date(2009, 2, 3)))
    assert step.rejection is not None
    assert (step.rejection.rule, step.rejection.field) == ("B4", "filed_on")
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)
    # Already on the application: filing again is as much a second filing.
    again = send(open_().state, *filed(date(2009, 2, 3)))
    assert again.rejection is not None and again.rejection.rule == "B4"


@pytest.mark.rule("A1")
def test_age_is_taken_when_the_dossier_opens() -> None:
    # Family reunification: on the complete-file date, the visa application still to come.
    assert open_reunification(applicant={"birth_date": "1993-01-12"}).state.subject is True
    younger = open_reunification(applicant={"birth_date": "1993-01-13"}).state
    assert younger.subject is False
    assert younger.not_subject_reason is not None
    assert younger.not_subject_reason.startswith("A1: aged 15 on the complete-file date")
    # Turning 16 before the visa application changes nothing: the filing is refused (A1).
    late = send(younger, *filed(FILED))
    assert late.rejection is not None and late.rejection.rule == "A1"
    # A spouse of a French national: on the visa application date (2 February).
    spouse = open_(spouse_application(applicant={"birth_date": "1944-01-20"})).state
    assert spouse.subject is False
    assert spouse.not_subject_reason is not None
    assert "on the visa application date" in spouse.not_subject_reason


# --- B1, B3, B6: the 60 days are met by the day the evaluation is held ------------------------


@pytest.mark.rule("B1")
@pytest.mark.rule("B6")
def test_an_evaluation_held_on_day_40_and_received_on_day_65_meets_b1() -> None:
    state = feed([values_evaluation(DAY_30)]).state
    state, fired = run_timers(state, DAY_61)
    [alert] = fired
    overdue = {note.key: note.recipient for note in notes_of(alert, "evaluation_overdue")}
    assert sorted(overdue.values()) == [Recipient.CONSULATE, Recipient.OFII]
    assert state.tracked_deadlines["evaluation_due"].status == DeadlineStatus.MISSED

    late = send(state, *language_evaluation(DAY_40), today=DAY_65)
    assert late.rejection is None
    assert late.state.tracked_deadlines["evaluation_due"].status == DeadlineStatus.MET
    assert late.state.overdue == []
    assert late.state.stage == Stage.AWAITING_VISA_DECISION
    # The alert stays sent; each of its recipients is told it no longer stands.
    notices = notes_of(late, "correction_notice")
    assert {(note.about, note.recipient) for note in notices} == set(overdue.items())
    for note in notices:
        assert note.payload["supersedes"] == note.about
        assert note.payload["superseded_kind"] == "evaluation_overdue"
        assert note.payload["now"] is None
    # B6: the week runs to the day the results reached the dossier.
    evaluation = late.state.language.evaluation
    assert evaluation is not None and evaluation.received_on == DAY_65 and evaluation.late
    b6 = late.state.tracked_deadlines["results_to_consulate_due.language"]
    assert b6.status == DeadlineStatus.MET_LATE


@pytest.mark.rule("B3")
@pytest.mark.rule("B6")
def test_a_spouses_evaluation_reported_after_the_60_days_meets_b3_and_is_late_for_b6() -> None:
    held = date(2009, 2, 25)
    start = open_(spouse_application(complete_file_date="2009-02-02"))  # B3: 60 days to 3 April
    state = feed([values_evaluation(held)], start=start).state
    step = send(state, *language_evaluation(held), today=date(2009, 4, 10))
    assert step.rejection is None
    deadline = step.state.tracked_deadlines["evaluation_due"]
    assert (deadline.rule, deadline.status) == ("B3", DeadlineStatus.MET)
    # Never overdue, so nothing was said to correct; the results are flagged late (B6).
    assert {note.kind for note in step.notifications} == {
        "evaluation_results",
        "attestation_language_exemption",
    }
    evaluation = step.state.language.evaluation
    assert evaluation is not None and evaluation.late is True


# --- B7: two months from the insufficient results reaching the dossier ---------------------


@pytest.mark.rule("B7")
@pytest.mark.rule("B6")
def test_b7_runs_from_the_day_insufficient_results_reached_the_dossier() -> None:
    step = send(open_().state, *LANGUAGE_KO, today=RESULTS_IN)
    deadline = step.state.tracked_deadlines["training_start_due.language"]
    # Created at the evaluation, before any prescription: 10 March + 2 months.
    assert (deadline.due, deadline.status) == (date(2009, 5, 10), DeadlineStatus.PENDING)
    prescribed = send(step.state, *training_prescribed(date(2009, 4, 1)))
    assert prescribed.rejection is None
    assert prescribed.state.tracked_deadlines["training_start_due.language"].due == date(
        2009, 5, 10
    )
    letter = to_applicant(prescribed, "training_prescription")
    assert letter.payload["start_by"] == "2009-05-10"


# --- C2, E4: one module, exempted alone ----------------------------------------------------


@pytest.mark.rule("C2")
@pytest.mark.rule("E4")
@pytest.mark.rule("E3")
def test_exempting_the_language_module_alone_leaves_the_values_half_day_due() -> None:
    state = feed([LANGUAGE_KO, VALUES_KO, training_prescribed(PRESCRIBED)]).state
    module = state.language.training
    assert module is not None and module.integrates_values
    step = send(state, *training_exemption(date(2009, 3, 1), ["language"]))
    assert step.rejection is None
    assert step.state.track_status == {
        "language": TrackStatus.TRAINING_EXEMPT,
        "values": TrackStatus.TRAINING_NEEDED,
    }
    assert step.state.stage == Stage.AWAITING_TRAINING
    deadlines = step.state.tracked_deadlines
    assert "training_start_due.language" not in deadlines
    # B7 for the half day: two months from its results (20 February).
    assert deadlines["training_start_due.values"].due == date(2009, 4, 20)
    values = send(step.state, *training_prescribed(date(2009, 3, 2), kind="values", hours=3))
    assert values.rejection is None
    assert values.state.track_status["values"] == TrackStatus.TRAINING_PRESCRIBED


@pytest.mark.rule("E4")
@pytest.mark.rule("B7")
def test_a_values_need_found_while_the_language_module_runs_joins_it() -> None:
    # Prescribed, not started: the module's start deadline is the earlier of the two.
    waiting = feed(
        [LANGUAGE_KO, training_prescribed(PRESCRIBED), values_evaluation(STARTED, correct=3)]
    ).state
    assert waiting.values_integrated
    assert waiting.track_status["values"] == TrackStatus.TRAINING_PRESCRIBED
    assert waiting.tracked_deadlines["training_start_due.language"].due == date(2009, 4, 20)
    assert "training_start_due.values" not in waiting.tracked_deadlines
    # Under way: the values need joins the module, which has started (B7 met for both).
    before = feed(
        [
            LANGUAGE_KO,
            training_prescribed(PRESCRIBED),
            training_started(STARTED),
            values_evaluation(date(2009, 3, 5), correct=3),
        ]
    ).state
    assert before.values_integrated
    assert before.track_status["values"] == TrackStatus.IN_TRAINING
    assert "training_start_due.values" not in before.tracked_deadlines
    step = send(before, *training_prescribed(date(2009, 3, 6), kind="values", hours=3))
    assert step.rejection is not None
    assert (step.rejection.rule, step.rejection.field) == ("E4", "kind")
    assert unchanged_but_seq(before, step.state)


# --- D4, D5, F2: an attestation is of hours attended --------------------------------------


@pytest.mark.rule("D4")
@pytest.mark.rule("F2")
def test_an_attestation_with_no_hour_attended_is_rejected() -> None:
    before = feed(IN_TRAINING).state
    step = send(before, *training_completed(COMPLETED, hours=0))
    assert step.rejection is not None
    assert (step.rejection.rule, step.rejection.field) == ("D4", "hours_attended")
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)
    # No attestation on file: the visa is still not issued (F2).
    issued = send(before, *visa_decision(date(2009, 4, 25)))
    assert issued.rejection is not None and issued.rejection.rule == "F2"


@pytest.mark.rule("D4")
@pytest.mark.rule("D5")
def test_fewer_hours_than_prescribed_are_reported_beside_the_attestation() -> None:
    step = send(feed(IN_TRAINING).state, *training_completed(COMPLETED, hours=80))
    assert step.rejection is None
    assert pairs(step) == {
        ("training_attestation", Recipient.APPLICANT),
        ("training_attestation", Recipient.CONSULATE),
        ("non_attendance", Recipient.CONSULATE),
    }
    [report] = notes_of(step, "non_attendance")
    assert (report.payload["hours_attended"], report.payload["hours_prescribed"]) == (80, 120)
    assert step.state.track_status["language"] == TrackStatus.AWAITING_RE_EVALUATION
    full = send(feed(IN_TRAINING).state, *training_completed(COMPLETED, hours=120))
    assert pairs(full) == {
        ("training_attestation", Recipient.APPLICANT),
        ("training_attestation", Recipient.CONSULATE),
    }


# --- D6, D7: what the CAI in France owes -------------------------------------------------


@pytest.mark.rule("D6")
@pytest.mark.rule("D7")
@pytest.mark.rule("C1")
@pytest.mark.parametrize(
    ("events", "required"),
    [
        ([language_evaluation(EVALUATED), VALUES_OK, visa_decision(date(2009, 3, 1))], False),
        (
            [
                language_test_exemption(date(2009, 2, 15)),
                VALUES_OK,
                visa_decision(date(2009, 3, 1)),
            ],
            False,
        ),
        (
            [*TRAINED, language_evaluation(RE_EVALUATED), visa_decision(date(2009, 4, 25))],
            False,
        ),
        (
            [
                *TRAINED,
                language_evaluation(RE_EVALUATED, oral=30, written=10),
                visa_decision(date(2009, 4, 25)),
            ],
            True,
        ),
        ([*TRAINED, visa_decision(date(2009, 4, 25))], True),
    ],
    ids=[
        "sufficient-at-once",
        "c1-exempt",
        "re-evaluated-sufficient",
        "re-evaluated-insufficient",
        "trained-never-re-evaluated",
    ],
)
def test_the_cai_owes_a_language_training_unless_the_last_evaluation_was_sufficient_or_c1(
    events: list[Event], required: bool
) -> None:
    step = feed(events)
    assert step.rejection is None
    outcome = step.state.outcome
    assert outcome is not None and outcome.decision == "issued"
    assert outcome.cai.language_training_required is required
    [told] = notes_of(step, "visa_decision")
    assert told.payload["cai"]["language_training_required"] is required


# --- E1, E2: six questions; the values attestation at a first evaluation only ----------------


@pytest.mark.rule("E1")
@pytest.mark.parametrize("asked", [5, 7])
def test_a_values_evaluation_is_six_questions(asked: int) -> None:
    before = open_().state
    step = send(before, *values_evaluation(EVALUATED, correct=5, asked=asked))
    assert step.rejection is not None
    assert (step.rejection.rule, step.rejection.field) == ("E1", "questions_asked")
    assert unchanged_but_seq(before, step.state)
    assert send(before, *values_evaluation(EVALUATED, correct=5)).rejection is None


@pytest.mark.rule("E2")
@pytest.mark.rule("E5")
def test_the_values_attestation_is_issued_at_a_first_satisfactory_evaluation_only() -> None:
    first = feed([values_evaluation(EVALUATED)])
    assert pairs(first) >= {
        ("attestation_values", Recipient.APPLICANT),
        ("attestation_values", Recipient.CONSULATE),
    }
    trained = feed(
        [
            language_evaluation(EVALUATED),
            VALUES_KO,
            training_prescribed(PRESCRIBED, kind="values", hours=3),
            training_started(STARTED, kind="values"),
            training_completed(STARTED, kind="values", hours=3),
        ]
    ).state
    again = send(trained, *values_evaluation(date(2009, 3, 10)))
    assert again.rejection is None
    assert pairs(again) == {("evaluation_results", Recipient.CONSULATE)}
    assert again.state.track_status["values"] == TrackStatus.RE_EVALUATED


# --- B4, B5, F2: "training not followed" as a ground of refusal -------------------------


@pytest.mark.rule("B4")
@pytest.mark.rule("F2")
def test_a_refusal_for_training_not_followed_is_rejected_on_day_2_of_the_training() -> None:
    before = feed(IN_TRAINING).state
    step = send(
        before, *visa_decision(STARTED + timedelta(days=1), "refused", REFUSED_NOT_FOLLOWED)
    )
    assert step.rejection is not None
    assert (step.rejection.rule, step.rejection.field) == ("B4", "grounds")
    assert "sursis à statuer runs until 2009-08-02" in step.rejection.reason
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("F2")
@pytest.mark.rule("B5")
def test_a_refusal_for_training_not_followed_is_rejected_with_an_attestation_on_file() -> None:
    before = feed(
        [
            *IN_TRAINING,
            training_absence(ABSENT),  # an old absence without legitimate reason
            training_completed(COMPLETED, hours=100),
            language_evaluation(RE_EVALUATED, oral=30, written=10),
        ]
    ).state
    assert before.outcome is None
    step = send(before, *visa_decision(date(2009, 4, 25), "refused", REFUSED_NOT_FOLLOWED))
    assert step.rejection is not None
    assert (step.rejection.rule, step.rejection.field) == ("F2", "grounds")
    assert "attestation of training followed is on file" in step.rejection.reason
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("B4")
@pytest.mark.rule("B5")
@pytest.mark.rule("F2")
def test_a_refusal_for_training_not_followed_is_allowed_after_the_sursis_on_an_absence() -> None:
    state = feed([*IN_TRAINING, training_absence(ABSENT)]).state
    state, fired = run_timers(state, AFTER_SURSIS)
    [expired] = [note for step in fired for note in notes_of(step, "sursis_expired")]
    assert expired.payload["delay_attributable_to_applicant"] is True
    assert expired.payload["may_refuse_for_training_not_followed"] is True
    step = send(state, *visa_decision(AFTER_SURSIS, "refused", REFUSED_NOT_FOLLOWED))
    assert step.rejection is None
    assert step.state.stage == Stage.VISA_REFUSED
    assert step.state.outcome is not None
    assert step.state.outcome.delay_attributable_to_applicant is True
    assert pairs(step) == {("visa_decision", Recipient.OFII)}


@pytest.mark.rule("B5")
def test_a_no_show_at_the_evaluation_without_reason_makes_the_delay_attributable() -> None:
    absence: Event = (
        "evaluation_absence",
        {"kind": "language", "absent_on": "2009-02-20", "legitimate_reason": None},
    )
    step = feed([absence])
    assert step.rejection is None
    [report] = step.notifications
    assert (report.kind, report.recipient, report.rule) == (
        "non_attendance",
        Recipient.CONSULATE,
        "B5",
    )
    assert report.payload["attributable_to_applicant"] is True
    state, fired = run_timers(step.state, AFTER_SURSIS)
    [expired] = [note for s in fired for note in notes_of(s, "sursis_expired")]
    assert expired.payload["delay_attributable_to_applicant"] is True
    refused = send(state, *visa_decision(AFTER_SURSIS, "refused", REFUSED_NOT_FOLLOWED))
    assert refused.rejection is None
    # With a legitimate reason, the delay is not the applicant's.
    excused: Event = (absence[0], {**absence[1], "legitimate_reason": "hospitalised"})
    state, fired = run_timers(feed([excused]).state, AFTER_SURSIS)
    [expired] = [note for s in fired for note in notes_of(s, "sursis_expired")]
    assert expired.payload["delay_attributable_to_applicant"] is False


# --- G2, G4: the CAI for the family ----------------------------------------------------------

TWO_PARENTS = [
    {"person_id": "P1", "full_name": "Ayse Demir", "languages": ["tr"]},
    {"person_id": "P2", "full_name": "Ali Demir", "languages": ["tr"]},
]


@pytest.mark.rule("G4")
def test_one_report_per_parent_who_did_not_attend() -> None:
    state = open_family(signatories=TWO_PARENTS)
    for person in ("P1", "P2"):
        convened = {"person_id": person, "session_id": f"S-{person}", "session_on": "2009-04-01"}
        state = deliver(FAMILY, state, "parents_training_convened", convened).state
    _, sent = pass_time(FAMILY, state, AFTER_YEAR)
    missed = [note for note in sent if note.kind == "parents_training_missed"]
    # Each report is about a parent's rank: the key never carries the person id, which the
    # sealed payload names.
    assert sorted((note.about, note.payload["person_id"]) for note in missed) == [
        ("parent-1", "P1"),
        ("parent-2", "P2"),
    ]
    assert {note.recipient for note in missed} == {Recipient.PREFECTURE}
    assert len({note.key for note in missed}) == 2
    assert not any("P1" in note.key or "P2" in note.key for note in missed)


@pytest.mark.rule("G4")
def test_dossiers_begun_before_ranks_keep_their_keys_by_person_id() -> None:
    """Their reports are in the register and the delivery ids under these keys already: a
    re-fold must find the same ones."""
    for current, before in (
        (FAMILY, FAMILY_NAMING_PERSON_IDS),
        (FAMILY_REPORTING_AT_FIRST_ABSENCE, FAMILY_REPORTING_AT_FIRST_ABSENCE_NAMING_PERSON_IDS),
    ):
        keys = []
        for kind in (current, before):
            state = open_family(signatories=TWO_PARENTS)
            for person in ("P1", "P2"):
                convened = {
                    "person_id": person,
                    "session_id": f"S-{person}",
                    "session_on": "2009-04-01",
                }
                state = deliver(kind, state, "parents_training_convened", convened).state
            _, sent = pass_time(kind, state, AFTER_YEAR)
            keys.append(sorted(n.key for n in sent if n.kind == "parents_training_missed"))
        by_rank, by_person_id = keys
        assert by_person_id == [
            key.replace("parent-1", "P1").replace("parent-2", "P2") for key in by_rank
        ]
        assert by_person_id != by_rank


@pytest.mark.rule("G2")
@pytest.mark.rule("G4")
def test_after_the_follow_up_the_dossier_stays_open_for_the_prefects_referral() -> None:
    ref = reference({"family_follow_up": {"months": 6, "referral_window_months": 1}})
    opened = open_family(ref)
    assert opened.validity_ends == date(2009, 9, 2)  # configuration, not the default year
    convened = {"person_id": "P1", "session_id": "S1", "session_on": "2009-04-01"}
    opened = deliver(FAMILY, opened, "parents_training_convened", convened, ref=ref).state
    state, _ = pass_time(FAMILY, opened, date(2009, 9, 3))
    assert (state.stage, state.follow_up_over, state.closed) == ("training_missed", True, False)
    assert state.deadlines["referral_window_ends"] == date(2009, 10, 2)
    assert state.awaiting == ["conseil_general_referral from the prefecture (until 2009-10-02)"]
    late = deliver(
        FAMILY,
        state,
        "parents_training_attended",
        {"person_id": "P1", "attended_on": "2009-09-10", "attestation_ref": "A"},
        ref=ref,
    )
    assert late.rejection is not None and late.rejection.rule == "G4"
    referral = deliver(
        FAMILY,
        state,
        "conseil_general_referral",
        {"decided_on": "2009-09-20", "reason": "did not attend"},
        ref=ref,
    )
    assert referral.rejection is None and referral.state.closed
    assert kinds_to(referral.notifications) == {
        ("conseil_general_referral", Recipient.CONSEIL_GENERAL)
    }
    # Without a referral, the window's end closes the dossier.
    ended, _ = pass_time(FAMILY, state, date(2009, 10, 3))
    assert ended.closed and ended.referral is None


# --- H1, H5, I1, I2: the CAI in France --------------------------------------------------------


@pytest.mark.rule("H1")
def test_a_cai_signed_before_december_2008_owes_no_skills_assessment() -> None:
    state = open_cai(signed_on="2008-11-30")
    assert state.skills_assessment.status == "exempt"
    assert state.skills_assessment.exemption is not None
    assert state.skills_assessment.exemption.startswith("H1")
    assert "skills_assessment_due" not in state.deadlines
    assert open_cai(signed_on="2008-12-01").skills_assessment.status == "awaiting_convocation"


@pytest.mark.rule("H5")
@pytest.mark.rule("I1")
def test_after_an_extension_the_assessment_not_done_is_offered_again() -> None:
    in_progress = (
        "language_training_status",
        {"status": "in_progress", "reason": None, "reported_on": "2009-06-01"},
    )
    state = deliver(CAI, open_cai(), *in_progress).state
    state, _ = pass_time(CAI, state, AFTER_YEAR)
    assert state.skills_assessment.status == "missed"
    assert state.proposal is not None and state.proposal.proposal == "extend"
    extend = (
        "prefect_decision",
        {"decision": "extend", "decided_on": "2010-03-05", "extended_until": "2010-09-01"},
    )
    step = deliver(CAI, state, *extend)
    assert step.rejection is None
    skills = step.state.skills_assessment
    assert step.state.stage == "extended"
    assert skills.status == "awaiting_convocation"
    assert skills.offered_again_on == date(2010, 3, 5)
    due = step.state.tracked_deadlines["skills_assessment_due"]
    assert (due.due, due.status) == (date(2010, 9, 1), DeadlineStatus.PENDING)
    assert step.state.deadlines["skills_assessment_due"] == date(2010, 9, 1)


@pytest.mark.rule("I1")
def test_close_is_proposed_only_when_every_service_was_followed_or_exempted() -> None:
    civic_only = {
        "civic_training": True,
        "vivre_en_france": False,
        "language_training_hours": 0,
        "dilf_required": False,
    }
    opened = open_cai(prescriptions=civic_only, residence_permit_basis="L.313-10")  # H2
    undetermined, _ = pass_time(CAI, opened, AFTER_YEAR)
    assert undetermined.proposal is not None
    assert undetermined.proposal.proposal == "undetermined"
    assert undetermined.proposal.missing == ["civic_training not completed"]
    followed = deliver(
        CAI,
        opened,
        "service_completed",
        {"service": "civic_training", "completed_on": "2009-05-01", "attestation_ref": "A"},
    ).state
    closed, sent = pass_time(CAI, followed, AFTER_YEAR)
    assert closed.proposal is not None and closed.proposal.proposal == "close"
    assert closed.proposal.missing == []
    [proposal] = [note for note in sent if note.kind == "cai_follow_up_proposal"]
    assert (proposal.recipient, proposal.payload["proposal"]) == (Recipient.PREFECTURE, "close")


@pytest.mark.rule("I2")
@pytest.mark.rule("H2")
def test_an_already_employed_exemption_granted_later_voids_an_earlier_absence() -> None:
    absent = deliver(CAI, open_cai(), *convened(), today=date(2009, 3, 5)).state
    absent = deliver(CAI, absent, *cai_absence("skills_assessment", SESSION)).state
    assert absent.skills_assessment.status == "missed"
    terminated, _ = pass_time(CAI, absent, AFTER_YEAR)
    assert terminated.proposal is not None and terminated.proposal.proposal == "terminate"
    exemption = (
        "skills_assessment_exemption",
        {"decided_on": "2009-04-01", "ground": "already_employed", "proof_ref": "CONTRAT-1"},
    )
    exempt = deliver(CAI, absent, *exemption).state
    assert exempt.skills_assessment.status == "exempt"
    proposed, _ = pass_time(CAI, exempt, AFTER_YEAR)
    assert proposed.proposal is not None and proposed.proposal.proposal != "terminate"
    assert not any("skills_assessment" in reason for reason in proposed.proposal.reasons)


@pytest.mark.rule("I1")
@pytest.mark.rule("I2")
@pytest.mark.rule("H5")
def test_an_absence_reported_after_the_year_ended_turns_the_proposal_to_terminate() -> None:
    state = deliver(CAI, open_cai(), *convened(), today=date(2009, 3, 5)).state
    state, sent = pass_time(CAI, state, AFTER_YEAR)
    [proposal] = [note for note in sent if note.kind == "cai_follow_up_proposal"]
    assert proposal.payload["proposal"] == "undetermined"

    step = deliver(CAI, state, *cai_absence("skills_assessment", SESSION), today=date(2010, 3, 10))
    assert step.rejection is None
    assert step.state.proposal is not None and step.state.proposal.proposal == "terminate"
    assert step.state.stage == "awaiting_prefect_decision"
    [notice] = [
        note
        for note in step.notifications
        if note.kind == "correction_notice" and note.about == proposal.key
    ]
    assert notice.recipient == Recipient.PREFECTURE
    assert notice.payload["supersedes"] == proposal.key
    assert notice.payload["previously"]["proposal"] == "undetermined"
    assert notice.payload["now"]["proposal"] == "terminate"


# --- B9: a last day ends at midnight where the authority sits -------------------------------


@pytest.mark.rule("B9")
def test_every_country_has_a_time_zone_and_canada_one_per_consulate() -> None:
    countries = default_reference_data()["countries"]
    assert countries and all("time_zone" in entry for entry in countries.values())
    ref = reference()
    assert ref.time_zone_of("CA", "Vancouver") == "America/Vancouver"
    assert ref.time_zone_of("CA", "Moncton") == "America/Moncton"
    assert ref.time_zone_of("CA", "Ottawa") == "America/Toronto"
    assert ref.time_zone_of("TR", "Ankara") == "Europe/Istanbul"
    assert ref.time_zone_of("XX", "Nowhere") == "Europe/Paris"  # France, part II


@pytest.mark.rule("B9")
def test_a_timer_fires_at_midnight_where_the_consulate_sits() -> None:
    vancouver = open_(application(country_of_residence="CA", consulate="Vancouver")).state
    timer = history.due_timer(VISA, vancouver)
    assert timer == TimerDue("evaluation_due", date(2009, 3, 14))
    assert vancouver.time_zone == "America/Vancouver"
    assert timer.fire_at(vancouver.time_zone) == datetime(2009, 3, 14, 7, tzinfo=UTC)  # PDT
    ankara = open_(application(country_of_residence="TR", consulate="Ankara")).state
    timer = history.due_timer(VISA, ankara)
    assert timer is not None
    assert timer.fire_at(ankara.time_zone) == datetime(2009, 3, 13, 22, tzinfo=UTC)


@pytest.mark.rule("B9")
def test_an_instant_is_the_day_it_is_where_the_dossier_is_kept() -> None:
    state = open_(application(country_of_residence="CA", consulate="Vancouver")).state
    # 06:30 UTC on 14 March is still 13 March, 23:30, in Vancouver: the last day of B1.
    evening = datetime(2009, 3, 14, 6, 30, tzinfo=UTC)
    step = history.receive(
        VISA,
        state,
        *values_evaluation(date(2009, 3, 13)),
        reference(),
        evening,
        evening.isoformat(),
    )
    assert step.rejection is None
    assert step.state.clock == date(2009, 3, 13)
    assert step.state.tracked_deadlines["evaluation_due"].status == DeadlineStatus.PENDING
    midnight = datetime(2009, 3, 14, 7, tzinfo=UTC)
    fired = history.on_deadline(VISA, step.state, midnight)
    assert fired.state.clock == date(2009, 3, 14)
    assert kinds_to(fired.notifications) == {
        ("evaluation_overdue", Recipient.OFII),
        ("evaluation_overdue", Recipient.CONSULATE),
    }


# --- facts out of the dossier's time ------------------------------------------------------------


@pytest.mark.rule("B1")
@pytest.mark.rule("B3")
@pytest.mark.rule("H1")
@pytest.mark.rule("G1")
@pytest.mark.parametrize(
    ("kind", "event", "rule", "field"),
    [
        ("visa", language_evaluation(date(2009, 1, 11)), "B1", "evaluated_on"),
        ("spouse", language_evaluation(date(2009, 2, 1)), "B3", "evaluated_on"),
        (
            "cai",
            (
                "service_completed",
                {"service": "civic_training", "completed_on": "2009-03-01", "attestation_ref": "A"},
            ),
            "H1",
            "completed_on",
        ),
        (
            "family",
            (
                "school_attendance_breach",
                {"child_id": "C1", "reported_on": "2009-03-01", "detail": "d"},
            ),
            "G1",
            "reported_on",
        ),
    ],
)
def test_a_late_fact_dated_before_the_dossier_opened_is_rejected_naming_the_opening_rule(
    kind: str, event: Event, rule: str, field: str
) -> None:
    received = date(2009, 4, 1)
    before: DossierRecord
    step: Step[Any]
    if kind in ("visa", "spouse"):
        before = open_(application() if kind == "visa" else spouse_application()).state
        step = send(before, *event, today=received)
    elif kind == "cai":
        before = open_cai()
        step = deliver(CAI, before, *event, today=received)
    else:
        before = open_family()
        step = deliver(FAMILY, before, *event, today=received)
    assert step.rejection is not None
    assert (step.rejection.rule, step.rejection.field) == (rule, field)
    assert "precedes the opening of the dossier" in step.rejection.reason
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)


@pytest.mark.rule("B4")
@pytest.mark.rule("I1")
def test_a_fact_dated_in_the_future_is_rejected() -> None:
    before = open_reunification().state
    today = date(2009, 2, 1)
    # A day of slack for the time zones; two days ahead is the future.
    step = send(before, *filed(today + timedelta(days=2)), today=today)
    assert step.rejection is not None
    assert (step.rejection.rule, step.rejection.field) == ("B4", "filed_on")
    assert "is in the future" in step.rejection.reason
    assert unchanged_but_seq(before, step.state)
    assert send(before, *filed(today + timedelta(days=1)), today=today).rejection is None
    cai = open_cai()
    ahead = (
        "service_completed",
        {"service": "civic_training", "completed_on": "2009-05-10", "attestation_ref": "A"},
    )
    refused = deliver(CAI, cai, *ahead, today=date(2009, 5, 1))
    assert refused.rejection is not None
    assert (refused.rejection.rule, refused.rejection.field) == ("I1", "completed_on")


@pytest.mark.rule("D5")
@pytest.mark.rule("F2")
@pytest.mark.rule("B5")
def test_a_late_absence_dated_before_an_issuance_under_b5_is_recorded_and_never_undoes_it() -> None:
    state, _ = run_timers(feed(IN_TRAINING).state, AFTER_SURSIS)
    issued = send(state, *visa_decision(AFTER_SURSIS))
    assert issued.state.outcome is not None and issued.state.outcome.issued_under_b5
    before = issued.state
    step = send(before, *training_absence(ABSENT), today=date(2009, 8, 10))
    assert step.rejection is None
    # Recorded and passed to the consulate (D5); the decision stands as it was taken.
    assert ("non_attendance", Recipient.CONSULATE) in pairs(step)
    assert step.state.outcome == before.outcome
    assert step.state.stage == Stage.VISA_ISSUED
    training = step.state.language.training
    assert training is not None and [a.absent_on for a in training.absences] == [ABSENT]
    # Excused, likewise.
    excused = send(before, *training_absence(ABSENT, reason="illness"), today=date(2009, 8, 10))
    assert excused.rejection is None
    assert excused.state.outcome == before.outcome


@pytest.mark.rule("C1")
def test_a_language_test_exemption_decided_after_the_test_is_rejected_even_late() -> None:
    before = feed([language_evaluation(EVALUATED), VALUES_OK]).state
    step = send(before, *language_test_exemption(date(2009, 2, 25)), today=date(2009, 3, 5))
    assert step.rejection is not None
    assert step.rejection.rule == "C1"
    assert unchanged_but_seq(before, step.state)


# --- the order facts arrive in does not matter ---------------------------------------------------

DAYS = st.integers(min_value=0, max_value=90)
BATCH_DELAY = st.integers(min_value=0, max_value=240)  # the day the batch arrives, after them


def arrive(start: VisaState, facts: list[Event], order: list[int], day: date) -> VisaState:
    """Send `facts` in `order`, all received on `day`; each must be accepted."""
    state = start
    for index in order:
        step = send(state, *facts[index], today=day)
        assert step.rejection is None, step.rejection
        state = step.state
    return state


@pytest.mark.rule("B1")
@pytest.mark.rule("B4")
@pytest.mark.rule("C1")
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first_day=DAYS,
    values_day=DAYS,
    filed_day=DAYS,
    test_exempt=st.booleans(),
    oral=st.integers(min_value=0, max_value=70),
    correct=st.integers(min_value=0, max_value=6),
    order=st.permutations([0, 1, 2]),
    batch_delay=BATCH_DELAY,
)
def test_independent_facts_give_the_same_dossier_in_any_arrival_order(
    first_day: int,
    values_day: int,
    filed_day: int,
    test_exempt: bool,
    oral: int,
    correct: int,
    order: list[int],
    batch_delay: int,
) -> None:
    def day(offset: int) -> date:
        return COMPLETE_FILE + timedelta(days=offset)

    facts = [
        language_test_exemption(day(first_day))
        if test_exempt
        else language_evaluation(day(first_day), oral=oral),
        values_evaluation(day(values_day), correct=correct),
        filed(day(filed_day)),
    ]
    batch = day(max(first_day, values_day, filed_day) + batch_delay)
    start = open_reunification().state
    in_order = arrive(start, facts, [0, 1, 2], batch)
    assert judged(arrive(start, facts, order, batch)) == judged(in_order)


# The language module's facts, each after the one before it, interleaved with a values
# evaluation and the visa application in any order: "L" takes the module's next fact.
MODULE_INTERLEAVINGS = st.permutations(["L", "L", "L", "L", "V", "F"])


@pytest.mark.rule("B7")
@pytest.mark.rule("B8")
@pytest.mark.rule("D3")
@pytest.mark.rule("D4")
@pytest.mark.rule("E4")
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    gaps=st.lists(st.integers(min_value=1, max_value=45), min_size=4, max_size=4),
    values_day=st.integers(min_value=0, max_value=150),
    filed_day=DAYS,
    correct=st.integers(min_value=0, max_value=6),
    interleaving=MODULE_INTERLEAVINGS,
    batch_delay=BATCH_DELAY,
)
def test_a_training_and_its_neighbours_give_the_same_dossier_in_any_arrival_order(
    gaps: list[int],
    values_day: int,
    filed_day: int,
    correct: int,
    interleaving: list[str],
    batch_delay: int,
) -> None:
    offsets = [sum(gaps[: i + 1]) for i in range(4)]
    assume(values_day not in offsets)  # ties go by arrival: keep the dates apart

    def day(offset: int) -> date:
        return COMPLETE_FILE + timedelta(days=offset)

    module = [
        language_evaluation(day(offsets[0]), oral=20, written=10),
        training_prescribed(day(offsets[1])),
        training_started(day(offsets[2])),
        training_completed(day(offsets[3])),
    ]
    facts = [*module, values_evaluation(day(values_day), correct=correct), filed(day(filed_day))]
    order, next_module = [], iter(range(4))
    for label in interleaving:
        order.append(next(next_module) if label == "L" else 4 if label == "V" else 5)
    batch = day(max(*offsets, values_day, filed_day) + batch_delay)
    start = open_reunification().state
    in_order = arrive(start, facts, list(range(6)), batch)
    assert judged(arrive(start, facts, order, batch)) == judged(in_order)
