"""One catalogue per dossier kind: each event of the contract is registered once with its
model and its rule, and every dossier workflow answers each one as a signal and an update."""

from __future__ import annotations

import inspect
from typing import Any

from temporalio.workflow import _Definition

from models.cai import CAI
from models.dossier_kind import DossierKind
from models.family import FAMILY
from models.history import CORRECT_EVENT
from models.visa import VISA
from workflows.cai_contract import CaiContract, CaiFamilyContract
from workflows.visa_application import VisaApplication

# The event tables of docs/contract.md, by workflow type.
CONTRACT_EVENTS = {
    "VisaApplication": {
        "visa_application_filed",
        "receipt_presented",
        "language_test_exemption",
        "language_evaluation",
        "values_evaluation",
        "training_prescribed",
        "training_exemption",
        "training_started",
        "training_absence",
        "training_completed",
        "visa_decision",
    },
    "CaiContract": {
        "skills_assessment_exemption",
        "skills_assessment_convened",
        "skills_assessment_completed",
        "absence",
        "service_completed",
        "language_training_status",
        "prefect_decision",
    },
    "CaiFamilyContract": {
        "parents_training_convened",
        "parents_training_attended",
        "parents_training_absence",
        "school_attendance_breach",
        "conseil_general_referral",
    },
}
# Added beside the contract's (docs/contract.md): why a no-show counts against the applicant (B5).
# D6: the DILF's preparation support asked of OFII; the visa dossier's language record
# reported to a CAI opened before it was decided.
ADDED_EVENTS = {
    "VisaApplication": {"evaluation_absence"},
    "CaiContract": {"dilf_preparation_requested", "language_outcome_abroad"},
}
RULES: dict[str, DossierKind[Any]] = {
    "VisaApplication": VISA,
    "CaiContract": CAI,
    "CaiFamilyContract": FAMILY,
}


def test_every_contract_event_has_its_model_and_its_handler() -> None:
    for workflow_type, names in CONTRACT_EVENTS.items():
        events = RULES[workflow_type].events
        assert set(events) == names | ADDED_EVENTS.get(workflow_type, set()), workflow_type
        for name, registered in events.items():
            parameters = list(inspect.signature(registered.handle).parameters)
            assert parameters == ["state", "event", "reference", "received_on"], name
            annotation = inspect.signature(registered.handle).parameters["event"].annotation
            assert annotation == registered.model.__name__, name


def test_every_dossier_workflow_answers_each_event_as_signal_and_update() -> None:
    for workflow in (VisaApplication, CaiContract, CaiFamilyContract):
        definition = _Definition.must_from_class(workflow)
        assert definition.name is not None
        expected = set(RULES[definition.name].events) | {CORRECT_EVENT}
        assert expected <= set(definition.signals), definition.name
        assert expected <= set(definition.updates), definition.name
