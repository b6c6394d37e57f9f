"""The CLI's view of delivery (docs/contract.md, "Delivery"): what has not
reached its recipient, a redelivery after a route was fixed, and a notification's document.

How each notification stands is read from the register, where the postmen record it:
most are delivered without a workflow of their own; the `NotificationDelivery` workflows
(retrying, refused) are in the Web UI too."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.client import Client

from activities.database import connect
from activities.delivery import redeliver
from activities.documents import load_document, verify_code
from activities.register_gateway import delivery_states, document_digest
from models.documents import NATIVE_NAME_OMITTED
from models.operator_text import DEFAULT_LANGUAGE, DELIVERY_OUTCOMES, Language, cli_text
from scripts.cli_errors import CommandError, NotVerified
from scripts.cli_output import Output
from workers.codec import PayloadKeyError
from workers.postgres import database_url
from workers.settings import Settings


def add_commands(commands: Any, output: argparse.ArgumentParser) -> None:
    """The delivery commands, each with the `output` options (`--json`, `--lang`)."""
    notes = commands.add_parser(
        "notifications", parents=[output], help="list the deliveries and how they stand"
    )
    notes.add_argument("workflow_id", nargs="?", metavar="WORKFLOW_ID", help="of one dossier")
    notes.add_argument(
        "--undelivered", action="store_true", help="only those waiting, retried or refused"
    )
    notes.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    again = commands.add_parser(
        "redeliver", parents=[output], help="deliver a notification again, once its route is fixed"
    )
    again.add_argument("workflow_id", metavar="WORKFLOW_ID")
    again.add_argument(
        "key", metavar="KEY", help="the notification's key, e.g. 000001.invitation.applicant"
    )
    document = commands.add_parser(
        "document",
        parents=[output],
        help="write a notification's PDF document (reads the register)",
    )
    document.add_argument("workflow_id", metavar="WORKFLOW_ID")
    document.add_argument("key", metavar="KEY")
    document.add_argument("--output", "-o", type=Path, required=True, metavar="FILE.pdf")
    verify = commands.add_parser(
        "verify", parents=[output], help="check a letter's verification code against the register"
    )
    verify.add_argument(
        "reference", metavar="REFERENCE", help="the application or contract id printed on it"
    )
    verify.add_argument("code", metavar="CODE", help="the code printed on it, e.g. ABCD-EFGH-IJKL")


async def deliveries(
    settings: Settings,
    workflow_id: str | None,
    limit: int,
    *,
    undelivered: bool,
    language: Language = DEFAULT_LANGUAGE,
) -> Output:
    """One per notification, as the register says it stands: delivered (when, where),
    waiting for a postman, retried by its `NotificationDelivery` workflow, or refused
    (until `dossiers redeliver`); a failure says its status only (an answer may quote the
    letter); a letter made otherwise than asked says why (a native name to add by hand)."""
    url = await asyncio.to_thread(database_url, settings)
    connection = await connect(url)
    try:
        rows = await delivery_states(connection, workflow_id, undelivered=undelivered, limit=limit)
    finally:
        await connection.close()
    found = [
        {
            "workflow_id": row["workflow_id"],
            "key": row["key"],
            "kind": row["kind"],
            "recipient": row["recipient"],
            "status": row["state"],
            "since": (row["delivered_at"] or row["created_at"]).isoformat(timespec="seconds"),
            "endpoint": row["delivery_endpoint"],
            "error": row["error"],
            "document_note": row["document_note"],
        }
        for row in rows
    ]
    lines = [
        f"{item['workflow_id']}  {item['key']}  {DELIVERY_OUTCOMES[item['status']].text(language)}"
        f"  {cli_text('since', language, date=item['since'])}"
        + (f"  {item['endpoint']}" if item["endpoint"] else "")
        + (f"  ({item['error']})" if item["error"] and item["status"] != "delivered" else "")
        + (
            f"  [{_document_note(item['document_note'], language)}]"
            if item["document_note"]
            else ""
        )
        for item in found
    ]
    none = cli_text("all_delivered" if undelivered else "no_delivery", language)
    return Output(found, "\n".join(lines) or none)


def _document_note(note: str, language: Language) -> str:
    """Why a letter was made otherwise than asked, in the operator's language."""
    return cli_text("native_name_omitted", language) if note == NATIVE_NAME_OMITTED else note


async def write_document(settings: Settings, workflow_id: str, key: str, output: Path) -> Output:
    """The document kept with a notification (made when it was first delivered)."""
    url = await asyncio.to_thread(database_url, settings)
    connection = await connect(url)
    try:
        sha256 = await document_digest(connection, workflow_id, key)
        content = await load_document(connection, sha256) if sha256 else None
    finally:
        await connection.close()
    if content is None:
        raise CommandError(
            f"{workflow_id} {key}: no document (not a letter, not delivered yet, or erased)"
        )
    output.write_bytes(content)
    written = {"output": str(output), "bytes": len(content), "sha256": sha256}
    return Output(written, f"{output}: {len(content)} bytes, sha256 {sha256}")


# A reference is an application id or a contract id: the dossiers it may name.
DOSSIER_PREFIXES = ("visa-", "cai-", "caif-")


async def verify_document(settings: Settings, reference: str, code: str) -> Output:
    """Whether a document presented with `reference` and `code` is one the system issued,
    with its content as issued; the register answers, so an agent needs no database."""
    url = await asyncio.to_thread(database_url, settings)
    connection = await connect(url)
    try:
        found = await verify_code(
            connection,
            [prefix + reference for prefix in DOSSIER_PREFIXES],
            code,
            settings.document_verification_secret(),
        )
    finally:
        await connection.close()
    language = settings.operator_language
    if found is None:
        raise NotVerified(cli_text("not_verified", language, reference=reference))
    shown = {
        "kind": found.kind,
        "date": found.issued_on.isoformat(),
        "recipient": found.recipient,
        "holder": found.holder,
        "workflow_id": found.workflow_id,
        "key": found.key,
    }
    lines = [cli_text("verified", language, **shown)]
    if not found.covers_content:
        lines.append(cli_text("verified_key_only", language, **shown))
    verified = {"verified": True, **shown, "covers_content": found.covers_content}
    return Output(verified, "\n".join(lines))


async def run_on_register(args: argparse.Namespace, settings: Settings) -> Output:
    """The commands that read the register only (`notifications`, `document`, `verify`)."""
    try:
        if args.command == "notifications":
            return await deliveries(
                settings,
                args.workflow_id,
                args.limit,
                undelivered=args.undelivered,
                language=settings.operator_language,
            )
        if args.command == "document":
            return await write_document(settings, args.workflow_id, args.key, args.output)
        return await verify_document(settings, args.reference, args.code)
    except PayloadKeyError as error:
        # The verification key is derived from the payload keys unless DOCUMENT_SECRET is set.
        raise CommandError(f"no payload keys: {error} (or DOCUMENT_SECRET)") from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise CommandError(
            f"cannot reach the register: {reason}; set DATABASE_URL (with `make run`, run "
            "from the project's directory)"
        ) from None


async def run(args: argparse.Namespace, client: Client, settings: Settings) -> Output:
    """The output of a delivery command that talks to Temporal."""
    if args.command != "redeliver":
        raise CommandError(f"{args.command}: not a command of this version")
    handle = await redeliver(client, settings.documents_task_queue, args.workflow_id, args.key)
    started = {"workflow_id": handle.id, "run_id": handle.result_run_id}
    return Output(started, cli_text("redelivering", settings.operator_language, **started))
