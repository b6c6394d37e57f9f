"""The shape every dossier kind's functional core has, as the durable shell drives it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from models.common import NotificationDue, Rejection
from models.reference import ReferenceData
from models.register import DossierView

S = TypeVar("S", bound=BaseModel)


@dataclass
class Step(Generic[S]):
    """The result of feeding one input to a core: the new state, what to tell whom, and
    the rejection when the input was refused (the state then only records it)."""

    state: S
    notifications: list[NotificationDue] = field(default_factory=list)
    rejection: Rejection | None = None


@dataclass(frozen=True)
class TimerDue:
    key: str
    fire_on: date  # the timer fires at the start of this day (UTC)


class DossierCore(Protocol[S]):
    """What a workflow needs from its core. Every function is pure: no I/O, no clock."""

    kind: str
    events: tuple[str, ...]
    state_type: type[S]

    def open(
        self, raw: Any, reference: ReferenceData, today: date, received_at: str, workflow_id: str
    ) -> Step[S]: ...

    def receive(
        self, state: S, name: str, raw: Any, reference: ReferenceData, today: date, received_at: str
    ) -> Step[S]: ...

    def due_timer(self, state: S) -> TimerDue | None: ...

    def on_deadline(self, state: S, key: str, today: date, fired_at: str) -> Step[S]: ...

    def view(self, state: S) -> DossierView: ...

    def seq(self, state: S) -> int: ...
