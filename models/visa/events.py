"""The input and the events of `VisaApplication`, exactly as the contract names them."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field, ValidationInfo, field_validator, model_validator

from models.common import Count, CountryCode, Flag, Person, Strict, Text
from models.events import Event


class Procedure(StrEnum):
    FAMILY_REUNIFICATION = "family_reunification"
    SPOUSE_OF_FRENCH = "spouse_of_french"


class VisaApplicationInput(Strict):
    """What the consulate (spouse) or OFII (family reunification) starts a dossier with."""

    RULE: ClassVar[str] = "A1"
    DATE_FIELDS: ClassVar[tuple[str, ...]] = ("complete_file_date", "visa_application_date")
    FIELD_RULES: ClassVar[dict[str, str]] = {
        "country_of_residence": "A2",
        "complete_file_date": "B1",
        "resides_in_france_married_over_6_months": "A6",
        "prefecture": "B2",
        "visa_application_date": "B4",
    }

    application_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")]
    procedure: Procedure
    applicant: Person
    country_of_residence: CountryCode
    consulate: Text
    # Family reunification opens at the complete file; the visa application follows
    # (`visa_application_filed`) and starts the sursis (A1, B1, B4).
    visa_application_date: date | None = Field(default=None, validate_default=True)
    # A spouse's dossier opens at the visa application with this null: `receipt_presented`
    # follows (A5, B3); a date given stands for the récépissé's presentation.
    complete_file_date: date | None = Field(default=None, validate_default=True)
    resides_in_france_married_over_6_months: Flag = False
    prefecture: Text | None = Field(default=None, validate_default=True)

    # Cross-field checks are field validators, so that a rejection names its field.
    @field_validator("visa_application_date")
    @classmethod
    def _after_birth(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is None:
            if info.data.get("procedure") == Procedure.SPOUSE_OF_FRENCH:
                raise ValueError("is required for a spouse of a French national")
            return value
        applicant = info.data.get("applicant")
        if applicant is not None and applicant.birth_date >= value:
            raise ValueError("must follow applicant.birth_date")
        return value

    @field_validator("complete_file_date")
    @classmethod
    def _file_after_birth(cls, value: date | None, info: ValidationInfo) -> date | None:
        reunification = info.data.get("procedure") == Procedure.FAMILY_REUNIFICATION
        if value is None:
            if reunification:
                raise ValueError("is required for family reunification")
            return value
        applicant = info.data.get("applicant")
        if applicant is not None and applicant.birth_date >= value:
            raise ValueError("must follow applicant.birth_date")
        filed = info.data.get("visa_application_date")
        if reunification and filed is not None and filed < value:
            raise ValueError(
                "the visa application follows the attestation of complete file "
                f"(visa_application_date {filed})"
            )
        return value

    @field_validator("resides_in_france_married_over_6_months")
    @classmethod
    def _spouse_only(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("procedure") != Procedure.SPOUSE_OF_FRENCH:
            raise ValueError("applies to a spouse of a French national only")
        return value

    @field_validator("prefecture")
    @classmethod
    def _prefecture_for_reunification(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("procedure") == Procedure.FAMILY_REUNIFICATION:
            raise ValueError("is required for family reunification")
        return value


class Domain(StrEnum):
    """The two things evaluated abroad: French, and the values of the Republic."""

    LANGUAGE = "language"
    VALUES = "values"


class LanguageTestGround(StrEnum):
    """R.311-30-2 (C1)."""

    SECONDARY_STUDIES_FRANCOPHONE_3Y = "secondary_studies_francophone_3y"
    HIGHER_EDUCATION_FRANCE_1Y = "higher_education_france_1y"


class TrainingExemptionGround(StrEnum):
    """The only two grounds of C2."""

    COUNTRY_SITUATION = "country_situation"
    INCOMPATIBLE_CONSTRAINTS = "incompatible_constraints"


class Decision(StrEnum):
    ISSUED = "issued"
    REFUSED = "refused"


class RefusalGround(StrEnum):
    PUBLIC_ORDER = "public_order"
    FRAUD = "fraud"
    CONDITIONS_NOT_MET = "conditions_not_met"
    TRAINING_NOT_FOLLOWED = "training_not_followed"
    EVALUATION_RESULT = "evaluation_result"
    OTHER = "other"


class VisaEvent(Event):
    """An event of `VisaApplication`."""


class VisaApplicationFiled(VisaEvent):
    """Family reunification: the visa application, after the complete file (B4)."""

    RULE = "B4"
    filed_on: date

    DATE_FIELD = "filed_on"


class ReceiptPresented(VisaEvent):
    """A spouse presented the récépissé of the visa application to OFII or the delegated
    organisation: B3's 60 days run from it (A5)."""

    RULE = "B3"
    presented_on: date

    DATE_FIELD = "presented_on"


