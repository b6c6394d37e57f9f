"""The state of a `CaiFamilyContract` (CAI for the family, II.1)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field, computed_field

from models.cai.state import Absence, Convocation, pending_convocation
from models.common import Record, age_on
from models.dossier import DossierRecord
from models.family.events import CaiFamilyInput
from models.notifications import Kind
from models.records import ConvocationWait, DossierView

SCHOOL_AGE_FROM, SCHOOL_AGE_UNTIL = 6, 16  # G3: code de l'éducation L.131-1


class FamilyStage(StrEnum):
    IN_PROGRESS = "in_progress"
    TRAINING_MISSED = "training_missed"
    TRAINING_FOLLOWED = "training_followed"
    REFERRED_TO_CONSEIL_GENERAL = "referred_to_conseil_general"
    CLOSED = "closed"


class ParentStatus(StrEnum):
    AWAITING_CONVOCATION = "awaiting_convocation"
    CONVENED = "convened"
    ATTENDED = "attended"
    MISSED = "missed"  # G4: convened, did not attend: reported to the prefect
    NOT_CONVENED = "not_convened"  # G4: never convened by the end: OFII alerted, no report


class Parent(Record):
    """A signatory and the day "Droits et devoirs des parents" (G2)."""

    person_id: str
    letter_language: str
    letter_language_fallback: bool = False
    convocations: list[Convocation] = Field(default_factory=list)
    absences: list[Absence] = Field(default_factory=list)
    attended_on: date | None = None
    attestation_ref: str | None = None
    reported_missed: bool = False  # G4: OFII told the prefect
    not_convened: bool = False  # G4: never convened by the end of the follow-up

    @property
    def was_convened(self) -> bool:
        return bool(self.convocations)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> ParentStatus:
        if self.attended_on is not None:
            return ParentStatus.ATTENDED
        if self.reported_missed:
            return ParentStatus.MISSED
        if self.not_convened:
            return ParentStatus.NOT_CONVENED
        if self.pending_convocation is not None:
            return ParentStatus.CONVENED
        return ParentStatus.AWAITING_CONVOCATION

    @property
    def pending_convocation(self) -> Convocation | None:
        return pending_convocation(self.convocations, self.absences)


class Breach(Record):
    child_id: str
    reported_on: date
    detail: str


class Referral(Record):
    decided_on: date
    reason: str


class FamilyState(DossierRecord):
    contract_id: str
    input: CaiFamilyInput
    parents: dict[str, Parent]
    validity_ends: date
    breaches: list[Breach] = Field(default_factory=list)
    referral: Referral | None = None
    referral_window_ends: date  # G4: the prefect's window to refer, after the follow-up
    follow_up_over: bool = False  # the follow-up's term passed (G2)
    ended: bool = False  # nothing more is awaited: the dossier closes

    @property
    def opened_on(self) -> date:
        return self.input.signed_on

    @property
    def opening_rule(self) -> str:
        return "G1"

    @property
    def closed(self) -> bool:
        return self.ended

    def rank(self, parent: Parent) -> str:
        """A parent as keys, workflow ids and logs name them: their place among the
        signatories (`parent-1`), never their person id, which the Web UI would show in
        clear (docs/production.md, "What the Web UI shows")."""
        return f"parent-{list(self.parents).index(parent.person_id) + 1}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stage(self) -> FamilyStage:
        if self.closed:
            return FamilyStage.CLOSED
        if self.referral is not None:
            return FamilyStage.REFERRED_TO_CONSEIL_GENERAL
        statuses = {parent.status for parent in self.parents.values()}
        if ParentStatus.MISSED in statuses:
            return FamilyStage.TRAINING_MISSED
        if statuses == {ParentStatus.ATTENDED}:
            return FamilyStage.TRAINING_FOLLOWED
        return FamilyStage.IN_PROGRESS

    @computed_field  # type: ignore[prop-decorator]
    @property
    def children_of_school_age(self) -> list[str]:
        """G3: the children aged 6 to 16 on the day the contract was signed."""
        return [
            c.child_id
            for c in self.input.children
            if is_school_age(c.birth_date, self.input.signed_on)
        ]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def awaiting(self) -> list[str]:
        if self.closed:
            return []
        if self.follow_up_over:
            return [
                f"conseil_general_referral from the prefecture (until {self.referral_window_ends})"
            ]
        waits = {
            ParentStatus.AWAITING_CONVOCATION: "parents_training_convened",
            ParentStatus.CONVENED: "parents_training_attended",
        }
        # Shown in clear in the Web UI: the signatory's rank, never a person id.
        return [
            f"{waits[p.status]} (signatory {rank})"
            for rank, p in enumerate(self.parents.values(), start=1)
            if p.status in waits
        ]


def is_school_age(birth_date: date, day: date) -> bool:
    return SCHOOL_AGE_FROM <= age_on(birth_date, day) < SCHOOL_AGE_UNTIL


def family_view(state: FamilyState) -> DossierView:
    waiting = [
        ConvocationWait(
            service="parents_training",
            person_id=parent.person_id,
            platform=state.input.platform,
            due=state.validity_ends,
            language=parent.letter_language,
        )
        for parent in state.parents.values()
        if not state.closed and parent.status == ParentStatus.AWAITING_CONVOCATION
    ]
    return DossierView(
        kind="cai_family_contract",
        reference=state.contract_id,
        procedure="cai_family",
        prefecture=state.input.prefecture,
        responsible_body=state.input.platform,
        stage=state.stage.value,
        outcome={"referral": state.referral is not None, "breaches": len(state.breaches)}
        if state.closed
        else None,
        deadlines=state.deadlines,
        next_deadline=state.next_deadline,
        next_deadline_name=state.next_deadline_name,
        overdue=state.overdue,
        awaiting=state.awaiting,
        waiting=waiting,
        closed=state.closed,
        version=state.seq,
        # G4: a parent reported for not attending, by absence or at the follow-up's end.
        deadlines_missed=[Kind.PARENTS_TRAINING_MISSED]
        if any(p.status == ParentStatus.MISSED for p in state.parents.values())
        else [],
        corrections=state.corrections,
    )
