"""Payloads sealed before they reach Temporal (docs/contract.md, "Sealed payloads").

Every payload the client or the worker sends (workflow input, signals, updates and their
answers, query results, activity inputs and results, the state carried across
continue-as-new) and every failure's message and stack trace are encrypted with AES-256-GCM
(`cryptography`). The key id travels in the payload's metadata, so that keys rotate: the
first key of `PAYLOAD_KEYS` encrypts, every key decrypts. A payload written in clear before
encryption was switched on still decodes, so that recorded histories replay.

Envelope encryption (docs/production.md, "Personal data is sealed"): where the codec has
the register's data keys (`KeySource`, `workers.data_keys`), a dossier's payloads (and its
deliveries') are sealed with the dossier's own random key instead of the master key; that
key is kept in the register wrapped by the master key, and retention destroys it, so that
the dossier's history and every archive of it no longer open (crypto-erasure). A payload
sealed with the master key (before data keys, or with no dossier to belong to) still opens.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import json
import os
import re
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, Self

import pydantic_core
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)

from models.intake import REFUSED_PAYLOAD

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32  # AES-256
BOUND_TO = "bound-to-workflow"
# Sealed with the data key of this dossier rather than with a key of PAYLOAD_KEYS.
DOSSIER_KEY = "dossier-key"
# The workflow ids of dossiers (docs/contract.md), whose payloads their own key seals; a
# delivery (`delivery-{workflow_id}-{key}`) belongs to the dossier it delivers for.
DOSSIER_IDS = ("visa-", "cai-", "caif-")
DELIVERY_PREFIX = "delivery-"
# Far above any input of the contract (models.intake refuses more than 64 KiB), far below
# what would cost the worker memory to parse.
MAX_OPENED_BYTES = 1024 * 1024


class PayloadKeyError(ValueError):
    """A payload key, or a payload sealed with one, that cannot be used."""


class PayloadErased(PayloadKeyError):
    """A payload of a dossier whose data key retention destroyed: it never opens again."""

    def __init__(self, dossier: str) -> None:
        super().__init__(
            f"the personal data of {dossier} was erased by retention: its data key is destroyed"
        )
        self.dossier = dossier


# Data keys by dossier: bytes, or None for a dossier whose key was erased. A dossier absent
# from the mapping has no key in the register.
DataKeys = Mapping[str, bytes | None]
NO_DATA_KEYS: DataKeys = {}


class KeySource(Protocol):
    """Where a codec finds the data keys of dossiers (`workers.data_keys.RegisterDataKeys`)."""

    async def data_keys(self, dossiers: Collection[str], *, create: bool) -> DataKeys:
        """The keys of `dossiers`; with `create`, a dossier without one gets one."""
        ...


def key_owner(workflow_id: str | None) -> str | None:
    """The dossier whose data key seals a workflow's payloads: the dossier itself, or the one
    a delivery delivers for; None (the master key) for schedules and their runs."""
    if workflow_id is None:
        return None
    if workflow_id.startswith(DELIVERY_PREFIX):
        delivered_for = workflow_id.removeprefix(DELIVERY_PREFIX).rpartition("-")[0]
        return delivered_for if delivered_for.startswith(DOSSIER_IDS) else None
    return workflow_id if workflow_id.startswith(DOSSIER_IDS) else None


@dataclasses.dataclass(frozen=True)
class KeyRing:
    """Named AES-256 keys; the first encrypts, all decrypt (rotation)."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise PayloadKeyError("PAYLOAD_KEYS: at least one key is needed")
        ids = [key_id for key_id, _ in self.keys]
        if len(set(ids)) != len(ids):
            raise PayloadKeyError("PAYLOAD_KEYS: a key id appears twice")

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """`key_id:base64,key_id:base64`; the error names the entry, never the key."""
        keys: list[tuple[str, bytes]] = []
        for position, entry in enumerate(part.strip() for part in spec.split(",")):
            key_id, sep, encoded = entry.partition(":")
            if (
                not sep
                or not key_id
                or not key_id.isascii()
                or not key_id.replace("-", "").isalnum()
            ):
                raise PayloadKeyError(
                    f"PAYLOAD_KEYS: entry {position + 1} is not key_id:base64 "
                    "(a key id of letters, digits and dashes)"
                )
            try:
                key = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise PayloadKeyError(f"PAYLOAD_KEYS: key {key_id!r} is not base64") from None
            if len(key) != KEY_BYTES:
                raise PayloadKeyError(
                    f"PAYLOAD_KEYS: key {key_id!r} has {len(key)} bytes; AES-256 takes 32"
                )
            keys.append((key_id, key))
        return cls(tuple(keys))

    def spec(self) -> str:
        """Back to the `PAYLOAD_KEYS` form, for a child process."""
        return ",".join(f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in self.keys)

    @property
    def current(self) -> tuple[str, bytes]:
        return self.keys[0]

    def get(self, key_id: str) -> bytes:
        for known, key in self.keys:
            if known == key_id:
                return key
        raise PayloadKeyError(
            f"payload sealed with key {key_id!r}, which is not among PAYLOAD_KEYS "
            f"({', '.join(known for known, _ in self.keys)})"
        )


