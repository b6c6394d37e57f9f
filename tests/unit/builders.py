"""Shared builders for the unit tests of the functional core: a valid application, the
reference data, event payloads, and helpers that feed events and statutory timers to the
pure rules exactly as the durable shell does."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from models import history
from models.common import NotificationDue, Recipient
from models.core import Step, TimerDue
from models.dossier import DossierRecord
from models.dossier_kind import DossierKind
from models.reference import ReferenceData, default_reference_data, merge_reference_data
from models.visa import VISA, VisaState, workflow_id_for

# A family-reunification dossier from Morocco (OFII Rabat).
COMPLETE_FILE = date(2009, 1, 12)  # attestation of complete file (R.421-8) / récépissé
FILED = date(2009, 2, 2)  # visa application date
APPLICATION_ID = "RBT-2009-000123"

# A country where OFII has no representation: a delegated organisation under convention.
DELEGATE_COUNTRY = "CM"
DELEGATE_ENTRY: dict[str, Any] = {
    "name": "Cameroun",
    "body": "delegate",
    "body_name": "Alliance française de Yaoundé",
    "scheme_starts_on": "2009-01-15",
}

Event = tuple[str, dict[str, Any]]


def application(**overrides: Any) -> dict[str, Any]:
    """A valid family-reunification application as plain JSON; `applicant` overrides are
    merged into the applicant object."""
    applicant: dict[str, Any] = {
        "full_name": "Amina El Idrissi",
        "birth_date": "1985-03-02",
        "nationality": "MA",
        "languages": ["ar", "fr"],
    }
    applicant.update(overrides.pop("applicant", {}))
    raw: dict[str, Any] = {
        "application_id": APPLICATION_ID,
        "procedure": "family_reunification",
        "applicant": applicant,
        "country_of_residence": "MA",
        "consulate": "Rabat",
        "visa_application_date": FILED.isoformat(),
        "complete_file_date": COMPLETE_FILE.isoformat(),
        "resides_in_france_married_over_6_months": False,
        "prefecture": "Paris",
    }
    raw.update(overrides)
    return raw


def spouse_application(**overrides: Any) -> dict[str, Any]:
    """A valid application of a spouse of a French national (no prefecture); the récépissé
    is not presented yet (A5, B3: `receipt_presented` follows)."""
    overrides.setdefault("complete_file_date", None)
    raw = application(procedure="spouse_of_french", **overrides)
    if "prefecture" not in overrides:
        raw.pop("prefecture")
    return raw


def reference(override: dict[str, Any] | None = None) -> ReferenceData:
    """The shipped reference data, with an operator's override merged on top."""
    return merge_reference_data(default_reference_data(), override or {})


def delegate_reference(**override: Any) -> ReferenceData:
    """The shipped reference data plus a country served by a delegated organisation."""
    return reference({"countries": {DELEGATE_COUNTRY: DELEGATE_ENTRY}, **override})


def working_day_reference() -> ReferenceData:
    """The CPC art. 642 policy switched on (B9)."""
    return reference({"calendar": {"extend_to_next_working_day": True}})


def stamp(day: date) -> str:
    return f"{day.isoformat()}T09:00:00Z"


def open_(
    raw: dict[str, Any] | None = None,
    ref: ReferenceData | None = None,
    today: date | None = None,
) -> Step[VisaState]:
    """Open a dossier from `raw` (default: `application()`)."""
    raw = application() if raw is None else raw
    day = today or date.fromisoformat(raw["visa_application_date"])
    return history.open_dossier(
        VISA, raw, ref or reference(), day, workflow_id_for(raw["application_id"])
    )


def event_day(payload: dict[str, Any]) -> date:
    """The date an event carries (its `*_on` field)."""
    days = [value for key, value in payload.items() if key.endswith("_on")]
    assert len(days) == 1, payload
    return date.fromisoformat(days[0])


def send(
    state: VisaState,
    name: str,
    payload: Any,
    ref: ReferenceData | None = None,
    today: date | None = None,
) -> Step[VisaState]:
    """Feed one event; `today` defaults to the date the event carries."""
    day = today or (event_day(payload) if isinstance(payload, dict) else FILED)
    return history.receive(VISA, state, name, payload, ref or reference(), day, stamp(day))


def feed(
    events: list[Event],
    raw: dict[str, Any] | None = None,
    ref: ReferenceData | None = None,
    start: Step[VisaState] | None = None,
) -> Step[VisaState]:
    """Open a dossier (or continue `start`) and feed every event, each received on the
    day it carries. Every event but the last must be accepted; the last Step is returned
    whether accepted or not."""
    ref = ref or reference()
    step = start or open_(raw, ref)
    for index, (name, payload) in enumerate(events):
        if index > 0:
            assert step.rejection is None, step.rejection
        step = send(step.state, name, payload, ref)
    return step


def resume(state: VisaState) -> Step[VisaState]:
    """A Step standing for a dossier already in `state`, to continue feeding it."""
    return Step(state)


def due_timer(state: VisaState) -> TimerDue | None:
    """The next statutory alert of a visa dossier, as the shell waits for it."""
    return history.due_timer(VISA, state)


