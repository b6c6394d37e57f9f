"""Hypothesis strategies for fuzzing the dossiers: every event of every kind (and
corrections), with payloads well-formed, mutated one field at a time, or not even objects.
The unit tests feed them to the core (tests/unit/test_fuzz.py), `make fuzz` to the core and
then as signals to a live stack (`tools.fuzz`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

import examples
from models import history
from models.cai import CAI
from models.dossier_kind import DossierKind
from models.family import FAMILY
from models.history import CORRECT_EVENT
from models.visa import VISA

# A dossier kind: its core, a valid start input, its workflow id.
Kind = tuple[DossierKind[Any], dict[str, Any], str]
# The day every sample dossier opens (examples are dated as of this day).
OPENED_ON = examples.EXAMPLES_DAY

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


def _kind(core: DossierKind[Any], raw: dict[str, Any], prefix: str) -> Kind:
    reference = raw.get("application_id") or raw["contract_id"]
    return core, raw, f"{prefix}-{reference}"


# One valid start input per kind, dated OPENED_ON; the visa one not filed yet, so that its
# filing is one of the inputs.
KINDS: list[Kind] = [
    _kind(
        VISA,
        {**examples.load("visa/family_reunification"), "visa_application_date": None},
        "visa",
    ),
    _kind(CAI, examples.load("cai/contract"), "cai"),
    _kind(FAMILY, examples.load("family/contract"), "caif"),
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
