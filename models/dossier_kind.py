"""A dossier kind, as the fold (models.history) and the durable shell drive it.

Each kind assembles one descriptor, in its own package (`models.visa.VISA`,
`models.cai.CAI`, `models.family.FAMILY`): its name, its state and view, the one
catalogue binding each event name to its model and handler, how it opens, which events
it admits at all, and how a passing deadline changes it. The functions mutate the state
they are given; none does I/O or reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from models.common import NotificationDue
from models.core import Step
from models.dossier import DossierRecord
from models.errors import InputRejected
from models.events import Event
from models.intake import parse_payload
from models.records import DossierView
from models.reference import ReferenceData

S = TypeVar("S", bound=DossierRecord)
T = TypeVar("T", bound=BaseModel)

Handler = Callable[[S, Any, ReferenceData, date], list[NotificationDue]]


@dataclass(frozen=True)
class Registered(Generic[S]):
    """One event of a dossier kind: its model and the rule that applies it, bound once."""

    model: type[Event]
    handle: Handler[S]


def on(model: type[Event], handle: Handler[S]) -> Registered[S]:
    return Registered(model, handle)


class DossierKind(Protocol[S]):
    """What the fold and the shell need of a dossier kind."""

    @property
    def kind(self) -> str:
        """The kind's name in the register and the views (`visa_application`, …)."""

    @property
    def state_type(self) -> type[S]: ...

    @property
    def view(self) -> Callable[[S], DossierView]: ...

    @property
    def events(self) -> Mapping[str, Registered[S]]:
        """The kind's events, as the contract names them (`correct_event` aside)."""

    @property
    def start_input(self) -> Callable[[Any, str], Any]:
        """The validated start input, from the raw one and the workflow id it must match."""

    @property
    def open_input(self) -> Callable[[Any, ReferenceData], Step[S]]:
        """The dossier as its start input opens it, with its first notifications."""

    @property
    def admit(self) -> Callable[[S, Event], None]:
        """Refuses (InputRejected) an event the dossier takes in no longer, whatever it is."""

    @property
    def fire(self) -> Callable[[S, str, date], list[NotificationDue]]:
        """One statutory delay passes: what became of it, and who is alerted."""

    @property
    def fires_on_last_day(self) -> Callable[[str], bool]:
        """Whether a delay's alert is a reminder on its last day (else the day after)."""

    @property
    def settle(self) -> Callable[[S], None]:
        """What follows from any accepted event (B1/B3: the evaluations are all in)."""

    @property
    def judged(self) -> Callable[[S, date, ReferenceData], None]:
        """What follows from the opening judged on a day (A1, A2: the correction window)."""

    @property
    def workflow_id_of(self) -> Callable[[S], str] | None:
        """The workflow id a dossier runs under: a kind that names it takes corrections of
        its opening input (`correct_event` on event 1)."""

    @property
    def notified_anew(self) -> Callable[[str, Any, Any, ReferenceData], bool]:
        """Whether a correction from the first payload to the second tells the recipients
        something new, so that the fact counts as received on the correction's date (B7:
        results corrected from sufficient to insufficient notify the need then)."""


@dataclass(frozen=True)
class Descriptor(Generic[S]):
    """The plain `DossierKind` each kind's package fills in once."""

    kind: str
    state_type: type[S]
    view: Callable[[S], DossierView]
    events: Mapping[str, Registered[S]]
    start_input: Callable[[Any, str], Any]
    open_input: Callable[[Any, ReferenceData], Step[S]]
    admit: Callable[[S, Event], None]
    fire: Callable[[S, str, date], list[NotificationDue]]
    fires_on_last_day: Callable[[str], bool] = lambda _: False
    settle: Callable[[S], None] = lambda _: None
    judged: Callable[[S, date, ReferenceData], None] = lambda _state, _day, _reference: None
    workflow_id_of: Callable[[S], str] | None = None
    notified_anew: Callable[[str, Any, Any, ReferenceData], bool] = (
        lambda _name, _before, _after, _reference: False
    )


def contract_start(
    model: type[T],
    raw: Any,
    workflow_id: str,
    id_field: str,
    workflow_id_for: Callable[[str], str],
) -> T:
    """A start input parsed, and the workflow id it must run under checked (contract)."""
    rules: Any = model  # every start input names its rule and its fields' (RULE, FIELD_RULES)
    parsed = parse_payload(model, raw, rules.RULE, rules.FIELD_RULES)
    expected = workflow_id_for(getattr(parsed, id_field))
    if workflow_id != expected:
        raise InputRejected("contract", f"the workflow id must be {expected}", id_field)
    return parsed
