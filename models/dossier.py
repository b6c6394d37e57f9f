"""What every dossier state keeps, and the one way every kind takes an event in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any, TypeVar

from pydantic import Field, computed_field

from models.calendar import FRANCE
from models.common import (
    DeadlineStatus,
    HeldInput,
    NotificationDue,
    Record,
    Rejection,
    TrackedDeadline,
)
from models.core import TimerDue


class Fact(Record):
    """An accepted event, as the fold reads it (models.history)."""

    seq: int  # its number on arrival
    name: str
    payload: dict[str, Any]
    dated: date  # the day it happened: its place in event time
    received_on: date  # the day it reached the dossier (B6: results reach the consulate)
    withdrawn: bool = False
    corrected_by: list[int] = Field(default_factory=list)


class DossierRecord(Record):
    """The bookkeeping every dossier kind shares: its statutory delays, the inputs it
    refused or holds, the facts it accepted, what it has told whom, and its event counter."""

    tracked_deadlines: dict[str, TrackedDeadline] = Field(default_factory=dict)
    rejected_inputs: list[Rejection] = Field(default_factory=list)
    # Inputs waiting for the fact they rest on (models.errors.Waiting), in arrival order.
    held_inputs: list[HeldInput] = Field(default_factory=list)
    accepted_fingerprints: dict[str, int] = Field(default_factory=dict)
    seq: int = 0  # events received so far, accepted or not, and timers fired
    facts: list[Fact] = Field(default_factory=list)
    # Every notification sent, by register key; None once a correction withdrew it.
    said: dict[str, NotificationDue | None] = Field(default_factory=dict)
    clock: date | None = None  # the latest day the dossier has seen
    time_zone: str = "Europe/Paris"  # B9: where the authority keeping the delays sits
    holiday_calendar: str = FRANCE  # B9: whose public holidays it keeps (models.calendar)
    reference_version: str = ""  # the reference data the dossier is judged by
    # The day the opening was last judged: the start's, or its latest correction's.
    opened_at: date | None = None
    opening_corrected_by: list[int] = Field(default_factory=list)  # corrections of event 1

    @property
    def closed(self) -> bool:
        return False

    @property
    def opened_on(self) -> date:
        """No fact of the dossier may be dated before this day."""
        raise NotImplementedError

    @property
    def opening_rule(self) -> str:
        """The rule that opens the dossier on `opened_on`."""
        raise NotImplementedError

    def shown_deadline(self, key: str) -> bool:
        """Whether a tracked deadline is a deadline of the contract (not a reminder)."""
        return True

    @computed_field  # type: ignore[prop-decorator]
    @property
    def deadlines(self) -> dict[str, date]:
        """Contract view: name → last day allowed (with two of a name, the earliest open)."""
        return contract_deadlines(
            self.tracked_deadlines, lambda name: not self.shown_deadline(name)
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_deadline(self) -> date | None:
        upcoming = self.upcoming_deadline()
        return upcoming[0] if upcoming is not None else None

    def upcoming_deadline(self) -> tuple[date, str] | None:
        """The earliest open deadline of the contract and its name, while the dossier runs."""
        if self.closed:
            return None
        return min(
            (
                (d.due, key.split(".", 1)[0])
                for key, d in self.tracked_deadlines.items()
                if d.open and self.shown_deadline(key)
            ),
            default=None,
        )

    @property
    def next_deadline_name(self) -> str | None:
        upcoming = self.upcoming_deadline()
        return upcoming[1] if upcoming is not None else None

    def missed_alerts(self, alerts: Mapping[str, str]) -> list[str]:
        """J1: the alert kind of each delay that passed with its obligation outstanding,
        as the dossier stands now (a late fact that met it removes it)."""
        return sorted(
            {
                alerts[name]
                for key, d in self.tracked_deadlines.items()
                if (name := key.split(".", 1)[0]) in alerts
                and d.status in (DeadlineStatus.MISSED, DeadlineStatus.MET_LATE)
            }
        )

    @property
    def corrections(self) -> int:
        """How many corrections the dossier's facts received."""
        return len(self.opening_corrected_by) + sum(len(fact.corrected_by) for fact in self.facts)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def overdue(self) -> list[str]:
        """Deadlines passed with their obligation still outstanding."""
        if self.closed:
            return []
        return sorted(
            key for key, d in self.tracked_deadlines.items() if d.status == DeadlineStatus.MISSED
        )


D = TypeVar("D", bound=DossierRecord)


def fulfil(deadline: TrackedDeadline | None) -> None:
    """The obligation behind a deadline is met: on time, or late once missed."""
    if deadline is None:
        return
    if deadline.status == DeadlineStatus.PENDING:
        deadline.status = DeadlineStatus.MET
    elif deadline.status == DeadlineStatus.MISSED:
        deadline.status = DeadlineStatus.MET_LATE


def next_timer(
    deadlines: Mapping[str, TrackedDeadline], fires_on_last_day: Callable[[str], bool]
) -> TimerDue | None:
    """The earliest open deadline's alert: on its last day for a reminder, else the day
    after its last day allowed."""
    candidates = [
        TimerDue(key, d.due if fires_on_last_day(key) else d.due + timedelta(days=1))
        for key, d in deadlines.items()
        if d.open
    ]
    return min(candidates, key=lambda timer: (timer.fire_on, timer.key), default=None)


def contract_deadlines(
    deadlines: Mapping[str, TrackedDeadline], hidden: Callable[[str], bool]
) -> dict[str, date]:
    """Contract view: name → last day allowed; with two of a name (`name.detail`), the
    earliest open one."""
    view: dict[str, tuple[bool, date]] = {}
    for key, deadline in deadlines.items():
        name = key.split(".", 1)[0]
        if hidden(name):
            continue
        rank = (not deadline.open, deadline.due)
        if name not in view or rank < view[name]:
            view[name] = rank
    return {name: due for name, (_, due) in sorted(view.items())}
