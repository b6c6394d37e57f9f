"""Planning the collective sessions of the CAI in France and convening the signatories who
wait for one: the skills assessment (H1, H3, H5) and the day "Droits et devoirs des parents"
(G2). Pure functions and the records the session planner hands between its workflow and its
activities; the register is read and written by `activities/scheduled.py`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from pydantic import Field

from models.common import Record
from models.reference import SessionPlan


class Service(StrEnum):
    """The collective sessions a planner fills."""

    SKILLS_ASSESSMENT = "skills_assessment"  # H1: half a day (H3)
    PARENTS_TRAINING = "parents_training"  # G2: one day


# The event of the contract that convenes a signatory (docs/contract.md, "The CAI in France").
CONVOCATION_EVENTS = {
    Service.SKILLS_ASSESSMENT: "skills_assessment_convened",
    Service.PARENTS_TRAINING: "parents_training_convened",
}


class Session(Record):
    """One session of one platform: a day and a slot, with its capacity."""

    session_id: str
    service: Service
    platform: str
    session_on: date
    slot: str
    capacity: int


class Candidate(Record):
    """A signatory waiting for a convocation, as projected in the register (`dossier.waiting`)."""

    workflow_id: str
    person_id: str = ""  # a family signatory; empty for the CAI's single signatory
    platform: str
    due: date  # the last day the session may take place (H5, G2)
    language: str = "fr"

    @property
    def person(self) -> tuple[str, str]:
        return self.workflow_id, self.person_id


class Seat(Record):
    """A candidate's seat in a session: a row of `session_seat` and a convocation to send."""

    session_id: str
    service: Service
    platform: str
    session_on: date
    slot: str
    workflow_id: str
    person_id: str = ""
    due: date

    def convocation(self) -> tuple[str, dict[str, Any]]:
        """The contract's event name and payload that convene this seat's holder."""
        if self.service == Service.SKILLS_ASSESSMENT:
            payload = {
                "session_id": self.session_id,
                "session_on": self.session_on.isoformat(),
                "platform": self.platform,
            }
        else:
            payload = {
                "person_id": self.person_id,
                "session_id": self.session_id,
                "session_on": self.session_on.isoformat(),
            }
        return CONVOCATION_EVENTS[self.service], payload


class UnassignedReason(StrEnum):
    UNKNOWN_PLATFORM = "unknown_platform"  # no session plan in the reference data
    DUE_BEFORE_FIRST_SESSION = "due_before_first_session"  # H5/G2: never convened past due
    SESSIONS_FULL = "sessions_full"  # every session up to the due date is full


class Unassigned(Record):
    workflow_id: str
    person_id: str = ""
    platform: str
    due: date
    reason: UnassignedReason


class Assignment(Record):
    seats: list[Seat] = Field(default_factory=list)
    unassigned: list[Unassigned] = Field(default_factory=list)
    already_seated: int = 0  # candidates holding a seat in a session still to come


def slug(name: str) -> str:
    """'OFII Île-de-France' → 'ofii-ile-de-france': a platform's name in a session id."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "platform"


def session_id(platform: str, service: Service, day: date, slot: str) -> str:
    """Deterministic, so that a retried planning run books the same sessions."""
    return f"{slug(platform)}-{service.value.replace('_', '-')}-{day.isoformat()}-{slot}"


def plan_sessions(
    platform: str, service: Service, plan: SessionPlan, run_on: date
) -> list[Session]:
    """The sessions of `platform` from `run_on + days_ahead` to `run_on + horizon_days`, on the
    plan's weekdays, one per slot, in the order they take place."""
    sessions = []
    for offset in range(plan.days_ahead, plan.horizon_days + 1):
        day = run_on + timedelta(days=offset)
        if day.weekday() not in plan.weekdays:
            continue
        sessions += [
            Session(
                session_id=session_id(platform, service, day, slot),
                service=service,
                platform=platform,
                session_on=day,
                slot=slot,
                capacity=plan.capacity,
            )
            for slot in plan.slots
        ]
    return sessions


