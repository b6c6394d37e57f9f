"""The catalogue of notification kinds (contract: notification kinds): for each kind the core
or a scheduled run writes, who may receive it, the rules it carries out, the document it is
when it is a letter or an attestation, its title, and the shape of its payload.

Every notification is built from here, so that a new kind is one entry (and its row in the
docs/contract.md), not a string repeated across the rules, the register and the delivery."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class Recipient(StrEnum):
    """Who a notification is due to (contract: recipients)."""

    APPLICANT = "applicant"
    CONSULATE = "consulate"
    OFII = "ofii"
    DELEGATE = "delegate"
    PREFECTURE = "prefecture"
    PROVIDER = "provider"
    FRANCE_TRAVAIL = "france_travail"
    CONSEIL_GENERAL = "conseil_general"
    MINISTRY = "ministry"


class Kind(StrEnum):
    """A notification kind: the `kind` column of `notification`, the same string in JSON."""

    # VisaApplication (part I)
    NOT_SUBJECT = "not_subject"
    ROUTED_TO_CAI_IN_FRANCE = "routed_to_cai_in_france"
    INVITATION = "invitation"
    VISA_APPLICATION_COPY = "visa_application_copy"
    EVALUATION_OVERDUE = "evaluation_overdue"
    PREFECTURE_DECISION_DUE = "prefecture_decision_due"
    EVALUATION_RESULTS = "evaluation_results"
    ATTESTATION_LANGUAGE_EXEMPTION = "attestation_language_exemption"
    ATTESTATION_VALUES = "attestation_values"
    TRAINING_PRESCRIPTION = "training_prescription"
    TRAINING_START_OVERDUE = "training_start_overdue"
    TRAINING_OVERRUN = "training_overrun"
    NON_ATTENDANCE = "non_attendance"
    TRAINING_ATTESTATION = "training_attestation"
    EXEMPTION_GRANTED = "exemption_granted"
    SURSIS_EXPIRED = "sursis_expired"
    VISA_DECISION = "visa_decision"
    TRANSLATION_NEEDED = "translation_needed"
    # CaiContract (part II)
    SKILLS_ASSESSMENT_CONVOCATION = "skills_assessment_convocation"
    SKILLS_ASSESSMENT_COPY = "skills_assessment_copy"
    SKILLS_ASSESSMENT_RESULT = "skills_assessment_result"
    SKILLS_ASSESSMENT_OVERDUE = "skills_assessment_overdue"
    CAI_EXPIRY_REMINDER = "cai_expiry_reminder"
    CAI_FOLLOW_UP_PROPOSAL = "cai_follow_up_proposal"
    CAI_TERMINATED = "cai_terminated"
    # CaiFamilyContract (part II)
    PARENTS_TRAINING_CONVOCATION = "parents_training_convocation"
    PARENTS_TRAINING_ATTESTATION = "parents_training_attestation"
    PARENTS_TRAINING_MISSED = "parents_training_missed"
    PARENTS_NOT_CONVENED = "parents_not_convened"
    SCHOOL_ATTENDANCE_BREACH = "school_attendance_breach"
    CONSEIL_GENERAL_REFERRAL = "conseil_general_referral"
    # Every dossier kind: what a late fact or a correction changed
    CORRECTION_NOTICE = "correction_notice"
    # Scheduled runs
    DEADLINE_DIGEST = "deadline_digest"
    MINISTRY_REPORT = "ministry_report"
    DELIVERY_ALERT = "delivery_alert"


# --- payloads ------------------------------------------------------------------------------


def _iso_date(value: str) -> str:
    date.fromisoformat(value)
    return value


IsoDate = Annotated[str, AfterValidator(_iso_date)]


class Payload(BaseModel):
    """The keys a payload of a kind always has, JSON-typed. A payload may carry more (a
    letter to the applicant adds `full_name` and `language_fallback`); strict, so that a
    date object or a count given as text is a fault, not a coercion."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)


class Letter(Payload):
    """A letter to the applicant, in their language (A4, G2, H1)."""

    full_name: str
    language_fallback: bool  # no letter in a language they declared: French (A4)


class VisaPayload(Payload):
    """What every notification of a `VisaApplication` names."""

    application_id: str
    procedure: str
    consulate: str
    country_of_residence: str


