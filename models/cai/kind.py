"""`CaiContract`'s dossier kind: the CAI in France (part II), assembled once."""

from __future__ import annotations

from dataclasses import replace

from models.cai.abroad import on_language_outcome_abroad
from models.cai.assessment import (
    on_absence,
    on_completed,
    on_completed_copy_only,
    on_convened,
    on_dilf_preparation,
    on_exemption,
    on_language_status,
    on_service_completed,
)
from models.cai.events import (
    Absence,
    DilfPreparationRequested,
    LanguageOutcomeAbroadReported,
    LanguageTrainingStatus,
    PrefectDecision,
    ServiceCompleted,
    SkillsAssessmentCompleted,
    SkillsAssessmentConvened,
    SkillsAssessmentExemption,
)
from models.cai.follow_up import fire, on_prefect_decision
from models.cai.opening import admissible, open_input, start_input, workflow_id_for
from models.cai.state import CaiState, cai_view
from models.dossier_kind import Descriptor, Registered, on

# The one catalogue of `CaiContract`: each event of the contract, its model, its rule.
EVENTS: dict[str, Registered[CaiState]] = {
    "skills_assessment_exemption": on(SkillsAssessmentExemption, on_exemption),
    "skills_assessment_convened": on(SkillsAssessmentConvened, on_convened),
    "skills_assessment_completed": on(SkillsAssessmentCompleted, on_completed),
    "absence": on(Absence, on_absence),
    "service_completed": on(ServiceCompleted, on_service_completed),
    "language_training_status": on(LanguageTrainingStatus, on_language_status),
    "prefect_decision": on(PrefectDecision, on_prefect_decision),
    "dilf_preparation_requested": on(DilfPreparationRequested, on_dilf_preparation),
    "language_outcome_abroad": on(LanguageOutcomeAbroadReported, on_language_outcome_abroad),
}

CAI: Descriptor[CaiState] = Descriptor(
    kind="cai_contract",
    state_type=CaiState,
    view=cai_view,
    events=EVENTS,
    start_input=start_input,
    open_input=open_input,
    admit=admissible,
    fire=fire,
    fires_on_last_day=lambda key: key.startswith("reminder"),
    # The opening facts can be corrected like any other (docs/interpretations.md).
    workflow_id_of=lambda state: workflow_id_for(state.contract_id),
)

# H4 as the dossiers begun before the signatory's own copy apply it, for as long as one runs:
# the result goes to France Travail only. The workflow picks it (a `workflow.patched`).
CAI_COPY_TO_FRANCE_TRAVAIL_ONLY: Descriptor[CaiState] = replace(
    CAI,
    events={
        **EVENTS,
        "skills_assessment_completed": on(SkillsAssessmentCompleted, on_completed_copy_only),
    },
)
