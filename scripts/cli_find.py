"""`dossiers find NAME BIRTH_DATE`: the dossiers of a person, found by the keyed hash the
workers put in `PersonKeys` (models/person_search.py), with their Web UI links.

The command holds PERSON_SEARCH_KEY as the workers do; without it a hash names nobody.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from temporalio import workflow as temporal_workflow
from temporalio.client import Client
from temporalio.service import RPCError

from models.operator_text import Language, cli_text, format_date, stage_label
from models.person_search import person_key
from scripts.cli_errors import CommandError
from scripts.cli_output import Output
from workers.codec import PayloadKeyError
from workers.settings import Settings
from workflows import WORKFLOWS
from workflows import search_attributes as sa

COMMAND = "find"
LIMIT = 100

# The dossier kind of each dossier workflow type, whose stages the table names.
_VIEW_KINDS = {
    temporal_workflow._Definition.must_from_class(cls).name: cls.dossier_kind.kind
    for cls in WORKFLOWS
    if hasattr(cls, "dossier_kind")
}


def add_command(commands: Any, output: argparse.ArgumentParser) -> None:
    """`find`, with the `output` options (`--json`, `--lang`)."""
    find = commands.add_parser(
        COMMAND,
        parents=[output],
        help="find a person's dossiers by name and birth date (PERSON_SEARCH_KEY)",
    )
    find.add_argument("name", metavar="NAME", help="as written on the file; accents and case aside")
    find.add_argument(
        "birth_date", type=birth_date, metavar="BIRTH_DATE", help="YYYY-MM-DD or DD/MM/YYYY"
    )


def birth_date(text: str) -> date:
    for form in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), form).date()
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"{text!r}: expected YYYY-MM-DD or DD/MM/YYYY")


def person_query(settings: Settings, name: str, born: date) -> str:
    """The visibility query that finds the person (`PersonKeys = "…"`)."""
    try:
        secret = settings.person_search_secret()
    except PayloadKeyError as error:
        raise CommandError(str(error)) from None
    return f'{sa.PERSON_KEYS.name} = "{person_key(secret, name, born)}"'


def web_ui_link(settings: Settings, workflow_id: str) -> str:
    base = settings.temporal_ui_url.rstrip("/")
    return f"{base}/namespaces/{quote(settings.temporal_namespace)}/workflows/{quote(workflow_id)}"


async def run(args: argparse.Namespace, client: Client, settings: Settings) -> Output:
    """The person's dossiers: a table for a person, a list of objects with `--json`."""
    query = person_query(settings, args.name, args.birth_date)
    language = settings.operator_language
    rows = []
    found: list[dict[str, str | None]] = []
    try:
        async for execution in client.list_workflows(query, limit=LIMIT):
            attributes = execution.typed_search_attributes
            stage = attributes.get(sa.DOSSIER_STAGE)
            deadline = attributes.get(sa.NEXT_DEADLINE)
            view_kind = _VIEW_KINDS.get(execution.workflow_type, "")
            found.append(
                {
                    "workflow_id": execution.id,
                    "workflow_type": execution.workflow_type,
                    "stage": stage,
                    "next_deadline": deadline.date().isoformat() if deadline else None,
                    "web_ui": web_ui_link(settings, execution.id),
                }
            )
            rows.append(
                (
                    execution.id,
                    execution.workflow_type,
                    stage_label(view_kind, stage, language) if stage else "-",
                    format_date(deadline.date(), language) if deadline else "-",
                    web_ui_link(settings, execution.id),
                )
            )
    except RPCError as error:
        raise CommandError(f"find failed: {error.message}") from None
    if not rows:
        return Output(found, cli_text("nobody_found", language))
    return Output(found, table(rows, language))


def table(rows: list[tuple[str, str, str, str, str]], language: Language) -> str:
    names = ("workflow_id", "kind_column", "dossier_stage", "next_deadline_column", "web_ui_column")
    header = tuple(cli_text(name, language) for name in names)
    lines = [header, *rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
