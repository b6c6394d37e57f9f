"""The command line of integrators and operators: `dossiers ...` (`python -m scripts.cli`).

    submit FILE.json [--kind visa]        start a dossier, show it once it is open
    send WORKFLOW_ID EVENT (-i FILE | --data JSON) [--signal]
                                          send an event as an update (or a signal)
    show WORKFLOW_ID                      show the dossier (the `state` query)
    list [--query Q] [--limit N]          list dossiers with their search attributes
    find NAME BIRTH_DATE                  a person's dossiers (scripts/cli_find.py)

Each prints text for a person in the operator's language (`--lang`, DOSSIERS_LANG,
OPERATOR_LANGUAGE, LANG), or JSON with `--json`; `-` as a file reads stdin. It reads
TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and TEMPORAL_TASK_QUEUE like the worker.
Exit codes: 0 done (an event already applied included: a `duplicate`); 1 could not do it
(unreadable file, a service unreachable, no such workflow, no worker answering); 2 usage
error; 3 the system refused the input, with its reason on stderr (and its details on
stdout with `--json`).

`submit_application` and `send_event` are the functions `scripts.demo` reuses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributeKey,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from models.operator_text import (
    CAI,
    DEFAULT_LANGUAGE,
    FAMILY,
    VISA,
    Label,
    Language,
    awaited_label,
    cli_text,
    deadline_label,
    event_label,
    format_date,
    format_value,
    stage_label,
    status_label,
)
from scripts import cli_codec, cli_delivery, cli_find
from scripts.cli_errors import DUPLICATE, CommandError, Rejected
from scripts.cli_output import (
    Output,
    language_option,
    operator_language,
    output_options,
    render,
    to_json,
)
from workers.client import connect, exit_process
from workers.codec import PayloadKeyError
from workers.settings import Settings, SettingsError

# As command-line tools do: 0 done, 1 could not do it, 2 a usage error (argparse's own),
# 3 the system refused the input (the reason names the rule and the field).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3
# The commands that read the register only: they run where Temporal is out of reach (an
# agent at a counter checking a letter).
REGISTER_ONLY = frozenset({"document", "verify", "notifications"})

INPUT_REJECTED = "InputRejected"
"""The ApplicationError type of a rejected update (docs/contract.md, "Events")."""

OPEN_TIMEOUT = 30.0
"""How long `submit` waits for the worker to open the dossier (its first activities)."""
QUERY_RPC_TIMEOUT = timedelta(seconds=5)
UPDATE_TIMEOUT = 60.0
"""How long `send` waits for an update's answer; without a worker it would wait for ever."""

# The contract's search attributes, read as any upstream system would: by name.
DOSSIER_STAGE = SearchAttributeKey.for_keyword("DossierStage")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
OVERDUE = SearchAttributeKey.for_bool("Overdue")


@dataclass(frozen=True)
class DossierKind:
    """A workflow kind of the contract that can be started from a JSON file.

    `summary` is a format template over the input's top-level fields and `details` names
    the fields shown in the Web UI, each in the operator's language: both are stored
    unencrypted, so they must never name a field holding personal data (names, birth
    dates). `view_kind` is the dossier kind whose stages and delays the tables name.
    """

    name: str
    workflow_type: str
    id_prefix: str
    id_field: str
    summary: Label
    details: tuple[tuple[Label, str], ...]
    view_kind: str

    def workflow_id(self, reference: str) -> str:
        return f"{self.id_prefix}-{reference}"


