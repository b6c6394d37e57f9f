"""`correct_event` (docs/contract.md, "Late facts and corrections"): a correction
replaces or withdraws an accepted fact and the dossier is re-folded; what was said stays
said, and each recipient told otherwise gets a `correction_notice`. A correction that cannot
stand is a recorded rejection naming its field and rule, and changes nothing else."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from models import history
from models.cai import CAI
from models.cai import workflow_id_for as cai_workflow_id
from models.common import DeadlineStatus, NotificationDue, Recipient
from models.core import Step
from models.dossier import DossierRecord
from models.family import FAMILY
from models.family import workflow_id_for as family_workflow_id
from models.reference import default_reference_data, merge_reference_data
from models.visa.evaluations import need_found_by_correction
from models.visa.state import Stage, TrackStatus, VisaState
from tests.unit.builders import (
    COMPLETE_FILE,
    Event,
    application,
    correction,
    deliver,
    feed,
    language_evaluation,
    open_,
    pass_time,
    reference,
    run_timers,
    send,
    unchanged_but_seq,
    values_evaluation,
    visa_decision,
)
from tests.unit.test_cai_rules import SIGNED, contract, family

EVALUATED = date(2009, 2, 20)
REFERENCE_DATA = merge_reference_data(default_reference_data(), {})
CORRECTED = date(2009, 2, 25)
DECIDED = date(2009, 3, 1)
AFTER_DECISION = date(2009, 3, 2)
EVALUATION_DUE = date(2009, 3, 13)

LANGUAGE_OK = language_evaluation(EVALUATED)
LANGUAGE_KO = language_evaluation(EVALUATED, oral=20, written=10)
VALUES_OK = values_evaluation(EVALUATED)

JOURNAL = {"seq", "rejected_inputs", "facts", "said", "accepted_fingerprints", "clock"}


def judged(state: DossierRecord) -> dict[str, Any]:
    return state.model_dump(exclude=JOURNAL)


def notices(step: Step[Any]) -> dict[str, NotificationDue]:
    """The correction notices of a step, by the key of the notification each supersedes."""
    told = [note for note in step.notifications if note.kind == "correction_notice"]
    for note in told:
        assert note.about == note.payload["supersedes"]
    return {note.payload["supersedes"]: note for note in told}


def evaluated() -> VisaState:
    """Both evaluations sufficient: the language one is event #2, the values one #3."""
    return feed([LANGUAGE_OK, VALUES_OK]).state


# --- a correction re-folds the dossier -------------------------------------------------------


@pytest.mark.rule("B7")
def test_only_a_correction_that_finds_the_need_moves_the_two_months() -> None:
    """B7: the two months run from the notification of the results that found the need.
    Corrected from sufficient to insufficient, they found it on the correction's date; an
    insufficient result corrected and still insufficient found it at first, and its two
    months stay. No overdue alert follows at once from the correction."""
    late_correction = date(2009, 4, 24)  # past the first results' two months
    flipped = send(evaluated(), *correction(2, LANGUAGE_KO[1], late_correction))
    assert flipped.rejection is None
    assert flipped.state.deadlines["training_start_due"] == date(2009, 6, 24)
    assert not [n for n in flipped.notifications if n.kind == "training_start_overdue"]
    insufficient = feed([LANGUAGE_KO, VALUES_OK]).state
    due = insufficient.deadlines["training_start_due"]
    still = language_evaluation(EVALUATED, oral=20, written=12)[1]
    typo = send(insufficient, *correction(2, still, CORRECTED))
    assert typo.rejection is None
    assert typo.state.deadlines["training_start_due"] == due