def new_key_entry(key_id: str) -> str:
    """A fresh `key_id:base64` entry for PAYLOAD_KEYS."""
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def local_key_ring(data_dir: Path, *, generate: bool = True) -> KeyRing:
    """Under `make run`: the key generated once into `DATA_DIR/keys` (mode 0600), reused.
    Any other process (`generate=False`) reads it, and never makes a key of its own: a key
    the worker does not hold would seal what nobody can open."""
    entry = _generated_once(
        data_dir / "keys", lambda: new_key_entry("local-1"), "PAYLOAD_KEYS", generate=generate
    )
    return KeyRing.parse(entry)


def local_secret(path: Path, *, generate: bool) -> bytes:
    """Under `make run`: a secret generated once into `path` (mode 0600), as the payload
    key is (PERSON_SEARCH_KEY)."""
    secret = _generated_once(
        path, lambda: secrets.token_urlsafe(KEY_BYTES), "PERSON_SEARCH_KEY", generate=generate
    )
    return secret.encode()


def _generated_once(path: Path, make: Callable[[], str], variable: str, *, generate: bool) -> str:
    """The text of `path`, written by `make` the first time when `generate`."""
    if not path.exists() and not generate:
        raise PayloadKeyError(
            f"{variable} is unset and {path} does not exist: `make run` generates it; "
            f"run from the project's directory, or set {variable}"
        )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as keys:
            keys.write(make() + "\n")
    return path.read_text(encoding="ascii").strip()


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """AES-256-GCM over each whole payload (metadata and data), the key id beside it.

    Given the workflow a payload belongs to (the SDK's serialization context), the codec
    binds it there: the workflow id travels in the metadata and is authenticated with the
    key id, so a payload sealed for one dossier does not open in another. Without a
    context (the codec server), a bound payload still opens, for reading.

    With `keys`, a dossier's payloads are sealed with its data key (created with the first),
    and payloads sealed so open with it; without, only master-key payloads open.
    """

    def __init__(
        self, ring: KeyRing, *, bound_to: str | None = None, keys: KeySource | None = None
    ) -> None:
        self.ring = ring
        self.bound_to = bound_to
        self.keys = keys

    def with_context(self, context: SerializationContext) -> Self:
        workflow_id = getattr(context, "workflow_id", None)
        bound = copy.copy(self)
        bound.bound_to = workflow_id if isinstance(workflow_id, str) else None
        return bound

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        owner = key_owner(self.bound_to) if self.keys is not None else None
        if self.keys is None or owner is None:
            return self.seal(payloads)
        key = (await self.keys.data_keys([owner], create=True)).get(owner)
        if key is None:
            # What is still sent to an erased dossier (an operator's termination, a late
            # signal) is sealed with a key destroyed at once: as erased as the rest.
            key = secrets.token_bytes(KEY_BYTES)
        return self.seal(payloads, (owner, key))

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.open(payloads, await self.data_keys_of(payloads))

    async def data_keys_of(self, payloads: Iterable[Payload]) -> DataKeys:
        """The data keys the payloads were sealed with, from the cache once known."""
        owners = {
            payload.metadata[DOSSIER_KEY].decode(errors="replace")
            for payload in payloads
            if DOSSIER_KEY in payload.metadata and payload.metadata.get("encoding") == ENCODING
        }
        if not owners or self.keys is None:
            return NO_DATA_KEYS
        return await self.keys.data_keys(owners, create=False)

    def seal(
        self, payloads: Iterable[Payload], data_key: tuple[str, bytes] | None = None
    ) -> list[Payload]:
        """Sealed with the master key, or with `data_key` (its dossier and the key)."""
        if data_key is None:
            key_id, key = self.ring.current
            metadata = {"encoding": ENCODING, KEY_ID: key_id.encode()}
            associated = _associated_data(key_id, self.bound_to)
        else:
            owner, key = data_key
            metadata = {"encoding": ENCODING, DOSSIER_KEY: owner.encode()}
            associated = _dossier_associated_data(owner, self.bound_to)
        if self.bound_to is not None:
            metadata[BOUND_TO] = self.bound_to.encode()
        sealed = []
        for payload in payloads:
            nonce = secrets.token_bytes(NONCE_BYTES)
            data = nonce + AESGCM(key).encrypt(nonce, payload.SerializeToString(), associated)
            sealed.append(Payload(metadata=metadata, data=data))
        return sealed

    def open(
        self, payloads: Iterable[Payload], data_keys: DataKeys = NO_DATA_KEYS
    ) -> list[Payload]:
        return [self.open_one(payload, data_keys) for payload in payloads]

    def open_one(self, payload: Payload, data_keys: DataKeys = NO_DATA_KEYS) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption: recorded histories replay
        bound_to = payload.metadata[BOUND_TO].decode() if BOUND_TO in payload.metadata else None
        if bound_to is not None and not belongs_to(bound_to, self.bound_to):
            raise PayloadKeyError("payload sealed for another workflow")
        if DOSSIER_KEY in payload.metadata:
            owner = payload.metadata[DOSSIER_KEY].decode(errors="replace")
            key = _data_key(owner, data_keys)
            associated = _dossier_associated_data(owner, bound_to)
            named = f"the data key of {owner}"
        else:
            key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
            key = self.ring.get(key_id)
            associated = _associated_data(key_id, bound_to)
            named = f"key {key_id!r}"
        nonce, ciphertext = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = AESGCM(key).decrypt(nonce, ciphertext, associated)
        except (InvalidTag, ValueError):
            raise PayloadKeyError(
                f"payload sealed with {named} does not authenticate: truncated or tampered"
            ) from None
        inner = Payload()
        inner.ParseFromString(plain)
        return inner


