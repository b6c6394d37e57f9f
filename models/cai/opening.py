"""How a CAI opens (H1, H2, H5): its year of validity, the skills assessment owed, and
the reminders before its end."""

from __future__ import annotations

from datetime import date
from typing import Any

from models.cai.abroad import apply_language_abroad, language_abroad
from models.cai.events import CaiContractInput, Service
from models.cai.state import CaiState, ServiceRecord
from models.calendar import months_after
from models.common import TrackedDeadline, age_on
from models.core import Step
from models.dossier_kind import contract_start
from models.errors import InputRejected
from models.events import Event
from models.language import letter_language
from models.reference import ReferenceData

VALIDITY_MONTHS = 12  # H5: the contract is valid one year
REMINDER_MONTHS_BEFORE = (2, 1)  # H5, I1: OFII is reminded two months, then one, before the end
EXEMPT_PERMITS = frozenset({"L.313-8", "L.313-9", "L.313-10"})  # H2
ADULT_AGE, SENIOR_AGE = 18, 55  # H2
SKILLS_ASSESSMENT_FROM = date(2008, 12, 1)  # H1: compulsory since 1 December 2008


def workflow_id_for(contract_id: str) -> str:
    return f"cai-{contract_id}"


def statutory_exemption(contract: CaiContractInput) -> str | None:
    """H1, H2: why no skills assessment is owed, from the contract's own data."""
    if contract.signed_on < SKILLS_ASSESSMENT_FROM:
        return f"H1: contract signed before {SKILLS_ASSESSMENT_FROM}, when the assessment began"
    age = age_on(contract.signatory.birth_date, contract.signed_on)
    if age < ADULT_AGE and contract.in_school:
        return f"H2: minor aged {age}, in school"
    if (
        age >= SENIOR_AGE
    ):  # "plus de 55 ans": the 55th birthday reached, as A1 reads "plus de 16 ans"
        return f"H2: aged {age}, over 55"
    if contract.residence_permit_basis in EXEMPT_PERMITS:
        return f"H2: residence permit under {contract.residence_permit_basis}"
    return None


def start_input(raw: Any, workflow_id: str) -> CaiContractInput:
    return contract_start(CaiContractInput, raw, workflow_id, "contract_id", workflow_id_for)


def open_input(contract: CaiContractInput, reference: ReferenceData) -> Step[CaiState]:
    language, fallback = letter_language(contract.signatory.languages, reference.letter_languages)
    holiday_calendar = reference.holiday_calendar_in_france(contract.prefecture)  # B9
    validity_ends = months_after(
        contract.signed_on, VALIDITY_MONTHS, reference.calendar, holiday_calendar
    )
    prescriptions = contract.prescriptions
    state = CaiState(
        contract_id=contract.contract_id,
        input=contract,
        letter_language=language,
        letter_language_fallback=fallback,
        validity_ends=validity_ends,
        holiday_calendar=holiday_calendar,
        services={
            Service.CIVIC_TRAINING.value: ServiceRecord(prescribed=prescriptions.civic_training),
            Service.LANGUAGE_TRAINING.value: ServiceRecord(prescribed=False),
            Service.VIVRE_EN_FRANCE.value: ServiceRecord(prescribed=prescriptions.vivre_en_france),
        },
        language_abroad=language_abroad(contract),
    )
    apply_language_abroad(state)
    state.skills_assessment.exemption = statutory_exemption(contract)
    state.tracked_deadlines["validity_ends"] = TrackedDeadline(due=validity_ends, rule="H5")
    if state.skills_assessment.exemption is None:
        state.tracked_deadlines["skills_assessment_due"] = TrackedDeadline(
            due=validity_ends, rule="H5"
        )
    plan_reminders(state, reference)
    return Step(state, [])


def plan_reminders(state: CaiState, reference: ReferenceData) -> None:
    for months in REMINDER_MONTHS_BEFORE:
        due = months_after(state.current_end, -months, reference.calendar, state.holiday_calendar)
        state.tracked_deadlines[f"reminder.{months}m"] = TrackedDeadline(due=due, rule="H5")


def admissible(state: CaiState, event: Event) -> None:
    if state.closed:
        raise InputRejected("I1", f"the contract is {state.stage.value}")
