"""How a notification reaches its recipient (docs/contract.md, "Delivery"):
the routes an operator configures, the choice of one for a notification, what a webhook
receives, and how an answer is read. Pure: `activities/delivery.py` sends.

A route names a recipient and, to be more specific, a kind and an addressee (the
consulate, prefecture or OFII platform the notification is for); the most specific route
that matches wins. A route delivers by webhook (`https://…`), by mail
(`smtps://user:password@host:port` or `smtp://…` with STARTTLS, and the mailbox it writes
to) or, for a workstation, into a directory (`file:///…`).

Outside this machine (loopback), a recipient can trust what it receives and nobody on the
way reads it: a webhook is `https://` and signs its body with the route's secret (the
`X-Dossiers-Signature` header, `sign_body`), and mail goes over TLS with a login.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from models.common import Recipient, Record, Strict, is_loopback
from models.notifications import CATALOGUE, Kind

IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_HEADER = "X-Dossiers-Signature"


class Channel(StrEnum):
    WEBHOOK = "webhook"
    MAIL = "mail"
    DIRECTORY = "directory"


class LetterChannel(StrEnum):
    """How a letter reaches the applicant (docs/contract.md, "Letters that can be posted"):
    by e-mail when they gave one; by post, through the mail room, when they gave a postal
    address alone; handed over by the responsible body, which is told, when neither."""

    EMAIL = "email"
    POST = "post"
    HAND = "hand"


def letter_channel(contact: Mapping[str, Any] | None) -> LetterChannel:
    """The channel of a letter to a person with this contact (the input's, or None)."""
    contact = contact or {}
    if contact.get("email"):
        return LetterChannel.EMAIL
    return LetterChannel.POST if contact.get("postal_address") else LetterChannel.HAND


def hand_over_recipient(payload: Mapping[str, Any]) -> Recipient:
    """Who hands a letter over (A3): the delegated organisation where it is the responsible
    body, the OFII representation (or platform) otherwise."""
    body = payload.get("body")
    if isinstance(body, Mapping) and body.get("kind") == "delegate":
        return Recipient.DELEGATE
    return Recipient.OFII


class Route(Strict):
    """Where the notifications of one recipient (of one kind, for one addressee, by one
    letter channel) go."""

    recipient: Recipient
    kind: str | None = None
    addressee: str | None = None
    # Letters to the applicant only: the route of those that go by this channel (`post`: the
    # mail room's directory, where each day's letters make one batch to print).
    via: LetterChannel | None = None
    url: str
    mail_to: str | None = None  # the mailbox an smtp:// route writes to
    # The webhook's key for `X-Dossiers-Signature`, shared with the recipient only.
    signing_secret: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.netloc:
            return value
        if parts.scheme in ("smtp", "smtps") and parts.hostname and parts.port:
            return value
        if parts.scheme == "file" and parts.path:
            return value
        raise ValueError(
            f"{value!r} is not an https:// webhook, an smtps:// or smtp://host:port mailbox "
            "or a file:/// directory"
        )

    @model_validator(mode="after")
    def _trusted_outside_loopback(self) -> Route:
        parts = urlsplit(self.url)
        local = is_loopback(parts.hostname or "")
        if self.channel == Channel.MAIL:
            if not self.mail_to:
                raise ValueError("an smtp:// route names the mailbox it writes to (mail_to)")
            if not local and not (parts.username and parts.password):
                raise ValueError("mail outside loopback logs in: smtps://user:password@host:port")
        if self.channel == Channel.WEBHOOK and not local:
            if parts.scheme != "https":
                raise ValueError("a webhook outside loopback is https://")
            if self.signing_secret is None:
                raise ValueError(
                    "a webhook outside loopback signs what it sends: give its signing_secret"
                )
        return self

    @property
    def channel(self) -> Channel:
        scheme = urlsplit(self.url).scheme
        if scheme in ("smtp", "smtps"):
            return Channel.MAIL
        return Channel.DIRECTORY if scheme == "file" else Channel.WEBHOOK

    @property
    def mail_tls(self) -> tuple[bool, bool | None]:
        """(implicit TLS, STARTTLS): smtps:// is TLS from the start; smtp:// must offer
        STARTTLS, except on loopback, where it is used only if offered."""
        parts = urlsplit(self.url)
        if parts.scheme == "smtps":
            return True, False
        return False, None if is_loopback(parts.hostname or "") else True

    @property
    def specificity(self) -> int:
        return (
            (self.via is not None) * 4 + (self.kind is not None) * 2 + (self.addressee is not None)
        )

    def matches(
        self, recipient: str, kind: str, addressee: str | None, via: LetterChannel | None = None
    ) -> bool:
        return (
            self.recipient.value == recipient
            and self.kind in (None, kind)
            and self.addressee in (None, addressee)
            and self.via in (None, via)
        )

    @property
    def endpoint(self) -> str:
        """What an operator may read of the route: never a password in the URL."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"


class RoutesError(ValueError):
    """A routes file the worker cannot run with: names the file and the line."""


class RouteTable(Record):
    routes: list[Route] = Field(default_factory=list)

    def resolve(
        self, recipient: str, kind: str, addressee: str | None, via: LetterChannel | None = None
    ) -> Route | None:
        """The most specific route of the recipient; the first written among equals."""
        found = [route for route in self.routes if route.matches(recipient, kind, addressee, via)]
        if not found:
            return None
        best = max(route.specificity for route in found)
        return next(route for route in found if route.specificity == best)


def default_routes(
    webhook_url: str | None,
    smtp_url: str | None,
    mail_to: str | None,
    outbox: str | None,
    webhook_secret: SecretStr | None = None,
) -> RouteTable:
    """`NOTIFY_WEBHOOK_URL` (signed with `NOTIFY_WEBHOOK_SECRET`) for every authority,
    `SMTP_URL` for the applicant's letters; without either, `outbox` (a `file://`
    directory, as under `make run`), which is also the mail room of the letters to post."""
    routes = []
    authority = webhook_url or outbox
    if authority is not None:
        secret = webhook_secret if webhook_url else None
        routes += [
            Route(recipient=recipient, url=authority, signing_secret=secret)
            for recipient in Recipient
            if recipient != Recipient.APPLICANT
        ]
    if outbox is not None:
        routes.append(Route(recipient=Recipient.APPLICANT, url=outbox, via=LetterChannel.POST))
    if smtp_url is not None:
        routes.append(Route(recipient=Recipient.APPLICANT, url=smtp_url, mail_to=mail_to))
    elif outbox is not None:
        routes.append(Route(recipient=Recipient.APPLICANT, url=outbox))
    return RouteTable(routes=routes)


def parse_routes(text: str, source: str, fallback: RouteTable) -> RouteTable:
    """A routes file: `{"routes": [{"recipient": …, "url": …}, …]}`, its routes placed
    before the defaults. A file that does not parse or validate raises `RoutesError`
    naming `source` and the line of the faulty route."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise RoutesError(f"{source}:{error.lineno}: not JSON ({error.msg})") from None
    if not isinstance(document, dict) or not isinstance(document.get("routes"), list):
        raise RoutesError(f'{source}:1: expected {{"routes": [ … ]}}')
    routes = []
    for index, (entry, line) in enumerate(
        zip(document["routes"], _entry_lines(text), strict=False)
    ):
        try:
            routes.append(Route.model_validate(entry))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in detail['loc']) or 'route'}: {detail['msg']}"
                for detail in error.errors()
            )
            raise RoutesError(f"{source}:{line}: route {index + 1}: {problems}") from None
    return RouteTable(routes=routes + fallback.routes)


