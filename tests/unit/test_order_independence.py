"""Event time, as a property: the same facts give the same answer whatever order they
arrive in (docs/interpretations.md, "Event time"), for every dossier kind.

Hypothesis writes a dossier's story (a visa application, a CAI, a CAI for the family) as
dated facts with NO decision of an authority among them (no `visa_decision`,
`prefect_decision` nor `conseil_general_referral`: a decision taken stands between the facts
before and after it, and a late fact that would undo it is refused by design). The core
(`models.history`) takes the story twice, under the same reference data (the shipped one, or
with B9's next-working-day policy on):

- in date order, each fact arriving on the day it happened;
- in a random arrival order: each fact arrives on a day at or after its own date (a lag of
  up to LAG_DAYS days, ties broken at random), the dossier's clock only moving forward, and
  the time passing between arrivals. A fact may arrive before the fact it rests on (a
  training's start before its prescription, an outcome before its session's convocation, a
  new convocation before the absence from the last one): it is held until that one arrives
  (models.errors.Waiting), then takes its place in event time.

The facts the first run refuses (or still holds at its end) are not a valid story and are
dropped from both runs. Both dossiers are then brought to the same day (the last arrival),
and must agree on:

- every accepted fact (name, payload, date, withdrawn): none refused in the second run, and
  none still held at its end;
- the state, minus the journal, which records arrival by design: `seq`, `rejected_inputs`,
  `accepted_fingerprints` (fact numbers), `facts` (arrival order, received days), `said`
  (compared below), `clock` and `reference_version`;
- the notifications in effect at the end: those said and not withdrawn by a later
  re-fold (`said` values that are not None; a `correction_notice` is told, never kept), each
  as (kind, recipient, rule, about, language, payload, origin), where an origin that is an
  arrival number (`000003`) is replaced by the fact it names, and an origin that is a
  delay (`evaluation_due@2009-04-03`) is kept as is. What was told along the way differs
  legitimately (an alert sent before a late fact arrived, then its correction notice).

Held fixed because the rules read it: the results of an evaluation reach the consulate on
the day of the evaluation in both runs (B6 counts the week to their receipt, B7 the two
months from it), so the receipt of an evaluation is never late here.

Where the property is narrowed, and why: a fact carries a date, not an hour, so the facts of
one day are placed in the order they arrived (an absence and an evaluation of the same day
are ambiguous by nature; a skills assessment completed on a day may be the outcome of its
session's convocation or of an earlier pending one). The steps of a story fall on distinct
days, but for a session and its outcome: these two arrive in the order they happened, on
any days otherwise.

`ORDER_EXAMPLES` sets the count per kind (100 by default)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import history
from models.dossier import DossierRecord
from models.dossier_kind import DossierKind
from models.reference import ReferenceData, default_reference_data, merge_reference_data
from tools.fuzz_inputs import KINDS, OPENED_ON

REFERENCE = merge_reference_data(default_reference_data(), {})
# B9's next-working-day policy on: the deadlines move with each authority's holidays.
WORKING_DAYS = merge_reference_data(
    default_reference_data(), {"calendar": {"extend_to_next_working_day": True}}
)
EXAMPLES = int(os.environ.get("ORDER_EXAMPLES", "100"))
LAG_DAYS = 90
# Facts whose day of receipt the rules read (B6, B7): they reach the dossier on their date.
RECEIVED_ON_THEIR_DATE = {"language_evaluation", "values_evaluation"}
DECISIONS = {"visa_decision", "prefect_decision", "conseil_general_referral"}

Fact = tuple[str, dict[str, Any], date]  # name, payload, the day it happened
Arrival = tuple[Fact, date]  # a fact and the day it reaches the dossier
Story = Callable[[], st.SearchStrategy[list[Fact]]]

ORDER = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- stories ------------------------------------------------------------------------------

gaps = st.integers(min_value=1, max_value=45)
reasons = st.sampled_from([None, "hospitalisation"])


class _Clock:
    """The day a story has reached: each step of it happens some days after the last."""

    def __init__(self, draw: st.DrawFn, start: date) -> None:
        self.draw = draw
        self.day = start

    def next(self) -> date:
        self.day += timedelta(days=self.draw(gaps))
        return self.day


@st.composite
def visa_story(draw: st.DrawFn) -> list[Fact]:
    """A family-reunification dossier from Morocco: the application filed, absences,
    evaluations or exemptions, then for each need found its training, in the order of life."""
    clock = _Clock(draw, OPENED_ON)
    facts: list[Fact] = []
    payload: dict[str, Any]
    if draw(st.booleans()):
        day = clock.next()
        facts.append(("visa_application_filed", {"filed_on": day.isoformat()}, day))
    for domain in draw(st.lists(st.sampled_from(["language", "values"]), max_size=2)):
        day = clock.next()
        payload = {"kind": domain, "absent_on": day.isoformat(), "legitimate_reason": None}
        payload["legitimate_reason"] = draw(reasons)
        facts.append(("evaluation_absence", payload, day))
    needs: list[str] = []
    if draw(st.booleans()):
        day = clock.next()
        ground = "higher_education_france_1y"
        payload = {"decided_on": day.isoformat(), "ground": ground, "evidence_ref": "DIPL-1"}
        facts.append(("language_test_exemption", payload, day))
    else:
        day = clock.next()
        oral = draw(st.sampled_from([20, 50]))
        payload = {
            "evaluated_on": day.isoformat(),
            "oral_score": oral,
            "written_score": 20,
            "evaluator": "OFII Rabat",
        }
        facts.append(("language_evaluation", payload, day))
        if oral < 35:
            needs.append("language")
    day = clock.next()
    correct = draw(st.sampled_from([3, 6]))
    payload = {
        "evaluated_on": day.isoformat(),
        "language_used": "ar",
        "questions_asked": 6,
        "correct_answers": correct,
        "evaluator": "OFII Rabat",
    }
    facts.append(("values_evaluation", payload, day))
    if correct < 5:
        needs.append("values")
    if needs and draw(st.integers(min_value=0, max_value=4)) == 0:
        day = clock.next()
        trainings = draw(st.lists(st.sampled_from(needs), min_size=1, max_size=2, unique=True))
        payload = {
            "decided_on": day.isoformat(),
            "trainings": trainings,
            "ground": "country_situation",
            "detail": "no provider",
            "evidence_ref": "EX-1",
        }
        facts.append(("training_exemption", payload, day))
    for domain in needs:
        facts += _training(draw, clock, domain)
    return facts


def _training(draw: st.DrawFn, clock: _Clock, domain: str) -> list[Fact]:
    """A training prescribed, then started, missed once perhaps, completed: each step only
    if the one before happened."""
    facts: list[Fact] = []
    steps = draw(st.integers(min_value=0, max_value=4))
    if steps < 1:
        return facts
    day = clock.next()
    hours = 120 if domain == "language" else 6
    payload: dict[str, Any] = {
        "kind": domain,
        "hours": hours,
        "provider": "Institut",
        "notified_on": day.isoformat(),
    }
    facts.append(("training_prescribed", payload, day))
    if steps < 2:
        return facts
    day = clock.next()
    facts.append(("training_started", {"kind": domain, "started_on": day.isoformat()}, day))
    if steps >= 3 and draw(st.booleans()):
        day = clock.next()
        payload = {"kind": domain, "absent_on": day.isoformat(), "legitimate_reason": None}
        payload["legitimate_reason"] = draw(reasons)
        facts.append(("training_absence", payload, day))
    if steps >= 3:
        day = clock.next()
        payload = {
            "kind": domain,
            "completed_on": day.isoformat(),
            "hours_attended": hours,
            "attestation_ref": f"ATT-{domain}",
        }
        facts.append(("training_completed", payload, day))
    return facts


def _absent_or(
    draw: st.DrawFn,
    day: date,
    about: dict[str, Any],
    absent: str,
    followed: tuple[str, dict[str, Any]],
) -> Fact:
    """An absence on `day` from what `about` names (with or without a legitimate reason),
    or what was `followed` instead."""
    if draw(st.booleans()):
        payload = {**about, "absent_on": day.isoformat(), "legitimate_reason": draw(reasons)}
        return absent, payload, day
    name, payload = followed
    return name, payload, day


@st.composite
def cai_story(draw: st.DrawFn) -> list[Fact]:
    """A CAI signed in Paris: the skills assessment (exempted, or convened, perhaps missed,
    then held), the trainings followed or missed, the language training's status."""
    clock = _Clock(draw, OPENED_ON)
    facts: list[Fact] = []
    payload: dict[str, Any]
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        day = clock.next()
        payload = {"decided_on": day.isoformat(), "ground": "already_employed", "proof_ref": "P"}
        facts.append(("skills_assessment_exemption", payload, day))
    else:
        for session in range(draw(st.integers(min_value=0, max_value=2))):
            convened = clock.next()
            payload = {
                "session_id": f"S{session}",
                "session_on": convened.isoformat(),
                "platform": "OFII Paris",
            }
            facts.append(("skills_assessment_convened", payload, convened))
            held = {"completed_on": convened.isoformat(), "duration_hours": 3.0, "report_ref": "R"}
            about = {"service": "skills_assessment"}
            outcome = _absent_or(
                draw, convened, about, "absence", ("skills_assessment_completed", held)
            )
            facts.append(outcome)
            if outcome[0] != "absence":
                break  # held: no more sessions
    for service in draw(
        st.lists(st.sampled_from(["civic_training", "language_training"]), max_size=3)
    ):
        day = clock.next()
        about = {"service": service}
        followed = {**about, "completed_on": day.isoformat(), "attestation_ref": f"ATT-{service}"}
        facts.append(_absent_or(draw, day, about, "absence", ("service_completed", followed)))
    if draw(st.booleans()):
        day = clock.next()
        status = draw(st.sampled_from(["in_progress", "deferred"]))
        payload = {
            "status": status,
            "reason": "illness" if status == "deferred" else None,
            "reported_on": day.isoformat(),
        }
        facts.append(("language_training_status", payload, day))
    return facts


