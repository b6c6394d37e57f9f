"""The session planner's pure part: which sessions a platform holds, and who gets which seat
(H1, H5 for the skills assessment; G2 for the parents' training day)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.reference import SessionPlan
from models.reporting import OpenDossier, build_digests, iso_week, report_rows
from models.sessions import (
    Candidate,
    Seat,
    SeatsToRelease,
    Service,
    Session,
    UnassignedReason,
    assign,
    plan_sessions,
    session_id,
    slug,
)

RUN_ON = date(2009, 3, 2)  # a Monday
SKILLS = SessionPlan(
    capacity=2, slots=["morning", "afternoon"], weekdays=[0, 2], days_ahead=7, horizon_days=14
)


def sessions(capacity: int = 2, platform: str = "OFII Paris") -> list[Session]:
    plan = SKILLS.model_copy(update={"capacity": capacity})
    return plan_sessions(platform, Service.SKILLS_ASSESSMENT, plan, RUN_ON)


def waiting(
    name: str, due_in_days: int, platform: str = "OFII Paris", person: str = ""
) -> Candidate:
    return Candidate(
        workflow_id=f"cai-{name}",
        person_id=person,
        platform=platform,
        due=RUN_ON + timedelta(days=due_in_days),
    )


@pytest.mark.rule("H1")
def test_sessions_fall_on_the_plans_weekdays_within_the_horizon_one_per_slot() -> None:
    planned = sessions()
    days = sorted({s.session_on for s in planned})
    # From run_on + 7 (Monday 9 March) to run_on + 14 (Monday 16 March), Mondays and Wednesdays.
    assert days == [date(2009, 3, 9), date(2009, 3, 11), date(2009, 3, 16)]
    assert [s.slot for s in planned[:2]] == ["morning", "afternoon"]
    assert planned[0].session_id == "ofii-paris-skills-assessment-2009-03-09-morning"
    # Deterministic: a retried run plans the very same sessions.
    assert planned == sessions()


def test_session_ids_are_stable_and_readable() -> None:
    assert slug("OFII Île-de-France") == "ofii-ile-de-france"
    assert (
        session_id("OFII Lyon", Service.PARENTS_TRAINING, date(2009, 3, 11), "day")
        == "ofii-lyon-parents-training-2009-03-11-day"
    )


@pytest.mark.rule("H5")
def test_earliest_due_date_is_seated_first_and_a_full_session_overflows_to_the_next() -> None:
    candidates = [waiting("late", 300), waiting("soon", 20), waiting("middle", 100)]
    result = assign(sessions(capacity=1), candidates)
    seated = [(seat.workflow_id, seat.session_id) for seat in result.seats]
    assert seated == [
        ("cai-soon", "ofii-paris-skills-assessment-2009-03-09-morning"),
        ("cai-middle", "ofii-paris-skills-assessment-2009-03-09-afternoon"),
        ("cai-late", "ofii-paris-skills-assessment-2009-03-11-morning"),
    ]
    assert result.unassigned == []


@pytest.mark.rule("H5")
def test_nobody_is_convened_after_their_due_date() -> None:
    # Due on 10 March, a, b and c can only take the two half days of 9 March: c waits rather
    # than being convened too late, while d, due on 11 March, takes the 11 March morning.
    candidates = [waiting("a", 8), waiting("b", 8), waiting("c", 8), waiting("d", 9)]
    result = assign(sessions(capacity=1), candidates)
    assert {seat.workflow_id for seat in result.seats} == {"cai-a", "cai-b", "cai-d"}
    assert all(seat.session_on <= seat.due for seat in result.seats)
    reasons = {left.workflow_id: left.reason for left in result.unassigned}
    assert reasons == {"cai-c": UnassignedReason.SESSIONS_FULL}
    too_soon = assign(sessions(), [waiting("e", 3)])
    assert too_soon.unassigned[0].reason == UnassignedReason.DUE_BEFORE_FIRST_SESSION


@pytest.mark.rule("H1")
def test_capacity_counts_the_seats_already_booked_and_nobody_is_seated_twice() -> None:
    planned = sessions(capacity=2)
    first = planned[0].session_id
    candidates = [waiting("a", 300), waiting("a", 300), waiting("b", 300), waiting("c", 300)]
    result = assign(planned, candidates, taken={first: 1}, seated={("cai-c", "")})
    assert [(s.workflow_id, s.session_id) for s in result.seats] == [
        ("cai-a", first),
        ("cai-b", planned[1].session_id),
    ]
    assert result.already_seated == 1


@pytest.mark.rule("G2")
def test_each_parent_of_a_family_gets_a_seat_of_their_own_platform() -> None:
    parents_plan = SessionPlan(capacity=12, slots=["day"], weekdays=[2], horizon_days=56)
    planned = plan_sessions("OFII Lyon", Service.PARENTS_TRAINING, parents_plan, RUN_ON)
    family = [
        waiting("f", 300, "OFII Lyon", "P1"),
        waiting("f", 300, "OFII Lyon", "P2"),
        waiting("g", 300, "OFII Nowhere", "P1"),
    ]
    result = assign(planned, family)
    assert [(s.workflow_id, s.person_id) for s in result.seats] == [
        ("cai-f", "P1"),
        ("cai-f", "P2"),
    ]
    assert result.unassigned[0].reason == UnassignedReason.UNKNOWN_PLATFORM
    event, payload = result.seats[0].convocation()
    assert event == "parents_training_convened"
    assert payload == {
        "person_id": "P1",
        "session_id": "ofii-lyon-parents-training-2009-03-11-day",
        "session_on": "2009-03-11",
    }


@pytest.mark.rule("H1")
def test_a_skills_assessment_convocation_carries_the_contracts_payload() -> None:
    seat = assign(sessions(), [waiting("a", 300)]).seats[0]
    assert seat.convocation() == (
        "skills_assessment_convened",
        {
            "session_id": "ofii-paris-skills-assessment-2009-03-09-morning",
            "session_on": "2009-03-09",
            "platform": "OFII Paris",
        },
    )


@pytest.mark.rule("H5")
@given(
    dues=st.lists(st.integers(min_value=0, max_value=30), max_size=40),
    capacity=st.integers(min_value=1, max_value=3),
)
def test_assignment_invariants(dues: list[int], capacity: int) -> None:
    candidates = [waiting(f"p{i}", due) for i, due in enumerate(dues)]
    planned = sessions(capacity=capacity)
    result = assign(planned, candidates)
    seats: list[Seat] = result.seats
    # Every candidate is either seated or left with a reason, once.
    assert len(seats) + len(result.unassigned) == len(candidates)
    assert len({s.workflow_id for s in seats}) == len(seats)
    # Never past the due date, never over capacity.
    assert all(s.session_on <= s.due for s in seats)
    per_session: dict[str, int] = {}
    for seat in seats:
        per_session[seat.session_id] = per_session.get(seat.session_id, 0) + 1
    assert max(per_session.values(), default=0) <= capacity
    # Earliest due first: nobody left out has an earlier due date than someone seated on
    # a session they could have taken.
    for left in result.unassigned:
        for seat in seats:
            if seat.session_on <= left.due:
                assert seat.due <= left.due


# --- the digest and the report (pure parts) --------------------------------------------


@pytest.mark.rule("B1")
@pytest.mark.rule("H5")
def test_a_digest_goes_to_each_authority_answering_for_a_dossier_due_or_overdue() -> None:
    day = date(2009, 3, 2)
    visa = OpenDossier(
        workflow_id="visa-1",
        kind="visa_application",
        reference="1",
        stage="awaiting_evaluation",
        country="MA",
        consulate="Rabat",
        prefecture="Paris",
        responsible_body="ofii_representation",
        next_deadline=day + timedelta(days=5),
        deadlines={"evaluation_due": day + timedelta(days=5)},
    )
    late_cai = OpenDossier(
        workflow_id="cai-2",
        kind="cai_contract",
        reference="2",
        stage="in_progress",
        prefecture="Lyon",
        responsible_body="OFII Lyon",
        next_deadline=day + timedelta(days=200),
        overdue=True,
    )
    far = visa.model_copy(
        update={"workflow_id": "visa-3", "next_deadline": day + timedelta(days=8)}
    )
    digests = {
        (d.recipient.value, d.addressee): d for d in build_digests([visa, late_cai, far], day)
    }
    assert sorted(digests) == [
        ("consulate", "Rabat"),
        ("ofii", "MA"),
        ("ofii", "OFII Lyon"),
        ("prefecture", "Lyon"),
    ]
    entry = digests["consulate", "Rabat"].entries[0]
    assert (entry.workflow_id, entry.days_left, entry.next_deadline_names) == (
        "visa-1",
        5,
        ["evaluation_due"],
    )
    assert digests["consulate", "Rabat"].key(day) == "2009-03-02.consulate.Rabat"


@pytest.mark.rule("J1")
def test_report_rows_follow_the_sections_order() -> None:
    rows = report_rows({"procedure": {"cai": 2, "b": 1}, "stage": {"x": 3}})
    assert rows == [("stage", "x", 3), ("procedure", "b", 1), ("procedure", "cai", 2)]
    assert iso_week(date(2009, 1, 1)) == "2009-W01"
    assert iso_week(date(2010, 1, 3)) == "2009-W53"


def test_a_seats_update_id_is_its_place_in_the_plan_never_a_person_id() -> None:
    """The update id is in the dossier's history, shown in clear by the Web UI."""
    seats = [
        Seat(
            session_id="DDP-1",
            service=Service.PARENTS_TRAINING,
            platform="OFII Paris",
            session_on=RUN_ON,
            slot="day",
            workflow_id="caif-CAIF-1",
            person_id=person,
            due=RUN_ON + timedelta(days=30),
        )
        for person in ("P-SECRET-1", "P-SECRET-2")
    ]
    batch = SeatsToRelease(planned_by="run-1", seats=seats, first=100)
    ids = [batch.update_id(index) for index in range(len(seats))]
    assert ids == ["run-1/100", "run-1/101"]
    # A batch scheduled before keeps, on its retries, the ids its first attempt used.
    before = SeatsToRelease(planned_by="run-1", seats=seats)
    assert before.update_id(1) == "run-1/DDP-1/P-SECRET-2"
