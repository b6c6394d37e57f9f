"""A dossier's state survives the JSON round trip of continue-as-new and of the `state`
query: the computed fields it shows are ignored on the way back in."""

from __future__ import annotations

from datetime import date

from models.cai.state import CaiState
from models.family.state import FamilyState
from models.visa.state import VisaState
from tests.unit.builders import (
    feed,
    language_evaluation,
    training_prescribed,
    training_started,
    values_evaluation,
)
from tests.unit.test_cai_rules import CONVENE, open_family, opened
from tests.unit.test_cai_rules import feed as feed_cai


def test_visa_state_round_trips() -> None:
    day = date(2009, 2, 20)
    state = feed(
        [
            language_evaluation(day, oral=20, written=10),
            values_evaluation(day, correct=2),
            training_prescribed(day),
            training_started(day),
            (
                "visa_decision",
                {
                    "decision": "refused",
                    "decided_on": "2009-02-21",
                    "grounds": ["evaluation_result"],
                },
            ),
        ]
    ).state
    assert state.rejected_inputs and state.language.training is not None
    assert VisaState.model_validate(state.model_dump(mode="json")) == state


def test_cai_states_round_trip() -> None:
    cai = feed_cai(opened(), CONVENE, day=date(2011, 1, 1)).state
    assert CaiState.model_validate(cai.model_dump(mode="json")) == cai
    family = open_family()
    assert FamilyState.model_validate(family.model_dump(mode="json")) == family
