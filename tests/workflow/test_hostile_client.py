"""Only the authorised write (docs/contract.md): a client without the payload keys can neither
start nor change a dossier, a payload sealed for one dossier does not open in another, and
no payload, however malformed, freezes a dossier or vanishes: each becomes a recorded
rejection, and the next update is answered."""

from __future__ import annotations

import uuid
from typing import Any, Self

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import SerializationContext

from tests.conftest import TEST_KEYS, Harness, iso, visa_input
from workers.codec import (
    MAX_OPENED_BYTES,
    NO_DATA_KEYS,
    DataKeys,
    EncryptionCodec,
    sealed_data_converter,
)

SEALED_ONLY = "contract: payload: payloads must be sealed"


def _bare(harness: Harness) -> Client:
    """A client that reaches Temporal but holds no payload key: it sends JSON in clear."""
    config = harness.client.config()
    config["data_converter"] = pydantic_data_converter
    return Client(**config)


class _SealedFor(EncryptionCodec):
    """Seals every payload for one workflow, whatever it is sent to (a replayed capture)."""

    def with_context(self, context: SerializationContext) -> Self:
        return self

    def open_one(self, payload: Payload, data_keys: DataKeys = NO_DATA_KEYS) -> Payload:
        return EncryptionCodec(self.ring).open_one(payload, data_keys)  # read anywhere


def _sealed_for(harness: Harness, workflow_id: str) -> Client:
    config = harness.client.config()
    converter = sealed_data_converter(TEST_KEYS)
    config["data_converter"] = converter.__class__(
        payload_converter_class=converter.payload_converter_class,
        payload_codec=_SealedFor(TEST_KEYS, bound_to=workflow_id),
        failure_converter_class=converter.failure_converter_class,
    )
    return Client(**config)


def _nested(depth: int) -> RawValue:
    """JSON nested deeper than any parser's limit, as another SDK may send it (Python's
    converter refuses to write it)."""
    data = b'{"x": ' * depth + b"{}" + b"}" * depth
    return RawValue(Payload(metadata={"encoding": b"json/plain"}, data=data))


async def _rejections(handle: Any) -> list[dict[str, Any]]:
    state: dict[str, Any] = await handle.query("state")
    rejected: list[dict[str, Any]] = state["rejected_inputs"]
    return rejected


@pytest.mark.rule("contract")
async def test_a_client_without_keys_cannot_start_a_dossier(harness: Harness) -> None:
    today = await harness.today()
    application = visa_input(today)
    workflow_id = f"visa-{application['application_id']}"
    handle = await _bare(harness).start_workflow(
        "VisaApplication", application, id=workflow_id, task_queue=harness.task_queue
    )
    harness.started.append(handle)
    with pytest.raises(WorkflowFailureError):
        await harness.client.get_workflow_handle(workflow_id).result()
    [event] = await harness.events(workflow_id)
    assert event["reason"].startswith(SEALED_ONLY)
    assert await harness.notifications(workflow_id) == []
    assert application["applicant"]["full_name"] not in str(dict(event))


@pytest.mark.rule("contract")
async def test_a_client_without_keys_cannot_change_a_dossier(harness: Harness) -> None:
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    bare = _bare(harness).get_workflow_handle(handle.id)
    evaluation = {
        "evaluated_on": iso(today),
        "oral_score": 60,
        "written_score": 25,
        "evaluator": "E",
    }
    await bare.signal("language_evaluation", evaluation)
    # The refusal comes back sealed: a client without keys cannot even read it.
    with pytest.raises(KeyError, match="binary/encrypted"):
        await bare.execute_update("language_evaluation", evaluation)

    async def both_recorded() -> bool:
        return len(await _rejections(handle)) == 2

    await harness.until(both_recorded)
    rejected = await _rejections(handle)
    assert all(r["reason"].startswith(SEALED_ONLY) for r in rejected)
    state = await handle.query("state")
    assert state["stage"] == "awaiting_evaluation"


@pytest.mark.rule("contract")
async def test_a_payload_sealed_for_another_dossier_does_not_open(harness: Harness) -> None:
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    replayed = _sealed_for(harness, f"visa-RBT-{uuid.uuid4().hex[:12]}")
    with pytest.raises(WorkflowUpdateFailedError):
        await replayed.get_workflow_handle(handle.id).execute_update(
            "visa_application_filed", {"filed_on": iso(today)}
        )
    [rejected] = await _rejections(handle)
    assert rejected["reason"] == "contract: payload: payload sealed for another workflow"


@pytest.mark.rule("contract")
@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("language_evaluation", "contract: payload: the payload is not JSON the worker can read"),
        ("no_such_event", "contract: unknown event"),  # before it failed the task for ever
    ],
)
async def test_a_payload_nested_too_deep_is_a_rejection_and_the_dossier_answers(
    harness: Harness, event: str, reason: str
) -> None:
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    await handle.signal(event, _nested(5000))
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(event, _nested(5000))

    async def recorded() -> bool:
        return len(await _rejections(handle)) == 2

    await harness.until(recorded)
    for rejected in await _rejections(handle):
        assert rejected["reason"].startswith(reason)
        assert "nested too deep" in rejected["reason"] or event == "no_such_event"
    # The dossier still answers: the next update is applied.
    state = await handle.execute_update(
        "language_evaluation",
        {"evaluated_on": iso(today), "oral_score": 60, "written_score": 25, "evaluator": "E"},
    )
    assert [r["event"] for r in await _rejections(handle)] == [event, event]
    assert state["language"] != (await _rejections(handle))


@pytest.mark.rule("contract")
async def test_an_oversized_payload_is_a_rejection_and_the_dossier_answers(
    harness: Harness,
) -> None:
    """Sealed with the keys, readable JSON, and over what the worker parses: refused by
    size before its content is read."""
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    oversized = RawValue(
        Payload(
            metadata={"encoding": b"json/plain"},
            data=b'{"evaluator": "' + b"x" * (MAX_OPENED_BYTES + 1) + b'"}',
        )
    )
    await handle.signal("language_evaluation", oversized)
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update("language_evaluation", oversized)

    async def recorded() -> bool:
        return len(await _rejections(handle)) == 2

    await harness.until(recorded)
    for rejected in await _rejections(handle):
        assert rejected["reason"].startswith("contract: payload: the payload has ")
        assert f"at most {MAX_OPENED_BYTES}" in rejected["reason"]
    state = await handle.execute_update(
        "language_evaluation",
        {"evaluated_on": iso(today), "oral_score": 60, "written_score": 25, "evaluator": "E"},
    )
    assert state["language"] is not None


def test_a_clear_payload_opens_only_inside_the_migration_window() -> None:
    from datetime import UTC, datetime, timedelta

    from workers.codec import InboundGuardCodec

    clear = pydantic_data_converter.payload_converter.to_payloads([{"a": 1}])[0]
    closed = InboundGuardCodec(TEST_KEYS)
    assert b"payloads must be sealed" in closed.open_one(clear).data
    window = InboundGuardCodec(TEST_KEYS, clear_until=datetime.now(UTC) + timedelta(days=1))
    assert window.open_one(clear) == clear
    ended = InboundGuardCodec(TEST_KEYS, clear_until=datetime.now(UTC) - timedelta(days=1))
    assert b"payloads must be sealed" in ended.open_one(clear).data
    assert isinstance(ended.open_one(clear), Payload)
