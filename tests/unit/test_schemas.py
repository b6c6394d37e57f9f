"""The contract's JSON Schemas (docs/schema/) are those the models give, and they say what
the system really takes in and answers: every sample input and event, the TypeScript
client's payloads, a dossier's `state` and a rejection's details validate against them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import examples
from models.history import CORRECT_EVENT
from tests.unit.builders import FILED, feed, language_evaluation, training_prescribed
from tools.schemas import COMMAND, SCHEMA_DIR, WORKFLOWS, rendered, schemas

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "examples" / "client-ts"
WORKFLOW_OF_KIND = {
    "visa": "VisaApplication",
    "cai": "CaiContract",
    "cai-family": "CaiFamilyContract",
}


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return schema


def _errors(schema: dict[str, Any], instance: Any) -> list[str]:
    return [error.message for error in Draft202012Validator(schema).iter_errors(instance)]


def _event_errors(workflow_type: str, event: str, payload: Any) -> list[str]:
    return _errors(_schema(f"{workflow_type}.events.json"), {event: payload})


def test_the_schema_files_are_those_the_models_give() -> None:
    expected = schemas()
    on_disk = {path.name for path in SCHEMA_DIR.glob("*.json")}
    stale = sorted(
        name
        for name, schema in expected.items()
        if not (SCHEMA_DIR / name).is_file()
        or (SCHEMA_DIR / name).read_text(encoding="utf-8") != rendered(schema)
    )
    extra = sorted(on_disk - set(expected))
    assert not stale and not extra, (
        f"docs/schema/ is out of date ({', '.join(stale + extra)}): run `{COMMAND}`"
    )


@pytest.mark.parametrize("name", sorted(schemas()))
def test_every_schema_is_a_valid_2020_12_schema(name: str) -> None:
    Draft202012Validator.check_schema(_schema(name))


def test_every_event_of_every_kind_has_its_schema() -> None:
    for workflow in WORKFLOWS:
        properties = _schema(f"{workflow.workflow_type}.events.json")["properties"]
        assert set(properties) == {*workflow.kind.events, CORRECT_EVENT}


def test_the_sample_inputs_and_events_hold_to_the_schemas() -> None:
    for dossier in examples.load("demo/dossiers", run="r1", year="2009")["dossiers"]:
        workflow_type = WORKFLOW_OF_KIND[dossier["kind"]]
        assert _errors(_schema(f"{workflow_type}.input.json"), dossier["application"]) == []
    for sample in ("visa/combined_training_events", "visa/training_absence_lifecycle"):
        for name, payload in examples.events(examples.load(sample)):
            assert _event_errors("VisaApplication", name, payload) == [], name


def test_the_typescript_clients_payloads_hold_to_the_schemas() -> None:
    application = json.loads((CLIENT / "application.json").read_text(encoding="utf-8"))
    assert _errors(_schema("VisaApplication.input.json"), application) == []
    evaluation = json.loads((CLIENT / "language_evaluation.json").read_text(encoding="utf-8"))
    assert _event_errors("VisaApplication", "language_evaluation", evaluation) == []


def test_the_schemas_refuse_what_the_contract_refuses() -> None:
    assert _event_errors("VisaApplication", "no_such_event", {}) != []
    assert _event_errors("VisaApplication", "language_evaluation", {"evaluated_on": "x"}) != []
    assert _errors(_schema("CaiContract.input.json"), {"contract_id": "C-1"}) != []


def test_the_state_and_a_rejection_hold_to_their_schemas() -> None:
    day = FILED + timedelta(days=10)
    step = feed([language_evaluation(day, oral=20, written=10), training_prescribed(day, hours=30)])
    assert step.rejection is not None and step.rejection.rule == "D3"
    state = step.state.model_dump(mode="json")
    assert _errors(_schema("VisaApplication.state.json"), state) == []
    assert (
        _errors(_schema("VisaApplication.state.json"), {"stage": "opening", "rejection": None})
        == []
    )
    details = step.rejection.model_dump(mode="json")
    assert set(details) == {"event", "received_at", "reason", "rule", "field", "seq"}
    assert _errors(_schema("rejection.json"), details) == []
