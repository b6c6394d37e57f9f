"""`VisaApplication`'s dossier kind: part I of the circular, assembled once."""

from __future__ import annotations

from models.dossier_kind import Descriptor, Registered, on
from models.visa.decision import on_visa_decision
from models.visa.delays import FIRES_ON_LAST_DAY, settle_evaluation_deadline
from models.visa.evaluations import (
    need_found_by_correction,
    on_evaluation_absence,
    on_language_evaluation,
    on_language_test_exemption,
    on_values_evaluation,
)
from models.visa.events import (
    EvaluationAbsence,
    LanguageEvaluation,
    LanguageTestExemption,
    ReceiptPresented,
    TrainingAbsence,
    TrainingCompleted,
    TrainingExemption,
    TrainingPrescribed,
    TrainingStarted,
    ValuesEvaluation,
    VisaApplicationFiled,
    VisaDecision,
)
from models.visa.scope import (
    admissible,
    fire,
    judged,
    on_receipt_presented,
    on_visa_application_filed,
    open_input,
    start_input,
    workflow_id_for,
)
from models.visa.state import VisaState, visa_view
from models.visa.training import (
    on_training_absence,
    on_training_completed,
    on_training_exemption,
    on_training_prescribed,
    on_training_started,
)

# The one catalogue of `VisaApplication`: each event of the contract, its model, its rule.
EVENTS: dict[str, Registered[VisaState]] = {
    "visa_application_filed": on(VisaApplicationFiled, on_visa_application_filed),
    "receipt_presented": on(ReceiptPresented, on_receipt_presented),
    "evaluation_absence": on(EvaluationAbsence, on_evaluation_absence),
    "language_test_exemption": on(LanguageTestExemption, on_language_test_exemption),
    "language_evaluation": on(LanguageEvaluation, on_language_evaluation),
    "values_evaluation": on(ValuesEvaluation, on_values_evaluation),
    "training_prescribed": on(TrainingPrescribed, on_training_prescribed),
    "training_exemption": on(TrainingExemption, on_training_exemption),
    "training_started": on(TrainingStarted, on_training_started),
    "training_absence": on(TrainingAbsence, on_training_absence),
    "training_completed": on(TrainingCompleted, on_training_completed),
    "visa_decision": on(VisaDecision, on_visa_decision),
}

VISA: Descriptor[VisaState] = Descriptor(
    kind="visa_application",
    state_type=VisaState,
    view=visa_view,
    events=EVENTS,
    start_input=start_input,
    open_input=open_input,
    admit=admissible,
    fire=fire,
    fires_on_last_day=lambda key: key in FIRES_ON_LAST_DAY,
    settle=settle_evaluation_deadline,
    judged=judged,
    workflow_id_of=lambda state: workflow_id_for(state.application_id),
    notified_anew=need_found_by_correction,
)
