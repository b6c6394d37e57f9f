"""The worker passes every module through the sandbox instead of importing it again for each
workflow (docs/design.md, "Performance"), so the sandbox's proxies no longer stand between workflow
code and the clock or the dice: this scan does. The durable shell and the functional core
never read the time, draw at random or do I/O themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ["workflows", "models"]

# Attribute calls that read the outside world (the shell has workflow.now(), the core is
# handed the day and the instant).
FORBIDDEN_ATTRIBUTES = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "sleep"),
    ("uuid", "uuid1"),
    ("uuid", "uuid4"),
    ("os", "getenv"),
    ("os", "environ"),
}
FORBIDDEN_MODULES = {"random", "secrets", "socket", "requests", "httpx", "asyncpg", "subprocess"}
FORBIDDEN_NAMES = {"open", "input"}


def _sources() -> list[Path]:
    return sorted(path for folder in SCANNED for path in (ROOT / folder).rglob("*.py"))


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in FORBIDDEN_ATTRIBUTES:
                found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in FORBIDDEN_NAMES:
                found.append(f"{path.name}:{node.lineno} {node.func.id}()")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names]
            modules = [node.module] if isinstance(node, ast.ImportFrom) and node.module else names
            for module in modules:
                if module.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"{path.name}:{node.lineno} import {module}")
    return found


@pytest.mark.rule("core")
def test_workflow_and_core_code_reads_no_clock_no_dice_no_io() -> None:
    assert _sources(), "nothing scanned"
    offences = [offence for path in _sources() for offence in _offences(path)]
    assert offences == []


@pytest.mark.rule("core")
def test_the_scan_bites(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import random\nfrom datetime import datetime\nx = datetime.now()\n")
    assert len(_offences(sample)) == 2
