"""The Temporal client every process of the system uses."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Mapping

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfig, ClientConnectConfig
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from workers.codec import KeyRing, KeySource, sealed_data_converter
from workers.data_keys import LazyRegisterKeys
from workers.settings import Settings


@functools.cache
def runtime(metrics_address: str | None = None) -> Runtime:
    """One runtime per process whose Core (Rust) logs go through Python logging, so they come
    out as the same JSON lines as everything else instead of Core's own text format; with
    `metrics_address` (the worker's METRICS_ADDRESS), the SDK's metrics are served there
    for Prometheus at `/metrics`."""
    metrics = PrometheusConfig(bind_address=metrics_address) if metrics_address else None
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            ),
            metrics=metrics,
        )
    )


# The contract's names for the TLS files, beside the `temporal` CLI's own.
TLS_ALIASES = {
    "TEMPORAL_TLS_CERT": "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_KEY": "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_CA": "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
}


def connect_config(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> ClientConnectConfig:
    """Where and how to connect: the `temporal` CLI's variables and profiles
    (`temporalio.envconfig`: address, namespace, TLS, API key), the settings' address and
    namespace winning when they were given."""
    env = dict(os.environ if environ is None else environ)
    for alias, name in TLS_ALIASES.items():
        if env.get(alias) and not env.get(name):
            env[name] = env[alias]
    config = ClientConfig.load_client_connect_config(override_env_vars=env)
    if "temporal_address" in settings.model_fields_set or "target_host" not in config:
        config["target_host"] = settings.temporal_address
    if "temporal_namespace" in settings.model_fields_set or "namespace" not in config:
        config["namespace"] = settings.temporal_namespace
    return config


async def connect(
    settings: Settings,
    ring: KeyRing | None = None,
    *,
    serve_metrics: bool = False,
    inbound_guard: bool = False,
    keys: KeySource | None = None,
    converter: DataConverter | None = None,
) -> Client:
    """A client with the project's data converter: pydantic models, payloads and failures
    sealed with the payload keys (or by `converter`: the codec server's, for a command line
    without the keys). The worker's serves METRICS_ADDRESS (`serve_metrics`) and refuses what
    clients send in clear or unreadable (`inbound_guard`, docs/contract.md, "Only the
    authorised write"). With `keys` (the register's data keys), each dossier's payloads are
    sealed with its own key (docs/production.md, "Personal data is sealed"); without, the
    register's, reached at the first payload of a dossier."""
    converter = converter or sealed_data_converter(
        ring or settings.key_ring(),
        inbound_guard=inbound_guard,
        clear_until=settings.clear_payloads_until,
        keys=keys if keys is not None else LazyRegisterKeys(settings),
    )
    return await Client.connect(
        **connect_config(settings),
        data_converter=converter,
        runtime=runtime(settings.metrics_address if serve_metrics else None),
    )


def exit_process(code: int) -> None:
    """Flush and leave without interpreter teardown: a process that used a Temporal client
    may otherwise abort while finalizing (temporalio/sdk-python#300), turning a done
    command into exit 134 (seen: `python -m scripts.schedules`, after its work was done)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
