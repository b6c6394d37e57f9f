"""The shape every dossier kind's functional core has, as the durable shell drives it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Generic, TypeVar

from pydantic import BaseModel

from models.calendar import zone_info
from models.common import HeldInput, NotificationDue, Rejection

S = TypeVar("S", bound=BaseModel)


@dataclass
class Step(Generic[S]):
    """The result of feeding one input to a core: the new state, what to tell whom, and
    the rejection when the input was refused (the state then only records it), or the
    held input when it waits for what it rests on."""

    state: S
    notifications: list[NotificationDue] = field(default_factory=list)
    rejection: Rejection | None = None
    corrects: int | None = None  # an accepted correct_event: the event it corrects
    held: HeldInput | None = None  # the input waits for the fact it rests on (not refused)
    placed: list[int] = field(default_factory=list)  # held inputs admitted now, by number
    # Held inputs refused now: what came made them inadmissible, or the dossier closed.
    refused_held: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class TimerDue:
    key: str
    fire_on: date  # the timer fires at the start of this day, in the dossier's time zone

    def fire_at(self, zone: str) -> datetime:
        """B9: midnight starting `fire_on` where the authority keeping the delay sits."""
        return datetime.combine(self.fire_on, time.min, tzinfo=zone_info(zone)).astimezone(UTC)