class EvaluationAbsence(VisaEvent):
    """The applicant did not come to an evaluation (B5: without a legitimate reason,
    the delay is attributable to them)."""

    RULE = "B5"
    kind: Domain
    absent_on: date
    legitimate_reason: Text | None

    DATE_FIELD = "absent_on"


class LanguageTestExemption(VisaEvent):
    RULE = "C1"
    decided_on: date
    ground: LanguageTestGround
    evidence_ref: Text

    DATE_FIELD = "decided_on"


class LanguageEvaluation(VisaEvent):
    RULE = "D1"
    FIELD_RULES: ClassVar[dict[str, str]] = {"evaluated_on": "B6"}
    evaluated_on: date
    oral_score: Count = Field(ge=0, le=70)
    written_score: Count = Field(ge=0, le=30)
    evaluator: Text

    DATE_FIELD = "evaluated_on"


class ValuesEvaluation(VisaEvent):
    RULE = "E1"
    FIELD_RULES: ClassVar[dict[str, str]] = {"evaluated_on": "B6"}
    evaluated_on: date
    language_used: Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
    questions_asked: Count = Field(ge=1, le=50)
    correct_answers: Count = Field(ge=0, le=50)
    evaluator: Text

    @model_validator(mode="after")
    def _answers_within_questions(self) -> ValuesEvaluation:
        if self.correct_answers > self.questions_asked:
            raise ValueError("correct_answers cannot exceed questions_asked")
        return self

    DATE_FIELD = "evaluated_on"


class TrainingPrescribed(VisaEvent):
    RULE = "D3"
    FIELD_RULES: ClassVar[dict[str, str]] = {"notified_on": "B7"}
    kind: Domain
    hours: Count = Field(gt=0, le=2000)
    provider: Text
    notified_on: date

    DATE_FIELD = "notified_on"


class TrainingExemption(VisaEvent):
    RULE = "C2"
    decided_on: date
    trainings: list[Domain] = Field(min_length=1, max_length=2)
    ground: TrainingExemptionGround
    detail: Text
    evidence_ref: Text

    @model_validator(mode="after")
    def _distinct(self) -> TrainingExemption:
        if len(set(self.trainings)) != len(self.trainings):
            raise ValueError("trainings must not repeat a training")
        return self

    DATE_FIELD = "decided_on"


class TrainingStarted(VisaEvent):
    RULE = "B7"
    kind: Domain
    started_on: date

    DATE_FIELD = "started_on"


class TrainingAbsence(VisaEvent):
    RULE = "D5"
    kind: Domain
    absent_on: date
    legitimate_reason: Text | None

    DATE_FIELD = "absent_on"


class TrainingCompleted(VisaEvent):
    RULE = "D4"
    kind: Domain
    completed_on: date
    hours_attended: Count = Field(ge=0, le=2000)
    attestation_ref: Text

    DATE_FIELD = "completed_on"


class VisaDecision(VisaEvent):
    RULE = "F1"
    FIELD_RULES: ClassVar[dict[str, str]] = {"grounds": "F3"}
    decision: Decision
    decided_on: date
    grounds: list[RefusalGround] = Field(default_factory=list, max_length=len(RefusalGround))

    @model_validator(mode="after")
    def _grounds_match_decision(self) -> VisaDecision:
        if self.decision == Decision.REFUSED and not self.grounds:
            raise ValueError("a refusal must give its grounds")
        if self.decision == Decision.ISSUED and self.grounds:
            raise ValueError("grounds are given for a refusal only")
        return self

    DATE_FIELD = "decided_on"