@st.composite
def family_story(draw: st.DrawFn) -> list[Fact]:
    """A CAI for the family signed in Paris: each parent convened, absent or attending,
    perhaps convened again; a breach of school attendance reported."""
    clock = _Clock(draw, OPENED_ON)
    facts: list[Fact] = []
    payload: dict[str, Any]
    for person in draw(st.lists(st.sampled_from(["P1", "P2"]), max_size=4)):
        convened = clock.next()
        session = f"S-{person}-{convened.isoformat()}"
        payload = {"person_id": person, "session_id": session, "session_on": convened.isoformat()}
        facts.append(("parents_training_convened", payload, convened))
        if draw(st.booleans()):  # else its outcome is not known yet
            about = {"person_id": person}
            attended = {**about, "attended_on": convened.isoformat(), "attestation_ref": "ATT"}
            outcome = ("parents_training_attended", attended)
            facts.append(_absent_or(draw, convened, about, "parents_training_absence", outcome))
    if draw(st.booleans()):
        day = clock.next()
        payload = {"child_id": "C1", "reported_on": day.isoformat(), "detail": "absent a month"}
        facts.append(("school_attendance_breach", payload, day))
    return facts


# --- the two runs -------------------------------------------------------------------------


def _in_date_order(facts: list[Fact]) -> list[Arrival]:
    """Each fact on the day it happened, in the order of the story (stable by date)."""
    return [(fact, fact[2]) for fact in sorted(facts, key=lambda fact: fact[2])]


