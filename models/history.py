"""A dossier judged on the dates of its facts (docs/interpretations.md, "Readings applied").

The accepted facts of a dossier are kept in arrival order; its state is the fold of the
rules over them in event time (by the date each carries, ties in arrival order), with the
statutory deadlines fired between them as facts of the calendar. A late fact is inserted
where its date puts it and the state re-folded; a correction replaces or withdraws a fact
and the state is re-folded. A new fact or a correction that would make a fact already
accepted inadmissible (a decision above all) is itself refused, naming both.

A fact refused only because what it rests on has not arrived yet (models.errors.Waiting: a
training started before its prescription is on file) is held, not refused: after each
accepted fact the held ones are tried again, and one now admitted takes its place in event
time under its own number, as if it had arrived in order. One still waiting when the
dossier closes is refused then, with its reason.

What was said stays said: the notifications of the fold are compared with those already
sent, and each one that a re-fold changed or withdrew gets a `correction_notice` naming
it. Everything here is pure: the shell hands in the day and the reference data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from models.calendar import zone_info
from models.common import HeldInput, NotificationDue, Rejection
from models.core import Step, TimerDue
from models.dossier import DossierRecord, Fact, next_timer
from models.dossier_kind import DossierKind
from models.errors import InputRejected, Waiting
from models.events import (
    EVENT_DATE_SLACK,
    Correction,
    Event,
    check_event_date,
    fingerprint,
    parse_event,
)
from models.intake import parse_payload
from models.notifications import Kind
from models.reference import ReferenceData

D = TypeVar("D", bound=DossierRecord)

CORRECT_EVENT = "correct_event"
OPENING = 1  # the start input is event 1 of every dossier
# What a re-fold carries over from the dossier it replaces: the journal, not the facts' effects.
JOURNAL = (
    "seq",
    "rejected_inputs",
    "held_inputs",
    "accepted_fingerprints",
    "facts",
    "said",
    "clock",
    "reference_version",
    "opened_at",
    "opening_corrected_by",
)


def catalogue(kind: DossierKind[D]) -> dict[str, type[Event]]:
    """Event name → model, as the contract names them."""
    return {name: registered.model for name, registered in kind.events.items()}


def event_names(kind: DossierKind[D]) -> tuple[str, ...]:
    """Every event a dossier of the kind takes in: its own, and `correct_event`."""
    return (*kind.events, CORRECT_EVENT)


def _apply(
    kind: DossierKind[D],
    state: D,
    name: str,
    event: Event,
    reference: ReferenceData,
    received_on: date,
) -> list[NotificationDue]:
    kind.admit(state, event)
    notes = kind.events[name].handle(state, event, reference, received_on)
    kind.settle(state)
    return notes


def due_timer(kind: DossierKind[D], state: D) -> TimerDue | None:
    """The next statutory delay to pass, while the dossier runs."""
    if state.closed:
        return None
    return next_timer(state.tracked_deadlines, kind.fires_on_last_day)


@dataclass(frozen=True)
class Opening:
    """A corrected start input, and the correction that brought it (event `seq`)."""

    input: Any
    seq: int
    judged_on: date


@dataclass
class _Folded(Generic[D]):
    state: D
    notes: dict[str, NotificationDue]
    skipped: frozenset[int] = frozenset()  # held inputs tried that still wait


class _FoldFailed(Exception):
    def __init__(self, fact: Fact, rejected: InputRejected) -> None:
        self.fact = fact
        self.rejected = rejected


def local_day(when: date | datetime, zone: str) -> date:
    """The day it is where the authority keeping the delays sits (B9)."""
    if isinstance(when, datetime):
        return when.astimezone(zone_info(zone)).date()
    return when


# --- opening ---------------------------------------------------------------------------


def open_dossier(
    kind: DossierKind[D],
    raw: Any,
    reference: ReferenceData,
    when: date | datetime,
    workflow_id: str,
) -> Step[D]:
    """Open a dossier from its start input, and pass the delays already run out."""
    input_ = kind.start_input(raw, workflow_id)
    # Before the rules count anything from them (the one-day slack covers time zones).
    _not_in_the_future(input_, local_day(when, "UTC"))
    try:
        step = kind.open_input(input_, reference)
    except InputRejected:
        raise
    except Exception as error:
        raise _unjudgeable(error) from None
    state = step.state
    state.seq = OPENING
    state.reference_version = reference.version
    today = local_day(when, state.time_zone)
    state.clock = state.opened_at = today
    kind.judged(state, today, reference)
    notes = _keyed(step.notifications, _origin(OPENING))
    notes.update(_advance(kind, state, today))
    state.said = dict(notes)
    return Step(state, list(notes.values()))


def _not_in_the_future(input_: Any, today: date) -> None:
    """The dates of a start input happened already (a start dated 9999 is refused)."""
    for name in getattr(input_, "DATE_FIELDS", ()):
        value = getattr(input_, name)
        if value is not None and value > today + EVENT_DATE_SLACK:
            rule = input_.FIELD_RULES.get(name, input_.RULE)
            raise InputRejected(rule, f"{value} is in the future", name)


# --- the fold --------------------------------------------------------------------------


def _fold(
    kind: DossierKind[D],
    state: D,
    facts: Iterable[Fact],
    reference: ReferenceData,
    clock: date,
    opening: Opening | None = None,
    optional: frozenset[int] = frozenset(),
) -> _Folded[D]:
    """The dossier re-opened from its start input (or its correction) and the facts applied
    in event time (ties in arrival order, but that a fact waiting for a later one of its
    day goes after it). The `optional` facts (held inputs tried again) that still wait are
    skipped."""
    input_ = opening.input if opening is not None else state.input  # type: ignore[attr-defined]
    opened = kind.open_input(input_, reference)
    new = opened.state
    judged_on = opening.judged_on if opening is not None else state.opened_at or clock
    kind.judged(new, judged_on, reference)
    notes = _keyed(opened.notifications, _origin(OPENING))
    ordered = sorted((f for f in facts if not f.withdrawn), key=lambda f: (f.dated, f.seq))
    deferred: list[_FoldFailed] = []  # facts of the day waiting for a later fact of that day
    skipped: set[int] = set()
    for index, fact in enumerate(ordered):
        notes.update(_advance(kind, new, min(fact.dated, clock)))
        try:
            notes.update(_applied(kind, new, fact, reference))
        except _FoldFailed as failed:
            if not isinstance(failed.rejected, Waiting):
                raise
            deferred.append(failed)
        else:
            new, deferred = _retry_deferred(kind, new, deferred, reference, notes)
        last_of_its_day = index + 1 == len(ordered) or ordered[index + 1].dated != fact.dated
        if deferred and last_of_its_day:
            for waits in deferred:
                if waits.fact.seq not in optional:
                    raise waits
            skipped.update(waits.fact.seq for waits in deferred)
            deferred = []
    notes.update(_advance(kind, new, clock))
    for name in JOURNAL:
        setattr(new, name, getattr(state, name))
    if opening is not None:
        new.opened_at = opening.judged_on
        new.opening_corrected_by = [*state.opening_corrected_by, opening.seq]
    return _Folded(new, notes, frozenset(skipped))


def _applied(
    kind: DossierKind[D], state: D, fact: Fact, reference: ReferenceData
) -> dict[str, NotificationDue]:
    """One fact applied in the fold: what it makes due, or _FoldFailed naming it."""
    event = kind.events[fact.name].model.model_validate(fact.payload)
    try:
        applied = _apply(kind, state, fact.name, event, reference, fact.received_on)
    except InputRejected as rejected:
        raise _FoldFailed(fact, rejected) from None
    return _keyed(applied, _origin(fact.seq))


def _retry_deferred(
    kind: DossierKind[D],
    state: D,
    deferred: list[_FoldFailed],
    reference: ReferenceData,
    notes: dict[str, NotificationDue],
) -> tuple[D, list[_FoldFailed]]:
    """A fact carries a date, not an hour: one that waits for a later fact of its day goes
    after it (an outcome that arrived before its session's convocation of the same day).
    Each is tried on a copy; the dossier and the facts still waiting are returned (a
    Waiting rule changes nothing before it raises)."""
    progress = True
    while progress and deferred:
        progress = False
        for failed in deferred:
            trial = state.model_copy(deep=True)
            try:
                notes.update(_applied(kind, trial, failed.fact, reference))
            except _FoldFailed:
                continue  # it waits still (what came since does not admit it either)
            state, progress = trial, True
            deferred = [other for other in deferred if other is not failed]
            break
    return state, deferred


def _advance(kind: DossierKind[D], state: D, until: date) -> dict[str, NotificationDue]:
    """Pass every statutory delay whose alert falls on or before `until`."""
    notes: dict[str, NotificationDue] = {}
    while (timer := due_timer(kind, state)) is not None and timer.fire_on <= until:
        due = state.tracked_deadlines[timer.key].due
        notes.update(_keyed(kind.fire(state, timer.key, timer.fire_on), f"{timer.key}@{due}"))
    return notes


def _origin(seq: int) -> str:
    return f"{seq:06d}"


def _keyed(notes: Iterable[NotificationDue], origin: str) -> dict[str, NotificationDue]:
    """Notifications by their register key; two of one step under one key is a fault of
    the rules, never a notification silently dropped (G4: one report per parent)."""
    keyed: dict[str, NotificationDue] = {}
    for note in notes:
        note = note.model_copy(update={"origin": origin})
        if note.key in keyed:
            raise ValueError(f"two notifications of one step share the key {note.key}")
        keyed[note.key] = note
    return keyed


# --- receiving an event or a correction ------------------------------------------------


def receive(
    kind: DossierKind[D],
    state: D,
    name: str,
    raw: Any,
    reference: ReferenceData,
    when: date | datetime,
    received_at: str,
) -> Step[D]:
    """Take one event (or `correct_event`) in: accepted, the dossier re-folded with it and
    what it changed told; refused, the dossier unchanged but for the rejection recorded."""
    seq = state.seq + 1
    today = local_day(when, state.time_zone)
    clock = max(state.clock or today, today)
    opening: Opening | None = None
    fact: Fact | None = None
    try:
        if name == CORRECT_EVENT:
            facts, opening, why = _corrected(kind, state, raw, seq, today, reference)
            # What puts the correction at odds with another fact: its payload, or its
            # withdrawing the event.
            placed_by = "payload" if raw.get("payload") is not None else "seq"
        else:
            fact = _new_fact(kind, state, name, raw, seq, today)
            facts = [*state.facts, fact]
            why = _lateness(fact)
            placed_by = kind.events[name].model.DATE_FIELD  # its date puts it before the other
        folded = _refold(kind, state, facts, reference, clock, seq, placed_by, opening)
    except Waiting as waiting:  # the new fact, or an accepted one it goes before, waits
        if fact is None or len(state.held_inputs) >= KEPT_HELD:
            return _refused(state, seq, name, received_at, waiting)
        held = _held(state, fact, received_at, waiting)
        folded = _fold(kind, held.state, state.facts, reference, clock)
        facts, why = state.facts, _lateness(fact)
    except InputRejected as rejected:
        return _refused(state, seq, name, received_at, rejected)
    except Exception as error:
        # Whatever the rules cannot judge is refused and recorded, never a stuck dossier.
        return _refused(state, seq, name, received_at, _unjudgeable(error))
    else:
        held = Step(state)  # nothing held
    folded.state.seq, folded.state.clock, folded.state.facts = seq, clock, facts
    released = _release(kind, folded, reference, clock)
    if held.held is not None and held.held not in released.placed:
        return held  # it waits (the held inputs it might rest on wait too)
    new = released.folded.state
    new.accepted_fingerprints = {
        fingerprint(fact.name, fact.payload): fact.seq for fact in new.facts if not fact.withdrawn
    }
    why = "; ".join([why, *(_lateness(_as_fact(held)) for held in released.placed)])
    told = _tell(new, released.folded.notes, seq, why)
    refused_held = _record(new, [*released.refused, *_refuse_held_if_closed(new)])
    corrects = OPENING if opening is not None else None
    corrects = next((f.seq for f in facts if seq in f.corrected_by), corrects)
    return Step(
        new,
        told,
        corrects=corrects,
        placed=[held.seq for held in released.placed],
        refused_held=refused_held,
    )


# The state keeps the latest rejections; the register keeps them all (dossier_event).
KEPT_REJECTIONS = 50
# Inputs held at once, at most: beyond, one more is refused (the state stays small).
KEPT_HELD = 50


def _refused(state: D, seq: int, name: str, received_at: str, rejected: InputRejected) -> Step[D]:
    """The dossier as it was, but for the rejection recorded."""
    kept = state.model_copy(deep=True)
    kept.seq = seq
    rejection = _rejection(name, received_at, seq, rejected)
    _record(kept, [rejection])
    return Step(kept, [], rejection)


def _rejection(name: str, received_at: str, seq: int, rejected: InputRejected) -> Rejection:
    return Rejection(
        event=name,
        received_at=received_at,
        reason=rejected.reason,
        rule=rejected.rule,
        field=rejected.field,
        seq=seq,
    )


def _record(state: DossierRecord, rejections: list[Rejection]) -> list[Rejection]:
    """Keep the rejections in the state (the latest KEPT_REJECTIONS of them)."""
    if rejections:
        state.rejected_inputs = [*state.rejected_inputs, *rejections][-KEPT_REJECTIONS:]
    return rejections


# --- facts held until what they rest on arrives ----------------------------------------


def _held(state: D, fact: Fact, received_at: str, waiting: Waiting) -> Step[D]:
    """The dossier as it was, but for the input held (accepted, not yet in effect)."""
    kept = state.model_copy(deep=True)
    kept.seq = fact.seq
    held = HeldInput(
        event=fact.name,
        received_at=received_at,
        reason=waiting.reason,
        rule=waiting.rule,
        field=waiting.field,
        seq=fact.seq,
        payload=fact.payload,
        dated=fact.dated,
        received_on=fact.received_on,
    )
    kept.held_inputs = [*kept.held_inputs, held]
    return Step(kept, [], held=held)


def _as_fact(held: HeldInput) -> Fact:
    return Fact(
        seq=held.seq,
        name=held.event,
        payload=held.payload,
        dated=held.dated,
        received_on=held.received_on,
    )


@dataclass
class _Released(Generic[D]):
    folded: _Folded[D]
    placed: list[HeldInput]
    refused: list[Rejection]


def _release(
    kind: DossierKind[D], folded: _Folded[D], reference: ReferenceData, clock: date
) -> _Released[D]:
    """The held inputs tried again in event time, once a fact was accepted: those admitted
    now take their places among the facts (all together, as they may rest on each other,
    else one at a time); one refused now for another reason (what came makes it
    inadmissible) is a rejection; the others wait on."""
    placed: list[HeldInput] = []
    refused: list[Rejection] = []
    while folded.state.held_inputs:
        state = folded.state
        outcome = _place(kind, state, state.held_inputs, reference, clock)
        for held in sorted(state.held_inputs, key=lambda h: (h.dated, h.seq)):
            if outcome is not None:
                break
            outcome = _place(kind, state, [held], reference, clock)
        if outcome is None:
            break
        if isinstance(outcome, Rejection):
            state.held_inputs = [h for h in state.held_inputs if h.seq != outcome.seq]
            refused.append(outcome)
            continue
        placed += [h for h in state.held_inputs if h not in outcome.state.held_inputs]
        folded = outcome
    return _Released(folded, placed, refused)


def _place(
    kind: DossierKind[D],
    state: D,
    candidates: list[HeldInput],
    reference: ReferenceData,
    clock: date,
) -> _Folded[D] | Rejection | None:
    """The dossier re-folded with the held `candidates` in their places but for those that
    still wait; the rejection of a lone candidate refused now; None when none is placed,
    or when placing them would make an accepted fact wait or (several) fail."""
    facts = [*state.facts, *(_as_fact(held) for held in candidates)]
    optional = frozenset(held.seq for held in candidates)
    lone = candidates[0] if len(candidates) == 1 else None
    try:
        folded = _fold(kind, state, facts, reference, clock, optional=optional)
    except _FoldFailed as failed:
        if lone is None or isinstance(failed.rejected, Waiting):
            return None
        rejected = failed.rejected
        if failed.fact.seq != lone.seq:
            rejected = _contradiction(failed, kind.events[lone.event].model.DATE_FIELD)
        return _rejection(lone.event, lone.received_at, lone.seq, rejected)
    except Exception as error:
        if lone is None:
            return None
        return _rejection(lone.event, lone.received_at, lone.seq, _unjudgeable(error))
    if folded.skipped == optional:
        return None
    folded.state.facts = [fact for fact in facts if fact.seq not in folded.skipped]
    folded.state.held_inputs = [
        h for h in state.held_inputs if h.seq not in optional or h.seq in folded.skipped
    ]
    return folded


def _refuse_held_if_closed(state: DossierRecord) -> list[Rejection]:
    """Nothing is dropped: an input still waiting when the dossier closes is refused then,
    with the reason it waited."""
    if not state.closed:
        return []
    refused = [
        Rejection(
            event=held.event,
            received_at=held.received_at,
            reason=f"{held.reason}; the dossier closed before it arrived",
            rule=held.rule,
            field=held.field,
            seq=held.seq,
        )
        for held in state.held_inputs
    ]
    state.held_inputs = []
    return refused


def _unjudgeable(error: Exception) -> InputRejected:
    return InputRejected(
        "core",
        f"the rules cannot judge this input ({type(error).__name__}); nothing changed",
    )


def _new_fact(kind: DossierKind[D], state: D, name: str, raw: Any, seq: int, today: date) -> Fact:
    event = parse_event(catalogue(kind), name, raw)
    payload = event.model_dump(mode="json")
    same = state.accepted_fingerprints.get(fingerprint(name, payload))
    if same is not None:
        raise InputRejected(
            "duplicate", f"identical to event #{same}, already accepted; nothing changed"
        )
    held = next((h for h in state.held_inputs if (h.event, h.payload) == (name, payload)), None)
    if held is not None:
        raise InputRejected("duplicate", f"identical to event #{held.seq}, held; nothing changed")
    check_event_date(event, today)
    _not_before_opening(state, event)
    # A fact counts from the day it happened, and never from after the day it arrived
    # (a convocation is dated by its session, ahead of its sending).
    dated = min(event.event_date(), today)
    return Fact(seq=seq, name=name, payload=payload, dated=dated, received_on=today)


def _not_before_opening(state: DossierRecord, event: Event) -> None:
    if event.event_date() < state.opened_on:
        raise InputRejected(
            state.opening_rule,
            f"{event.event_date()} precedes the opening of the dossier on {state.opened_on}",
            event.DATE_FIELD,
        )


def _corrected(
    kind: DossierKind[D], state: D, raw: Any, seq: int, today: date, reference: ReferenceData
) -> tuple[list[Fact], Opening | None, str]:
    """The facts with one replaced or withdrawn, or the opening input corrected, and the
    reason to tell recipients."""
    correction = parse_payload(Correction, raw, Correction.RULE)
    check_event_date(correction, today)
    if correction.seq == OPENING and kind.workflow_id_of is not None:
        opening = _corrected_opening(kind, state, correction, seq, today)
        what = f"event #{OPENING} (start) corrected"
        return state.facts, opening, f"{what} on {correction.corrected_on}: {correction.reason}"
    target = next((f for f in state.facts if f.seq == correction.seq), None)
    if target is None:
        raise InputRejected("correction", _why_not_correctable(state, correction.seq), "seq")
    if correction.corrected_on < target.received_on:
        raise InputRejected(
            "correction",
            f"precedes the receipt of event #{target.seq} on {target.received_on}",
            "corrected_on",
        )
    replacement: Fact
    if correction.payload is None:
        if target.withdrawn:
            raise InputRejected("correction", f"event #{target.seq} is already withdrawn", "seq")
        replacement = target.model_copy(update={"withdrawn": True})
        what = f"event #{target.seq} ({target.name}) withdrawn"
    else:
        try:
            event = parse_event(catalogue(kind), target.name, correction.payload)
            check_event_date(event, today)
            _not_before_opening(state, event)
        except InputRejected as rejected:
            raise _in_payload(rejected) from None
        payload = event.model_dump(mode="json")
        if payload == target.payload and not target.withdrawn:
            raise InputRejected("correction", "the payload is the one on file; nothing changed")
        # What the correction tells anew reaches the recipients on its date (B7).
        anew = kind.notified_anew(target.name, target.payload, payload, reference)
        replacement = target.model_copy(
            update={
                "payload": payload,
                "withdrawn": False,
                "dated": min(event.event_date(), target.received_on),
                "received_on": correction.corrected_on if anew else target.received_on,
            }
        )
        what = f"event #{target.seq} ({target.name}) corrected"
    replacement.corrected_by = [*target.corrected_by, seq]
    facts = [replacement if f.seq == target.seq else f for f in state.facts]
    return facts, None, f"{what} on {correction.corrected_on}: {correction.reason}"


def _corrected_opening(
    kind: DossierKind[D], state: D, correction: Correction, seq: int, today: date
) -> Opening:
    """The corrected start input, validated like a start under the same workflow id (every
    dossier: the opening facts are corrected like any other)."""
    if correction.payload is None:
        raise InputRejected(
            "correction", "the opening input is corrected, never withdrawn", "payload"
        )
    assert kind.workflow_id_of is not None
    try:
        input_ = kind.start_input(correction.payload, kind.workflow_id_of(state))
        _not_in_the_future(input_, today)
    except InputRejected as rejected:
        raise _in_payload(rejected) from None
    current: Any = state
    if input_.model_dump(mode="json") == current.input.model_dump(mode="json"):
        raise InputRejected("correction", "the payload is the one on file; nothing changed")
    return Opening(input=input_, seq=seq, judged_on=today)


def _in_payload(rejected: InputRejected) -> InputRejected:
    """A corrected payload breaks a rule: its field is named inside `payload`."""
    return InputRejected(
        rejected.rule, rejected.message, f"payload.{rejected.field or ''}".rstrip(".")
    )


def _why_not_correctable(state: DossierRecord, seq: int) -> str:
    if seq == OPENING:
        return "event #1 is the opening input; a rejected start is corrected by starting again"
    rejected = next((r for r in state.rejected_inputs if r.seq == seq), None)
    if rejected is not None:
        return f"event #{seq} ({rejected.event}) was rejected; send it again, corrected"
    if seq > state.seq:
        return f"no event #{seq}: the dossier has received {state.seq}"
    return f"#{seq} is not an accepted event (a statutory delay, or a correction)"


def _refold(
    kind: DossierKind[D],
    state: D,
    facts: list[Fact],
    reference: ReferenceData,
    clock: date,
    seq: int,
    placed_by: str,
    opening: Opening | None = None,
) -> _Folded[D]:
    try:
        folded = _fold(kind, state, facts, reference, clock, opening)
        if opening is not None:
            _facts_after_opening(folded.state, facts)
        return folded
    except _FoldFailed as failed:
        if failed.fact.seq == seq:
            raise failed.rejected from None
        if seq in failed.fact.corrected_by:  # the corrected payload itself does not hold
            raise _in_payload(failed.rejected) from None
        if isinstance(failed.rejected, Waiting):  # held, until what that one waits for comes
            raise Waiting(*_naming(failed, "would wait", placed_by)) from None
        raise _contradiction(failed, placed_by) from None


def _contradiction(failed: _FoldFailed, placed_by: str) -> InputRejected:
    """Another fact would no longer hold: the new input is refused, naming both."""
    return InputRejected(*_naming(failed, "would no longer hold", placed_by))


def _naming(failed: _FoldFailed, what: str, placed_by: str) -> tuple[str, str, str]:
    """Rule, message and field of an input that puts an accepted fact at odds."""
    other = failed.fact
    return (
        failed.rejected.rule,
        f"contradicts event #{other.seq} ({other.name}, {other.dated}), already accepted, "
        f"which {what}: {failed.rejected.message}",
        placed_by,
    )


def _facts_after_opening(state: DossierRecord, facts: list[Fact]) -> None:
    """A corrected opening must not leave an accepted fact before the dossier opened."""
    for fact in facts:
        if not fact.withdrawn and fact.dated < state.opened_on:
            raise _FoldFailed(
                fact,
                InputRejected(
                    state.opening_rule,
                    f"{fact.dated} precedes the opening of the dossier on {state.opened_on}",
                ),
            )


def _lateness(fact: Fact) -> str:
    return (
        f"{fact.name} dated {fact.dated} reached the dossier on {fact.received_on} "
        f"(event #{fact.seq})"
    )


# --- what was said ---------------------------------------------------------------------


def _tell(
    state: DossierRecord, notes: Mapping[str, NotificationDue], seq: int, why: str
) -> list[NotificationDue]:
    """The notifications to send now: each new one, and a `correction_notice` for each one
    already sent that the re-fold changed or withdrew (what was said stays said)."""
    said = dict(state.said)
    told: list[NotificationDue] = []
    for key, note in notes.items():
        before = said.get(key, _UNSAID)
        if before is _UNSAID:
            told.append(note)
        elif not _same(before, note):
            told.append(_correction_notice(key, before, note, seq, why))
        said[key] = note
    for key, before in state.said.items():
        if before is not None and key not in notes:
            told.append(_correction_notice(key, before, None, seq, why))
            said[key] = None
    state.said = said
    return told


_UNSAID: Any = object()


def _same(before: NotificationDue | None, after: NotificationDue) -> bool:
    return before is not None and before.model_dump(exclude={"origin"}) == after.model_dump(
        exclude={"origin"}
    )


def _correction_notice(
    key: str,
    before: NotificationDue | None,
    after: NotificationDue | None,
    seq: int,
    why: str,
) -> NotificationDue:
    """Tells the recipient of `key` what now stands instead (contract: correction_notice)."""
    told = before if before is not None else after
    assert told is not None
    return NotificationDue(
        kind=Kind.CORRECTION_NOTICE,
        recipient=told.recipient,
        rule=told.rule,
        language=told.language,
        origin=_origin(seq),
        about=key,
        payload={
            "supersedes": key,
            "superseded_kind": told.kind.value,
            "previously": before.payload if before is not None else None,
            "now": after.payload if after is not None else None,
            "reason": why,
        },
    )


# --- time passing ----------------------------------------------------------------------


def on_deadline(kind: DossierKind[D], state: D, when: date | datetime) -> Step[D]:
    """The shell's timer fired: pass every delay run out by now. Every fact is dated on or
    before the clock, so the delays passing now come after all of them in event time."""
    new = state.model_copy(deep=True)
    new.seq += 1
    today = local_day(when, new.time_zone)
    new.clock = max(new.clock or today, today)
    notes = _advance(kind, new, new.clock)
    new.said = {**new.said, **notes}
    return Step(new, list(notes.values()), refused_held=_record(new, _refuse_held_if_closed(new)))
