"""The contract's JSON Schemas, generated from the models that check what the system takes in
and gives out:

    python -m tools.schemas            (or `make schemas`)

writes `docs/schema/`: for each workflow of the contract, its start input
(`<WorkflowType>.input.json`), the payload of each event it takes, `correct_event` included
(`<WorkflowType>.events.json`: an object of one property, the event's name, whose value is
its payload; `#/properties/<event>` is one event's schema) and the answer of its `state`
query (`<WorkflowType>.state.json`); and the details of a refused input (`rejection.json`).
A unit test (tests/unit/test_schemas.py) fails when a file differs from what this writes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from models.cai import CAI
from models.cai.events import CaiContractInput
from models.common import Rejection
from models.dossier_kind import DossierKind
from models.events import Correction, Event
from models.family import FAMILY
from models.family.events import CaiFamilyInput
from models.history import CORRECT_EVENT, catalogue
from models.visa import VISA
from models.visa.events import VisaApplicationInput

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "docs" / "schema"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMMAND = "python -m tools.schemas"


@dataclass(frozen=True)
class Workflow:
    """A dossier workflow of the contract: its type, its start input and its dossier kind."""

    workflow_type: str
    start_input: type[BaseModel]
    kind: DossierKind[Any]


WORKFLOWS = (
    Workflow("VisaApplication", VisaApplicationInput, VISA),
    Workflow("CaiContract", CaiContractInput, CAI),
    Workflow("CaiFamilyContract", CaiFamilyInput, FAMILY),
)


def _document(title: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """A schema file: the dialect and its title first, then pydantic's schema."""
    return {"$schema": DIALECT, **schema, "title": title}


def model_schema(model: type[BaseModel], title: str, *, answer: bool = False) -> dict[str, Any]:
    """A model's schema; `answer`: as the system writes it (computed fields included)."""
    mode: JsonSchemaMode = "serialization" if answer else "validation"
    return _document(title, model.model_json_schema(mode=mode))


# What the `state` query answers before the dossier opened (workflows/dossier.py, state_json).
NOT_OPEN = {
    "description": "The dossier before its first step: still opening, or its start rejected "
    "(`rejection` the reason).",
    "type": "object",
    "properties": {
        "stage": {"enum": ["opening", "rejected"]},
        "rejection": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["stage", "rejection"],
}


def state_schema(workflow: Workflow) -> dict[str, Any]:
    """The `state` query's answer: the dossier's state, or what stands before it opened."""
    state = workflow.kind.state_type
    keyed, definitions = models_json_schema(
        [(state, "serialization")], ref_template="#/$defs/{model}"
    )
    return _document(
        f"{workflow.workflow_type} state query",
        {"anyOf": [keyed[(state, "serialization")], NOT_OPEN], **definitions},
    )


def events_schema(workflow: Workflow) -> dict[str, Any]:
    """Every event the workflow takes, by name, with its payload's schema."""
    events: dict[str, type[Event]] = {**catalogue(workflow.kind), CORRECT_EVENT: Correction}
    keyed, definitions = models_json_schema(
        [(model, "validation") for model in events.values()],
        ref_template="#/$defs/{model}",
    )
    properties = {name: keyed[(model, "validation")] for name, model in events.items()}
    return _document(
        f"{workflow.workflow_type} events",
        {
            "description": "One event: its name as the signal's or the update's name, its "
            "payload as the only argument (docs/contract.md).",
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
            **definitions,
        },
    )


def schemas() -> dict[str, dict[str, Any]]:
    """File name → schema, every file of docs/schema/."""
    files: dict[str, dict[str, Any]] = {}
    for workflow in WORKFLOWS:
        name = workflow.workflow_type
        files[f"{name}.input.json"] = model_schema(workflow.start_input, f"{name} input")
        files[f"{name}.events.json"] = events_schema(workflow)
        files[f"{name}.state.json"] = state_schema(workflow)
    files["rejection.json"] = model_schema(
        Rejection, "Rejection: the details of a refused input", answer=True
    )
    return files


def rendered(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Writes every schema, and removes a file of the directory no schema names any more."""
    directory.mkdir(parents=True, exist_ok=True)
    files = schemas()
    for stale in directory.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, schema in files.items():
        path = directory / name
        path.write_text(rendered(schema), encoding="utf-8")
        written.append(path)
    return written


def main() -> int:
    for path in write():
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
