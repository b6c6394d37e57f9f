"""The state of a `CaiContract` (reception and integration contract, II.2)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field, computed_field

from models.cai.events import CaiContractInput, LanguageAbroad
from models.common import Record
from models.dossier import DossierRecord
from models.notifications import Kind
from models.records import ConvocationWait, DossierView


class CaiStage(StrEnum):
    IN_PROGRESS = "in_progress"
    AWAITING_PREFECT_DECISION = "awaiting_prefect_decision"
    EXTENDED = "extended"
    CLOSED = "closed"
    TERMINATED = "terminated"


class SkillsStatus(StrEnum):
    EXEMPT = "exempt"
    AWAITING_CONVOCATION = "awaiting_convocation"
    CONVENED = "convened"
    COMPLETED = "completed"
    MISSED = "missed"


class Convocation(Record):
    session_id: str
    session_on: date
    platform: str


class Absence(Record):
    absent_on: date
    legitimate_reason: str | None


def pending_convocation(
    convocations: list[Convocation], absences: list[Absence]
) -> Convocation | None:
    """The last convocation, unless an absence was reported since (H1, G2)."""
    if not convocations:
        return None
    last = convocations[-1]
    if any(absence.absent_on >= last.session_on for absence in absences):
        return None
    return last


class SkillsAssessment(Record):
    """The *bilan de compétences professionnelles* (H1–H5)."""

    exemption: str | None = None  # H2, with its ground
    exemption_proof_ref: str | None = None
    convocations: list[Convocation] = Field(default_factory=list)
    absences: list[Absence] = Field(default_factory=list)
    completed_on: date | None = None
    duration_hours: float | None = None
    report_ref: str | None = None
    overdue: bool = False  # H5: the year of validity passed without it
    offered_again_on: date | None = None  # H5: offered again within an extension (I1)

    @property
    def counted_absences(self) -> list[Absence]:
        """The absences since the assessment was last offered."""
        since = self.offered_again_on
        return [a for a in self.absences if since is None or a.absent_on >= since]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> SkillsStatus:
        if self.exemption is not None:
            return SkillsStatus.EXEMPT
        if self.completed_on is not None:
            return SkillsStatus.COMPLETED
        if self.overdue or any(a.legitimate_reason is None for a in self.counted_absences):
            return SkillsStatus.MISSED
        if self.pending_convocation is not None:
            return SkillsStatus.CONVENED
        return SkillsStatus.AWAITING_CONVOCATION

    @property
    def pending_convocation(self) -> Convocation | None:
        return pending_convocation(self.convocations, self.absences)


class ServiceRecord(Record):
    """A training of the CAI: civic, language, "Vivre en France"."""

    prescribed: bool
    not_owed: str | None = None  # why a service prescribed is not owed after all (D2, D6)
    completed_on: date | None = None
    attestation_ref: str | None = None
    absences: list[Absence] = Field(default_factory=list)


class LanguageTrainingReport(Record):
    status: str  # in_progress or deferred
    reason: str | None
    reported_on: date


class Proposal(Record):
    """OFII's proposal to the prefect at the end of the contract (I1, I2)."""

    proposal: str  # close, terminate, extend, or undetermined (none fits)
    reasons: list[str]
    made_on: date
    missing: list[str] = Field(default_factory=list)  # what keeps it from `close`


class PrefectDecisionRecord(Record):
    decision: str
    decided_on: date
    extended_until: date | None = None


class CaiState(DossierRecord):
    contract_id: str
    input: CaiContractInput
    letter_language: str = "fr"
    letter_language_fallback: bool = False
    skills_assessment: SkillsAssessment = Field(default_factory=SkillsAssessment)
    services: dict[str, ServiceRecord] = Field(default_factory=dict)
    language_training_status: LanguageTrainingReport | None = None
    language_abroad: LanguageAbroad | None = None  # D2, D6, D7, C1: decided abroad
    dilf_required: bool = False  # D6: the DILF is owed instead of a language training
    dilf_preparation_requested_on: date | None = None  # D6: OFII's preparation support asked
    validity_ends: date
    extended_until: date | None = None
    proposal: Proposal | None = None
    awaiting_decision: bool = False  # OFII's proposal made, the prefect not yet ruled
    decisions: list[PrefectDecisionRecord] = Field(default_factory=list)

    @property
    def opened_on(self) -> date:
        return self.input.signed_on

    @property
    def opening_rule(self) -> str:
        return "H1"

    @property
    def current_end(self) -> date:
        return self.extended_until or self.validity_ends

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stage(self) -> CaiStage:
        last = self.decisions[-1].decision if self.decisions else None
        if last == "close":
            return CaiStage.CLOSED
        if last == "terminate":
            return CaiStage.TERMINATED
        if self.awaiting_decision:
            return CaiStage.AWAITING_PREFECT_DECISION
        if last == "extend":
            return CaiStage.EXTENDED
        return CaiStage.IN_PROGRESS

    @property
    def closed(self) -> bool:
        return self.stage in (CaiStage.CLOSED, CaiStage.TERMINATED)

    def shown_deadline(self, key: str) -> bool:
        return not key.startswith("reminder")

    @property
    def open_for_services(self) -> bool:
        return self.stage in (CaiStage.IN_PROGRESS, CaiStage.EXTENDED)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def awaiting(self) -> list[str]:
        if self.closed:
            return []
        if self.stage == CaiStage.AWAITING_PREFECT_DECISION:
            return ["prefect_decision from the prefecture"]
        waits = []
        status = self.skills_assessment.status
        if status == SkillsStatus.AWAITING_CONVOCATION:
            waits.append("skills_assessment_convened (session planner)")
        elif status == SkillsStatus.CONVENED:
            waits.append("skills_assessment_completed")
        waits += [
            f"service_completed ({name})"
            for name, service in self.services.items()
            if service.prescribed and service.completed_on is None
        ]
        return waits


def cai_view(state: CaiState) -> DossierView:
    waiting = []
    if (
        state.open_for_services
        and state.skills_assessment.status == SkillsStatus.AWAITING_CONVOCATION
    ):
        waiting.append(
            ConvocationWait(
                service="skills_assessment",
                platform=state.input.platform,
                due=state.current_end,
                language=state.letter_language,
            )
        )
    outcome = (
        state.decisions[-1].model_dump(mode="json") if state.closed and state.decisions else None
    )
    return DossierView(
        kind="cai_contract",
        reference=state.contract_id,
        procedure="cai",
        prefecture=state.input.prefecture,
        responsible_body=state.input.platform,
        stage=state.stage.value,
        outcome=outcome,
        deadlines=state.deadlines,
        next_deadline=state.next_deadline,
        next_deadline_name=state.next_deadline_name,
        overdue=state.overdue,
        exemptions=["skills_assessment"] if state.skills_assessment.exemption is not None else [],
        awaiting=state.awaiting,
        waiting=waiting,
        closed=state.closed,
        version=state.seq,
        deadlines_missed=state.missed_alerts(
            {"skills_assessment_due": Kind.SKILLS_ASSESSMENT_OVERDUE}
        ),
        corrections=state.corrections,
    )