@pytest.mark.rule("D1")
@pytest.mark.rule("D2")
@pytest.mark.rule("D3")
def test_correcting_the_scores_re_folds_the_dossier_and_tells_who_was_told_otherwise() -> None:
    before = evaluated()
    assert before.stage == Stage.AWAITING_VISA_DECISION
    attestations = {
        key: note
        for key, note in before.said.items()
        if note is not None and note.kind == "attestation_language_exemption"
    }
    assert {note.recipient for note in attestations.values()} == {
        Recipient.APPLICANT,
        Recipient.CONSULATE,
    }
    step = send(before, *correction(2, LANGUAGE_KO[1], CORRECTED, "scores typed wrongly"))
    assert step.rejection is None
    assert step.corrects == 2
    state = step.state
    assert state.track_status["language"] == TrackStatus.TRAINING_NEEDED
    assert state.stage == Stage.AWAITING_TRAINING
    # B7: corrected from sufficient to insufficient, the results notify the need on the
    # correction's date, and the two months run from there (not from the first results).
    assert state.deadlines["training_start_due"] == date(2009, 4, 25)
    evaluation = state.language.evaluation
    assert evaluation is not None and (evaluation.oral_score, evaluation.sufficient) == (20, False)
    # The attestation already sent is superseded, to each of its recipients; so are the
    # results the consulate received.
    told = notices(step)
    for key, attestation in attestations.items():
        assert told[key].recipient == attestation.recipient
        assert told[key].payload["superseded_kind"] == "attestation_language_exemption"
        assert told[key].payload["now"] is None
        assert "scores typed wrongly" in told[key].payload["reason"]
    [results] = [
        note for note in told.values() if note.payload["superseded_kind"] == "evaluation_results"
    ]
    assert results.recipient == Recipient.CONSULATE
    assert results.payload["now"]["sufficient"] is False
    assert len(told) == 3
    # The original stays beside its correction.
    [fact] = [fact for fact in state.facts if fact.seq == 2]
    assert fact.corrected_by == [state.seq]
    assert state.corrections == 1


@pytest.mark.rule("B1")
@pytest.mark.rule("E2")
def test_withdrawing_an_event_re_folds_the_dossier_without_it() -> None:
    before = evaluated()
    assert before.tracked_deadlines["evaluation_due"].status == DeadlineStatus.MET
    step = send(before, *correction(3, None, CORRECTED, "sent for another applicant"))
    assert step.rejection is None
    assert step.corrects == 3
    state = step.state
    assert state.values.evaluation is None
    assert state.track_status["values"] == TrackStatus.AWAITING_EVALUATION
    assert state.stage == Stage.AWAITING_EVALUATION
    assert state.tracked_deadlines["evaluation_due"].status == DeadlineStatus.PENDING
    [fact] = [fact for fact in state.facts if fact.seq == 3]
    assert fact.withdrawn
    told = notices(step)
    assert {(note.payload["superseded_kind"], note.recipient) for note in told.values()} == {
        ("evaluation_results", Recipient.CONSULATE),
        ("attestation_values", Recipient.APPLICANT),
        ("attestation_values", Recipient.CONSULATE),
    }
    assert all(note.payload["now"] is None for note in told.values())
    # Withdrawn, the values evaluation is again awaited: B1 passes without it.
    state, fired = run_timers(state, EVALUATION_DUE + timedelta(days=1))
    assert [note.kind for s in fired for note in s.notifications] == ["evaluation_overdue"] * 2
    again = send(state, *correction(3, None, EVALUATION_DUE + timedelta(days=1)))
    assert again.rejection is not None
    assert (again.rejection.rule, again.rejection.field) == ("correction", "seq")


# --- corrections that cannot stand ---------------------------------------------------------


def decided() -> VisaState:
    """#2 language, #3 values (both sufficient), #4 a rejected evaluation, #5 the issuance."""
    state = evaluated()
    refused = send(state, *language_evaluation(date(2009, 2, 21)))
    assert refused.rejection is not None and refused.state.seq == 4
    issued = send(refused.state, *visa_decision(DECIDED))
    assert issued.rejection is None and issued.state.seq == 5
    return issued.state