def on_deadline(state: VisaState, today: date) -> Step[VisaState]:
    """The shell's timer fires on `today`: every delay run out by then passes."""
    return history.on_deadline(VISA, state, today)


def run_timers(state: VisaState, until: date) -> tuple[VisaState, list[Step[VisaState]]]:
    """Fire, in order, every statutory timer due on or before `until`, as the shell does."""
    fired: list[Step[VisaState]] = []
    while (timer := due_timer(state)) is not None and timer.fire_on <= until:
        step = on_deadline(state, timer.fire_on)
        fired.append(step)
        state = step.state
    return state, fired


D = TypeVar("D", bound=DossierRecord)


def deliver(
    kind: DossierKind[D],
    state: D,
    name: str,
    payload: Any,
    today: date | None = None,
    ref: ReferenceData | None = None,
) -> Step[D]:
    """Feed one event to a dossier of any kind; `today` defaults to the date it carries."""
    day = today or event_day(payload)
    return history.receive(kind, state, name, payload, ref or reference(), day, stamp(day))


def pass_time(kind: DossierKind[D], state: D, until: date) -> tuple[D, list[NotificationDue]]:
    """Fire every statutory timer of a dossier of any kind due by `until`, as the shell
    does; the notifications they sent, in order."""
    sent: list[NotificationDue] = []
    while (timer := history.due_timer(kind, state)) is not None and timer.fire_on <= until:
        step = history.on_deadline(kind, state, timer.fire_on)
        sent += step.notifications
        state = step.state
    return state, sent


def correction(
    seq: int, payload: dict[str, Any] | None, on: date, reason: str = "entered wrongly"
) -> Event:
    """`correct_event`: replace event `seq`'s payload, or withdraw it (`payload` None)."""
    return (
        "correct_event",
        {"seq": seq, "payload": payload, "reason": reason, "corrected_on": on.isoformat()},
    )


def pairs(step: Step[VisaState]) -> set[tuple[str, Recipient]]:
    """The (kind, recipient) of each notification of a step."""
    return {(note.kind, note.recipient) for note in step.notifications}


def notes_of(step: Step[VisaState], kind: str) -> list[NotificationDue]:
    return [note for note in step.notifications if note.kind == kind]


def to_applicant(step: Step[VisaState], kind: str) -> NotificationDue:
    found = [note for note in notes_of(step, kind) if note.recipient == Recipient.APPLICANT]
    assert len(found) == 1, step.notifications
    return found[0]


def unchanged_but_seq(before: DossierRecord, after: DossierRecord) -> bool:
    """A rejection leaves everything but `seq` and `rejected_inputs` as it was."""
    excluded = {"seq", "rejected_inputs"}
    return before.model_dump(exclude=excluded) == after.model_dump(exclude=excluded)


# --- event payloads -------------------------------------------------------------------


def language_evaluation(
    on: date, oral: int = 50, written: int = 20, evaluator: str = "OFII Rabat"
) -> Event:
    return (
        "language_evaluation",
        {
            "evaluated_on": on.isoformat(),
            "oral_score": oral,
            "written_score": written,
            "evaluator": evaluator,
        },
    )


def values_evaluation(
    on: date, correct: int = 6, asked: int = 6, language: str = "ar", evaluator: str = "OFII Rabat"
) -> Event:
    return (
        "values_evaluation",
        {
            "evaluated_on": on.isoformat(),
            "language_used": language,
            "questions_asked": asked,
            "correct_answers": correct,
            "evaluator": evaluator,
        },
    )


def language_test_exemption(on: date, ground: str = "secondary_studies_francophone_3y") -> Event:
    return (
        "language_test_exemption",
        {"decided_on": on.isoformat(), "ground": ground, "evidence_ref": "DIPLOME-42"},
    )


def training_prescribed(
    on: date, kind: str = "language", hours: int = 120, provider: str = "Institut Rabat"
) -> Event:
    return (
        "training_prescribed",
        {"kind": kind, "hours": hours, "provider": provider, "notified_on": on.isoformat()},
    )


def training_exemption(on: date, trainings: list[str], ground: str = "country_situation") -> Event:
    return (
        "training_exemption",
        {
            "decided_on": on.isoformat(),
            "trainings": trainings,
            "ground": ground,
            "detail": "troubles à l'ordre public dans la région",
            "evidence_ref": "NOTE-CONSULAT-7",
        },
    )


def training_started(on: date, kind: str = "language") -> Event:
    return ("training_started", {"kind": kind, "started_on": on.isoformat()})


def training_absence(on: date, kind: str = "language", reason: str | None = None) -> Event:
    return (
        "training_absence",
        {"kind": kind, "absent_on": on.isoformat(), "legitimate_reason": reason},
    )


def training_completed(on: date, kind: str = "language", hours: int = 120) -> Event:
    return (
        "training_completed",
        {
            "kind": kind,
            "completed_on": on.isoformat(),
            "hours_attended": hours,
            "attestation_ref": "ATT-2009-1",
        },
    )


def visa_decision(on: date, decision: str = "issued", grounds: list[str] | None = None) -> Event:
    payload: dict[str, Any] = {"decision": decision, "decided_on": on.isoformat()}
    if grounds is not None:
        payload["grounds"] = grounds
    return ("visa_decision", payload)
