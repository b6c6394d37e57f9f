"""A dossier shows its current details and its timers' summaries in the operator's
language (OPERATOR_LANGUAGE), French by default, while its search attributes and state keep
the contract's codes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle

from tests.conftest import Harness, visa_input
from workflows import operator_language


@pytest.fixture
def english() -> Iterator[None]:
    """The worker's choice for this test only (build_worker makes it in production)."""
    operator_language.choose("en")
    try:
        yield
    finally:
        operator_language.choose("fr")


async def _details(handle: WorkflowHandle[object, object]) -> str:
    metadata: WorkflowMetadata = await handle.query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    return str(metadata.current_details)


async def _timer_summaries(client: Client, handle: WorkflowHandle[object, object]) -> list[str]:
    """The timers' summaries as the Web UI shows them (sealed like every payload)."""
    summaries = []
    async for event in handle.fetch_history_events():
        if event.HasField("timer_started_event_attributes") and event.user_metadata.HasField(
            "summary"
        ):
            decoded = await client.data_converter.decode([event.user_metadata.summary], [str])
            summaries.append(str(decoded[0]))
    return summaries


async def _open(harness: Harness) -> WorkflowHandle[object, object]:
    today = await harness.today()
    return await harness.start_visa(visa_input(today))


async def _shown(harness: Harness) -> tuple[str, list[str], str]:
    handle = await _open(harness)

    async def shown() -> bool:
        return bool(await _details(handle)) and bool(await _timer_summaries(harness.client, handle))

    await harness.until(shown)
    state = await handle.query("state", result_type=dict)
    timers = await _timer_summaries(harness.client, handle)
    return await _details(handle), timers, str(state["stage"])


@pytest.mark.rule("B1")
async def test_details_and_timers_read_in_french_by_default(harness: Harness) -> None:
    details, timers, stage = await _shown(harness)
    assert "Étape : **en attente de l'évaluation (langue, valeurs) (D1, E1)**" in details
    assert "Prochaine échéance : B1 — évaluation dans les 60 jours, le " in details
    assert "Attendu : évaluation linguistique (D1)" in details
    assert timers[0] == "échéance : B1 — évaluation dans les 60 jours"
    assert stage == "awaiting_evaluation"  # the contract's code, searched by


@pytest.mark.rule("B1")
async def test_details_and_timers_read_in_english_on_request(
    harness: Harness, english: None
) -> None:
    details, timers, stage = await _shown(harness)
    assert "Stage: **awaiting the evaluation (language, values) (D1, E1)**" in details
    assert "Next deadline: B1 — evaluation within 60 days on " in details
    assert timers[0] == "deadline passes: B1 — evaluation within 60 days"
    assert stage == "awaiting_evaluation"
