"""What every event of every dossier kind shares: its rule, its date, its parsing into a
model or a rejection naming the field and the rule, and its fingerprint for duplicates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, ClassVar

from pydantic import Field

from models.common import Count, Strict, Text
from models.errors import InputRejected
from models.intake import parse_payload

# An event dated tomorrow in UTC may well be today where it happened.
EVENT_DATE_SLACK = timedelta(days=1)


class Event(Strict):
    """An event of the contract; RULE is cited when one of its fields is malformed."""

    RULE: ClassVar[str]
    FIELD_RULES: ClassVar[dict[str, str]] = {}
    DATE_FIELD: ClassVar[str]
    # A convocation is dated by its session, ahead of its sending.
    DATED_AHEAD: ClassVar[bool] = False

    def event_date(self) -> date:
        value: date = getattr(self, self.DATE_FIELD)
        return value


def parse_event(catalogue: Mapping[str, type[Event]], name: str, raw: Any) -> Event:
    model = catalogue.get(name)
    if model is None:
        raise InputRejected("contract", f"unknown event; expected one of {', '.join(catalogue)}")
    return parse_payload(model, raw, model.RULE, model.FIELD_RULES)


def check_event_date(event: Event, today: date) -> None:
    """Each event carries its own date; one dated in the future is refused."""
    if not event.DATED_AHEAD and event.event_date() > today + EVENT_DATE_SLACK:
        raise InputRejected(event.RULE, f"{event.event_date()} is in the future", event.DATE_FIELD)


def fingerprint(name: str, payload: dict[str, Any]) -> str:
    """The same event sent twice has the same fingerprint (duplicates are refused)."""
    canonical = json.dumps({"event": name, "payload": payload}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class Correction(Event):
    """`correct_event` (every dossier kind): replace an accepted event's payload, or
    withdraw it with `payload` null; the original stays in the register."""

    RULE = "correction"
    seq: Count = Field(ge=1)
    payload: dict[str, Any] | None
    reason: Text
    corrected_on: date

    DATE_FIELD = "corrected_on"
