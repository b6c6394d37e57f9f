"""The state of a `VisaApplication` dossier, as the `state` query returns it.

Stored fields are what happened; the stage, the statuses and the contract's deadline
view are computed from them, so they can never disagree.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import Field, computed_field

from models.common import DeadlineStatus, Record
from models.dossier import DossierRecord
from models.notifications import Kind
from models.records import DossierView
from models.reference import BodyKind
from models.visa.events import Domain, Procedure, VisaApplicationInput


class Stage(StrEnum):
    NOT_SUBJECT = "not_subject"
    AWAITING_EVALUATION = "awaiting_evaluation"
    AWAITING_TRAINING = "awaiting_training"
    IN_TRAINING = "in_training"
    AWAITING_RE_EVALUATION = "awaiting_re_evaluation"
    AWAITING_VISA_DECISION = "awaiting_visa_decision"
    VISA_ISSUED = "visa_issued"
    VISA_REFUSED = "visa_refused"
    ROUTED_TO_CAI_IN_FRANCE = "routed_to_cai_in_france"


# A1, A2: the last day a dossier judged not subject takes corrections of its opening.
CORRECTION_WINDOW = "correction_window_ends"

CLOSED_STAGES = frozenset(
    {Stage.NOT_SUBJECT, Stage.VISA_ISSUED, Stage.VISA_REFUSED, Stage.ROUTED_TO_CAI_IN_FRANCE}
)


class TrackStatus(StrEnum):
    """Where one domain (language or values) stands."""

    AWAITING_EVALUATION = "awaiting_evaluation"
    TEST_EXEMPT = "test_exempt"  # C1
    SUFFICIENT = "sufficient"  # D2, E2
    TRAINING_NEEDED = "training_needed"  # D3, E3: awaiting the provider's prescription
    TRAINING_EXEMPT = "training_exempt"  # C2
    TRAINING_PRESCRIBED = "training_prescribed"
    IN_TRAINING = "in_training"
    AWAITING_RE_EVALUATION = "awaiting_re_evaluation"  # D4, E5
    RE_EVALUATED = "re_evaluated"


SETTLED = frozenset(
    {
        TrackStatus.TEST_EXEMPT,
        TrackStatus.SUFFICIENT,
        TrackStatus.TRAINING_EXEMPT,
        TrackStatus.RE_EVALUATED,
    }
)
TRAINING_OUTSTANDING = frozenset(
    {TrackStatus.TRAINING_NEEDED, TrackStatus.TRAINING_PRESCRIBED, TrackStatus.IN_TRAINING}
)


class Evaluation(Record):
    evaluated_on: date
    received_on: date
    late: bool  # B6: recorded more than a week after the evaluation
    sufficient: bool
    evaluator: str
    bareme_from: date
    oral_score: int | None = None
    written_score: int | None = None
    language_used: str | None = None
    questions_asked: int | None = None
    correct_answers: int | None = None
    superseded_by: str | None = None  # C1: a test the exemption decided before it governs


class Exemption(Record):
    decided_on: date
    ground: str
    evidence_ref: str
    detail: str | None = None


class Absence(Record):
    absent_on: date
    legitimate_reason: str | None
    received_on: date | None = None  # D5, F2: reported after the decision, it stands apart


class Training(Record):
    hours: int
    provider: str
    notified_on: date
    integrates_values: bool = False  # E4: the values training inside the language module
    started_on: date | None = None
    completed_on: date | None = None
    hours_attended: int | None = None
    attestation_ref: str | None = None
    absences: list[Absence] = Field(default_factory=list)


class DomainTrack(Record):
    test_exemption: Exemption | None = None  # C1, language only
    evaluation_absences: list[Absence] = Field(default_factory=list)  # B5
    evaluation: Evaluation | None = None
    training_exemption: Exemption | None = None  # C2
    training: Training | None = None
    re_evaluation: Evaluation | None = None
    superseded_evaluations: list[Evaluation] = Field(default_factory=list)  # C1


class ResponsibleBody(Record):
    kind: BodyKind
    country: str
    name: str


class CaiCarryOver(Record):
    """What the CAI in France inherits from the evaluation abroad (D2, D6, D7)."""

    amdfl: bool = False  # D2: exempt from the CAI's language evaluation and training
    dilf_required: bool = False  # D6
    language_training_required: bool = False  # D7
    language_training_followed: bool = False  # D4: an attestation of training followed
    last_evaluation_sufficient: bool | None = None  # D6, D7: None when never evaluated
    test_exempted: bool = False  # C1: the language test exempted
    language_results: dict[str, int] | None = None  # D7: they set the CAI prescription
    values_training_followed: bool = False


class VisaOutcome(Record):
    decision: str
    decided_on: date
    grounds: list[str] = Field(default_factory=list)
    issued_under_b5: bool = False
    delay_attributable_to_applicant: bool = False
    cai: CaiCarryOver = Field(default_factory=CaiCarryOver)


class VisaState(DossierRecord):
    application_id: str
    procedure: Procedure
    input: VisaApplicationInput
    # The visa application: from the input, or `visa_application_filed` (B4).
    visa_application_date: date | None = None
    subject: bool
    not_subject_reason: str | None = None
    # A2: a family-reunification file completed before the scheme started in its district:
    # the visa application's date settles whether the applicant is subject.
    scope_awaits_visa_application: bool = False
    # A5, B3: the spouse's récépissé presented to OFII or the delegated organisation.
    receipt_presented_on: date | None = None
    responsible_body: ResponsibleBody | None = None
    letter_language: str = "fr"
    letter_language_fallback: bool = False  # A4: no declared language has a translation
    language: DomainTrack = Field(default_factory=DomainTrack)
    values: DomainTrack = Field(default_factory=DomainTrack)
    outcome: VisaOutcome | None = None

    @property
    def letters_held(self) -> bool:
        """A4: no letter template exists in any language the applicant declared (French
        among them only when declared): letters to them are held for translation."""
        return self.letter_language_fallback

    def track(self, domain: Domain) -> DomainTrack:
        return self.language if domain == Domain.LANGUAGE else self.values

    def training_of(self, domain: Domain) -> Training | None:
        """The training that serves `domain`: for values, possibly the language module (E4)."""
        if domain == Domain.VALUES and self.values_integrated:
            return self.language.training
        return self.track(domain).training

    @property
    def values_integrated(self) -> bool:
        """E4: the values training rides in the language module, unless that module was
        exempted (C2: the half-day values training is then due on its own)."""
        training = self.language.training
        return (
            training is not None
            and training.integrates_values
            and self.language.training_exemption is None
        )

    @property
    def opened_on(self) -> date:
        """Family reunification opens at the complete file; a spouse's dossier at the visa
        application (A1, A5, B1, B3)."""
        opened_on = (
            self.input.complete_file_date
            if self.procedure == Procedure.FAMILY_REUNIFICATION
            else self.input.visa_application_date
        )
        assert opened_on is not None  # required by the input for its procedure
        return opened_on

    @property
    def evaluations_from(self) -> date:
        """No evaluation precedes the complete file (B1), or the spouse's récépissé once
        presented (B3)."""
        return self.receipt_presented_on or self.opened_on

    @property
    def opening_rule(self) -> str:
        return "B1" if self.procedure == Procedure.FAMILY_REUNIFICATION else "B3"

    def status_of(self, domain: Domain) -> TrackStatus:
        track = self.track(domain)
        if track.test_exemption is not None:
            return TrackStatus.TEST_EXEMPT
        if track.evaluation is None:
            return TrackStatus.AWAITING_EVALUATION
        if track.evaluation.sufficient:
            return TrackStatus.SUFFICIENT
        if track.training_exemption is not None:
            return TrackStatus.TRAINING_EXEMPT
        training = self.training_of(domain)
        if training is None:
            return TrackStatus.TRAINING_NEEDED
        if training.completed_on is None:
            if training.started_on is None:
                return TrackStatus.TRAINING_PRESCRIBED
            return TrackStatus.IN_TRAINING
        if track.re_evaluation is None:
            return TrackStatus.AWAITING_RE_EVALUATION
        return TrackStatus.RE_EVALUATED

    @computed_field  # type: ignore[prop-decorator]
    @property
    def track_status(self) -> dict[str, TrackStatus]:
        return {domain.value: self.status_of(domain) for domain in Domain}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stage(self) -> Stage:
        if self.outcome is not None:
            return Stage.VISA_ISSUED if self.outcome.decision == "issued" else Stage.VISA_REFUSED
        if not self.subject:
            if self.input.resides_in_france_married_over_6_months:
                return Stage.ROUTED_TO_CAI_IN_FRANCE
            return Stage.NOT_SUBJECT
        statuses = set(self.track_status.values())
        if TrackStatus.AWAITING_EVALUATION in statuses:
            return Stage.AWAITING_EVALUATION
        if TrackStatus.IN_TRAINING in statuses:
            return Stage.IN_TRAINING
        if statuses & {TrackStatus.TRAINING_NEEDED, TrackStatus.TRAINING_PRESCRIBED}:
            return Stage.AWAITING_TRAINING
        if TrackStatus.AWAITING_RE_EVALUATION in statuses:
            return Stage.AWAITING_RE_EVALUATION
        return Stage.AWAITING_VISA_DECISION

    @property
    def closed(self) -> bool:
        """A dossier judged not subject stays open while its opening facts may still be
        corrected (A1, A2); one whose scope awaits the visa application stays open (A2)."""
        window = self.tracked_deadlines.get(CORRECTION_WINDOW)
        if self.scope_awaits_visa_application or (window is not None and window.open):
            return False
        return self.stage in CLOSED_STAGES

    @computed_field  # type: ignore[prop-decorator]
    @property
    def training_prescribed(self) -> bool:
        return any(self.track(domain).training is not None for domain in Domain)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def awaiting(self) -> list[str]:
        """What the dossier waits for, in words an operator reads in the Web UI."""
        if self.closed:
            return []
        if self.scope_awaits_visa_application:
            return ["visa_application_filed from the consulate (A2: its date settles the scope)"]
        if not self.subject:
            return ["correct_event of the opening facts, until the window ends (A1, A2)"]
        waits: list[str] = []
        if self.procedure == Procedure.SPOUSE_OF_FRENCH and self.receipt_presented_on is None:
            waits.append("receipt_presented from OFII or the delegated organisation (B3)")
        for domain in Domain:
            status = self.status_of(domain)
            if (
                domain == Domain.VALUES
                and self.values_integrated
                and status in TRAINING_OUTSTANDING
            ):
                continue  # E4: the language module carries it
            waits.extend(_AWAITING_TEXT.get((domain, status), []))
        if self.visa_application_date is None:
            waits.append("visa_application_filed from the consulate")
        elif self.stage == Stage.AWAITING_VISA_DECISION or any(
            d.status == DeadlineStatus.MISSED and k == "decision_suspension_ends"
            for k, d in self.tracked_deadlines.items()
        ):
            waits.append("visa_decision from the consulate")
        return waits

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# The alert each delay sends when it passes with its obligation outstanding (J1).
VISA_ALERTS = {
    "evaluation_due": Kind.EVALUATION_OVERDUE,  # B1, B3
    "training_start_due": Kind.TRAINING_START_OVERDUE,  # B7
    "training_end_due": Kind.TRAINING_OVERRUN,  # B8
    "decision_suspension_ends": Kind.SURSIS_EXPIRED,  # B4, B5
    "results_to_consulate_due": Kind.EVALUATION_RESULTS,  # B6: results sent after the week
}

_AWAITING_TEXT: dict[tuple[Domain, TrackStatus], list[str]] = {
    (Domain.LANGUAGE, TrackStatus.AWAITING_EVALUATION): ["language_evaluation"],
    (Domain.VALUES, TrackStatus.AWAITING_EVALUATION): ["values_evaluation"],
    (Domain.LANGUAGE, TrackStatus.TRAINING_NEEDED): ["training_prescribed (language)"],
    (Domain.VALUES, TrackStatus.TRAINING_NEEDED): ["training_prescribed (values)"],
    (Domain.LANGUAGE, TrackStatus.TRAINING_PRESCRIBED): ["training_started (language)"],
    (Domain.VALUES, TrackStatus.TRAINING_PRESCRIBED): ["training_started (values)"],
    (Domain.LANGUAGE, TrackStatus.IN_TRAINING): ["training_completed (language)"],
    (Domain.VALUES, TrackStatus.IN_TRAINING): ["training_completed (values)"],
    (Domain.LANGUAGE, TrackStatus.AWAITING_RE_EVALUATION): ["language_evaluation (re-evaluation)"],
    (Domain.VALUES, TrackStatus.AWAITING_RE_EVALUATION): ["values_evaluation (re-evaluation)"],
}


def visa_view(state: VisaState) -> DossierView:
    """The register row, search attributes and Web UI summary of a visa dossier."""
    body = state.responsible_body
    return DossierView(
        kind="visa_application",
        reference=state.application_id,
        procedure=state.procedure.value,
        country=state.input.country_of_residence,
        consulate=state.input.consulate,
        prefecture=state.input.prefecture,
        responsible_body=body.kind.value if body is not None else None,
        stage=state.stage.value,
        outcome=state.outcome.model_dump(mode="json") if state.outcome is not None else None,
        deadlines=state.deadlines,
        next_deadline=state.next_deadline,
        next_deadline_name=state.next_deadline_name,
        overdue=state.overdue,
        training_prescribed=state.training_prescribed,
        exemptions=(["language_test"] if state.language.test_exemption is not None else [])
        + [
            f"{domain.value}_training"
            for domain in Domain
            if state.track(domain).training_exemption is not None
        ],
        awaiting=state.awaiting,
        closed=state.closed,
        version=state.seq,
        deadlines_missed=state.missed_alerts(VISA_ALERTS),
        trainings=[d.value for d in Domain if state.track(d).training is not None],
        corrections=state.corrections,
    )
