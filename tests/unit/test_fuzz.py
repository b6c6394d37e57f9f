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
from models.reference import default_reference_data, merge_reference_data
from models.visa import VISA
from tools.fuzz_inputs import KINDS, OPENED_ON, inputs

REFERENCE = merge_reference_data(default_reference_data(), {})
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "500"))


def _check(core: DossierKind[Any], raw: dict[str, Any], workflow_id: str, data: Any) -> None:
    state = history.open_dossier(core, raw, REFERENCE, OPENED_ON, workflow_id).state
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