class ContractPayload(Payload):
    """What every notification of a CAI (or a CAI for the family) names."""

    contract_id: str
    prefecture: str
    platform: str


class NotSubjectPayload(VisaPayload):
    reason: str


class InvitationPayload(VisaPayload, Letter):
    body: dict[str, Any]  # the responsible body (A3) the applicant contacts


class VisaApplicationCopyPayload(VisaPayload):
    visa_application_date: IsoDate


class EvaluationOverduePayload(VisaPayload):
    evaluations: list[str]
    due: IsoDate
    held_against_applicant: bool


class PrefectureDecisionDuePayload(VisaPayload):
    prefecture: str | None
    due: IsoDate


class EvaluationResultsPayload(VisaPayload):
    """The evaluation as recorded; the scores of its domain come beside these (D1, E1)."""

    domain: str
    re_evaluation: bool
    evaluated_on: IsoDate
    received_on: IsoDate
    late: bool  # B6
    sufficient: bool
    evaluator: str
    bareme_from: IsoDate


class TrainingPrescriptionPayload(VisaPayload):
    training: str
    hours: int
    provider: str
    integrates_values: bool  # E4
    start_by: IsoDate | None  # B7


class TrainingDeadlinePayload(VisaPayload):
    training: str
    due: IsoDate


class NonAttendancePayload(VisaPayload):
    """An absence (`absent_on`, `legitimate_reason`, `attributable_to_applicant`, B5) or
    hours attended below those prescribed (`hours_attended`, `hours_prescribed`, D4)."""


class TrainingAttestationPayload(VisaPayload):
    training: str
    integrates_values: bool
    completed_on: IsoDate
    hours_attended: int
    hours_prescribed: int
    attestation_ref: str


class ExemptionGrantedPayload(VisaPayload):
    exemptions: list[str]
    ground: str
    decided_on: IsoDate


class SursisExpiredPayload(VisaPayload):
    due: IsoDate
    incomplete: list[str]
    delay_attributable_to_applicant: bool  # B5
    may_refuse_for_training_not_followed: bool
    delays: list[dict[str, Any]]  # B5, per delay: domain, awaiting, attributable, cause


class TranslationNeededPayload(VisaPayload):
    """A4: a letter to the applicant held, for want of a template in a language they
    declared understanding; what it would have said, for OFII to have it translated."""

    held_kind: str
    held_rule: str
    declared_languages: list[str]
    held_payload: dict[str, Any]
    attributable_to_applicant: bool  # never: the delay the hold causes is not theirs


class VisaDecisionPayload(VisaPayload):
    decision: str
    decided_on: IsoDate
    grounds: list[str]
    cai: dict[str, Any]  # what the CAI in France inherits (D2, D6, D7)


class SkillsAssessmentConvocationPayload(ContractPayload, Letter):
    session_id: str
    session_on: IsoDate


class SkillsAssessmentCopyPayload(ContractPayload):
    completed_on: IsoDate
    report_ref: str
    duration_hours: float


class SkillsAssessmentResultPayload(SkillsAssessmentCopyPayload, Letter):
    """H4: the signatory's own copy of the assessment, to show an employer."""


class SkillsAssessmentOverduePayload(ContractPayload):
    due: IsoDate


class CaiExpiryReminderPayload(ContractPayload):
    ends_on: IsoDate
    skills_assessment: str
    awaiting: list[str]


class CaiFollowUpProposalPayload(ContractPayload):
    proposal: str  # close, terminate, extend or undetermined (I1, I2)
    reasons: list[str]
    made_on: IsoDate
    missing: list[str]


class CaiTerminatedPayload(ContractPayload):
    decided_on: IsoDate
    consequence: str  # I3
    reasons: list[str]


class ParentLetter(ContractPayload, Letter):
    person_id: str


class ParentsTrainingConvocationPayload(ParentLetter):
    session_id: str
    session_on: IsoDate


class ParentsTrainingAttestationPayload(ParentLetter):
    attended_on: IsoDate
    attestation_ref: str


class ParentsTrainingMissedPayload(ContractPayload):
    person_id: str
    why: str
    may_refer_to: str
    referral_window_ends: IsoDate


class ParentsNotConvenedPayload(ContractPayload):
    person_id: str
    why: str


class SchoolAttendanceBreachPayload(ContractPayload):
    child_id: str
    reported_on: IsoDate
    detail: str