@st.composite
def _arrivals(draw: st.DrawFn, facts: list[Fact]) -> list[Arrival]:
    """Each fact on a day at or after its own date, the clock moving forward, before or
    after the facts it rests on; ties at random, but that a fact of the same date as one
    before it in the story arrives after that one (a fact carries no hour)."""
    days: list[date] = []
    levels: list[int] = []
    for index, (name, _, dated) in enumerate(facts):
        lag = 0 if name in RECEIVED_ON_THEIR_DATE else draw(st.integers(0, LAG_DAYS))
        day, level = dated + timedelta(days=lag), 0
        same_day = [i for i in range(index) if facts[i][2] == dated]
        if same_day and days[same_day[-1]] >= day:
            day, level = days[same_day[-1]], levels[same_day[-1]] + 1
        days.append(day)
        levels.append(level)
    ties = draw(st.permutations(range(len(facts))))
    order = sorted(range(len(facts)), key=lambda i: (days[i], levels[i], ties[i]))
    return [(facts[i], days[i]) for i in order]


def _run(
    core: DossierKind[Any],
    raw: dict[str, Any],
    workflow_id: str,
    arrivals: list[Arrival],
    reference: ReferenceData = REFERENCE,
) -> tuple[DossierRecord, list[Fact]]:
    """The dossier after every arrival, and the facts it refused or holds still."""
    state = history.open_dossier(core, raw, reference, OPENED_ON, workflow_id).state
    refused: list[Fact] = []
    arrived: dict[int, Fact] = {}
    for fact, day in arrivals:
        name, payload, _ = fact
        step = history.receive(core, state, name, payload, reference, day, f"{day}T09:00:00Z")
        arrived[step.state.seq] = fact
        refused += [arrived[rejection.seq] for rejection in step.refused_held if rejection.seq]
        if step.rejection is not None:
            refused.append(fact)
        state = step.state
    return state, refused + [arrived[held.seq] for held in state.held_inputs]


