"""Delivery of the notifications (docs/contract.md, "Delivery"): by webhook
to the authorities, by mail to the applicant, into a directory on a workstation.

The delivery workflow carries keys only; this activity reads the notification from the
register, picks its route, sends it, and records how it went. A retried attempt sends
the same `Idempotency-Key` (or mail `Message-ID`), so a recipient never takes one
notification twice, and a delivered notification is never sent again."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
import asyncpg
import httpx
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from activities import register_gateway as register
from activities.documents import ISSUING_ZONE, UndrawableText
from activities.register_gateway import StoredNotification
from models.delivery import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    Channel,
    DeliveryRequest,
    DeliveryResult,
    LetterChannel,
    NotificationToDeliver,
    Outcome,
    Route,
    RouteTable,
    covering_mail,
    hand_over_recipient,
    idempotency_key,
    letter_channel,
    read_answer,
    sign_body,
    webhook_body,
)
from models.documents import person_id_of, person_of, reference_of
from models.notifications import Recipient

DELIVERY_WORKFLOW = "NotificationDelivery"
# The workflow ids of dossiers (contract); the scheduled runs' notifications are not told back.
DOSSIER_IDS = ("visa-", "cai-", "caif-")
REFUSED = "DeliveryRefused"
UNROUTABLE = "Unroutable"
RETRY = "DeliveryRetry"
HTTP_TIMEOUT_SECONDS = 30.0
ANSWER_KEPT = 500  # characters of a refusal's answer kept in the register

# A document for a notification, when its kind has one: (file name, PDF bytes). It is
# made from the row the delivery read (one read of the notification for both).
Document = tuple[str, bytes]
DocumentMaker = Callable[[StoredNotification], Awaitable[Document | None]]


def delivery_id(workflow_id: str, key: str) -> str:
    """The delivery workflow's id: one per notification."""
    return f"delivery-{workflow_id}-{key}"


class DeliveryOutbox:
    """The `DeliveryStarter` of the worker: committed notifications wake the postmen
    (`activities.postman`), which deliver them without a workflow each; those of a dossier
    begun before the postman (`handed_off`) each have a `NotificationDelivery` workflow, on
    the documents' task queue."""

    def __init__(self, pool: asyncpg.Pool, client: Client, task_queue: str) -> None:
        self.pool = pool
        self.client = client
        self.task_queue = task_queue

    async def __call__(
        self,
        notes: Sequence[tuple[str, str]],
        *,
        handed_off: bool = False,
        tell_dossier: bool = False,
    ) -> None:
        if not handed_off:
            await register.wake_postmen(self.pool)
            return
        await asyncio.gather(
            *(
                start_delivery(
                    self.client,
                    self.task_queue,
                    DeliveryRequest(workflow_id=workflow_id, key=key, tell_dossier=tell_dossier),
                )
                for workflow_id, key in notes
            )
        )

    async def hand_over(self, workflow_id: str, key: str, reason: str, refused: bool) -> None:
        """The postman's `HandOver`: a notification its attempt did not deliver."""
        await start_delivery(
            self.client,
            self.task_queue,
            DeliveryRequest(
                workflow_id=workflow_id, key=key, first_attempt=reason, first_refused=refused
            ),
        )


async def start_delivery(client: Client, task_queue: str, request: DeliveryRequest) -> None:
    """The `NotificationDelivery` workflow of a notification; one already started is left
    to run, one closed (delivered, or refused and kept for an operator) is not started again."""
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            DELIVERY_WORKFLOW,
            request,
            id=delivery_id(request.workflow_id, request.key),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )


