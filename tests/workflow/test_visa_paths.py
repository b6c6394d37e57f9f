"""Whole dossiers on the time-skipping server, with the real activities and register."""

from __future__ import annotations

import pytest

from tests.conftest import Harness, iso, visa_input


@pytest.mark.rule("D2")
@pytest.mark.rule("E2")
@pytest.mark.rule("F4")
async def test_sufficient_results_lead_to_issuance(harness: Harness) -> None:
    today = await harness.today()
    application = visa_input(today)
    handle = await harness.start_visa(application)
    state = await handle.execute_update(
        "language_evaluation",
        {
            "evaluated_on": iso(today),
            "oral_score": 50,
            "written_score": 20,
            "evaluator": "OFII Rabat",
        },
    )
    assert state["stage"] == "awaiting_evaluation"
    state = await handle.execute_update(
        "values_evaluation",
        {
            "evaluated_on": iso(today),
            "language_used": "ar",
            "questions_asked": 6,
            "correct_answers": 6,
            "evaluator": "OFII Rabat",
        },
    )
    assert state["stage"] == "awaiting_visa_decision"
    await handle.signal("visa_decision", {"decision": "issued", "decided_on": iso(today)})
    result = await handle.result()
    assert result["stage"] == "visa_issued"
    kinds = await harness.kinds(handle.id)
    assert ("attestation_language_exemption", "applicant") in kinds
    assert ("attestation_values", "consulate") in kinds
    assert ("visa_decision", "ofii") in kinds
    row = await harness.dossier(handle.id)
    assert row is not None and row["stage"] == "visa_issued" and row["closed_at"] is not None
    assert (row["procedure"], row["country"], row["consulate"]) == (
        "family_reunification",
        "MA",
        "Rabat",
    )