# One row per workflow kind of the contract.
KINDS: dict[str, DossierKind] = {
    kind.name: kind
    for kind in (
        DossierKind(
            name="visa",
            workflow_type="VisaApplication",
            id_prefix="visa",
            id_field="application_id",
            summary=Label(
                "Visa · {procedure} · {consulate} ({country_of_residence}) · {application_id}",
                "Visa · {procedure} · {consulate} ({country_of_residence}) · {application_id}",
            ),
            details=(
                (Label("Procédure", "Procedure"), "procedure"),
                (Label("Consulat", "Consulate"), "consulate"),
                (Label("Pays de résidence", "Country of residence"), "country_of_residence"),
                (Label("Préfecture", "Prefecture"), "prefecture"),
                (Label("Demande de visa (B4)", "Visa application (B4)"), "visa_application_date"),
                (Label("Dossier complet (B1)", "Complete file (B1)"), "complete_file_date"),
            ),
            view_kind=VISA,
        ),
        DossierKind(
            name="cai",
            workflow_type="CaiContract",
            id_prefix="cai",
            id_field="contract_id",
            summary=Label(
                "CAI · {prefecture} · {platform} · {contract_id}",
                "CAI · {prefecture} · {platform} · {contract_id}",
            ),
            details=(
                (Label("Préfecture", "Prefecture"), "prefecture"),
                (Label("Plateforme", "Platform"), "platform"),
                (Label("Signé le (H5)", "Signed on (H5)"), "signed_on"),
                (Label("Titre de séjour (H2)", "Residence permit (H2)"), "residence_permit_basis"),
                (Label("Demande de visa", "Visa application"), "visa_application_id"),
            ),
            view_kind=CAI,
        ),
        DossierKind(
            name="cai-family",
            workflow_type="CaiFamilyContract",
            id_prefix="caif",
            id_field="contract_id",
            summary=Label(
                "CAI pour la famille · {prefecture} · {platform} · {contract_id}",
                "CAI for the family · {prefecture} · {platform} · {contract_id}",
            ),
            details=(
                (Label("Préfecture", "Prefecture"), "prefecture"),
                (Label("Plateforme", "Platform"), "platform"),
                (Label("Signé le (G1)", "Signed on (G1)"), "signed_on"),
            ),
            view_kind=FAMILY,
        ),
    )
}
DEFAULT_KIND = "visa"


# --- what the demo and other scripts reuse -------------------------------------------------