class ConseilGeneralReferralPayload(ContractPayload):
    decided_on: IsoDate
    reason: str
    casf_article: str


class CorrectionNoticePayload(Payload):
    supersedes: str  # the key of the notification it corrects
    superseded_kind: Kind = Field(strict=False)
    previously: dict[str, Any] | None
    now: dict[str, Any] | None  # None: withdrawn
    reason: str


class DeadlineDigestPayload(Payload):
    rule: str
    day: IsoDate
    addressee: str
    within_days: int
    dossiers: list[dict[str, Any]]


class DeliveryAlertPayload(Payload):
    """The notifications not delivered past `DELIVERY_ALERT_HOURS` (contract: delivery)."""

    rule: str
    day: IsoDate
    older_than_hours: int
    undelivered: list[dict[str, Any]]


class MinistryReportPayload(Payload):
    rule: str
    week: str
    as_of: IsoDate
    file: str
    sections: dict[str, dict[str, int]]


# --- the catalogue -------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationKind:
    """One kind: to whom it may go, the rules it carries out (docs/contract.md, notification kinds),
    its document's template when it is a letter or an attestation, and its titles."""

    kind: Kind
    recipients: frozenset[Recipient]
    rules: tuple[str, ...]  # empty: the rule of the notification it corrects
    title_fr: str
    title_en: str
    payload: type[Payload]
    document: str | None = None
    scheduled: bool = False  # written by a scheduled run, not by a dossier's step

    @property
    def required_keys(self) -> frozenset[str]:
        """The keys every payload of this kind has."""
        return frozenset(
            name for name, field in self.payload.model_fields.items() if field.is_required()
        )


def _rules(text: str) -> tuple[str, ...]:
    """`"B1–B3, H5"` → `("B1", "B2", "B3", "H5")`."""
    found: list[str] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("–")
        if not last:
            found.append(first)
            continue
        letter = first[0]
        found += [f"{letter}{n}" for n in range(int(first[1:]), int(last.lstrip(letter)) + 1)]
    return tuple(found)


def _entry(
    kind: Kind,
    recipients: Iterable[Recipient],
    rules: str,
    title_fr: str,
    title_en: str,
    payload: type[Payload],
    *,
    document: bool = False,
    scheduled: bool = False,
) -> NotificationKind:
    return NotificationKind(
        kind=kind,
        recipients=frozenset(recipients),
        rules=_rules(rules) if rules else (),
        title_fr=title_fr,
        title_en=title_en,
        payload=payload,
        document=kind.value if document else None,
        scheduled=scheduled,
    )


R = Recipient
_BODY = (R.OFII, R.DELEGATE)  # A3: the representation, or the delegate where there is none