async def redeliver(
    client: Client, task_queue: str, workflow_id: str, key: str
) -> WorkflowHandle[Any, Any]:
    """An operator's redelivery, after the route was fixed: a new run of the delivery."""
    return await client.start_workflow(
        DELIVERY_WORKFLOW,
        DeliveryRequest(
            workflow_id=workflow_id, key=key, tell_dossier=workflow_id.startswith(DOSSIER_IDS)
        ),
        id=delivery_id(workflow_id, key),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


def _addressee(row: StoredNotification) -> str | None:
    """Which consulate, prefecture or platform the notification is for."""
    if row.payload.get("addressee"):
        return str(row.payload["addressee"])
    by_recipient = {"consulate": row.consulate, "prefecture": row.prefecture}
    value = by_recipient.get(row.recipient, row.responsible_body)
    return str(value) if value is not None else None


class DeliveryActivities:
    def __init__(
        self,
        pool: asyncpg.Pool,
        routes: RouteTable,
        *,
        mail_from: str = "notifications@dossiers.invalid",
        documents: DocumentMaker | None = None,
        alert_after: timedelta = timedelta(hours=48),
    ) -> None:
        self.pool = pool
        self.routes = routes
        self.mail_from = mail_from
        self.documents = documents
        self.alert_after = alert_after  # the daily sweep alerts what waits longer

    @activity.defn(name="deliver_notification")
    async def deliver_notification(self, request: DeliveryRequest) -> DeliveryResult:
        """One attempt of a `NotificationDelivery` workflow (the postman's are `deliver`)."""
        return await self.deliver(request)

    async def deliver(
        self, request: DeliveryRequest, leased: StoredNotification | None = None
    ) -> DeliveryResult:
        """Take one notification to its recipient: delivered, or an `ApplicationError` of
        type `REFUSED` or `UNROUTABLE` (kept refused until an operator redelivers) or
        `RETRY` (tried again later). `leased`: the row as the postman's lease read it."""
        row = leased or await register.notification_for_delivery(
            self.pool, request.workflow_id, request.key
        )
        if row is None:
            # Abandoned by a reset, or never written: nothing to deliver, nothing lost.
            return DeliveryResult(outcome=Outcome.DELIVERED, answer="no current notification")
        if row.delivered_at is not None:
            return DeliveryResult(outcome=Outcome.DELIVERED, answer="already delivered")
        note = NotificationToDeliver(
            workflow_id=row.workflow_id,
            key=row.key,
            kind=row.kind,
            recipient=row.recipient,
            language=row.language,
            payload=dict(row.payload),
            addressee=_addressee(row),
        )
        if note.recipient == Recipient.APPLICANT:
            note = _by_channel(note, row.start)
        route = self._route(note)
        if route is None:
            reason = f"no route to {note.recipient} ({note.kind}, {note.addressee or '-'})"
            await self._refused(note, reason, None)
            raise ApplicationError(reason, type=UNROUTABLE, non_retryable=True)
        try:
            document = await self.documents(row) if self.documents is not None else None
        except UndrawableText as error:
            # A name no shipped font draws fails the same way at every attempt: an operator
            # corrects the name (`correct_event`) and redelivers.
            await self._refused(note, str(error), route)
            raise ApplicationError(str(error), type=REFUSED, non_retryable=True) from None
        if activity.in_activity():
            activity.heartbeat(note.key)  # alive before the send: a death is noticed in 45 s
        outcome, answer = await self._send(route, note, document)
        # An answer may quote the letter: it is kept (truncated) in the register only, and
        # the failure the SDK logs says no more than its status.
        status = answer.split(":", 1)[0]
        if outcome == Outcome.RETRY:
            # Retried with backoff by the workflow's policy; the register says why.
            await register.note_delivery_error(
                self.pool, note.workflow_id, note.key, answer[:ANSWER_KEPT], route.endpoint
            )
            raise ApplicationError(f"{route.endpoint}: {status}", type=RETRY)
        if outcome == Outcome.REFUSED:
            await self._refused(note, answer, route)
            raise ApplicationError(
                f"{route.endpoint} refused: {status}", type=REFUSED, non_retryable=True
            )
        await register.mark_delivered(self.pool, note.workflow_id, note.key, route.endpoint)
        return DeliveryResult(
            outcome=Outcome.DELIVERED, channel=route.channel, endpoint=route.endpoint
        )

    def _route(self, note: NotificationToDeliver) -> Route | None:
        """The route of the notification; for a letter handed over, that of the body that
        hands it over (A3), unless a route of the applicant's says otherwise."""
        route = self.routes.resolve(note.recipient, note.kind, note.addressee, note.via)
        if note.via != LetterChannel.HAND or (route is not None and route.via is not None):
            return route
        body = hand_over_recipient(note.payload)
        note.hand_over = True
        return self.routes.resolve(body.value, note.kind, note.addressee)

    async def _refused(self, note: NotificationToDeliver, answer: str, route: Route | None) -> None:
        await register.mark_refused(
            self.pool,
            note.workflow_id,
            note.key,
            answer[:ANSWER_KEPT],
            route.endpoint if route is not None else None,
        )
        # By ids only: the answer may quote the letter.
        activity.logger.error(
            "notification not deliverable", extra={"key": note.key, "kind": note.kind}
        )

    async def _send(
        self, route: Route, note: NotificationToDeliver, document: Document | None
    ) -> tuple[Outcome, str]:
        if route.channel == Channel.WEBHOOK:
            return await _post(route, note, document)
        if route.channel == Channel.MAIL:
            return await _mail(route, note, document, self.mail_from)
        # In a thread: creating a file waits on the disk, and the event loop also runs the
        # dossiers' workflow tasks (it was a tenth of the worker's time under load).
        if note.via == LetterChannel.POST and route.via == LetterChannel.POST:
            return await asyncio.to_thread(_mail_room, route, note, document)
        return await asyncio.to_thread(_file, route, note, document)


def _by_channel(note: NotificationToDeliver, start: Any) -> NotificationToDeliver:
    """A letter to the applicant goes by e-mail, by post or by hand, as their contact
    allows (docs/contract.md, "Letters that can be posted"); `start` opened the dossier."""
    person = person_of(start or {}, person_id_of(note.payload))
    contact = person.get("contact")
    via = letter_channel(contact if isinstance(contact, dict) else None)
    email = contact.get("email") if via == LetterChannel.EMAIL and contact else None
    return note.model_copy(update={"via": via, "email": email})


def _document_json(document: Document | None) -> dict[str, Any] | None:
    if document is None:
        return None
    name, content = document
    return {
        "filename": name,
        "media_type": "application/pdf",
        "sha256": hashlib.sha256(content).hexdigest(),
        "content_base64": base64.b64encode(content).decode(),
    }


async def _post(
    route: Route, note: NotificationToDeliver, document: Document | None
) -> tuple[Outcome, str]:
    body = json.dumps(webhook_body(note, _document_json(document)), ensure_ascii=False).encode()
    headers = {
        IDEMPOTENCY_HEADER: idempotency_key(note.workflow_id, note.key),
        "Content-Type": "application/json",
    }
    if route.signing_secret is not None:
        secret = route.signing_secret.get_secret_value()
        headers[SIGNATURE_HEADER] = sign_body(secret, body, int(time.time()))
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
            answer = await client.post(route.url, content=body, headers=headers)
    except httpx.HTTPError as error:
        return Outcome.RETRY, f"{type(error).__name__}: {error}"[:ANSWER_KEPT]
    return read_answer(answer.status_code), f"HTTP {answer.status_code}: {answer.text}"[
        :ANSWER_KEPT
    ]


def _message_id(note: NotificationToDeliver) -> str:
    digest = hashlib.sha256(idempotency_key(note.workflow_id, note.key).encode()).hexdigest()
    return f"<{digest[:32]}@dossiers.invalid>"


async def _mail(
    route: Route, note: NotificationToDeliver, document: Document | None, mail_from: str
) -> tuple[Outcome, str]:
    message = EmailMessage()
    message["From"] = mail_from
    # A letter to the applicant goes to their own address when they gave one.
    message["To"] = note.email or route.mail_to or ""
    # The same notification always has the same Message-ID: a mailbox keeps one copy.
    message["Message-ID"] = _message_id(note)
    message[IDEMPOTENCY_HEADER] = idempotency_key(note.workflow_id, note.key)
    if note.recipient == Recipient.APPLICANT and document is not None and not note.hand_over:
        # A person reads a letter, never the register's JSON.
        subject, text = covering_mail(note.kind, reference_of(note.payload))
        message["Subject"] = subject
        message.set_content(text)
    else:
        handed = "à remettre en main propre : " if note.hand_over else ""
        message["Subject"] = f"{handed}{note.kind} ({note.rule or '-'})"
        message.set_content(json.dumps(webhook_body(note, None), ensure_ascii=False, indent=2))
    if document is not None:
        name, content = document
        message.add_attachment(content, maintype="application", subtype="pdf", filename=name)
    parts = urlsplit(route.url)
    implicit_tls, start_tls = route.mail_tls
    try:
        await aiosmtplib.send(
            message,
            hostname=parts.hostname,
            port=parts.port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit_tls,
            start_tls=start_tls,
            timeout=30,
        )
    except aiosmtplib.SMTPResponseException as error:
        outcome = Outcome.REFUSED if 500 <= error.code < 600 else Outcome.RETRY
        return outcome, f"SMTP {error.code}: {error.message}"[:ANSWER_KEPT]
    except (aiosmtplib.SMTPException, OSError) as error:
        return Outcome.RETRY, f"{type(error).__name__}: {error}"[:ANSWER_KEPT]
    return Outcome.DELIVERED, "accepted"


def _file(
    route: Route, note: NotificationToDeliver, document: Document | None
) -> tuple[Outcome, str]:
    """A workstation's outbox: one JSON file per notification (and its PDF), written
    beside and renamed, so a reader never sees half of one."""
    folder = _outbox(route) / note.recipient / _safe(note.workflow_id)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    body = webhook_body(note, None)
    _write(
        folder / f"{_safe(note.key)}.json", json.dumps(body, ensure_ascii=False, indent=2).encode()
    )
    if document is not None:
        name, content = document
        _write(folder / _safe(name), content)
    return Outcome.DELIVERED, "written"


MAIL_ROOM = "mailroom"  # the outbox's folder of letters to post, batched by body and day
_MANIFEST = ".manifest.json"


def _mail_room(
    route: Route, note: NotificationToDeliver, document: Document | None
) -> tuple[Outcome, str]:
    """A letter to post: into the mail room's batch of the day, one folder per responsible
    body (`<directory>/<body>/<YYYY-MM-DD>/`), the PDF to print and fold into a window
    envelope (its addressee's block shows through), beside the manifest entry an agent
    checks the batch against. Without a document, the notification's JSON alone."""
    day = datetime.now(UTC).astimezone(ISSUING_ZONE).date().isoformat()
    body = _safe(note.addressee or "ofii")
    folder = _outbox(route) / MAIL_ROOM / body / day
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    entry = {
        "workflow_id": note.workflow_id,
        "key": note.key,
        "kind": note.kind,
        "reference": reference_of(note.payload),
        "document": document[0] if document is not None else None,
    }
    # One batch takes the letters of many dossiers, whose keys repeat (`000001.invitation…`).
    stem = _safe(f"{note.workflow_id}.{note.key}")
    _write(folder / f"{stem}{_MANIFEST}", json.dumps(entry, indent=2).encode())
    if document is None:
        body_json = json.dumps(webhook_body(note, None), ensure_ascii=False, indent=2)
        _write(folder / f"{stem}.json", body_json.encode())
    else:
        _write(folder / f"{stem}.pdf", document[1])
    return Outcome.DELIVERED, f"mail room {body} {day}"


def _outbox(route: Route) -> Path:
    return Path(urlsplit(route.url).path)


def outboxes(routes: RouteTable) -> list[Path]:
    """The workstation outboxes the routes write into (`file://` routes)."""
    return sorted({_outbox(route) for route in routes.routes if route.channel == Channel.DIRECTORY})


def outbox_dossiers(directories: Iterable[Path]) -> set[str]:
    """The dossiers the outboxes hold files of: the names of their folders
    (`{recipient}/{workflow id}`), and the workflow ids of the mail room's manifests."""
    return {
        folder.name
        for directory in directories
        if directory.is_dir()
        for recipient in directory.iterdir()
        if recipient.is_dir() and recipient.name != MAIL_ROOM
        for folder in recipient.iterdir()
        if folder.is_dir()
    } | {workflow_id for workflow_id, _ in _mail_room_entries(directories)}


def _mail_room_entries(directories: Iterable[Path]) -> Iterator[tuple[str, Path]]:
    """(workflow id, manifest) of every letter waiting in a mail room's batches."""
    for directory in directories:
        for manifest in (directory / MAIL_ROOM).glob(f"*/*/*{_MANIFEST}"):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                yield str(json.loads(manifest.read_bytes())["workflow_id"]), manifest


def erase_from_outboxes(directories: Iterable[Path], workflow_ids: Iterable[str]) -> int:
    """Retention: the files of erased dossiers leave every outbox, the mail room's batches
    included, since a notification and its letter name a person. Returns how many folders
    and letters went."""
    workflow_ids_list = list(workflow_ids)
    directories = list(directories)
    names = {_safe(workflow_id) for workflow_id in workflow_ids_list}
    erased = 0
    for directory in directories:
        if not directory.is_dir():
            continue
        for recipient in directory.iterdir():
            for name in names:
                folder = recipient / name
                if folder.is_dir():
                    shutil.rmtree(folder)
                    erased += 1
    wanted = set(workflow_ids_list)
    for workflow_id, manifest in list(_mail_room_entries(directories)):
        if workflow_id in wanted:  # the letter, its JSON and its manifest entry
            stem = manifest.name.removesuffix(_MANIFEST)
            for sibling in manifest.parent.glob(f"{stem}.*"):
                sibling.unlink(missing_ok=True)
            erased += 1
    return erased


# A file name any file system takes (255 bytes), with room for the partial's suffix.
NAME_BYTES = 120


def _safe(name: str) -> str:
    """A file name of `name`: its letters kept, and a long one cut with its digest, so
    that every notification has a file the outbox can create."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.@") else "_" for c in name)
    if len(safe) <= NAME_BYTES:
        return safe
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    _, dot, extension = safe.rpartition(".")
    kept = extension if dot and len(extension) <= 8 else ""
    return f"{safe[: NAME_BYTES - 26]}-{digest}" + (f".{kept}" if kept else "")


def _write(path: Path, content: bytes) -> None:
    """Readable by the worker's user only: a notification may name a person."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    os.replace(partial, path)
