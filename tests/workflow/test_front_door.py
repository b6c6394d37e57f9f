"""What an operator finds in the Web UI of a dossier started by anyone (here the plain
client, as an upstream system starts one): the keyed hashes a person is found by
(`PersonKeys`), the rules of the delays passed (`OverdueRules`) and details in French."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata

from models.calendar import add_days
from models.person_search import person_key
from tests.conftest import TEST_PERSON_KEY, Harness, cai_input, family_input, visa_input
from tests.workflow.test_visa_delays import evaluate_language_insufficient
from workflows import search_attributes as sa


@pytest.mark.rule("A1")
async def test_an_upstream_start_is_findable_by_person_and_reads_in_french(
    harness: Harness,
) -> None:
    today = await harness.today()
    application = visa_input(today)
    handle = await harness.start_visa(application)
    born = date.fromisoformat(application["applicant"]["birth_date"])
    expected = person_key(TEST_PERSON_KEY, "AMINA  el idrissi", born)

    async def keyed() -> bool:
        attributes = (await handle.describe()).typed_search_attributes
        return attributes.get(sa.PERSON_KEYS) == [expected]

    await harness.until(keyed)
    metadata: WorkflowMetadata = await handle.query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    details = str(metadata.current_details)
    assert "regroupement familial" in details and "family_reunification" not in details
    assert "Amina" not in details  # no personal data in what the Web UI shows


@pytest.mark.rule("H1")
@pytest.mark.rule("G1")
async def test_a_cai_signatory_is_findable_and_a_family_without_birth_dates_is_not(
    harness: Harness,
) -> None:
    today = await harness.today()
    contract = cai_input(today)
    cai = await harness.start_cai(contract)
    family = await harness.start_family(family_input(today))
    born = date.fromisoformat(contract["signatory"]["birth_date"])
    signatory = person_key(TEST_PERSON_KEY, "Mehmet Yilmaz", born)

    async def keyed() -> bool:
        return (await cai.describe()).typed_search_attributes.get(sa.PERSON_KEYS) == [signatory]

    await harness.until(keyed)
    # The family's input names its parents without a birth date, its children without a
    # name: nobody in it can be found by name and birth date.
    assert (await family.describe()).typed_search_attributes.get(sa.PERSON_KEYS) is None


@pytest.mark.rule("B1")
@pytest.mark.rule("B7")
async def test_overdue_rules_follow_the_delays_passed(harness: Harness) -> None:
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    due = add_days(today, 60)
    await harness.skip_to(due + timedelta(days=1))
    await harness.until_kind(handle.id, "evaluation_overdue")

    async def rules(expected: list[str] | None) -> bool:
        attributes = (await handle.describe()).typed_search_attributes
        return attributes.get(sa.OVERDUE_RULES) == expected

    await harness.until(lambda: rules(["B1"]))
    # B1: the late evaluation settles it; the rule leaves the list.
    day = due + timedelta(days=1)
    await evaluate_language_insufficient(handle, day)
    await harness.until(lambda: rules(None))
    assert (await handle.describe()).typed_search_attributes.get(sa.OVERDUE) is False

    # B7: the training does not start within two months of its prescription.
    await handle.execute_update(
        "training_prescribed",
        {"kind": "language", "hours": 120, "provider": "Alliance", "notified_on": day.isoformat()},
    )
    await harness.skip_to(add_days(day, 75))
    await harness.until_kind(handle.id, "training_start_overdue")

    async def b7_listed() -> bool:
        listed = (await handle.describe()).typed_search_attributes.get(sa.OVERDUE_RULES)
        return "B7" in (listed or [])

    await harness.until(b7_listed)