@pytest.mark.rule("F1")
@pytest.mark.rule("F2")
@pytest.mark.rule("D1")
@pytest.mark.rule("E1")
@pytest.mark.rule("B1")
@pytest.mark.parametrize(
    ("seq", "payload", "rule", "field", "says"),
    [
        (99, None, "correction", "seq", "no event #99"),
        (4, LANGUAGE_OK[1], "correction", "seq", "was rejected"),
        (
            1,
            application(applicant={"birth_date": "1940-03-02"}),
            "A1",
            "payload",
            "contradicts event #2 (language_evaluation",
        ),
        (2, LANGUAGE_KO[1], "F2", "payload", "contradicts event #5 (visa_decision"),
        (3, None, "B4", "seq", "contradicts event #5 (visa_decision"),
        (2, {**LANGUAGE_OK[1], "oral_score": 99}, "D1", "payload.oral_score", "70"),
        (3, {**VALUES_OK[1], "questions_asked": 7}, "E1", "payload.questions_asked", "6 questions"),
        (
            2,
            {**LANGUAGE_OK[1], "evaluated_on": "2009-01-02"},
            "B1",
            "payload.evaluated_on",
            "opening",
        ),
        (
            2,
            {**LANGUAGE_OK[1], "evaluated_on": "2009-03-09"},
            "D1",
            "payload.evaluated_on",
            "future",
        ),
        (2, {**LANGUAGE_OK[1], "level": "A1"}, "D1", "payload.level", "unknown field"),
    ],
    ids=[
        "nonexistent-seq",
        "rejected-event",
        "opening-makes-not-subject",
        "contradicts-the-decision",
        "withdrawal-contradicts-the-decision",
        "payload-out-of-range",
        "payload-breaks-e1",
        "payload-before-the-opening",
        "payload-in-the-future",
        "payload-unknown-field",
    ],
)
def test_a_correction_that_cannot_stand_is_a_recorded_rejection(
    seq: int, payload: dict[str, Any] | None, rule: str, field: str, says: str
) -> None:
    before = decided()
    step = send(before, *correction(seq, payload, AFTER_DECISION))
    assert step.rejection is not None
    assert (step.rejection.rule, step.rejection.field) == (rule, field)
    assert step.rejection.reason.startswith(f"{rule}: {field}: ")
    assert says in step.rejection.reason
    assert step.rejection.event == "correct_event"
    assert step.notifications == []
    assert unchanged_but_seq(before, step.state)
    assert step.state.seq == before.seq + 1
    assert step.state.rejected_inputs == [*before.rejected_inputs, step.rejection]


@pytest.mark.rule("D1")
def test_a_correction_that_changes_nothing_or_precedes_the_receipt_is_rejected() -> None:
    before = evaluated()
    same = send(before, *correction(2, LANGUAGE_OK[1], CORRECTED))
    assert same.rejection is not None and same.rejection.rule == "correction"
    assert "nothing changed" in same.rejection.reason
    early = send(before, *correction(2, LANGUAGE_KO[1], date(2009, 2, 19)))
    assert early.rejection is not None
    assert (early.rejection.rule, early.rejection.field) == ("correction", "corrected_on")
    assert unchanged_but_seq(before, early.state)


# --- every dossier kind takes corrections --------------------------------------------------

AFTER_YEAR = date(2010, 3, 3)


@pytest.mark.rule("I1")
@pytest.mark.rule("I2")
def test_a_cai_absence_given_its_legitimate_reason_changes_the_proposal() -> None:
    raw = contract()
    state = history.open_dossier(
        CAI, raw, reference(), SIGNED, cai_workflow_id(raw["contract_id"])
    ).state
    absence = {"service": "vivre_en_france", "absent_on": "2009-04-01", "legitimate_reason": None}
    absent = deliver(CAI, state, "absence", absence)
    absence_seq = absent.state.seq
    state, sent = pass_time(CAI, absent.state, AFTER_YEAR)
    [proposal] = [note for note in sent if note.kind == "cai_follow_up_proposal"]
    assert proposal.payload["proposal"] == "terminate"
    excused = {**absence, "legitimate_reason": "hospitalised"}
    step = deliver(CAI, state, *correction(absence_seq, excused, date(2010, 3, 4)))
    assert step.rejection is None and step.corrects == absence_seq
    assert step.state.proposal is not None
    assert step.state.proposal.proposal == "undetermined"
    notice = notices(step)[proposal.key]
    assert notice.recipient == Recipient.PREFECTURE
    assert notice.payload["previously"]["proposal"] == "terminate"
    assert notice.payload["now"]["proposal"] == "undetermined"


