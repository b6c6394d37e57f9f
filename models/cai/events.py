"""The input and events of `CaiContract` and `CaiFamilyContract` (circular part II)."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, model_validator

from models.common import Count, Flag, Hours, Person, Strict, Text
from models.events import Event

CONTRACT_ID = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_CESEDA_ARTICLE = re.compile(r"^L\.?\s?(\d{3})-(\d{1,2}(?:-\d)?)$", re.IGNORECASE)


def _ceseda_article(value: str) -> str:
    """'L313-10', 'l.313-10' → 'L.313-10'."""
    match = _CESEDA_ARTICLE.match(value.strip())
    if match is None:
        raise ValueError("must be a CESEDA article such as 'L.313-11'")
    return f"L.{match.group(1)}-{match.group(2)}"


CesedaArticle = Annotated[str, AfterValidator(_ceseda_article)]


class Prescriptions(Strict):
    """The services of the CAI, as carried from the visa application (D6, D7)."""

    civic_training: Flag = True
    vivre_en_france: bool = False
    language_training_hours: Count = Field(default=0, ge=0, le=2000)
    dilf_required: Flag = False


class LanguageOutcomeAbroad(StrEnum):
    """What the evaluation abroad left the signatory with, carried to the CAI (D2, D6, D7)."""

    AMDFL = "amdfl"  # D2: sufficient at the first evaluation: no language evaluation or training
    DILF_REQUIRED = "dilf_required"  # D6: sufficient at the re-evaluation: the DILF, no training
    TRAINING_FOLLOWED = "training_followed"  # D7: insufficient again: the CAI's training is owed
    TEST_EXEMPTED = "test_exempted"  # C1: the language test exempted: no training is owed


class LanguageAbroad(Strict):
    """What the visa dossier decided of the language, as the CAI needs it (D2, D6, D7, C1):
    the register carries it from the visa dossier's outcome."""

    amdfl: Flag = False  # D2: sufficient at the first evaluation
    dilf_required: Flag = False  # D6: sufficient at the re-evaluation
    training_followed: Flag = False  # D4: an attestation of language training followed
    last_evaluation_sufficient: Flag | None = None  # D6, D7: None when never evaluated
    test_exempted: Flag = False  # C1


class CaiContractInput(Strict):
    RULE: ClassVar[str] = "H1"
    DATE_FIELDS: ClassVar[tuple[str, ...]] = ("signed_on",)
    FIELD_RULES: ClassVar[dict[str, str]] = {
        "residence_permit_basis": "H2",
        "in_school": "H2",
        "language_outcome_abroad": "D6",
    }

    contract_id: Annotated[str, CONTRACT_ID]
    signatory: Person
    prefecture: Text
    platform: Text
    signed_on: date
    residence_permit_basis: CesedaArticle
    in_school: Flag = False
    prescriptions: Prescriptions = Prescriptions()
    visa_application_id: Text | None = None
    # D2, D6, D7: read from the visa dossier in the register when `visa_application_id` is on
    # file (the shell hands it in before opening); given by OFII otherwise.
    language_outcome_abroad: LanguageOutcomeAbroad | None = None
    # D2, D6, D7, C1: the visa dossier's own record, read from the register; it prevails over
    # `language_outcome_abroad`.
    language_abroad: LanguageAbroad | None = None

    @model_validator(mode="after")
    def _born_before_signing(self) -> CaiContractInput:
        if self.signatory.birth_date >= self.signed_on:
            raise ValueError("signatory.birth_date must precede signed_on")
        return self


class Service(StrEnum):
    """What a CAI signatory follows (I2 lists them)."""

    SKILLS_ASSESSMENT = "skills_assessment"
    CIVIC_TRAINING = "civic_training"
    LANGUAGE_TRAINING = "language_training"
    VIVRE_EN_FRANCE = "vivre_en_france"


class CaiEvent(Event):
    """An event of `CaiContract` or `CaiFamilyContract`."""


class SkillsAssessmentExemption(CaiEvent):
    RULE = "H2"
    decided_on: date
    ground: Annotated[str, Field(pattern=r"^already_employed$")]
    proof_ref: Text

    DATE_FIELD = "decided_on"


class SkillsAssessmentConvened(CaiEvent):
    RULE = "H5"
    session_id: Text
    session_on: date
    platform: Text

    DATE_FIELD = "session_on"
    DATED_AHEAD = True


class SkillsAssessmentCompleted(CaiEvent):
    RULE = "H3"
    completed_on: date
    duration_hours: Hours = Field(gt=0, le=24)
    report_ref: Text

    DATE_FIELD = "completed_on"


class Absence(CaiEvent):
    RULE = "I2"
    service: Service
    absent_on: date
    legitimate_reason: Text | None

    DATE_FIELD = "absent_on"


class ServiceCompleted(CaiEvent):
    RULE = "I1"
    service: Service
    completed_on: date
    attestation_ref: Text

    DATE_FIELD = "completed_on"


class LanguageTrainingState(StrEnum):
    IN_PROGRESS = "in_progress"
    DEFERRED = "deferred"


class LanguageTrainingStatus(CaiEvent):
    RULE = "I1"
    status: LanguageTrainingState
    reason: Text | None = None
    reported_on: date

    @model_validator(mode="after")
    def _deferral_has_reason(self) -> LanguageTrainingStatus:
        if self.status == LanguageTrainingState.DEFERRED and self.reason is None:
            raise ValueError("a deferral gives its legitimate reason")
        return self

    DATE_FIELD = "reported_on"


class DilfPreparationRequested(CaiEvent):
    """D6: a holder of the re-evaluation's sufficiency asks OFII for help preparing the DILF."""

    RULE = "D6"
    requested_on: date

    DATE_FIELD = "requested_on"


class LanguageOutcomeAbroadReported(LanguageAbroad, CaiEvent):
    """D2, D6, D7, C1: the visa dossier's language record, reported to a CAI opened before
    it was decided (OFII forwards it from the `visa_decision` notice)."""

    RULE = "D6"
    reported_on: date

    DATE_FIELD = "reported_on"

    def record(self) -> LanguageAbroad:
        return LanguageAbroad.model_validate(
            self.model_dump(include=set(LanguageAbroad.model_fields))
        )


class PrefectDecisionKind(StrEnum):
    CLOSE = "close"
    TERMINATE = "terminate"
    EXTEND = "extend"


class PrefectDecision(CaiEvent):
    RULE = "I1"
    decision: PrefectDecisionKind
    decided_on: date
    extended_until: date | None = None

    @model_validator(mode="after")
    def _extension_has_end(self) -> PrefectDecision:
        if (self.decision == PrefectDecisionKind.EXTEND) != (self.extended_until is not None):
            raise ValueError("extended_until is given for an extension, and only then")
        return self

    DATE_FIELD = "decided_on"