def _plain(value: Any) -> str | None:
    """A scalar input value on one line, or None for anything else (objects may hold
    personal data and have no place in a one-line summary)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return re.sub(r"\s+", " ", str(value)).strip() or None


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def static_summary(
    kind: DossierKind, application: Mapping[str, Any], language: Language = DEFAULT_LANGUAGE
) -> str:
    """The one-line summary of the Web UI in the operator's language, e.g. `Visa ·
    regroupement familial · Rabat (MA) · RBT-2009-000123`: codes in words, as in the details."""
    fields = _Fields(
        {
            key: format_value(text, language)
            for key, value in application.items()
            if (text := _plain(value)) is not None
        }
    )
    return kind.summary.text(language).format_map(fields)


def static_details(
    kind: DossierKind, application: Mapping[str, Any], language: Language = DEFAULT_LANGUAGE
) -> str:
    """The fixed details of the Web UI (Markdown): what the dossier was opened with."""
    reference = _plain(application.get(kind.id_field)) or "?"
    lines = [f"**{kind.workflow_type} {reference}**", ""]
    colon = " :" if language == "fr" else ":"
    for label, key in kind.details:
        text = _plain(application.get(key))
        if text is not None:
            lines.append(f"- {label.text(language)}{colon} {format_value(text, language)}")
    return "\n".join(lines)


def view_kind_of(workflow_id: str) -> str | None:
    """The dossier kind of a workflow id of the contract (`visa-…`, `cai-…`, `caif-…`)."""
    for kind in KINDS.values():
        if workflow_id.startswith(f"{kind.id_prefix}-"):
            return kind.view_kind
    return None


def workflow_id_of(kind: DossierKind, application: Mapping[str, Any]) -> str:
    """The contract's workflow id of `application`, e.g. `visa-{application_id}`."""
    reference = application.get(kind.id_field)
    if not isinstance(reference, str) or not reference.strip():
        raise CommandError(
            f"{kind.id_field}: a non-empty string is required "
            f"(the workflow id is {kind.id_prefix}-{{{kind.id_field}}})"
        )
    return kind.workflow_id(reference)


async def submit_application(
    client: Client,
    application: Mapping[str, Any],
    task_queue: str,
    *,
    kind: DossierKind = KINDS[DEFAULT_KIND],
    timeout: float = OPEN_TIMEOUT,
    language: Language = DEFAULT_LANGUAGE,
) -> dict[str, Any]:
    """Start the dossier of `application` and return its state once it is open.

    A running dossier with the same id makes the start fail, and so does a closed one;
    only an application the workflow rejected may be corrected and started again under
    its id (ALLOW_DUPLICATE_FAILED_ONLY): the same application never becomes two dossiers. Raises
    `Rejected` when the workflow rejects the application or the id is taken, and
    `CommandError` when no worker opens it within `timeout` seconds.
    """
    workflow_id = workflow_id_of(kind, application)
    try:
        await client.start_workflow(
            kind.workflow_type,
            dict(application),
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            static_summary=static_summary(kind, application, language),
            static_details=static_details(kind, application, language),
        )
    except WorkflowAlreadyStartedError:
        raise Rejected(
            f"{workflow_id} already exists (running or closed): "
            "an application is never started twice"
        ) from None
    return await wait_until_open(client, workflow_id, task_queue, timeout=timeout)


async def wait_until_open(
    client: Client, workflow_id: str, task_queue: str = "", *, timeout: float = OPEN_TIMEOUT
) -> dict[str, Any]:
    """The dossier's state once its first activities ran (`stage` no longer "opening")."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_error = "the dossier was still opening"
    while True:
        try:
            state = await query_state(client, workflow_id)
        except CommandError as error:
            last_error = str(error)
        else:
            if state.get("stage") == "rejected":
                raise Rejected(str(state.get("rejection") or "the application was rejected"))
            if state.get("stage") != "opening":
                return state
        if loop.time() >= deadline:
            queue = f" on task queue {task_queue!r}" if task_queue else ""
            raise CommandError(
                f"{workflow_id} did not open within {timeout:.0f} s ({last_error}): "
                f"is a worker running{queue}?"
            )
        await asyncio.sleep(0.2)


async def send_event(
    client: Client,
    workflow_id: str,
    event: str,
    payload: Any,
    *,
    as_signal: bool = False,
) -> dict[str, Any] | None:
    """Send `event` to the dossier: as an update, returning the accepted state (raises
    `Rejected` with the workflow's reason), or as a fire-and-forget signal (returns None;
    an invalid signal is kept in the state's `rejected_inputs`)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        if as_signal:
            await handle.signal(event, payload)
            return None
        state: dict[str, Any] = await asyncio.wait_for(
            handle.execute_update(event, payload, result_type=dict), UPDATE_TIMEOUT
        )
        return state
    except TimeoutError:
        raise CommandError(
            f"{workflow_id}: no answer to {event} within {UPDATE_TIMEOUT:.0f} s: is a worker "
            "running? (the update is applied once one runs)"
        ) from None
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type == INPUT_REJECTED:
            raise Rejected(cause.message, _rejection_details(cause)) from None
        raise CommandError(f"{workflow_id}: update {event} failed: {cause}") from None
    except RPCError as error:
        raise CommandError(_rpc_message(workflow_id, error)) from None


async def query_state(client: Client, workflow_id: str) -> dict[str, Any]:
    """The `state` query of the dossier."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        state: dict[str, Any] = await handle.query(
            "state", result_type=dict, rpc_timeout=QUERY_RPC_TIMEOUT
        )
    except WorkflowQueryFailedError as error:
        raise CommandError(f"{workflow_id}: the state query failed: {error}") from None
    except RPCError as error:
        raise CommandError(_rpc_message(workflow_id, error)) from None
    return state


@dataclass(frozen=True)
class Listing:
    """One line of `list`."""

    workflow_id: str
    status: str
    stage: str | None
    next_deadline: datetime | None
    overdue: bool | None
    workflow_type: str = ""


def default_query() -> str:
    """Every workflow kind of the table, and nothing else that runs in the namespace."""
    types = ", ".join(f'"{kind.workflow_type}"' for kind in KINDS.values())
    return f"WorkflowType IN ({types})"


async def list_dossiers(client: Client, query: str | None, limit: int) -> list[Listing]:
    """The workflows matching the visibility `query`, newest first."""
    listings = []
    try:
        async for execution in client.list_workflows(query or default_query(), limit=limit):
            attributes = execution.typed_search_attributes
            status = execution.status
            listings.append(
                Listing(
                    workflow_id=execution.id,
                    status=_status_name(status),
                    stage=attributes.get(DOSSIER_STAGE),
                    next_deadline=attributes.get(NEXT_DEADLINE),
                    overdue=attributes.get(OVERDUE),
                    workflow_type=execution.workflow_type,
                )
            )
    except RPCError as error:
        raise CommandError(f"list failed: {error.message}") from None
    return listings


def _rejection_details(error: ApplicationError) -> dict[str, Any] | None:
    """The rejection's `rule`, `field`, `seq`… the workflow gives as the failure's details."""
    details = error.details[0] if error.details else None
    return details if isinstance(details, dict) else None


def _status_name(status: WorkflowExecutionStatus | None) -> str:
    return status.name.lower() if status is not None else "unknown"


def _rpc_message(workflow_id: str, error: RPCError) -> str:
    if error.status == RPCStatusCode.NOT_FOUND:
        return f"{workflow_id}: {error.message or 'no such workflow'}"
    return f"{workflow_id}: {error.message}"


# --- rendering ---------------------------------------------------------------------------


def summary_text(
    workflow_id: str, state: Mapping[str, Any], language: Language = DEFAULT_LANGUAGE
) -> str:
    """A short human view of a dossier's state, in the operator's language."""
    kind = view_kind_of(workflow_id) or VISA
    procedure = state.get("procedure")
    next_deadline = state.get("next_deadline")
    deadlines = state.get("deadlines") or {}
    if next_deadline:
        names = [
            deadline_label(kind, name, language, procedure)
            for name, due in deadlines.items()
            if due == next_deadline
        ]
        day = format_value(next_deadline, language)
        next_text = f"{day} ({', '.join(names)})" if names else day
    else:
        next_text = "-"
    rejected = state.get("rejected_inputs") or []
    rejected_text = str(len(rejected))
    if rejected:
        last = cli_text("last", language, reason=rejected[-1].get("reason", "?"))
        rejected_text += f" ({last})"
    awaiting = [awaited_label(item, language) for item in state.get("awaiting") or []]
    overdue = [deadline_label(kind, key, language, procedure) for key in state.get("overdue") or []]
    rows = [
        (cli_text("dossier", language), workflow_id),
        (cli_text("stage", language), stage_label(kind, str(state.get("stage", "?")), language)),
        (cli_text("next_deadline", language), next_text),
        (cli_text("awaiting", language), ", ".join(awaiting) or "-"),
        (cli_text("overdue", language), ", ".join(overdue) or "-"),
        (cli_text("rejected_inputs", language), rejected_text),
    ]
    held = state.get("held_inputs") or []
    if held:
        waiting = "; ".join(cli_text("held_input", language, **item) for item in held)
        rows.append((cli_text("held_inputs", language), waiting))
    outcome = state.get("outcome")
    if isinstance(outcome, dict):
        grounds = ", ".join(outcome.get("grounds") or [])
        decided = cli_text(
            "decided",
            language,
            decision=format_value(outcome.get("decision"), language),
            date=format_value(outcome.get("decided_on"), language),
        )
        rows.append((cli_text("outcome", language), decided + (f" ({grounds})" if grounds else "")))
    if state.get("not_subject_reason"):
        rows.append((cli_text("not_subject", language), str(state["not_subject_reason"])))
    width = max(len(label) for label, _ in rows)
    lines = [f"{label.ljust(width)}  {value}" for label, value in rows]
    return "\n".join(lines + facts_lines(state.get("facts") or [], language, kind))


def facts_lines(
    facts: Sequence[Mapping[str, Any]], language: Language = DEFAULT_LANGUAGE, kind: str = VISA
) -> list[str]:
    """The accepted facts in event time, each with the number `correct_event` takes."""
    if not facts:
        return []
    lines = ["", cli_text("facts", language)]
    for fact in sorted(facts, key=lambda f: (str(f.get("dated")), int(f.get("seq", 0)))):
        notes = []
        if fact.get("received_on") != fact.get("dated"):
            received = format_value(fact.get("received_on"), language)
            notes.append(cli_text("received", language, date=received))
        if fact.get("corrected_by"):
            seqs = ", ".join(f"#{n}" for n in fact["corrected_by"])
            notes.append(cli_text("corrected_by", language, seqs=seqs))
        if fact.get("withdrawn"):
            notes.append(cli_text("withdrawn", language))
        extra = f"  ({'; '.join(notes)})" if notes else ""
        dated = format_value(fact.get("dated"), language)
        name = event_label(str(fact.get("name")), language, kind)
        lines.append(f"  #{fact.get('seq')}  {dated}  {name}{extra}")
    return lines


def listing_json(listings: Sequence[Listing]) -> list[dict[str, Any]]:
    """`list --json`: the contract's names and codes."""
    return [
        {
            "workflow_id": item.workflow_id,
            "workflow_type": item.workflow_type,
            "status": item.status,
            "DossierStage": item.stage,
            "NextDeadline": item.next_deadline.isoformat() if item.next_deadline else None,
            "Overdue": item.overdue,
        }
        for item in listings
    ]


def listing_table(listings: Sequence[Listing], language: Language = DEFAULT_LANGUAGE) -> str:
    kinds = {kind.workflow_type: kind.view_kind for kind in KINDS.values()}
    header = tuple(
        cli_text(name, language)
        for name in (
            "workflow_id",
            "status",
            "dossier_stage",
            "next_deadline_column",
            "overdue_column",
        )
    )
    rows = [header] + [
        (
            item.workflow_id,
            status_label(item.status, language),
            stage_label(kinds.get(item.workflow_type, ""), item.stage, language)
            if item.stage
            else "-",
            format_date(item.next_deadline.date(), language) if item.next_deadline else "-",
            "-" if item.overdue is None else cli_text("yes" if item.overdue else "no", language),
        )
        for item in listings
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


# --- the command line ----------------------------------------------------------------------


STDIN = Path("-")


def read_json_file(path: Path) -> Any:
    """The JSON of a file, or of the standard input for `-`."""
    if path == STDIN:
        return parse_json(sys.stdin.read(), "the standard input")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror or error}") from None
    return parse_json(text, str(path))


def parse_json(text: str, origin: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(f"{origin} is not valid JSON: {error}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dossiers",
        description="Start dossiers, send them events and look at them "
        "(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE as for the worker).",
        epilog="Exit codes: 0 done, 1 could not do it, 2 usage error, 3 the input was rejected.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    language_option(parser)
    parser.add_argument(
        "--codec-endpoint",
        metavar="URL",
        help="without the payload keys, seal and open payloads through this codec server "
        "(default: TEMPORAL_CODEC_ENDPOINT; its token in CODEC_TOKEN)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    output = output_options()

    submit = commands.add_parser(
        "submit", parents=[output], help="start a dossier from a JSON input file"
    )
    submit.add_argument("file", type=Path, metavar="FILE.json", help="the input (- for stdin)")
    submit.add_argument(
        "--kind", choices=sorted(KINDS), default=DEFAULT_KIND, help="the workflow kind"
    )

    send = commands.add_parser(
        "send", parents=[output], help="send an event (an update unless --signal)"
    )
    send.add_argument("workflow_id", metavar="WORKFLOW_ID")
    send.add_argument("event", metavar="EVENT", help="e.g. language_evaluation")
    # One of the two is required (parse_arguments says so, after the hint for `--json`).
    payload = send.add_mutually_exclusive_group()
    payload.add_argument(
        "-i", "--input", type=Path, metavar="FILE.json", help="the payload in a file (- for stdin)"
    )
    payload.add_argument("--data", metavar="JSON", help="the payload inline")
    # `--file` named the payload's file before `--input` did.
    payload.add_argument("--file", dest="input", type=Path, help=argparse.SUPPRESS)
    send.add_argument(
        "--signal",
        action="store_true",
        help="fire-and-forget: invalid input lands in "
        "the state's rejected_inputs instead of an answer",
    )

    show = commands.add_parser(
        "show", parents=[output], help="show a dossier (--json: the state query)"
    )
    show.add_argument("workflow_id", metavar="WORKFLOW_ID")
    # The short view was `--summary` when JSON was the default: still accepted.
    show.add_argument("--summary", action="store_true", help=argparse.SUPPRESS)

    listing = commands.add_parser("list", parents=[output], help="list dossiers")
    listing.add_argument(
        "--query",
        help="a visibility query, e.g. 'DossierStage = \"awaiting_training\"' "
        "(default: every dossier kind)",
    )
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    cli_delivery.add_commands(commands, output)
    cli_find.add_command(commands, output)
    return parser


def _command_input(args: argparse.Namespace) -> Any:
    """The JSON the command sends, read before connecting so that a bad file fails fast."""
    if args.command == "submit":
        application = read_json_file(args.file)
        if not isinstance(application, dict):
            raise CommandError(f"{args.file} must hold a JSON object")
        workflow_id_of(KINDS[args.kind], application)
        return application
    if args.command == "send":
        if args.input is not None:
            return read_json_file(args.input)
        return parse_json(args.data, "--data")
    return None


# The SDK's connection error is the Rust client's debug output; the OS's words are in it.
_OS_MESSAGE = re.compile(r'message: "([^"]+)"')


def plain_reason(error: BaseException) -> str:
    """One short line for a person: the OS's words when the error carries them."""
    text = str(error)
    found = _OS_MESSAGE.search(text)
    if found is not None:
        return found.group(1)
    first = text.splitlines()[0] if text else type(error).__name__
    return first[:200]


def _version() -> str:
    try:
        return version("integration-visa")
    except PackageNotFoundError:
        return "unknown"


async def connect_client(settings: Settings, endpoint: str | None = None) -> Client:
    """A client of Temporal with the payload keys, else through the codec server at
    `endpoint`; or one line naming what to set."""
    converter = None
    try:
        settings.key_ring()
    except PayloadKeyError as error:
        if endpoint is None:
            raise CommandError(
                f"no payload keys: {error} (or {cli_codec.ENDPOINT_VARIABLE}, to go through "
                "the codec server)"
            ) from None
        token = os.environ.get(cli_codec.TOKEN_VARIABLE)
        converter = cli_codec.remote_data_converter(endpoint, settings.temporal_namespace, token)
    try:
        return await connect(settings, converter=converter)
    except Exception as error:
        raise CommandError(
            f"cannot reach Temporal at {settings.temporal_address} "
            f"(namespace {settings.temporal_namespace}): {plain_reason(error)}; "
            "set TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE"
        ) from None


def dossier_output(workflow_id: str, state: dict[str, Any], language: Language) -> Output:
    return Output(state, summary_text(workflow_id, state, language))


async def send_command(
    args: argparse.Namespace, client: Client, payload: Any, language: Language
) -> Output:
    """`send`: the dossier once the event is in. An event identical to one already accepted
    was applied (a `duplicate`): said on stderr, and done."""
    try:
        answer = await send_event(
            client, args.workflow_id, args.event, payload, as_signal=args.signal
        )
    except Rejected as rejected:
        if rejected.rule != DUPLICATE:
            raise
        print(f"already applied: {rejected.reason}", file=sys.stderr)
        answer = await query_state(client, args.workflow_id)
    if answer is None:
        sent = {"workflow_id": args.workflow_id, "event": args.event, "signal": True}
        return Output(sent, cli_text("signal_sent", language, event=args.event))
    return dossier_output(args.workflow_id, answer, language)


async def command_output(args: argparse.Namespace, settings: Settings) -> Output:
    data = _command_input(args)
    language = settings.operator_language
    if args.command in REGISTER_ONLY:
        return await cli_delivery.run_on_register(args, settings)
    endpoint = cli_codec.codec_endpoint(args.codec_endpoint, os.environ)
    client = await connect_client(settings, endpoint)
    if args.command == "submit":
        state = await submit_application(
            client, data, settings.temporal_task_queue, kind=KINDS[args.kind], language=language
        )
        return dossier_output(workflow_id_of(KINDS[args.kind], data), state, language)
    if args.command == "send":
        return await send_command(args, client, data, language)
    if args.command == "show":
        return dossier_output(
            args.workflow_id, await query_state(client, args.workflow_id), language
        )
    if args.command == "list":
        listings = await list_dossiers(client, args.query, args.limit)
        return Output(listing_json(listings), listing_table(listings, language))
    if args.command == cli_find.COMMAND:
        return await cli_find.run(args, client, settings)
    return await cli_delivery.run(args, client, settings)


async def run_command(args: argparse.Namespace, settings: Settings) -> int:
    print(render(args, await command_output(args, settings)))
    return EXIT_OK


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments, or a usage error (exit 2); `send --json '{…}'` as written before
    `--json` asked for JSON output is told what to write now."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    sending = args.command == "send"
    if sending and extra and args.as_json:
        parser.error(
            "--json asks for JSON output: give the payload with --data JSON "
            "or -i FILE.json (- for stdin)"
        )
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if sending and args.input is None and args.data is None:
        parser.error("send: the payload is required: -i FILE.json (- for stdin) or --data JSON")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        settings = Settings.from_env()
        language = operator_language(args.lang, settings)
    except (SettingsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    settings = settings.model_copy(update={"operator_language": language})
    try:
        return asyncio.run(run_command(args, settings))
    except Rejected as rejected:
        print(f"rejected: {rejected.reason}", file=sys.stderr)
        if getattr(args, "as_json", False):
            print(to_json({"rejected": rejected.details}))
        return EXIT_REJECTED
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


def entry_point() -> None:
    """The `dossiers` console script."""
    exit_process(main())


if __name__ == "__main__":
    entry_point()
