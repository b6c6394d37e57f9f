"""The CAI's readings of the third audit (I1, G4, H4, D2/D6/D7), each with its facts in
order, late, corrected and in another order: the same facts give the same answer."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from models import history
from models.cai import CAI
from models.cai.abroad import outcome_of, record_abroad, with_language_abroad, with_outcome_abroad
from models.cai.state import CaiState
from models.common import NotificationDue, Recipient
from models.family import FAMILY
from models.family.kind import FAMILY_REPORTING_AT_FIRST_ABSENCE_NAMING_PERSON_IDS
from models.family.state import FamilyState
from tests.unit.builders import Event, correction, deliver, pass_time
from tests.unit.test_cai_rules import REFERENCE as REF
from tests.unit.test_cai_rules import SIGNED, contract, family, opened

AFTER_YEAR = date(2010, 3, 3)
THREE_PARENTS = [
    {"person_id": "P1", "full_name": "Ayse Demir", "languages": ["tr"]},
    {"person_id": "P2", "full_name": "Ali Demir", "languages": ["tr"]},
    {"person_id": "P3", "full_name": "Elif Demir", "languages": ["tr"]},
]


def open_cai(**overrides: Any) -> CaiState:
    raw = contract(**overrides)
    return history.open_dossier(CAI, raw, REF, SIGNED, f"cai-{raw['contract_id']}").state


def open_family(**overrides: Any) -> FamilyState:
    raw = family(**overrides)
    return history.open_dossier(FAMILY, raw, REF, SIGNED, f"caif-{raw['contract_id']}").state


def run(kind: Any, state: Any, events: list[Event], received: date | None = None) -> Any:
    """Feed `events`, each on `received` (late) or on its own date, all accepted."""
    for name, payload in events:
        step = deliver(kind, state, name, payload, received)
        assert step.rejection is None, step.rejection
        state = step.state
    return state


def kinds(notes: list[NotificationDue]) -> list[tuple[str, Recipient, str | None]]:
    return sorted((n.kind.value, n.recipient, n.about) for n in notes)


# --- I1: services followed prevail ------------------------------------------------------------

NO_LANGUAGE = {
    "civic_training": True,
    "vivre_en_france": False,
    "language_training_hours": 0,
    "dilf_required": False,
}
CONVENE: Event = (
    "skills_assessment_convened",
    {"session_id": "S1", "session_on": "2009-04-01", "platform": "OFII Paris"},
)
CONVENE_AGAIN: Event = (
    "skills_assessment_convened",
    {"session_id": "S2", "session_on": "2009-05-04", "platform": "OFII Paris"},
)
MISSED_ASSESSMENT: Event = (
    "absence",
    {"service": "skills_assessment", "absent_on": "2009-04-01", "legitimate_reason": None},
)
ASSESSED: Event = (
    "skills_assessment_completed",
    {"completed_on": "2009-05-04", "duration_hours": 3, "report_ref": "B-1"},
)
MISSED_CIVIC: Event = (
    "absence",
    {"service": "civic_training", "absent_on": "2009-04-10", "legitimate_reason": None},
)
CIVIC_DONE: Event = (
    "service_completed",
    {"service": "civic_training", "completed_on": "2009-06-01", "attestation_ref": "C-1"},
)


@pytest.mark.rule("I1")
@pytest.mark.rule("I2")
def test_every_service_followed_in_the_end_proposes_closing_whatever_absences_came_before() -> None:
    events = [CONVENE, MISSED_ASSESSMENT, CONVENE_AGAIN, ASSESSED, MISSED_CIVIC, CIVIC_DONE]
    in_order = run(CAI, open_cai(prescriptions=NO_LANGUAGE), events)
    in_order, _ = pass_time(CAI, in_order, AFTER_YEAR)
    assert in_order.proposal is not None and in_order.proposal.proposal == "close"
    assert any("followed since" in reason for reason in in_order.proposal.reasons)
    # The same facts reaching the dossier late, all on one day after the year.
    late = open_cai(prescriptions=NO_LANGUAGE)
    late, _ = pass_time(CAI, late, AFTER_YEAR)
    assert late.proposal is not None and late.proposal.proposal == "undetermined"
    late = run(CAI, late, events, date(2010, 3, 4))
    assert late.proposal is not None and late.proposal.proposal == "close"
    # Without the completion, the absence still proposes termination (I2).
    absent = run(CAI, open_cai(prescriptions=NO_LANGUAGE), events[:-1])
    absent, _ = pass_time(CAI, absent, AFTER_YEAR)
    assert absent.proposal is not None and absent.proposal.proposal == "terminate"


@pytest.mark.rule("I1")
def test_a_completion_corrected_away_turns_the_closing_back_into_a_termination() -> None:
    state = run(CAI, open_cai(prescriptions=NO_LANGUAGE), [CONVENE, MISSED_ASSESSMENT])
    state = run(CAI, state, [CONVENE_AGAIN, ASSESSED, MISSED_CIVIC, CIVIC_DONE])
    completion = state.seq
    state, sent = pass_time(CAI, state, AFTER_YEAR)
    [proposal] = [n for n in sent if n.kind == "cai_follow_up_proposal"]
    assert proposal.payload["proposal"] == "close"
    step = deliver(CAI, state, *correction(completion, None, date(2010, 3, 4)))
    assert step.rejection is None
    assert step.state.proposal is not None and step.state.proposal.proposal == "terminate"
    [notice] = [n for n in step.notifications if n.about == proposal.key]
    assert notice.payload["now"]["proposal"] == "terminate"


# --- H4: the result to the signatory ------------------------------------------------------------


@pytest.mark.rule("H4")
def test_the_signatory_gets_the_result_late_or_not_and_once() -> None:
    on_time = deliver(CAI, run(CAI, open_cai(), [CONVENE]), *ASSESSED)
    late = deliver(CAI, run(CAI, open_cai(), [CONVENE]), *ASSESSED, date(2009, 9, 1))
    for step in (on_time, late):
        assert kinds(step.notifications) == [
            ("skills_assessment_copy", Recipient.FRANCE_TRAVAIL, None),
            ("skills_assessment_result", Recipient.APPLICANT, None),
        ]
    [result] = [n for n in late.notifications if n.kind == "skills_assessment_result"]
    assert result.payload["completed_on"] == "2009-05-04" and result.language == "tr"
    fixed = {**ASSESSED[1], "report_ref": "B-2"}
    corrected = deliver(CAI, late.state, *correction(late.state.seq, fixed, date(2009, 9, 2)))
    assert sorted(n.recipient for n in corrected.notifications) == [
        Recipient.APPLICANT,
        Recipient.FRANCE_TRAVAIL,
    ]
    assert {n.kind for n in corrected.notifications} == {"correction_notice"}


# --- D2, D6, D7: the language outcome abroad ---------------------------------------------------

LANGUAGE_ABSENCE: Event = (
    "absence",
    {"service": "language_training", "absent_on": "2009-04-10", "legitimate_reason": None},
)


@pytest.mark.rule("D2")
@pytest.mark.rule("D6")
@pytest.mark.rule("D7")
@pytest.mark.rule("C1")
@pytest.mark.parametrize(
    ("outcome", "language_owed", "dilf", "rule"),
    [
        (None, True, False, None),
        ("amdfl", False, False, "D2"),
        ("dilf_required", False, True, "D6"),
        ("training_followed", True, False, None),
        ("test_exempted", False, False, "C1"),
    ],
)
def test_the_outcome_abroad_sets_what_the_cai_owes(
    outcome: str | None, language_owed: bool, dilf: bool, rule: str | None
) -> None:
    state = open_cai(language_outcome_abroad=outcome)
    language = state.services["language_training"]
    assert language.prescribed is language_owed
    assert (language.not_owed is None) is language_owed
    assert state.dilf_required is dilf
    absence = deliver(CAI, state, *LANGUAGE_ABSENCE)
    if language_owed:
        assert absence.rejection is None
    else:  # no termination is ever proposed for a service that was not owed
        assert absence.rejection is not None
        assert absence.rejection.rule == rule
        assert absence.rejection.field == "service"


@pytest.mark.rule("D6")
@pytest.mark.rule("I1")
def test_a_dilf_holder_absent_from_a_training_not_owed_is_not_proposed_for_termination() -> None:
    events = [CONVENE, ASSESSED, CIVIC_DONE]
    prescriptions = {**NO_LANGUAGE, "language_training_hours": 120, "vivre_en_france": False}
    state = open_cai(language_outcome_abroad="dilf_required", prescriptions=prescriptions)
    refused = deliver(CAI, state, *LANGUAGE_ABSENCE)
    assert refused.rejection is not None and refused.rejection.rule == "D6"
    for received in (None, date(2010, 3, 4)):  # in order, or all late after the year
        done = run(CAI, state, events, received)
        done, _ = pass_time(CAI, done, AFTER_YEAR)
        assert done.proposal is not None and done.proposal.proposal == "close"


@pytest.mark.rule("D6")
def test_a_dilf_holder_may_ask_for_preparation_support_once() -> None:
    request: Event = ("dilf_preparation_requested", {"requested_on": "2009-04-01"})
    holder = open_cai(language_outcome_abroad="dilf_required")
    asked = deliver(CAI, holder, *request)
    assert asked.rejection is None
    assert asked.state.dilf_preparation_requested_on == date(2009, 4, 1)
    again = deliver(CAI, asked.state, "dilf_preparation_requested", {"requested_on": "2009-05-01"})
    assert again.rejection is not None and again.rejection.rule == "D6"
    other = deliver(CAI, open_cai(language_outcome_abroad="amdfl"), *request)
    assert other.rejection is not None and other.rejection.rule == "D6"
    # Asked late, after the year: dated inside it, it is accepted.
    late_holder, _ = pass_time(CAI, holder, date(2010, 1, 5))
    late = deliver(CAI, late_holder, *request, date(2010, 1, 5))
    assert late.rejection is None


@pytest.mark.rule("D2")
@pytest.mark.rule("D6")
@pytest.mark.rule("D7")
@pytest.mark.rule("C1")
def test_the_visa_dossiers_carry_over_reads_as_its_language_record() -> None:
    assert record_abroad(None) is None
    whole = {
        "amdfl": False,
        "dilf_required": False,
        "language_training_required": True,
        "language_training_followed": True,
        "last_evaluation_sufficient": None,
        "test_exempted": False,
    }
    record = record_abroad(whole)
    assert record is not None and record.training_followed is True
    assert outcome_of(record) == "training_followed"
    # A visa dossier decided before the record was carried whole: its flags say enough.
    assert outcome_of(record_abroad({"amdfl": True})) == "amdfl"
    assert outcome_of(record_abroad({"amdfl": False, "dilf_required": True})) == "dilf_required"
    assert outcome_of(record_abroad({"language_training_required": True})) == "training_followed"
    # Not owed, with neither AMDFL nor DILF: C1 discharged it.
    assert outcome_of(record_abroad({"language_training_required": False})) == "test_exempted"
    raw = contract(language_outcome_abroad="training_followed")
    assert with_outcome_abroad(raw, "amdfl")["language_outcome_abroad"] == "amdfl"
    assert with_outcome_abroad(raw, None) is raw
    assert with_outcome_abroad("not an object", "amdfl") == "not an object"
    read = with_language_abroad(raw, {"test_exempted": True})
    assert read["language_outcome_abroad"] == "test_exempted"
    assert with_language_abroad(raw, None) is raw
    refused = contract(language_outcome_abroad="dilf")
    with pytest.raises(Exception, match=r"^D6: language_outcome_abroad"):
        history.open_dossier(CAI, refused, REF, SIGNED, f"cai-{refused['contract_id']}")


@pytest.mark.rule("D6")
@pytest.mark.rule("D7")
@pytest.mark.parametrize(
    ("record", "language_owed"),
    [
        # A training followed without a re-evaluation does not discharge it.
        ({"training_followed": True, "last_evaluation_sufficient": False}, True),
        ({"training_followed": True}, True),
        ({"test_exempted": True}, False),
        ({"amdfl": True, "last_evaluation_sufficient": True}, False),
    ],
)
def test_the_visa_dossiers_record_read_at_opening_sets_what_the_cai_owes(
    record: dict[str, Any], language_owed: bool
) -> None:
    state = open_cai(language_abroad=record, language_outcome_abroad="amdfl")
    assert state.services["language_training"].prescribed is language_owed


REPORTED: Event = (
    "language_outcome_abroad",
    {"reported_on": "2009-04-01", "dilf_required": True, "last_evaluation_sufficient": True},
)


@pytest.mark.rule("D6")
@pytest.mark.rule("core")
@pytest.mark.parametrize("received", [None, date(2009, 6, 1)])
def test_a_record_reported_after_opening_stands_as_if_read_at_opening(
    received: date | None,
) -> None:
    read = open_cai(language_abroad={"dilf_required": True, "last_evaluation_sufficient": True})
    reported = run(CAI, open_cai(), [REPORTED], received)
    assert reported.services == read.services
    assert reported.dilf_required is read.dilf_required is True
    assert reported.language_abroad == read.language_abroad
    # One read from the visa dossier at opening is not replaced.
    again = deliver(CAI, read, *REPORTED)
    assert again.rejection is not None and again.rejection.rule == "D6"


# --- G4: convened parents only, at the end of the follow-up ------------------------------------


def convened(person: str, on: str = "2009-04-01") -> Event:
    return (
        "parents_training_convened",
        {"person_id": person, "session_id": f"S-{person}-{on}", "session_on": on},
    )


def absent(person: str, on: str = "2009-04-01", reason: str | None = None) -> Event:
    return (
        "parents_training_absence",
        {"person_id": person, "absent_on": on, "legitimate_reason": reason},
    )


def attended(person: str, on: str) -> Event:
    return (
        "parents_training_attended",
        {"person_id": person, "attended_on": on, "attestation_ref": f"A-{person}"},
    )


G4_FACTS = [
    convened("P1"),
    absent("P1"),
    convened("P2"),
    absent("P2"),
    convened("P2", "2009-06-01"),
    attended("P2", "2009-06-01"),
]


@pytest.mark.rule("G4")
def test_convened_parents_are_reported_at_the_end_once_never_convened_ones_are_not() -> None:
    state = open_family(signatories=THREE_PARENTS)
    said: list[NotificationDue] = []
    for name, payload in G4_FACTS:
        step = deliver(FAMILY, state, name, payload)
        assert step.rejection is None, step.rejection
        said += [n for n in step.notifications if n.recipient != Recipient.APPLICANT]
        state = step.state
    assert said == []  # G4: nothing at an absence
    state, sent = pass_time(FAMILY, state, date(2010, 6, 3))
    assert kinds(sent) == [
        ("parents_not_convened", Recipient.OFII, "parent-3"),
        ("parents_training_missed", Recipient.PREFECTURE, "parent-1"),
    ]
    assert [p.status for p in state.parents.values()] == ["missed", "attended", "not_convened"]
    # Two parents absent at first, one of whom attended later: one report in all.


@pytest.mark.rule("G4")
def test_the_same_facts_late_or_in_another_order_give_the_same_reports() -> None:
    expected: list[tuple[str, Recipient, str | None]] | None = None
    for received in (None, date(2010, 3, 2)):
        orders = [G4_FACTS, [*G4_FACTS[2:], *G4_FACTS[:2]]]
        for facts in orders:
            state = run(FAMILY, open_family(signatories=THREE_PARENTS), facts, received)
            state, sent = pass_time(FAMILY, state, date(2010, 6, 3))
            reports = kinds([n for n in sent if n.kind != "correction_notice"])
            if expected is None:
                expected = reports
            assert reports == expected


@pytest.mark.rule("G4")
def test_a_referral_for_a_parent_never_convened_is_refused() -> None:
    state = run(FAMILY, open_family(signatories=THREE_PARENTS), G4_FACTS)
    early = deliver(
        FAMILY, state, "conseil_general_referral", {"decided_on": "2009-07-01", "reason": "r"}
    )
    assert early.rejection is not None and early.rejection.rule == "G4"  # nobody reported yet
    state, _ = pass_time(FAMILY, state, AFTER_YEAR)

    def refer(person: str) -> Any:
        payload = {"decided_on": "2010-03-10", "reason": "r", "person_id": person}
        return deliver(FAMILY, state, "conseil_general_referral", payload)

    never = refer("P3")
    assert never.rejection is not None and never.rejection.rule == "G4"
    assert "never convened" in never.rejection.reason
    assert refer("P2").rejection is not None  # attended: nothing to refer
    reported = refer("P1")
    assert reported.rejection is None and reported.state.closed
    [note] = reported.notifications
    assert (note.kind, note.payload["person_id"]) == ("conseil_general_referral", "P1")


@pytest.mark.rule("G4")
def test_a_late_attendance_after_the_referral_is_refused_naming_it() -> None:
    state = run(FAMILY, open_family(), [convened("P1"), absent("P1")])
    state, _ = pass_time(FAMILY, state, AFTER_YEAR)
    referral = {"decided_on": "2010-03-10", "reason": "r"}
    state = run(FAMILY, state, [("conseil_general_referral", referral)])
    assert state.closed
    # A convocation reported late stands beside the referral: P1 still did not attend.
    again = run(FAMILY, state, [convened("P1", "2009-05-01")], date(2010, 3, 11))
    late = deliver(FAMILY, again, *attended("P1", "2009-05-01"), date(2010, 3, 11))
    assert late.rejection is not None
    assert "conseil_general_referral" in late.rejection.reason  # the decision stands, named


@pytest.mark.rule("G4")
def test_dossiers_begun_before_keep_reporting_at_the_first_absence() -> None:
    raw = family(signatories=THREE_PARENTS)
    # As the workflow runs them: begun before ranks too, they key a parent by person id.
    kind = FAMILY_REPORTING_AT_FIRST_ABSENCE_NAMING_PERSON_IDS
    state = history.open_dossier(kind, raw, REF, SIGNED, f"caif-{raw['contract_id']}").state
    step = deliver(kind, run(kind, state, [convened("P1")]), *absent("P1"))
    assert kinds(step.notifications) == [("parents_training_missed", Recipient.PREFECTURE, "P1")]
    _, sent = pass_time(kind, step.state, AFTER_YEAR)
    assert kinds(sent) == [
        ("parents_training_missed", Recipient.PREFECTURE, "P2"),
        ("parents_training_missed", Recipient.PREFECTURE, "P3"),
    ]


@pytest.mark.rule("H2")
def test_a_corrected_cai_opening_re_judges_the_skills_assessment() -> None:
    """The opening facts of a CAI can be corrected too: a signatory mistyped as born in
    1950 (over 55, exempt under H2) is corrected to 1980, and the assessment is owed."""
    state = opened(signatory={"birth_date": "1950-05-01"})
    assert state.skills_assessment.status == "exempt"
    corrected = contract()
    step = history.receive(
        CAI,
        state,
        "correct_event",
        {
            "seq": 1,
            "payload": corrected,
            "reason": "birth date mistyped",
            "corrected_on": "2009-03-03",
        },
        REF,
        date(2009, 3, 3),
        "t",
    )
    assert step.rejection is None, step.rejection
    assert step.state.skills_assessment.status == "awaiting_convocation"
    assert "skills_assessment_due" in step.state.deadlines
    other = {**corrected, "contract_id": "CAI-75-2009-999999"}
    refused = history.receive(
        CAI,
        step.state,
        "correct_event",
        {"seq": 1, "payload": other, "reason": "r", "corrected_on": "2009-03-04"},
        REF,
        date(2009, 3, 4),
        "t",
    )
    assert refused.rejection is not None and "contract_id" in refused.rejection.reason