def _data_key(owner: str, data_keys: DataKeys) -> bytes:
    if owner not in data_keys:
        raise PayloadKeyError(f"payload sealed with the data key of {owner}, which is not known")
    key = data_keys[owner]
    if key is None:
        raise PayloadErased(owner)
    return key


def _associated_data(key_id: str, bound_to: str | None) -> bytes:
    if bound_to is None:
        return key_id.encode()  # as sealed before payloads were bound
    return f"{key_id}\0{bound_to}".encode()


def _dossier_associated_data(owner: str, bound_to: str | None) -> bytes:
    """Apart from every master-key payload's: a data key authenticates its dossier."""
    return f"dossier\0{owner}\0{bound_to or ''}".encode()


# The runs of a schedule are named after it and the time each was due; one run's result
# reaches the next (its last completion result), and the schedule's input all of them.
_SCHEDULED_RUN = re.compile(r"-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def belongs_to(bound_to: str, workflow_id: str | None) -> bool:
    """Whether a payload bound to `bound_to` may open where the codec is: anywhere when it
    does not know the workflow (reading), else in that workflow or its schedule's runs."""
    if workflow_id is None:
        return True
    return _SCHEDULED_RUN.sub("", bound_to) == _SCHEDULED_RUN.sub("", workflow_id)


class InboundGuardCodec(EncryptionCodec):
    """The worker's codec: what a client sends either opens into a payload the workflow
    can read, or becomes a refusal the workflow records (`models.intake.REFUSED_PAYLOAD`),
    so that no input fails a workflow task or is dropped by the SDK unrecorded.

    Refused: a payload in clear outside the migration window (`CLEAR_PAYLOADS_UNTIL`), one
    sealed with an unknown key, tampered, bound to another workflow or of an erased dossier
    (`PayloadErased`: retention destroyed its data key), and a JSON payload
    the SDK's parser cannot read (nesting, size, encoding). No content is kept or logged.
    """

    def __init__(
        self,
        ring: KeyRing,
        *,
        clear_until: datetime | None = None,
        bound_to: str | None = None,
        keys: KeySource | None = None,
    ) -> None:
        super().__init__(ring, bound_to=bound_to, keys=keys)
        self.clear_until = clear_until

    def open_one(self, payload: Payload, data_keys: DataKeys = NO_DATA_KEYS) -> Payload:
        if payload.metadata.get("encoding") != ENCODING and not self._clear_accepted():
            return refusal(
                "payloads must be sealed with the payload codec (docs/contract.md, "
                '"Sealed payloads"); a payload in clear is refused'
            )
        try:
            opened = super().open_one(payload, data_keys)
        except PayloadKeyError as error:
            return refusal(str(error))
        return readable_or_refused(opened)

    def _clear_accepted(self) -> bool:
        return self.clear_until is not None and datetime.now(UTC) < self.clear_until


def refusal(reason: str) -> Payload:
    """A JSON payload the core reads as a refused input, naming why."""
    return _json_payload({REFUSED_PAYLOAD: reason})


def erased_placeholder(error: PayloadErased) -> Payload:
    """What the codec server shows for a payload of an erased dossier (the Web UI, the CLI):
    a JSON object saying so, in place of the personal data that is gone."""
    return _json_payload({"erased": str(error)})


def _json_payload(value: dict[str, str]) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


def readable_or_refused(payload: Payload) -> Payload:
    """A JSON payload as the SDK's converter will parse it (jiter), or its refusal."""
    if payload.metadata.get("encoding") != b"json/plain":
        return payload
    if len(payload.data) > MAX_OPENED_BYTES:
        return refusal(f"the payload has {len(payload.data)} bytes; at most {MAX_OPENED_BYTES}")
    try:
        pydantic_core.from_json(payload.data)
    except ValueError as error:
        return refusal(f"the payload is not JSON the worker can read ({_parse_problem(error)})")
    return payload


def _parse_problem(error: ValueError) -> str:
    text = str(error)
    if "recursion" in text:
        return "nested too deep"
    if "utf-8" in text.lower() or "unicode" in text.lower():
        return "not UTF-8"
    return "malformed"


def sealed_data_converter(
    ring: KeyRing | None,
    *,
    inbound_guard: bool = False,
    clear_until: datetime | None = None,
    keys: KeySource | None = None,
) -> DataConverter:
    """The project's converter: pydantic models, sealed payloads and sealed failures. The
    worker's (`inbound_guard`) turns every unreadable or unsealed input into a refusal.
    With `keys`, each dossier's payloads are sealed with its own data key."""
    if ring is None:
        return pydantic_data_converter
    codec = (
        InboundGuardCodec(ring, clear_until=clear_until, keys=keys)
        if inbound_guard
        else EncryptionCodec(ring, keys=keys)
    )
    base = dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
    fields = dataclasses.fields(base)
    return SealedDataConverter(**{f.name: getattr(base, f.name) for f in fields if f.init})


# The parts of a `DataConverter` the SDK binds to a workflow (`DataConverter.with_context`).
_CONTEXT_BOUND = ("payload_converter", "payload_codec", "failure_converter", "external_storage")


@dataclasses.dataclass(frozen=True)
class SealedDataConverter(DataConverter):
    """The SDK's converter, bound to a workflow as the SDK binds it, by a copy rather than
    `dataclasses.replace`: the codec is bound for every payload a worker converts (its
    data key is the dossier's), and `replace` built a payload converter and a failure
    converter each time only to throw them away, some 5 % of the worker's event loop
    under load."""

    def with_context(self, context: SerializationContext) -> Self:
        bound_parts = {}
        for name in _CONTEXT_BOUND:
            part = getattr(self, name, None)
            if isinstance(part, WithSerializationContext):
                bound_part = part.with_context(context)
                if bound_part is not part:
                    bound_parts[name] = bound_part
        if not bound_parts:
            return self
        bound = copy.copy(self)  # the same converters, without `__post_init__`
        for name, part in bound_parts.items():
            object.__setattr__(bound, name, part)
        return bound
