"""What an upstream system in any language does to read sealed dossiers: send payloads to
the codec server (Temporal's remote codec protocol) with its token. Nothing here knows the
project's keys or its models: the SDK's default JSON converter, the command line's codec
(`scripts.cli_codec`, which only speaks the protocol)."""

from __future__ import annotations

from temporalio.converter import DataConverter

from scripts.cli_codec import RemoteCodec


def remote_data_converter(endpoint: str, token: str) -> DataConverter:
    """The default (JSON) converter, its payloads sealed and opened by the codec server."""
    return DataConverter(payload_codec=RemoteCodec(endpoint, "default", token))
