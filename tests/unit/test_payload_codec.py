"""Sealed payloads (docs/contract.md, "Sealed payloads"): AES-256-GCM with key ids and
rotation; bad keys and bad ciphertexts fail loudly, naming the key id, never the secret."""

from __future__ import annotations

import base64
import logging
import stat
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    WorkflowSerializationContext,
)

from workers.codec import (
    ENCODING,
    EncryptionCodec,
    KeyRing,
    PayloadKeyError,
    belongs_to,
    local_key_ring,
    new_key_entry,
    sealed_data_converter,
)
from workers.logging import json_formatter, redact
from workers.settings import Settings, SettingsError

NAME = "Amina El Idrissi"


def _payload(text: str = NAME) -> Payload:
    return pydantic_data_converter.payload_converter.to_payloads([{"full_name": text}])[0]


def test_a_sealed_payload_hides_its_content_and_opens_again() -> None:
    codec = EncryptionCodec(KeyRing.parse(new_key_entry("k1")))
    [sealed] = codec.seal([_payload()])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata["encryption-key-id"] == b"k1"
    assert NAME.encode() not in sealed.SerializeToString()
    [opened] = codec.open([sealed])
    assert opened == _payload()


def test_rotation_old_payloads_open_after_a_new_key_is_put_first() -> None:
    old, new = new_key_entry("2009-01"), new_key_entry("2009-06")
    [sealed_before] = EncryptionCodec(KeyRing.parse(old)).seal([_payload()])
    rotated = EncryptionCodec(KeyRing.parse(f"{new},{old}"))
    [sealed_after] = rotated.seal([_payload()])
    assert sealed_after.metadata["encryption-key-id"] == b"2009-06"
    assert rotated.open([sealed_before, sealed_after]) == [_payload(), _payload()]


def test_a_payload_written_in_clear_before_encryption_still_opens() -> None:
    codec = EncryptionCodec(KeyRing.parse(new_key_entry("k1")))
    assert codec.open([_payload()]) == [_payload()]


def test_an_unknown_key_id_is_named() -> None:
    [sealed] = EncryptionCodec(KeyRing.parse(new_key_entry("retired"))).seal([_payload()])
    with pytest.raises(PayloadKeyError, match="key 'retired', which is not among"):
        EncryptionCodec(KeyRing.parse(new_key_entry("k2"))).open([sealed])


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-5],  # truncated
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # tag tampered
        lambda data: data[:20] + bytes([data[20] ^ 1]) + data[21:],  # ciphertext tampered
    ],
)
def test_a_damaged_ciphertext_fails_loudly_never_returns_garbage(damage: object) -> None:
    codec = EncryptionCodec(KeyRing.parse(new_key_entry("k1")))
    [sealed] = codec.seal([_payload()])
    broken = Payload(metadata=dict(sealed.metadata), data=damage(sealed.data))  # type: ignore[operator]
    with pytest.raises(PayloadKeyError, match="key 'k1' does not authenticate") as caught:
        codec.open([broken])
    assert NAME not in str(caught.value)


def test_the_key_id_is_bound_to_the_ciphertext() -> None:
    """A ciphertext relabelled with another key id of the ring does not open."""
    ring = KeyRing.parse(f"{new_key_entry('a')},{new_key_entry('b')}")
    [sealed] = EncryptionCodec(ring).seal([_payload()])
    relabelled = Payload(metadata={**sealed.metadata, "encryption-key-id": b"b"}, data=sealed.data)
    with pytest.raises(PayloadKeyError, match="does not authenticate"):
        EncryptionCodec(ring).open([relabelled])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "entry 1 is not key_id:base64"),
        ("k1", "entry 1 is not key_id:base64"),
        ("k1:%%%%", "key 'k1' is not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "key 'k1' has 5 bytes"),
        (f"{new_key_entry('k1')},{new_key_entry('k1')}", "appears twice"),
    ],
)
def test_payload_keys_errors_name_the_entry_never_the_key(spec: str, message: str) -> None:
    with pytest.raises(PayloadKeyError, match=message) as caught:
        KeyRing.parse(spec)
    secret = spec.partition(":")[2]
    assert not secret or secret[:10] not in str(caught.value)


def test_make_run_generates_its_key_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    first = local_key_ring(tmp_path)
    mode = stat.S_IMODE((tmp_path / "keys").stat().st_mode)
    assert mode == 0o600
    assert local_key_ring(tmp_path) == first


def test_only_make_run_generates_the_local_key(tmp_path: Path) -> None:
    """A `dossiers submit` run from another directory sealed with a key of its own, which
    the worker did not hold: now it fails, naming what to do."""
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(PayloadKeyError, match="make run` generates it"):
        settings.key_ring()
    assert not (tmp_path / "keys").exists()
    made = settings.key_ring(generate=True)
    assert settings.key_ring() == made


def test_settings_never_show_a_secret() -> None:
    settings = Settings(
        database_url="postgresql://worker:s3cret@db/register",
        smtp_url="smtps://mail:pw0rd@mail.example:465",
    )
    for shown in (repr(settings), str(settings)):
        assert "s3cret" not in shown and "pw0rd" not in shown
    assert settings.database_url is not None and "s3cret" in settings.database_url