def _entry_lines(text: str) -> list[int]:
    """The line each entry of the `routes` array starts on."""
    decoder = json.JSONDecoder()
    start = text.index("[", text.index('"routes"'))
    position, lines = start + 1, list[int]()
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text) or text[position] == "]":
            return lines
        lines.append(text.count("\n", 0, position) + 1)
        _, position = decoder.raw_decode(text, position)


# --- what is sent -----------------------------------------------------------------------------


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # the recipient may take it later: 408, 429, 5xx, no answer
    REFUSED = "refused"  # the recipient will not take it as it is: other answers


def read_answer(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status in (408, 429) or status >= 500:
        return Outcome.RETRY
    return Outcome.REFUSED


def sign_body(secret: str, body: bytes, timestamp: int) -> str:
    """`X-Dossiers-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t." + body>`, as a
    recipient recomputes it (`signature_matches`) to know the sender and the moment."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def signature_matches(
    secret: str, body: bytes, header: str, now: int, tolerance_seconds: int = 300
) -> bool:
    """What a recipient checks: the signature is ours, of this body, and recent (a replayed
    request is refused after `tolerance_seconds`)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not fields.get("t", "").isdigit() or "v1" not in fields:
        return False
    timestamp = int(fields["t"])
    expected = sign_body(secret, body, timestamp)
    return abs(now - timestamp) <= tolerance_seconds and hmac.compare_digest(
        expected, f"t={timestamp},v1={fields['v1']}"
    )


def idempotency_key(workflow_id: str, key: str) -> str:
    """The contract's `Idempotency-Key`: a recipient never takes one notification twice."""
    return f"{workflow_id}/{key}"


class NotificationToDeliver(Record):
    """A row of `notification`, as the delivery reads it."""

    workflow_id: str
    key: str
    kind: str
    recipient: str
    language: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    addressee: str | None = None  # the consulate, prefecture or platform of the dossier
    # A letter to the applicant: how it goes; their e-mail address for the `email` channel.
    via: LetterChannel | None = None
    email: str | None = None
    # A letter the responsible body hands over to the applicant (no e-mail, no address).
    hand_over: bool = False

    @property
    def rule(self) -> str | None:
        rule = self.payload.get("rule")
        return str(rule) if rule is not None else None


def webhook_body(
    notification: NotificationToDeliver, document: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The JSON a webhook receives (contract: workflow_id, key, kind, recipient, rule,
    payload, and document when there is one)."""
    body: dict[str, Any] = {
        "workflow_id": notification.workflow_id,
        "key": notification.key,
        "kind": notification.kind,
        "recipient": notification.recipient,
        "rule": notification.rule,
        "payload": notification.payload,
    }
    if notification.hand_over:
        # The body is told: this letter is the applicant's, to hand over in person.
        body["hand_over"] = {"to": "applicant", "reason": "no e-mail nor postal address"}
    if document is not None:
        body["document"] = dict(document)
    return body


def covering_mail(kind: str, reference: str) -> tuple[str, str]:
    """The subject and text of the mail a letter to the applicant is attached to: what it
    is, in French and English, and where the letter is, never the register's JSON."""
    entry = CATALOGUE.get(Kind(kind)) if kind in set(Kind) else None
    french = entry.title_fr if entry is not None else kind
    english = entry.title_en if entry is not None else kind
    subject = f"{french} ({reference})"
    text = (
        f"Veuillez trouver ci-joint le courrier « {french} » relatif à votre dossier "
        f'{reference}.\n\nPlease find attached the letter "{english}" about your file '
        f"{reference}.\n"
    )
    return subject, text


class DeliveryRequest(Record):
    """What the delivery workflow carries: keys only, never the notification's content
    (docs/contract.md, "Sealed payloads")."""

    workflow_id: str
    key: str
    tell_dossier: bool = False  # a dossier's notification: its outcome is signalled back
    # Handed over by the postman after its own attempt: why that attempt failed, and whether
    # the recipient refused it (kept refused) or may take it later (tried again after a wait).
    first_attempt: str | None = None
    first_refused: bool = False


class DeliveryOutcome(Record):
    """What the dossier learns of one of its notifications' delivery."""

    key: str
    outcome: Outcome
    reason: str | None = None


class DeliveryResult(Record):
    outcome: Outcome
    channel: Channel | None = None
    endpoint: str | None = None
    answer: str | None = None  # the recipient's answer to a refusal, shortened
