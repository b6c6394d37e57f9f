"""`dossiers` without the payload keys: every payload sealed and opened by the codec server
(Temporal's remote codec protocol, docs/contract.md "Sealed payloads"), as the `temporal`
CLI and any upstream system do. The keys, where this machine holds them, are used first."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Mapping, Sequence
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.converter import PayloadCodec as PayloadCodecBase

from scripts.cli_errors import CommandError

ENDPOINT_VARIABLE = "TEMPORAL_CODEC_ENDPOINT"
TOKEN_VARIABLE = "CODEC_TOKEN"
CODEC_TIMEOUT = 30.0


class RemoteCodec(PayloadCodecBase):
    """Posts payloads to the codec server's `/encode` and `/decode`, with its token."""

    def __init__(self, endpoint: str, namespace: str, token: str | None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.namespace = namespace
        self.token = token

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await asyncio.to_thread(self._call, "encode", payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await asyncio.to_thread(self._call, "decode", payloads)

    def _call(self, operation: str, payloads: Sequence[Payload]) -> list[Payload]:
        headers = {"Content-Type": "application/json", "X-Namespace": self.namespace}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json_format.MessageToJson(Payloads(payloads=list(payloads))).encode()
        request = Request(f"{self.endpoint}/{operation}", data=body, method="POST", headers=headers)
        try:
            with urlopen(request, timeout=CODEC_TIMEOUT) as answer:
                return list(json_format.ParseDict(json.load(answer), Payloads()).payloads)
        except HTTPError as error:
            raise CommandError(
                f"the codec server at {self.endpoint} answered {error.code} to /{operation}: "
                f"set {TOKEN_VARIABLE} to a token it accepts"
            ) from None
        except (URLError, OSError) as error:
            reason = getattr(error, "reason", None) or error
            raise CommandError(
                f"cannot reach the codec server at {self.endpoint}: {reason}; "
                f"set {ENDPOINT_VARIABLE}"
            ) from None


def codec_endpoint(chosen: str | None, environ: Mapping[str, str]) -> str | None:
    """`--codec-endpoint`, else TEMPORAL_CODEC_ENDPOINT (the `temporal` CLI's own variable)."""
    return chosen or environ.get(ENDPOINT_VARIABLE) or None


def remote_data_converter(endpoint: str, namespace: str, token: str | None) -> DataConverter:
    """The project's converter, its payloads and failures sealed by the codec server."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=RemoteCodec(endpoint, namespace, token),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
