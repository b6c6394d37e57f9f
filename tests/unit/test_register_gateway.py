"""Every statement on the register's dossier tables goes through one gateway
(`activities/register_gateway.py`): no other module of the system writes SQL on `dossier`,
`dossier_event` or `notification`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The product. The tools (chaos, fuzz, outage) read the register after breaking the system
# to check what it kept, as the tests do: theirs is assertion SQL, not the system's.
SCANNED = ("activities", "workers", "scripts")
GATEWAY = Path("activities/register_gateway.py")

# SQL is written in capitals in this code base; prose ("the notification from ...") is not.
_SQL_ON_REGISTER = re.compile(
    r"\b(?:FROM|INTO|UPDATE|JOIN|USING|TABLE)\s+(?:dossier|dossier_event|notification)\b"
)


def sql_on_register(source: str) -> list[tuple[int, str]]:
    """(line, statement) of each string literal of `source` with SQL on the three tables."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _SQL_ON_REGISTER.search(node.value)
            if match:
                found.append((node.lineno, match.group(0)))
    return found


def test_the_scan_sees_sql_in_any_string_and_not_prose() -> None:
    source = (
        '"""Reads the notification from the register."""\n'
        'QUERY = """SELECT 1\n    FROM notification n"""\n'
        'other = f"UPDATE dossier_event SET x = {1}"\n'
        'prose = "the dossier into its next stage"\n'
    )
    assert [statement for _, statement in sql_on_register(source)] == [
        "FROM notification",
        "UPDATE dossier_event",
    ]


def test_no_sql_on_the_register_outside_its_gateway() -> None:
    found = [
        f"{path}:{line}: {statement}"
        for folder in SCANNED
        for file in sorted((ROOT / folder).rglob("*.py"))
        if (path := file.relative_to(ROOT)) != GATEWAY
        for line, statement in sql_on_register(file.read_text(encoding="utf-8"))
    ]
    assert found == [], "SQL on dossier, dossier_event or notification belongs in " + str(GATEWAY)


def test_the_gateway_holds_the_register_statements() -> None:
    assert sql_on_register((ROOT / GATEWAY).read_text(encoding="utf-8"))
