"""Fuzzing the core: hypothesis-generated payloads for every event of every dossier kind
(and corrections), fed in any order. Whatever arrives, each input is either accepted or
refused with a rule, the dossier is never left in a state that does not load, and nothing
escapes as a crash. `FUZZ_EXAMPLES` sets the count (500 in CI; `make fuzz` runs 10,000)."""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import history
from models.cai import CAI
from models.dossier_kind import DossierKind
from models.family import FAMILY
from models.history import CORRECT_EVENT
from models.reference import default_reference_data, merge_reference_data
from models.visa import VISA
from tests.unit.builders import application
from tests.unit.test_cai_rules import SIGNED, contract, family

REFERENCE = merge_reference_data(default_reference_data(), {})
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "500"))
OPENED_ON = date(2009, 2, 2)

# Values an upstream system might send, well-formed or not.
DAYS = st.dates(min_value=date(2008, 1, 1), max_value=date(2011, 12, 31)).map(date.isoformat)
TEXTS = st.text(max_size=40) | st.sampled_from(["", "x" * 600, "a\x00b", "a\u200bb", "\u202e"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-5, max_value=5000)
    | st.floats(allow_nan=True, allow_infinity=True)
    | DAYS
    | TEXTS
    | st.sampled_from(
        ["language", "values", "issued", "refused", "P1", "P2", "C1", "skills_assessment",
         "already_employed", "country_situation", "ar", "fr", "training_not_followed"]
    )
)  # fmt: skip
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=6)

KINDS: list[tuple[DossierKind[Any], dict[str, Any], str]] = [
    (VISA, application(visa_application_date=None), "visa-RBT-2009-000123"),
    (CAI, contract(), f"cai-{contract()['contract_id']}"),
    (FAMILY, family(), f"caif-{family()['contract_id']}"),
]


def _fields(core: DossierKind[Any], name: str) -> list[str]:
    if name == CORRECT_EVENT:
        return ["seq", "payload", "reason", "corrected_on"]
    return list(core.events[name].model.model_fields)


# Well-formed payloads of the visa events, which the fuzzer mutates one field at a time so
# that it also reaches the rules behind the parsing.
DAY = "2009-02-20"
VALID: dict[str, dict[str, Any]] = {
    "visa_application_filed": {"filed_on": DAY},
    "evaluation_absence": {"kind": "language", "absent_on": DAY, "legitimate_reason": None},
    "language_test_exemption": {
        "decided_on": DAY, "ground": "higher_education_france_1y", "evidence_ref": "E"
    },
    "language_evaluation": {
        "evaluated_on": DAY, "oral_score": 20, "written_score": 10, "evaluator": "OFII"
    },
    "values_evaluation": {
        "evaluated_on": DAY, "language_used": "ar", "questions_asked": 6,
        "correct_answers": 3, "evaluator": "OFII",
    },
    "training_prescribed": {"kind": "language", "hours": 120, "provider": "P", "notified_on": DAY},
    "training_exemption": {
        "decided_on": DAY, "trainings": ["values"], "ground": "country_situation",
        "detail": "d", "evidence_ref": "E",
    },
    "training_started": {"kind": "language", "started_on": DAY},
    "training_absence": {"kind": "language", "absent_on": DAY, "legitimate_reason": None},
    "training_completed": {
        "kind": "language", "completed_on": DAY, "hours_attended": 100, "attestation_ref": "A"
    },
    "visa_decision": {
        "decision": "refused", "decided_on": DAY, "grounds": ["training_not_followed"]
    },
    "correct_event": {"seq": 2, "payload": None, "reason": "r", "corrected_on": DAY},
}  # fmt: skip


@st.composite
def inputs(draw: st.DrawFn, core: DossierKind[Any]) -> tuple[str, Any, date]:
    """An event of the kind (or an unknown one), its payload, and the day it arrives."""
    name = draw(st.sampled_from([*history.event_names(core), "no_such_event"]))
    fields = _fields(core, name) if name != "no_such_event" else ["x"]
    keys = st.sampled_from([*fields, "unexpected"])
    random_payload = st.one_of(
        st.dictionaries(keys, VALUES, max_size=len(fields) + 1),
        VALUES,  # not even an object
    )
    if core is VISA and name in VALID:
        valid = VALID[name]
        mutated = st.builds(
            lambda key, value, keep: valid if keep else {**valid, key: value},
            st.sampled_from([*valid, "unexpected"]),
            VALUES | DAYS,
            st.booleans(),
        )
        payload = draw(st.one_of(mutated, random_payload))
    else:
        payload = draw(random_payload)
    arrives = OPENED_ON + timedelta(days=draw(st.integers(min_value=0, max_value=900)))
    return name, payload, arrives


def _check(core: DossierKind[Any], raw: dict[str, Any], workflow_id: str, data: Any) -> None:
    opened_on = SIGNED if core is not VISA else OPENED_ON
    state = history.open_dossier(core, raw, REFERENCE, opened_on, workflow_id).state
    for name, payload, arrives in data:
        day = max(arrives, state.clock)
        step = history.receive(core, state, name, payload, REFERENCE, day, f"{day}T09:00:00Z")
        assert step.state.seq == state.seq + 1
        if step.rejection is not None:
            assert step.rejection.rule, step.rejection  # every refusal names its rule
            assert step.notifications == []
        # Whatever happened, the state still loads as continue-as-new carries it.
        reloaded = core.state_type.model_validate(step.state.model_dump(mode="json"))
        assert reloaded.seq == step.state.seq
        state = step.state
        timer = history.due_timer(core, state)
        if timer is not None and timer.fire_on <= day + timedelta(days=30):
            state = history.on_deadline(core, state, timer.fire_on).state
    core.view(state)


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(st.lists(inputs(VISA), min_size=1, max_size=6))
def test_no_visa_input_escapes_as_a_crash(data: list[tuple[str, Any, date]]) -> None:
    core, raw, workflow_id = KINDS[0]
    _check(core, raw, workflow_id, data)


@FUZZ
@given(st.lists(inputs(CAI), min_size=1, max_size=6))
def test_no_cai_input_escapes_as_a_crash(data: list[tuple[str, Any, date]]) -> None:
    core, raw, workflow_id = KINDS[1]
    _check(core, raw, workflow_id, data)


@FUZZ
@given(st.lists(inputs(FAMILY), min_size=1, max_size=6))
def test_no_family_input_escapes_as_a_crash(data: list[tuple[str, Any, date]]) -> None:
    core, raw, workflow_id = KINDS[2]
    _check(core, raw, workflow_id, data)
