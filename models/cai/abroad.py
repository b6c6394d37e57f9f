"""What the CAI in France inherits from the visa dossier (D2, D6, D7, C1): the language
record decided abroad, read from the register at opening or reported later."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from models.cai.events import (
    CaiContractInput,
    LanguageAbroad,
    LanguageOutcomeAbroad,
    LanguageOutcomeAbroadReported,
    Service,
)
from models.cai.state import CaiState
from models.common import NotificationDue
from models.errors import InputRejected
from models.reference import ReferenceData

# D2, D6, D7, C1: what each value of the input's `language_outcome_abroad` stands for.
RECORD_OF_OUTCOME = {
    LanguageOutcomeAbroad.AMDFL: LanguageAbroad(amdfl=True, last_evaluation_sufficient=True),
    LanguageOutcomeAbroad.DILF_REQUIRED: LanguageAbroad(
        dilf_required=True, training_followed=True, last_evaluation_sufficient=True
    ),
    LanguageOutcomeAbroad.TRAINING_FOLLOWED: LanguageAbroad(
        training_followed=True, last_evaluation_sufficient=False
    ),
    LanguageOutcomeAbroad.TEST_EXEMPTED: LanguageAbroad(test_exempted=True),
}


def language_abroad(contract: CaiContractInput) -> LanguageAbroad | None:
    """The visa dossier's record when read from the register; what the input says otherwise."""
    if contract.language_abroad is not None:
        return contract.language_abroad
    outcome = contract.language_outcome_abroad
    return RECORD_OF_OUTCOME[outcome] if outcome is not None else None


def language_not_owed(abroad: LanguageAbroad | None) -> str | None:
    """D6, D7: why the CAI owes no language training: the last evaluation (or re-evaluation)
    abroad was sufficient, or C1 exempted the test. A training followed without a
    re-evaluation does not discharge it."""
    if abroad is None:
        return None
    if abroad.amdfl:
        return "D2: the AMDFL earned abroad exempts from the CAI's language evaluation and training"
    if abroad.dilf_required:
        return (
            "D6: sufficient at the re-evaluation abroad: the DILF is owed instead of a "
            "language training"
        )
    if abroad.test_exempted:
        return "C1: the language test was exempted abroad: no language training is owed"
    if abroad.last_evaluation_sufficient:
        return "D6: sufficient at the last evaluation abroad: no language training is owed"
    return None


def apply_language_abroad(state: CaiState) -> None:
    """D2, D6, D7, C1: the CAI's language training and DILF from what was decided abroad;
    OFII's prescription where nothing is known of it."""
    prescribed = state.input.prescriptions.language_training_hours > 0
    not_owed = language_not_owed(state.language_abroad) if prescribed else None
    training = state.services[Service.LANGUAGE_TRAINING.value]
    training.prescribed = prescribed and not_owed is None
    training.not_owed = not_owed
    abroad = state.language_abroad
    state.dilf_required = (
        abroad.dilf_required if abroad is not None else state.input.prescriptions.dilf_required
    )


def outcome_of(abroad: LanguageAbroad | None) -> LanguageOutcomeAbroad | None:
    """The input's value that a visa dossier's record comes down to."""
    if abroad is None:
        return None
    if abroad.dilf_required:
        return LanguageOutcomeAbroad.DILF_REQUIRED
    if abroad.amdfl:
        return LanguageOutcomeAbroad.AMDFL
    if abroad.test_exempted:
        return LanguageOutcomeAbroad.TEST_EXEMPTED
    if language_not_owed(abroad) is None:
        return LanguageOutcomeAbroad.TRAINING_FOLLOWED
    return None


def record_abroad(carry_over: Mapping[str, Any] | None) -> LanguageAbroad | None:
    """D2, D6, D7, C1: the language record a decided visa dossier carries to the CAI (its
    outcome's `cai`); None when the visa dossier is not decided, or left nothing. A visa
    dossier decided before the record was carried whole gives what its flags imply: a
    training not owed with neither AMDFL nor DILF was discharged by C1."""
    if not carry_over:
        return None
    amdfl = bool(carry_over.get("amdfl"))
    dilf_required = bool(carry_over.get("dilf_required"))
    if "test_exempted" in carry_over:
        return LanguageAbroad(
            amdfl=amdfl,
            dilf_required=dilf_required,
            training_followed=bool(carry_over.get("language_training_followed")),
            last_evaluation_sufficient=carry_over.get("last_evaluation_sufficient"),
            test_exempted=bool(carry_over["test_exempted"]),
        )
    discharged = not carry_over.get("language_training_required")
    return LanguageAbroad(
        amdfl=amdfl,
        dilf_required=dilf_required,
        training_followed=dilf_required,
        last_evaluation_sufficient=True if amdfl or dilf_required else None,
        test_exempted=discharged and not amdfl and not dilf_required,
    )


def with_outcome_abroad(raw: Any, outcome: str | None) -> Any:
    """The start input with the outcome read from the register, which prevails over one the
    input gives (the visa dossier is the record of the evaluation abroad). Runs begun
    before the record was read whole."""
    if outcome is None or not isinstance(raw, dict):
        return raw
    return {**raw, "language_outcome_abroad": outcome}


def with_language_abroad(raw: Any, record: dict[str, Any] | None) -> Any:
    """The start input with the visa dossier's language record read from the register,
    which prevails over the input's `language_outcome_abroad`."""
    if record is None or not isinstance(raw, dict):
        return raw
    outcome = outcome_of(LanguageAbroad.model_validate(record))
    return {
        **raw,
        "language_abroad": record,
        "language_outcome_abroad": outcome.value if outcome is not None else None,
    }


def on_language_outcome_abroad(
    state: CaiState,
    event: LanguageOutcomeAbroadReported,
    reference: ReferenceData,
    received_on: date,
) -> list[NotificationDue]:
    """D2, D6, D7, C1: the visa dossier's record reported after the CAI opened stands as if
    read at opening; one read from the visa dossier at opening is not replaced."""
    if state.input.language_abroad is not None:
        raise InputRejected(
            "D6", "the visa dossier's language record was read at opening", "reported_on"
        )
    state.language_abroad = event.record()
    apply_language_abroad(state)
    return []
