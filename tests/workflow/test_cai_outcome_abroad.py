"""D2, D6, D7: the language outcome abroad follows the person from the visa dossier to the
CAI opened with its `visa_application_id`, read from the register before the CAI opens."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.conftest import Harness, cai_input, iso
from tests.workflow.test_delivery import _issued_visa


@pytest.mark.rule("D2")
@pytest.mark.rule("D6")
@pytest.mark.rule("D7")
async def test_the_visa_dossiers_outcome_reaches_the_cai_opened_with_its_id(
    harness: Harness,
) -> None:
    today = await harness.today()
    visa_id = await _issued_visa(harness)  # sufficient at the first evaluation: an AMDFL
    application_id = visa_id.removeprefix("visa-")
    visa = harness.client.get_workflow_handle(visa_id)
    assert (await visa.result())["outcome"]["cai"]["amdfl"] is True

    # The input says nothing of the outcome, or says otherwise: the register's prevails.
    contract = cai_input(
        today,
        visa_application_id=application_id,
        language_outcome_abroad="training_followed",
    )
    cai = await harness.start_cai(contract)
    state = await cai.query("state")
    assert state["input"]["language_outcome_abroad"] == "amdfl"
    # The whole record the visa dossier decided, as the register carries it.
    assert state["language_abroad"] == {
        "amdfl": True,
        "dilf_required": False,
        "training_followed": False,
        "last_evaluation_sufficient": True,
        "test_exempted": False,
    }
    assert state["services"]["language_training"]["prescribed"] is False
    assert state["services"]["language_training"]["not_owed"].startswith("D2")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await cai.execute_update(
            "absence",
            {"service": "language_training", "absent_on": iso(today), "legitimate_reason": None},
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.message.startswith("D2: service: language_training is not owed")

    # A visa dossier the register does not hold leaves the input as it is.
    unknown = await harness.start_cai(
        cai_input(today, visa_application_id="RBT-UNKNOWN", language_outcome_abroad=None)
    )
    state = await unknown.query("state")
    assert state["input"]["language_outcome_abroad"] is None
    assert state["services"]["language_training"]["prescribed"] is True


@pytest.mark.rule("D6")
@pytest.mark.rule("D7")
async def test_a_cai_opened_before_the_visa_dossier_decided_takes_its_record_later(
    harness: Harness,
) -> None:
    today = await harness.today()
    # The visa dossier is not decided yet: nothing to read at opening.
    cai = await harness.start_cai(
        cai_input(today, visa_application_id="RBT-NOT-YET", language_outcome_abroad=None)
    )
    state = await cai.query("state")
    assert state["language_abroad"] is None
    assert state["services"]["language_training"]["prescribed"] is True
    await cai.execute_update(
        "language_outcome_abroad",
        {"reported_on": iso(today), "test_exempted": True},  # C1
    )
    state = await cai.query("state")
    assert state["language_abroad"]["test_exempted"] is True
    assert state["services"]["language_training"]["prescribed"] is False
    assert state["services"]["language_training"]["not_owed"].startswith("C1")