_SAID_BY_DOSSIERS = (
    _entry(
        Kind.NOT_SUBJECT,
        [R.CONSULATE],
        "A1, A2",
        "Demandeur hors du champ du dispositif",
        "Applicant outside the scheme",
        NotSubjectPayload,
    ),
    _entry(
        Kind.ROUTED_TO_CAI_IN_FRANCE,
        [R.OFII],
        "A6",
        "Orientation vers le CAI en France",
        "Referred to the CAI in France",
        VisaPayload,
    ),
    _entry(
        Kind.INVITATION,
        [R.APPLICANT],
        "A4, A5",
        "Invitation à contacter l'OFII ou son délégué pour l'évaluation",
        "Invitation to contact OFII or its delegate for the evaluation",
        InvitationPayload,
        document=True,
    ),
    _entry(
        Kind.VISA_APPLICATION_COPY,
        [R.OFII],
        "A5",
        "Copie de la demande de visa de long séjour",
        "Copy of the long-stay visa application",
        VisaApplicationCopyPayload,
    ),
    _entry(
        Kind.EVALUATION_OVERDUE,
        [*_BODY, R.CONSULATE],
        "B1, B3",
        "Évaluation non réalisée dans les soixante jours",
        "Evaluation not held within sixty days",
        EvaluationOverduePayload,
    ),
    _entry(
        Kind.PREFECTURE_DECISION_DUE,
        [R.PREFECTURE],
        "B2",
        "Échéance de la décision du préfet (six mois)",
        "The prefect's decision is due (six months)",
        PrefectureDecisionDuePayload,
    ),
    _entry(
        Kind.EVALUATION_RESULTS,
        [R.CONSULATE],
        "B6",
        "Résultats de l'évaluation",
        "Evaluation results",
        EvaluationResultsPayload,
    ),
    _entry(
        Kind.ATTESTATION_LANGUAGE_EXEMPTION,
        [R.APPLICANT, R.CONSULATE],
        "D2",
        "Attestation ministérielle de dispense de formation linguistique (AMDFL)",
        "Ministerial attestation of exemption from language training (AMDFL)",
        VisaPayload,
        document=True,
    ),
    _entry(
        Kind.ATTESTATION_VALUES,
        [R.APPLICANT, R.CONSULATE],
        "E2",
        "Attestation de connaissance des valeurs de la République",
        "Attestation of knowledge of the values of the Republic",
        VisaPayload,
        document=True,
    ),
    _entry(
        Kind.TRAINING_PRESCRIPTION,
        [R.APPLICANT, R.CONSULATE, R.OFII],
        "D3, E3, E4",
        "Prescription de formation",
        "Training prescription",
        TrainingPrescriptionPayload,
        document=True,
    ),
    _entry(
        Kind.TRAINING_START_OVERDUE,
        [*_BODY, R.CONSULATE],
        "B7",
        "Formation non commencée dans les deux mois",
        "Training not started within two months",
        TrainingDeadlinePayload,
    ),
    _entry(
        Kind.TRAINING_OVERRUN,
        _BODY,
        "B8",
        "Formation non achevée dans les deux mois",
        "Training not completed within two months",
        TrainingDeadlinePayload,
    ),
    _entry(
        Kind.NON_ATTENDANCE,
        [R.CONSULATE],
        "B5, D4, D5, E5, E6",
        "Défaut d'assiduité",
        "Non-attendance",
        NonAttendancePayload,
    ),
    _entry(
        Kind.TRAINING_ATTESTATION,
        [R.APPLICANT, R.CONSULATE],  # D4, E5: the applicant holds it, the consulate a copy
        "D4, E5",
        "Attestation de suivi de formation",
        "Attestation of training followed",
        TrainingAttestationPayload,
        document=True,
    ),
    _entry(
        Kind.EXEMPTION_GRANTED,
        _BODY,
        "C1, C2, C3",
        "Dispense accordée",
        "Exemption granted",
        ExemptionGrantedPayload,
    ),
    _entry(
        Kind.SURSIS_EXPIRED,
        [R.CONSULATE],
        "B4, B5",
        "Fin du sursis à statuer",
        "End of the suspension of the decision (sursis à statuer)",
        SursisExpiredPayload,
    ),
    _entry(
        Kind.VISA_DECISION,
        [R.OFII],
        "F4",
        "Décision sur le visa de long séjour",
        "Decision on the long-stay visa",
        VisaDecisionPayload,
    ),
    _entry(
        Kind.TRANSLATION_NEEDED,
        [R.OFII],
        "A4",
        "Traduction nécessaire : courrier au demandeur retenu",
        "Translation needed: letter to the applicant held",
        TranslationNeededPayload,
    ),
    _entry(
        Kind.SKILLS_ASSESSMENT_CONVOCATION,
        [R.APPLICANT],
        "H1, H5",
        "Convocation au bilan de compétences professionnelles",
        "Notice to attend the skills assessment",
        SkillsAssessmentConvocationPayload,
        document=True,
    ),
    _entry(
        Kind.SKILLS_ASSESSMENT_COPY,
        [R.FRANCE_TRAVAIL],
        "H4",
        "Copie du bilan de compétences professionnelles",
        "Copy of the skills assessment",
        SkillsAssessmentCopyPayload,
    ),
    _entry(
        Kind.SKILLS_ASSESSMENT_RESULT,
        [R.APPLICANT],
        "H4",
        "Résultat du bilan de compétences professionnelles",
        "Result of the skills assessment",
        SkillsAssessmentResultPayload,
    ),
    _entry(
        Kind.SKILLS_ASSESSMENT_OVERDUE,
        [R.OFII, R.PREFECTURE],
        "H5",
        "Bilan de compétences professionnelles non réalisé",
        "Skills assessment not done",
        SkillsAssessmentOverduePayload,
    ),
    _entry(
        Kind.CAI_EXPIRY_REMINDER,
        [R.OFII],
        "H5, I1",
        "Échéance prochaine du contrat d'accueil et d'intégration",
        "The reception and integration contract ends soon",
        CaiExpiryReminderPayload,
    ),
    _entry(
        Kind.CAI_FOLLOW_UP_PROPOSAL,
        [R.PREFECTURE],
        "I1, I2",
        "Proposition de l'OFII sur les suites du contrat",
        "OFII's proposal on the contract's outcome",
        CaiFollowUpProposalPayload,
    ),
    _entry(
        Kind.CAI_TERMINATED,
        [R.PREFECTURE],
        "I3",
        "Résiliation du contrat d'accueil et d'intégration",
        "Reception and integration contract terminated",
        CaiTerminatedPayload,
    ),
    _entry(
        Kind.PARENTS_TRAINING_CONVOCATION,
        [R.APPLICANT],
        "G2",
        "Convocation à la formation « Droits et devoirs des parents »",
        "Notice to attend the training “Rights and duties of parents”",
        ParentsTrainingConvocationPayload,
        document=True,
    ),
    _entry(
        Kind.PARENTS_TRAINING_ATTESTATION,
        [R.APPLICANT],
        "G2",
        "Attestation de formation « Droits et devoirs des parents »",
        "Attestation of the training “Rights and duties of parents”",
        ParentsTrainingAttestationPayload,
        document=True,
    ),
    _entry(
        Kind.PARENTS_TRAINING_MISSED,
        [R.PREFECTURE],
        "G4",
        "Formation « Droits et devoirs des parents » non suivie",
        "Training “Rights and duties of parents” not followed",
        ParentsTrainingMissedPayload,
    ),
    _entry(
        Kind.PARENTS_NOT_CONVENED,
        [R.OFII],
        "G4",
        "Parent jamais convoqué à la formation « Droits et devoirs des parents »",
        "Parent never convened to the training “Rights and duties of parents”",
        ParentsNotConvenedPayload,
    ),
    _entry(
        Kind.SCHOOL_ATTENDANCE_BREACH,
        [R.PREFECTURE],
        "G3",
        "Manquement à l'obligation d'assiduité scolaire",
        "Breach of compulsory school attendance",
        SchoolAttendanceBreachPayload,
    ),
    _entry(
        Kind.CONSEIL_GENERAL_REFERRAL,
        [R.CONSEIL_GENERAL],
        "G4",
        "Saisine du président du conseil général",
        "Referral to the president of the conseil général",
        ConseilGeneralReferralPayload,
    ),
)

