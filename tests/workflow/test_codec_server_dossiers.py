"""The codec server and each dossier's data key (docs/contract.md, "Sealed payloads"): an
integrator's input sealed through `/encode` for its dossier (`X-Dossier-Id`) is sealed with
the dossier's key, which the worker accepts and retention erases with the rest; and an
erasure shows through the codec server within `ERASURE_VISIBLE_SECONDS`, not after its
cache's five minutes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import asyncpg
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client
from temporalio.common import RawValue
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.database import open_pool
from tests.conftest import TEST_KEYS, visa_input
from tests.unit.test_codec_server import serving
from tests.workflow.test_data_keys import _start_input
from tests.workflow.test_data_keys import keyed_client as keyed_client  # a fixture
from workers.codec import DOSSIER_KEY, EncryptionCodec
from workers.codec_auth import authorizer
from workers.codec_server import (
    DOSSIER_HEADER,
    ERASURE_VISIBLE_SECONDS,
    CodecService,
    KeyLoop,
    register_keys,
)

TOKEN = "dossier-codec-token"


@pytest.fixture
def codec_url(database_url: str) -> Iterator[str]:
    """A codec server reading the register's data keys, as `python -m workers.codec_server`
    does (its pool lives on the server's key loop)."""
    keys = KeyLoop()
    pool = keys.run(open_pool(database_url, min_size=1, max_size=2, migrated=False))
    service = CodecService(
        codec=EncryptionCodec(TEST_KEYS, keys=register_keys(pool, TEST_KEYS)),
        authorize=authorizer(f"token:{TOKEN}", "127.0.0.1", local_default=False),
        origins=frozenset(),
        keys=keys,
    )
    try:
        with serving(service) as url:
            yield url
    finally:
        keys.run(pool.close())
        keys.close()


def _post(url: str, payloads: list[Payload], **headers: str) -> tuple[int, Any]:
    body = json_format.MessageToJson(Payloads(payloads=payloads)).encode()
    request = Request(url, data=body, method="POST")
    request.add_header("Authorization", f"Bearer {TOKEN}")
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer)
    except HTTPError as error:
        return error.code, json.load(error)


def _payloads(answer: dict[str, Any]) -> list[Payload]:
    return list(json_format.ParseDict(answer, Payloads()).payloads)


def _sealed_through(codec_url: str, value: Any, path: str, **headers: str) -> Payload:
    clear = pydantic_data_converter.payload_converter.to_payloads([value])
    status, answer = _post(f"{codec_url}{path}", clear, **headers)
    assert status == 200, answer
    [sealed] = _payloads(answer)
    return sealed


def _decoded(codec_url: str, payload: Payload) -> dict[str, Any]:
    status, answer = _post(f"{codec_url}/decode", [payload])
    assert status == 200, answer
    [opened] = _payloads(answer)
    decoded: dict[str, Any] = json.loads(opened.data)
    return decoded


@pytest.fixture
async def bare(
    keyed_client: tuple[Client, str],
) -> AsyncIterator[tuple[Client, str]]:
    """A client of an integrator without keys: its payloads are sealed by the codec server
    and sent as they are."""
    client, task_queue = keyed_client
    config = client.config()
    config["data_converter"] = pydantic_data_converter
    yield Client(**config), task_queue


@pytest.mark.rule("contract")
async def test_an_input_sealed_for_its_dossier_opens_there_and_is_erased_with_it(
    bare: tuple[Client, str], codec_url: str, pool: asyncpg.Pool
) -> None:
    client, task_queue = bare
    application = visa_input(datetime.now(UTC).date())
    workflow_id = f"visa-{application['application_id']}"
    sealed = await asyncio.to_thread(
        _sealed_through, codec_url, application, "/encode", **{DOSSIER_HEADER: workflow_id}
    )
    assert sealed.metadata[DOSSIER_KEY] == workflow_id.encode()
    handle = await client.start_workflow(
        "VisaApplication", RawValue(sealed), id=workflow_id, task_queue=task_queue
    )
    try:
        # The worker opens it with the dossier's key: the dossier is opened, not refused.
        async def opened() -> bool:
            stage = await pool.fetchval(
                "SELECT stage FROM dossier WHERE workflow_id = $1", workflow_id
            )
            return stage not in (None, "opening")

        deadline = asyncio.get_running_loop().time() + 20
        while not await opened():
            assert asyncio.get_running_loop().time() < deadline, "the dossier never opened"
            await asyncio.sleep(0.1)
        started = await _start_input(handle)
        assert started.metadata[DOSSIER_KEY] == workflow_id.encode()
        assert (await asyncio.to_thread(_decoded, codec_url, started)) == application

        # The query parameter says the same as the header; bound to the dossier.
        parameter = await asyncio.to_thread(
            _sealed_through, codec_url, {"a": 1}, f"/encode?dossier={workflow_id}"
        )
        assert parameter.metadata[DOSSIER_KEY] == workflow_id.encode()

        # Retention erases the dossier: what the integrator sealed goes with it, and the
        # codec server shows it erased within seconds.
        await pool.execute("SELECT * FROM register_erase_dossiers(ARRAY[$1])", workflow_id)
        deadline = asyncio.get_running_loop().time() + ERASURE_VISIBLE_SECONDS + 5
        while "erased" not in (shown := await asyncio.to_thread(_decoded, codec_url, started)):
            assert asyncio.get_running_loop().time() < deadline, "the erasure never showed"
            await asyncio.sleep(0.5)
        assert application["applicant"]["full_name"] not in json.dumps(shown)
        assert "erased" in await asyncio.to_thread(_decoded, codec_url, parameter)
    finally:
        await handle.terminate("test finished")


def test_an_encode_for_what_is_not_a_dossier_is_400(codec_url: str) -> None:
    clear = pydantic_data_converter.payload_converter.to_payloads([{"a": 1}])
    for named in ("retention", "skills-assessment-sessions-2009-02-01T00:00:00Z"):
        status, answer = _post(f"{codec_url}/encode", clear, **{DOSSIER_HEADER: named})
        assert status == 400 and DOSSIER_HEADER in answer["error"]
    # Unnamed, the master key seals it, as before.
    status, answer = _post(f"{codec_url}/encode", clear)
    assert status == 200 and DOSSIER_KEY not in _payloads(answer)[0].metadata