def assign(
    sessions: Iterable[Session],
    candidates: Iterable[Candidate],
    *,
    taken: Mapping[str, int] | None = None,
    seated: Iterable[tuple[str, str]] = (),
) -> Assignment:
    """Seat the candidates, earliest due date first (H5), each in the earliest session of
    their platform that still has a free seat and takes place on or before their due date;
    a full session overflows to the next. `taken` counts the seats already booked per
    session; `seated` lists the (workflow_id, person_id) holding a seat in a session still to
    come, who are not seated again. Nobody gets two seats."""
    taken = dict(taken or {})
    already = set(seated)
    by_platform: dict[str, list[Session]] = {}
    for planned_session in sessions:
        by_platform.setdefault(planned_session.platform, []).append(planned_session)
    for planned in by_platform.values():
        planned.sort(key=lambda s: s.session_on)  # stable: slots keep the plan's order
    result = Assignment()
    for candidate in sorted(
        {c.person: c for c in candidates}.values(),
        key=lambda c: (c.due, c.workflow_id, c.person_id),
    ):
        if candidate.person in already:
            result.already_seated += 1
            continue
        planned = by_platform.get(candidate.platform, [])
        session = next(
            (
                s
                for s in planned
                if s.session_on <= candidate.due and taken.get(s.session_id, 0) < s.capacity
            ),
            None,
        )
        if session is None:
            result.unassigned.append(_unassigned(candidate, planned))
            continue
        taken[session.session_id] = taken.get(session.session_id, 0) + 1
        already.add(candidate.person)
        result.seats.append(
            Seat(
                session_id=session.session_id,
                service=session.service,
                platform=session.platform,
                session_on=session.session_on,
                slot=session.slot,
                workflow_id=candidate.workflow_id,
                person_id=candidate.person_id,
                due=candidate.due,
            )
        )
    return result


def _unassigned(candidate: Candidate, planned: list[Session]) -> Unassigned:
    if not planned:
        reason = UnassignedReason.UNKNOWN_PLATFORM
    elif planned[0].session_on > candidate.due:
        reason = UnassignedReason.DUE_BEFORE_FIRST_SESSION
    else:
        reason = UnassignedReason.SESSIONS_FULL
    return Unassigned(
        workflow_id=candidate.workflow_id,
        person_id=candidate.person_id,
        platform=candidate.platform,
        due=candidate.due,
        reason=reason,
    )


# --- what the planner's workflow and activities exchange -----------------------------------


class PlanningRequest(Record):
    """Input of `SessionPlanning`."""

    service: Service
    run_on: date | None = None  # default: the day the run starts; never a day already past
    platforms: list[str] | None = None  # default: every platform of the reference data


class PlanSessions(Record):
    """Input of the `plan_sessions` activity. `planned_by` (the planning run) makes a retried
    activity book the same seats instead of booking again."""

    service: Service
    run_on: date
    planned_by: str
    platforms: list[str] | None = None


class PlatformCount(Record):
    sessions: int = 0
    free_seats: int = 0  # before this run
    waiting: int = 0
    assigned: int = 0
    unassigned: int = 0
    already_seated: int = 0


class PlannedSessions(Record):
    """Result of `plan_sessions`: the seats booked, and who could not be seated."""

    service: Service
    run_on: date
    platforms: dict[str, PlatformCount] = Field(default_factory=dict)
    seats: list[Seat] = Field(default_factory=list)
    unassigned: list[Unassigned] = Field(default_factory=list)


class SeatsToRelease(Record):
    """Input of `release_seats`: seats of `planned_by` whose convocation was not delivered."""

    planned_by: str
    seats: list[Seat]
    # The first seat's place in its run's plan: a seat's update id is `planned_by/place`,
    # never its holder's person id, which the dossier's history shows in clear. None: a
    # batch scheduled before, whose retries keep the ids its first attempt used.
    first: int | None = None

    def update_id(self, index: int) -> str:
        """The update that convenes the batch's `index`th seat: the same on every retry, so
        that nobody is convened twice."""
        if self.first is None:
            seat = self.seats[index]
            return f"{self.planned_by}/{seat.session_id}/{seat.person_id}"
        return f"{self.planned_by}/{self.first + index}"


class FailedConvocation(Record):
    seat: Seat
    error: str


class PlanningResult(Record):
    """Result of `SessionPlanning`: counts per platform, the convocations sent, the ones a
    closed contract refused, and who waits on (no seat before their due date)."""

    service: Service
    run_on: date
    platforms: dict[str, PlatformCount] = Field(default_factory=dict)
    convened: list[Seat] = Field(default_factory=list)
    failed: list[FailedConvocation] = Field(default_factory=list)
    unassigned: list[Unassigned] = Field(default_factory=list)


def count_by_platform(
    sessions: Iterable[Session],
    taken: Mapping[str, int],
    candidates: Iterable[Candidate],
    assignment: Assignment,
    seated: Iterable[tuple[str, str]] = (),
) -> dict[str, PlatformCount]:
    counts: dict[str, PlatformCount] = {}

    def of(platform: str) -> PlatformCount:
        return counts.setdefault(platform, PlatformCount())

    for session in sessions:
        of(session.platform).sessions += 1
        of(session.platform).free_seats += max(
            0, session.capacity - taken.get(session.session_id, 0)
        )
    already = set(seated)
    for candidate in {c.person: c for c in candidates}.values():
        of(candidate.platform).waiting += 1
        if candidate.person in already:
            of(candidate.platform).already_seated += 1
    for seat in assignment.seats:
        of(seat.platform).assigned += 1
    for left in assignment.unassigned:
        of(left.platform).unassigned += 1
    return counts