CATALOGUE: Mapping[Kind, NotificationKind] = MappingProxyType(
    {
        entry.kind: entry
        for entry in (
            *_SAID_BY_DOSSIERS,
            _entry(
                Kind.CORRECTION_NOTICE,
                # whoever a dossier told something that a late fact or a correction changed
                {r for entry in _SAID_BY_DOSSIERS for r in entry.recipients},
                "",
                "Rectification d'une notification",
                "Correction of a notification",
                CorrectionNoticePayload,
            ),
            _entry(
                Kind.DEADLINE_DIGEST,
                [R.CONSULATE, *_BODY, R.PREFECTURE],
                "B1–B8, H5",
                "Relevé des échéances",
                "Deadline digest",
                DeadlineDigestPayload,
                scheduled=True,
            ),
            _entry(
                Kind.DELIVERY_ALERT,
                [R.OFII],
                "",
                "Notifications non remises",
                "Notifications not delivered",
                DeliveryAlertPayload,
                scheduled=True,
            ),
            _entry(
                Kind.MINISTRY_REPORT,
                [R.MINISTRY],
                "J1",
                "Rapport hebdomadaire aux ministères",
                "Weekly report to the ministries",
                MinistryReportPayload,
                scheduled=True,
            ),
        )
    }
)


def check_recipient(kind: Kind, recipient: Recipient) -> Recipient:
    """`recipient`, when a notification of `kind` may go to it; otherwise the rules that
    built it are at fault, and it is refused rather than sent astray or dropped."""
    allowed = CATALOGUE[kind].recipients
    if recipient not in allowed:
        raise ValueError(
            f"a {kind.value} notification is never due to {recipient.value} "
            f"(the catalogue allows {', '.join(sorted(allowed))})"
        )
    return recipient
