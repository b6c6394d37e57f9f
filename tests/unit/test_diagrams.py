"""The operator's guide's diagrams hold to the code: each dossier kind's state diagram names every
stage of that kind's stage enum and no other, each of its transitions cites the rules it
applies, and the timeline of part I's delays is the one `tools.diagrams` computes from
`models.visa.delays` and the calendar."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest

from models.cai import CaiStage
from models.family import FamilyStage
from models.visa import Stage
from tools.diagrams import delays_gantt

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "operators.md"

# A state diagram says which enum it draws with a mermaid comment: `%% stages: <enum>`.
KINDS: dict[str, type[StrEnum]] = {
    "models.visa.Stage": Stage,  # as the guide names the enum it draws
    "models.cai.CaiStage": CaiStage,
    "models.family.FamilyStage": FamilyStage,
}
START_OR_END = "[*]"
TRANSITION = re.compile(r"^(\S+)\s*-->\s*(\S+)\s*(?::\s*(.*))?$")
RULE_ID = re.compile(r"\b[A-J][1-9]\b")


def mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```", text, re.DOTALL | re.MULTILINE)


def stage_diagrams() -> dict[str, str]:
    diagrams: dict[str, str] = {}
    for block in mermaid_blocks(GUIDE.read_text(encoding="utf-8")):
        found = re.search(r"^\s*%%\s*stages:\s*(\S+)\s*$", block, re.MULTILINE)
        if found is not None:
            assert found.group(1) not in diagrams, f"two diagrams of {found.group(1)}"
            diagrams[found.group(1)] = block
    return diagrams


def transitions(block: str) -> list[tuple[str, str, str]]:
    """(from, to, label) of each arrow of a `stateDiagram-v2` block."""
    found = []
    for line in block.splitlines():
        matched = TRANSITION.match(line.strip())
        if matched is not None:
            source, target, label = matched.groups()
            found.append((source, target, label or ""))
    return found


def states_named(block: str) -> set[str]:
    """The states a diagram draws: the ends of its arrows and its `state` declarations."""
    names = {end for source, target, _ in transitions(block) for end in (source, target)}
    names |= set(re.findall(r"^\s*state\s+(\w+)", block, re.MULTILINE))
    return names - {START_OR_END}


def test_each_dossier_kind_has_its_state_diagram() -> None:
    assert set(stage_diagrams()) == set(KINDS)


@pytest.mark.parametrize("enum_name", sorted(KINDS))
def test_a_state_diagram_names_exactly_the_stages_of_its_kind(enum_name: str) -> None:
    block = stage_diagrams()[enum_name]
    named = states_named(block)
    stages = {stage.value for stage in KINDS[enum_name]}
    assert not stages - named, f"stages missing from the diagram: {sorted(stages - named)}"
    assert not named - stages, f"the diagram names no such stage: {sorted(named - stages)}"


@pytest.mark.parametrize("enum_name", sorted(KINDS))
def test_each_transition_cites_its_rules(enum_name: str) -> None:
    for source, target, label in transitions(stage_diagrams()[enum_name]):
        if target == START_OR_END:
            continue  # a closed stage ends the dossier; nothing happens there
        assert RULE_ID.search(label), f"{source} --> {target} cites no rule: {label!r}"


def test_the_timeline_of_delays_is_computed_from_the_rules() -> None:
    assert delays_gantt() in mermaid_blocks(GUIDE.read_text(encoding="utf-8")), (
        "docs/operators.md's timeline of part I's delays differs from `python -m tools.diagrams`"
    )


def test_the_parser_reads_the_states_at_both_ends_of_each_arrow() -> None:
    block = "stateDiagram-v2\n    [*] --> in_progress : signed (G1)\n    in_progress --> nowhere\n"
    assert states_named(block) == {"in_progress", "nowhere"}
