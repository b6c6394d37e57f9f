"""Payloads sealed before they reach Temporal (CONTRACT.md, "Personal data is sealed").

Every payload the client or the worker sends (workflow input, signals, updates and their
answers, query results, activity inputs and results, the state carried across
continue-as-new) and every failure's message and stack trace are encrypted with AES-256-GCM
(`cryptography`). The key id travels in the payload's metadata, so that keys rotate: the
first key of `PAYLOAD_KEYS` encrypts, every key decrypts. A payload written in clear before
encryption was switched on still decodes, so that recorded histories replay.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32  # AES-256


class PayloadKeyError(ValueError):
    """A payload key, or a payload sealed with one, that cannot be used."""


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


def local_key_ring(data_dir: Path) -> KeyRing:
    """Under `make run`: the key generated once into `DATA_DIR/keys` (mode 0600), reused."""
    path = data_dir / "keys"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as keys:
            keys.write(new_key_entry("local-1") + "\n")
    return KeyRing.parse(path.read_text(encoding="ascii").strip())


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each whole payload (metadata and data), the key id beside it."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.seal(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.open(payloads)

    def seal(self, payloads: Iterable[Payload]) -> list[Payload]:
        key_id, key = self.ring.current
        sealed = []
        for payload in payloads:
            nonce = secrets.token_bytes(NONCE_BYTES)
            data = nonce + AESGCM(key).encrypt(nonce, payload.SerializeToString(), key_id.encode())
            sealed.append(
                Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=data)
            )
        return sealed

    def open(self, payloads: Iterable[Payload]) -> list[Payload]:
        opened = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                opened.append(payload)  # written before encryption: recorded histories replay
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
            key = self.ring.get(key_id)
            nonce, ciphertext = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            try:
                plain = AESGCM(key).decrypt(nonce, ciphertext, key_id.encode())
            except (InvalidTag, ValueError):
                raise PayloadKeyError(
                    f"payload sealed with key {key_id!r} does not authenticate: "
                    "truncated or tampered"
                ) from None
            inner = Payload()
            inner.ParseFromString(plain)
            opened.append(inner)
        return opened


def sealed_data_converter(ring: KeyRing | None) -> DataConverter:
    """The project's converter: pydantic models, sealed payloads and sealed failures."""
    if ring is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(ring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
