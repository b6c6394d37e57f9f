"""The start input and the events of `CaiFamilyContract` (G1–G4), as the contract names them."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar

from pydantic import Field, model_validator

from models.cai.events import CONTRACT_ID, CaiEvent
from models.common import BirthDate, Contact, Flag, Languages, Line, Strict, Text


class FamilySignatory(Strict):
    person_id: Text
    full_name: Text
    languages: Languages
    full_name_native: Line | None = None  # as a visa applicant's (models.common.Person)
    contact: Contact | None = None


class Child(Strict):
    child_id: Text
    birth_date: BirthDate
    admitted_through_family_reunification: Flag


class CaiFamilyInput(Strict):
    RULE: ClassVar[str] = "G1"
    DATE_FIELDS: ClassVar[tuple[str, ...]] = ("signed_on",)
    FIELD_RULES: ClassVar[dict[str, str]] = {}

    contract_id: Annotated[str, CONTRACT_ID]
    prefecture: Text
    platform: Text
    signed_on: date
    signatories: list[FamilySignatory] = Field(min_length=1, max_length=3)
    children: list[Child] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _distinct_ids(self) -> CaiFamilyInput:
        people = [s.person_id for s in self.signatories]
        children = [c.child_id for c in self.children]
        if len(set(people)) != len(people) or len(set(children)) != len(children):
            raise ValueError("person_id and child_id must be distinct")
        return self


class FamilyEvent(CaiEvent):
    pass


class ParentsTrainingConvened(FamilyEvent):
    RULE = "G2"
    person_id: Text
    session_id: Text
    session_on: date

    DATE_FIELD = "session_on"
    DATED_AHEAD = True


class ParentsTrainingAttended(FamilyEvent):
    RULE = "G2"
    person_id: Text
    attended_on: date
    attestation_ref: Text

    DATE_FIELD = "attended_on"


class ParentsTrainingAbsence(FamilyEvent):
    RULE = "G4"
    person_id: Text
    absent_on: date
    legitimate_reason: Text | None

    DATE_FIELD = "absent_on"


class SchoolAttendanceBreach(FamilyEvent):
    RULE = "G3"
    child_id: Text
    reported_on: date
    detail: Text

    DATE_FIELD = "reported_on"


class ConseilGeneralReferral(FamilyEvent):
    RULE = "G4"
    decided_on: date
    reason: Text
    person_id: Text | None = None  # the parent it is about, when the prefect names one

    DATE_FIELD = "decided_on"