def _until(core: DossierKind[Any], state: DossierRecord, day: date) -> DossierRecord:
    passed: DossierRecord = history.on_deadline(core, state, day).state
    return passed


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _facts(state: DossierRecord) -> list[tuple[str, str, date, bool]]:
    return sorted(
        (fact.name, _canonical(fact.payload), fact.dated, fact.withdrawn) for fact in state.facts
    )


def _state(state: DossierRecord) -> dict[str, Any]:
    """The state minus its journal, and minus the day each fact reached the dossier
    (`received_on`), which is arrival by definition (B6 and D5/F2 read it on purpose)."""
    dumped: dict[str, Any] = _without_arrival(
        state.model_dump(mode="json", exclude=set(history.JOURNAL))
    )
    return dumped


def _without_arrival(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_arrival(v) for k, v in value.items() if k != "received_on"}
    if isinstance(value, list):
        return [_without_arrival(item) for item in value]
    return value


def _in_effect(state: DossierRecord) -> list[tuple[str, ...]]:
    """The notifications said and not withdrawn, their arrival numbers named by their fact."""
    by_seq = {
        history._origin(fact.seq): f"{fact.name}:{_canonical(fact.payload)}" for fact in state.facts
    }
    by_seq[history._origin(history.OPENING)] = "opening"
    return sorted(
        (
            note.kind.value,
            note.recipient.value,
            note.rule,
            str(note.about),
            str(note.language),
            _canonical(note.payload),
            by_seq.get(note.origin, note.origin),
        )
        for note in state.said.values()
        if note is not None
    )


def check_order_independence(
    core: DossierKind[Any], raw: dict[str, Any], workflow_id: str, story: list[Fact], data: Any
) -> None:
    assert not {name for name, _, _ in story} & DECISIONS
    reference = data.draw(st.sampled_from([REFERENCE, WORKING_DAYS]))
    _, refused = _run(core, raw, workflow_id, _in_date_order(story), reference)
    valid = [fact for fact in story if fact not in refused]
    in_order, none_refused = _run(core, raw, workflow_id, _in_date_order(valid), reference)
    assert none_refused == []
    arrivals = data.draw(_arrivals(valid))
    arrived, refused_on_arrival = _run(core, raw, workflow_id, arrivals, reference)
    assert refused_on_arrival == [], (arrivals, refused_on_arrival)
    last = max([day for _, day in arrivals], default=OPENED_ON)
    in_order, arrived = _until(core, in_order, last), _until(core, arrived, last)
    assert _facts(arrived) == _facts(in_order)
    assert _state(arrived) == _state(in_order), arrivals
    assert _in_effect(arrived) == _in_effect(in_order), arrivals


# --- the properties -----------------------------------------------------------------------