@pytest.mark.rule("G4")
def test_a_late_attendance_withdraws_the_report_to_the_prefect() -> None:
    raw = family()
    state = history.open_dossier(
        FAMILY, raw, reference(), SIGNED, family_workflow_id(raw["contract_id"])
    ).state
    convened = {"person_id": "P1", "session_id": "S1", "session_on": "2009-03-11"}
    state = deliver(FAMILY, state, "parents_training_convened", convened).state
    absence = {"person_id": "P1", "absent_on": "2009-03-11", "legitimate_reason": None}
    absent = deliver(FAMILY, state, "parents_training_absence", absence)
    assert absent.notifications == []  # G4: not at the first absence
    state, sent = pass_time(FAMILY, absent.state, date(2010, 3, 3))
    [report] = [note for note in sent if note.kind == "parents_training_missed"]
    # A rank, never the person id: the key reaches delivery ids, headers and logs in clear.
    assert (report.recipient, report.about) == (Recipient.PREFECTURE, "parent-1")
    assert state.stage == "training_missed"
    convened_again = {"person_id": "P1", "session_id": "S2", "session_on": "2009-06-10"}
    attended = {"person_id": "P1", "attended_on": "2009-06-10", "attestation_ref": "A-1"}
    again = deliver(FAMILY, state, "parents_training_convened", convened_again, date(2010, 3, 5))
    step = deliver(FAMILY, again.state, "parents_training_attended", attended, date(2010, 3, 5))
    assert step.rejection is None
    assert step.state.parents["P1"].status == "attended"
    assert step.state.closed  # nobody reported: no referral awaited
    notice = notices(step)[report.key]
    assert (notice.recipient, notice.payload["now"]) == (Recipient.PREFECTURE, None)


# --- a correction and its reverse ---------------------------------------------------------


@pytest.mark.rule("D1")
@pytest.mark.rule("E1")
@pytest.mark.rule("B4")
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(
    target=st.sampled_from([2, 3, 4]),
    withdraw=st.booleans(),
    shift=st.integers(min_value=-10, max_value=10),
    oral=st.integers(min_value=0, max_value=70),
    correct=st.integers(min_value=0, max_value=6),
    delay=st.integers(min_value=0, max_value=200),
)
def test_a_correction_followed_by_its_reverse_gives_back_the_dossier(
    target: int, withdraw: bool, shift: int, oral: int, correct: int, delay: int
) -> None:
    events: list[Event] = [
        language_evaluation(EVALUATED, oral=20, written=10),  # #2
        values_evaluation(EVALUATED, correct=4),  # #3
        ("visa_application_filed", {"filed_on": "2009-02-02"}),  # #4
    ]
    start = open_(application(visa_application_date=None), today=COMPLETE_FILE)
    day = EVALUATED + timedelta(days=delay)
    original, _ = run_timers(feed(events, start=start).state, day)
    payload = dict(events[target - 2][1])
    date_field = next(key for key in payload if key.endswith("_on"))
    if withdraw:
        changed = None
    else:
        changed = {
            **payload,
            date_field: (
                date.fromisoformat(payload[date_field]) + timedelta(days=shift)
            ).isoformat(),
        }
        if target == 2:
            changed["oral_score"] = oral
        elif target == 3:
            changed["correct_answers"] = correct
    # B7: a reverse that turns a sufficient result back into an insufficient one notifies
    # the need anew, on its own date: the two months then run from there, by the reading.
    assume(
        changed is None
        or not need_found_by_correction(events[target - 2][0], changed, payload, REFERENCE_DATA)
    )
    forward = send(original, *correction(target, changed, day))
    assume(forward.rejection is None)
    assert judged(forward.state) != judged(original)
    back = send(forward.state, *correction(target, payload, day, "corrected back"))
    assert back.rejection is None, back.rejection
    assert judged(back.state) == judged(original)
