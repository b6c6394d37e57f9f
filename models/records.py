"""The dossier's plain records: what the shell hands to the register activities, one per
row, and the view every dossier kind gives of itself."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from models.common import NotificationDue, Record


class EventRecord(Record):
    """A row of `dossier_event`: every input received, accepted or rejected, and every
    statutory timer that fired."""

    workflow_id: str
    seq: int
    event: str
    source: str  # start, signal, update or timer
    accepted: bool
    payload: Any = None
    reason: str | None = None
    rule: str | None = None  # the rule that refused it (migration 010)
    received_at: str
    corrects: int | None = None  # correct_event: the event it corrects
    run_id: str = ""  # the run that wrote it: a reset's branch is followed (migration 007)
    # Held facts (migration 013): `accepted`, `rejected` or `held`; the held inputs this step
    # placed in event time (their seq); those it refused, with their reasons.
    status: str | None = None
    placed: list[int] = Field(default_factory=list)
    refused_held: list[dict[str, Any]] = Field(default_factory=list)


class NotificationRecord(Record):
    """A row of `notification`, keyed so that a retried activity never writes it twice."""

    workflow_id: str
    key: str
    recipient: str
    kind: str
    language: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    run_id: str = ""
    seq: int = 0  # the step that said it

    @classmethod
    def of(
        cls, workflow_id: str, due: NotificationDue, run_id: str = "", seq: int = 0
    ) -> NotificationRecord:
        return cls(
            workflow_id=workflow_id,
            run_id=run_id,
            seq=seq,
            key=due.key,
            recipient=due.recipient.value,
            kind=due.kind,
            language=due.language,
            payload={**due.payload, "rule": due.rule},
        )


class ConvocationWait(Record):
    """A signatory waiting to be convened to a collective session (H1, G2): what the
    session planners read from the register."""

    service: str  # skills_assessment or parents_training
    person_id: str = ""  # a family signatory; empty for the CAI's single signatory
    platform: str
    due: date  # the last day the service may take place
    language: str = "fr"


class DossierView(Record):
    """What every dossier kind shows of itself: the register row, the search attributes
    (never personal data) and the summary an operator reads in the Web UI."""

    kind: str
    reference: str
    procedure: str | None = None
    country: str | None = None
    consulate: str | None = None
    prefecture: str | None = None
    responsible_body: str | None = None
    stage: str
    outcome: dict[str, Any] | None = None
    deadlines: dict[str, date] = Field(default_factory=dict)
    next_deadline: date | None = None
    next_deadline_name: str | None = None
    overdue: list[str] = Field(default_factory=list)
    training_prescribed: bool = False
    exemptions: list[str] = Field(default_factory=list)  # C1, C2, H2: what is exempted
    # J1: the alerts whose delay was missed, and the trainings prescribed, as they stand
    # after every correction (the ministry report counts these, not what was once said).
    deadlines_missed: list[str] = Field(default_factory=list)
    trainings: list[str] = Field(default_factory=list)
    corrections: int = 0
    awaiting: list[str] = Field(default_factory=list)
    waiting: list[ConvocationWait] = Field(default_factory=list)
    closed: bool = False
    version: int


class DossierRow(Record):
    workflow_id: str
    first_run_id: str
    view: DossierView
    run_id: str = ""


class DossierClaim(Record):
    """The first run of a workflow id reserves its dossier row."""

    workflow_id: str
    first_run_id: str
    kind: str
    reference: str


class StepRecord(Record):
    """Everything one step of a dossier writes, committed in one transaction (a
    transactional outbox): the input as received, the notifications it made due, and the
    projection of the dossier after it. The first step also claims the dossier's id."""

    event: EventRecord
    notifications: list[NotificationRecord] = Field(default_factory=list)
    projection: DossierRow | None = None  # None for a rejected input: nothing changed
    claim: DossierClaim | None = None
    # Whether its deliveries signal their outcome back (the dossiers begun before the
    # register answered what is undelivered).
    tell_deliveries: bool = True
