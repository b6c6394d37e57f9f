"""The Temporal client every process of the system uses."""

from __future__ import annotations

import functools
import logging

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from workers.settings import Settings


@functools.cache
def runtime() -> Runtime:
    """One runtime per process whose Core (Rust) logs go through Python logging, so they come
    out as the same JSON lines as everything else instead of Core's own text format."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            )
        )
    )


async def connect(settings: Settings) -> Client:
    """A client on `settings`' frontend and namespace, with the pydantic data converter that
    the workflows' models need."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime(),
    )
