"""The worker's metrics for Prometheus (METRICS_ADDRESS): the SDK's endpoint answers."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from scripts.ports import free_port
from workers.client import runtime
from workers.settings import Settings, SettingsError


@pytest.mark.rule("core")
async def test_the_worker_runtime_serves_prometheus_metrics() -> None:
    address = f"127.0.0.1:{free_port()}"
    runtime(address)  # the worker's runtime, as connect(serve_metrics=True) makes it
    async with httpx.AsyncClient() as client:
        for _ in range(50):
            try:
                answer = await client.get(f"http://{address}/metrics")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("nothing listens on METRICS_ADDRESS")
    assert answer.status_code == 200
    assert "text/plain" in answer.headers["content-type"]


@pytest.mark.rule("core")
def test_a_metrics_address_that_is_not_host_and_port_is_refused() -> None:
    with pytest.raises(SettingsError, match="METRICS_ADDRESS"):
        Settings.from_env({"METRICS_ADDRESS": "9464"})
    assert Settings.from_env({"METRICS_ADDRESS": "0.0.0.0:9464"}).metrics_address == "0.0.0.0:9464"
