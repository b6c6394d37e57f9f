"""Envelope encryption (docs/production.md, "Personal data is sealed"): a dossier's payloads,
its deliveries' included, are sealed with its own data key; once retention destroys the key
they never open again, as a clear refusal (the worker) or a placeholder (the codec server),
never a crash; other dossiers and master-key payloads are untouched."""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.contrib.pydantic import pydantic_data_converter

from models.intake import REFUSED_PAYLOAD
from workers.codec import (
    DOSSIER_KEY,
    KEY_ID,
    DataKeys,
    EncryptionCodec,
    InboundGuardCodec,
    KeyRing,
    PayloadErased,
    PayloadKeyError,
    key_owner,
    new_key_entry,
)
from workers.codec_auth import no_auth
from workers.codec_server import CodecService, KeyLoop

NAME = "Amina El Idrissi"
RING = KeyRing.parse(new_key_entry("master-1"))


class MemoryKeys:
    """A register of data keys in memory; counts what it was asked."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes | None] = {}
        self.asked: list[tuple[frozenset[str], bool]] = []

    async def data_keys(self, dossiers: Collection[str], *, create: bool) -> DataKeys:
        self.asked.append((frozenset(dossiers), create))
        for dossier in dossiers:
            if create and dossier not in self.keys:
                self.keys[dossier] = secrets.token_bytes(32)
        return {dossier: self.keys[dossier] for dossier in dossiers if dossier in self.keys}

    def erase(self, dossier: str) -> None:
        self.keys[dossier] = None


def _payload(text: str = NAME) -> Payload:
    return pydantic_data_converter.payload_converter.to_payloads([{"full_name": text}])[0]


def _codec(keys: MemoryKeys, workflow_id: str | None, guard: bool = False) -> EncryptionCodec:
    if guard:
        return InboundGuardCodec(RING, bound_to=workflow_id, keys=keys)
    return EncryptionCodec(RING, bound_to=workflow_id, keys=keys)


@pytest.mark.parametrize(
    ("workflow_id", "owner"),
    [
        ("visa-RBT-1", "visa-RBT-1"),
        ("cai-CAI-75-2009-1", "cai-CAI-75-2009-1"),
        ("caif-CAIF-1", "caif-CAIF-1"),
        ("delivery-visa-RBT-2009-1-000001.invitation.applicant", "visa-RBT-2009-1"),
        ("delivery-deadline-sweep-2009-02-02T00:00:00Z-000001.alert.ofii", None),
        ("retention-sweep-2009-02-02T00:00:00Z", None),
        (None, None),
    ],
)
def test_each_workflow_belongs_to_its_dossier_key_or_to_none(
    workflow_id: str | None, owner: str | None
) -> None:
    assert key_owner(workflow_id) == owner


async def test_a_dossier_payload_is_sealed_with_its_own_key_and_opens_with_it() -> None:
    keys = MemoryKeys()
    codec = _codec(keys, "visa-RBT-1")
    [sealed] = await codec.encode([_payload()])
    assert sealed.metadata[DOSSIER_KEY] == b"visa-RBT-1" and KEY_ID not in sealed.metadata
    assert NAME.encode() not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [_payload()]
    # The master key alone does not open it.
    with pytest.raises(PayloadKeyError, match="data key of visa-RBT-1, which is not known"):
        EncryptionCodec(RING).open([sealed])


async def test_a_delivery_is_sealed_with_its_dossier_key() -> None:
    keys = MemoryKeys()
    delivery = _codec(keys, "delivery-visa-RBT-1-000001.invitation.applicant")
    [sealed] = await delivery.encode([_payload()])
    assert sealed.metadata[DOSSIER_KEY] == b"visa-RBT-1"
    assert list(keys.keys) == ["visa-RBT-1"]
    keys.erase("visa-RBT-1")
    with pytest.raises(PayloadErased):
        await delivery.decode([sealed])


async def test_once_cached_nothing_is_asked_again_by_the_codec_itself() -> None:
    """The codec asks its `KeySource` once per call; `RegisterDataKeys` answers from its
    cache (tests/workflow/test_data_keys.py counts the register's round trips)."""
    keys = MemoryKeys()
    codec = _codec(keys, "visa-RBT-1")
    sealed = await codec.encode([_payload(), _payload("x")])
    await codec.decode(sealed)
    assert keys.asked == [(frozenset({"visa-RBT-1"}), True), (frozenset({"visa-RBT-1"}), False)]


async def test_schedules_and_payloads_without_a_workflow_keep_the_master_key() -> None:
    keys = MemoryKeys()
    for workflow_id in ("retention-sweep-2009-02-02T00:00:00Z", None):
        [sealed] = await _codec(keys, workflow_id).encode([_payload()])
        assert sealed.metadata[KEY_ID] == b"master-1"
        assert EncryptionCodec(RING).open([sealed]) == [_payload()]
    assert keys.asked == []


async def test_master_key_payloads_sealed_before_data_keys_still_open() -> None:
    [before] = EncryptionCodec(RING, bound_to="visa-RBT-1").seal([_payload()])
    assert await _codec(MemoryKeys(), "visa-RBT-1").decode([before]) == [_payload()]


async def test_an_erased_dossier_no_longer_opens_and_others_are_untouched() -> None:
    keys = MemoryKeys()
    [erased] = await _codec(keys, "visa-RBT-1").encode([_payload()])
    [other] = await _codec(keys, "visa-RBT-2").encode([_payload()])
    keys.erase("visa-RBT-1")
    with pytest.raises(PayloadErased, match="visa-RBT-1 was erased by retention"):
        await EncryptionCodec(RING, keys=keys).decode([erased])
    assert await EncryptionCodec(RING, keys=keys).decode([other]) == [_payload()]
    # What is still sent to it (a termination, a late signal) never opens either.
    [late] = await _codec(keys, "visa-RBT-1").encode([_payload()])
    with pytest.raises(PayloadErased):
        await _codec(keys, "visa-RBT-1").decode([late])


async def test_the_worker_reads_an_erased_payload_as_a_refusal_never_a_crash() -> None:
    keys = MemoryKeys()
    [sealed] = await _codec(keys, "visa-RBT-1").encode([_payload()])
    keys.erase("visa-RBT-1")
    [opened] = await _codec(keys, "visa-RBT-1", guard=True).decode([sealed])
    reason = json.loads(opened.data)[REFUSED_PAYLOAD]
    assert "erased by retention" in reason and NAME not in reason


async def test_a_data_key_payload_moved_to_another_dossier_does_not_open() -> None:
    keys = MemoryKeys()
    [sealed] = await _codec(keys, "visa-RBT-1").encode([_payload()])
    await _codec(keys, "visa-RBT-2").encode([_payload()])
    relabelled = Payload(metadata=dict(sealed.metadata), data=sealed.data)
    relabelled.metadata[DOSSIER_KEY] = b"visa-RBT-2"
    with pytest.raises(PayloadKeyError, match="does not authenticate"):
        await EncryptionCodec(RING, keys=keys).decode([relabelled])


async def test_the_codec_server_shows_an_erased_payload_as_a_placeholder() -> None:
    keys, loop = MemoryKeys(), KeyLoop()
    try:
        [erased] = await _codec(keys, "visa-RBT-1").encode([_payload()])
        [kept] = await _codec(keys, "visa-RBT-2").encode([_payload()])
        keys.erase("visa-RBT-1")
        service = CodecService(
            codec=EncryptionCodec(RING, keys=keys),
            authorize=no_auth,
            origins=frozenset(),
            keys=loop,
        )
        body = json_format.MessageToJson(Payloads(payloads=[erased, kept])).encode()
        answer, count = service.transform("/decode", body)
    finally:
        loop.close()
    shown = json_format.Parse(answer, Payloads()).payloads
    assert count == 2 and shown[1] == _payload()
    placeholder = json.loads(shown[0].data)
    assert "visa-RBT-1 was erased by retention" in placeholder["erased"]
    assert NAME not in answer.decode()