def test_keys_are_required_outside_make_run(tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql://worker@db/register", data_dir=tmp_path)
    with pytest.raises(PayloadKeyError, match="PAYLOAD_KEYS is required"):
        settings.key_ring()
    assert not (tmp_path / "keys").exists()


def test_a_mistyped_database_url_is_reported_without_its_password() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DATABASE_URL": "mysql://worker:s3cret@db/register"})
    assert "DATABASE_URL=(hidden)" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_secrets_are_masked_in_every_log_line() -> None:
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1,
        "connect postgresql://worker:s3cret@db/x with Bearer abc.def.ghi and %s",
        (new_key_entry("k1"),), None,
    )  # fmt: skip
    line = json_formatter().format(record)
    assert "s3cret" not in line and "abc.def.ghi" not in line
    assert "k1:***" in line
    assert redact("token:hunter2") == "token:***"


def test_the_sealed_converter_also_seals_failures() -> None:
    converter = sealed_data_converter(KeyRing.parse(new_key_entry("k1")))
    assert converter.payload_codec is not None
    # The failure's message and stack trace move into its sealed attributes.
    assert isinstance(converter.failure_converter, DefaultFailureConverterWithEncodedAttributes)
    assert sealed_data_converter(None) is pydantic_data_converter


async def test_the_converter_bound_to_a_workflow_seals_as_the_sdks_own_binding_does() -> None:
    """`SealedDataConverter.with_context` binds what the SDK's `DataConverter.with_context`
    binds, and only that: the codec to the workflow, the converters shared."""
    converter = sealed_data_converter(KeyRing.parse(new_key_entry("k1")))
    context = WorkflowSerializationContext(namespace="default", workflow_id="visa-BOUND")
    ours = converter.with_context(context)
    sdks = DataConverter.with_context(converter, context)
    for bound in (ours, sdks):
        assert isinstance(bound.payload_codec, EncryptionCodec)
        assert bound.payload_codec.bound_to == "visa-BOUND"
        assert type(bound.payload_converter) is type(converter.payload_converter)
        assert type(bound.failure_converter) is type(converter.failure_converter)
    assert ours.payload_converter is converter.payload_converter
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert converter.payload_codec.bound_to is None, "the unbound converter is left as it was"
    sealed = await ours.encode([{"full_name": NAME}])
    assert await sdks.decode(sealed) == [{"full_name": NAME}]
    elsewhere = converter.with_context(
        WorkflowSerializationContext(namespace="default", workflow_id="visa-OTHER")
    )
    with pytest.raises(PayloadKeyError):
        await elsewhere.decode(sealed)


def test_the_client_takes_tls_and_an_api_key_from_the_temporal_cli_variables(
    tmp_path: Path,
) -> None:
    from workers.client import connect_config

    cert, key, ca = (tmp_path / name for name in ("client.pem", "client.key", "ca.pem"))
    for path in (cert, key, ca):
        path.write_bytes(f"-----{path.name}-----".encode())
    environ = {
        "TEMPORAL_ADDRESS": "ministry.tmprl.cloud:7233",
        "TEMPORAL_NAMESPACE": "visas.a1b2c",
        "TEMPORAL_API_KEY": "cloud-key",
        "TEMPORAL_TLS_CERT": str(cert),  # the contract's names, beside the CLI's own
        "TEMPORAL_TLS_KEY": str(key),
        "TEMPORAL_TLS_CA": str(ca),
    }
    settings = Settings.from_env(environ)
    config = connect_config(settings, environ)
    assert config["target_host"] == "ministry.tmprl.cloud:7233"
    assert config["namespace"] == "visas.a1b2c"
    assert config["api_key"] == "cloud-key"
    tls = config["tls"]
    assert not isinstance(tls, bool)
    assert tls.client_cert == b"-----client.pem-----"
    assert tls.server_root_ca_cert == b"-----ca.pem-----"


def test_a_payload_bound_to_a_workflow_opens_there_and_in_its_schedule_runs_only() -> None:
    ring = KeyRing.parse(new_key_entry("k1"))
    [bound] = EncryptionCodec(ring, bound_to="visa-RBT-1").seal([_payload()])
    assert bound.metadata["bound-to-workflow"] == b"visa-RBT-1"
    assert EncryptionCodec(ring, bound_to="visa-RBT-1").open([bound]) == [_payload()]
    assert EncryptionCodec(ring).open([bound]) == [_payload()]  # the codec server reads it
    with pytest.raises(PayloadKeyError, match="another workflow"):
        EncryptionCodec(ring, bound_to="visa-RBT-2").open([bound])
    relabelled = Payload()
    relabelled.CopyFrom(bound)
    relabelled.metadata["bound-to-workflow"] = b"visa-RBT-2"
    with pytest.raises(PayloadKeyError, match="does not authenticate"):
        EncryptionCodec(ring, bound_to="visa-RBT-2").open([relabelled])
    # A schedule's input and one run's result reach its later runs.
    assert belongs_to("deadline-sweep", "deadline-sweep-2026-12-03T06:00:00Z")
    assert belongs_to("deadline-sweep-2026-12-02T06:00:00Z", "deadline-sweep-2026-12-03T06:00:00Z")
    assert not belongs_to("visa-RBT-1", "visa-RBT-1-2")
