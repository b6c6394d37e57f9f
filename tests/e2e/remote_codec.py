"""What an upstream system in any language does to read sealed dossiers: send payloads to
the codec server (Temporal's remote codec protocol) with its token. Nothing here knows the
project's keys or its models."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from urllib.request import Request, urlopen

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import DataConverter, PayloadCodec


class RemoteCodec(PayloadCodec):
    def __init__(self, endpoint: str, token: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.token = token

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await asyncio.to_thread(self._call, "encode", payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await asyncio.to_thread(self._call, "decode", payloads)

    def _call(self, operation: str, payloads: Sequence[Payload]) -> list[Payload]:
        body = json_format.MessageToJson(Payloads(payloads=list(payloads))).encode()
        request = Request(
            f"{self.endpoint}/{operation}",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        with urlopen(request, timeout=30) as answer:
            return list(json_format.ParseDict(json.load(answer), Payloads()).payloads)


def remote_data_converter(endpoint: str, token: str) -> DataConverter:
    """The default (JSON) converter, its payloads sealed and opened by the codec server."""
    return DataConverter(payload_codec=RemoteCodec(endpoint, token))