@pytest.mark.rule("core")
@pytest.mark.parametrize(
    ("kind_index", "stories"),
    [(0, visa_story), (1, cai_story), (2, family_story)],
    ids=["visa", "cai", "family"],
)
@ORDER
@given(data=st.data())
def test_a_dossier_is_the_same_whatever_order_its_facts_arrive_in(
    kind_index: int, stories: Story, data: st.DataObject
) -> None:
    core, raw, workflow_id = KINDS[kind_index]
    story = data.draw(stories(), label="story")
    check_order_independence(core, raw, workflow_id, story, data)


# --- a fact that arrives before the fact it rests on is held -------------------------------

EVALUATED = date(2009, 2, 4)
PRESCRIBED, STARTED = date(2009, 2, 6), date(2009, 2, 7)
TRAINING_STORY: list[Fact] = [
    (
        "language_evaluation",
        {"evaluated_on": EVALUATED.isoformat(), "oral_score": 20, "written_score": 20,
         "evaluator": "OFII Rabat"},
        EVALUATED,
    ),
    (
        "values_evaluation",
        {"evaluated_on": EVALUATED.isoformat(), "language_used": "ar", "questions_asked": 6,
         "correct_answers": 6, "evaluator": "OFII Rabat"},
        EVALUATED,
    ),
    (
        "training_prescribed",
        {"kind": "language", "hours": 120, "provider": "Institut",
         "notified_on": PRESCRIBED.isoformat()},
        PRESCRIBED,
    ),
    ("training_started", {"kind": "language", "started_on": STARTED.isoformat()}, STARTED),
]  # fmt: skip
SESSION_1, SESSION_2 = date(2009, 2, 3), date(2009, 2, 4)
SKILLS_STORY: list[Fact] = [
    (
        "skills_assessment_convened",
        {"session_id": "S0", "session_on": SESSION_1.isoformat(), "platform": "OFII Paris"},
        SESSION_1,
    ),
    (
        "absence",
        {"service": "skills_assessment", "absent_on": SESSION_1.isoformat(),
         "legitimate_reason": None},
        SESSION_1,
    ),
    (
        "skills_assessment_convened",
        {"session_id": "S1", "session_on": SESSION_2.isoformat(), "platform": "OFII Paris"},
        SESSION_2,
    ),
]  # fmt: skip


@pytest.mark.rule("core")
@pytest.mark.parametrize(
    ("kind_index", "story", "late", "waits"),
    [
        # The provider's start arrives on 7 February, the consulate's prescription of
        # 6 February only on 8 February: the start waits for it (B7: no training prescribed).
        pytest.param(
            0,
            TRAINING_STORY,
            {"training_prescribed": date(2009, 2, 8)},
            "B7: kind: no language training was prescribed",
            marks=pytest.mark.rule("B7"),
        ),
        # The second convocation arrives on 4 February, the absence from the first session
        # (3 February) on 5 February: the convocation waits for it (H1: one is pending).
        pytest.param(
            1,
            SKILLS_STORY,
            {"absence": date(2009, 2, 5)},
            "H1: session_id: already convened to session S0",
            marks=pytest.mark.rule("H1"),
        ),
    ],
    ids=["visa-start-before-prescription", "cai-convocation-before-absence"],
)
def test_a_fact_arriving_before_what_it_rests_on_is_held_then_taken_in(
    kind_index: int, story: list[Fact], late: dict[str, date], waits: str
) -> None:
    core, raw, workflow_id = KINDS[kind_index]
    in_order, _ = _run(core, raw, workflow_id, _in_date_order(story))
    arrivals = sorted(
        ((fact, late.get(fact[0], fact[2])) for fact in story), key=lambda arrival: arrival[1]
    )
    before_ground = arrivals[:-1]  # all but the fact the held one rests on
    waiting, _ = _run(core, raw, workflow_id, before_ground)
    [held] = waiting.held_inputs
    assert held.reason.startswith(waits) and waiting.rejected_inputs == []
    assert held.seq not in {fact.seq for fact in waiting.facts}
    arrived, refused = _run(core, raw, workflow_id, arrivals)
    assert refused == [] and arrived.held_inputs == []
    last = max(day for _, day in arrivals)
    in_order, arrived = _until(core, in_order, last), _until(core, arrived, last)
    assert _state(arrived) == _state(in_order)
    assert _in_effect(arrived) == _in_effect(in_order)
