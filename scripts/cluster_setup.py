"""What a cluster needs before a worker of this project starts on it: the contract's search
attributes (docs/contract.md, "Search attributes") and its schedules ("Schedules").

`python -m scripts.cluster_setup` takes the worker's environment (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, PAYLOAD_KEYS: the schedules' arguments are sealed
like every payload), waits until the frontend answers for the namespace, registers the
search attributes the namespace lacks, then creates or updates the schedules. Running it
again changes nothing that is already right; docker-compose.yml runs it as the one-shot
`setup` before the workers. `make run` registers the attributes with the same function.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from scripts.schedules import ensure_schedules
from workers.client import connect, exit_process
from workers.logging import settings_with_logging
from workers.settings import Settings
from workflows.search_attributes import ALL_KEYS

log = structlog.get_logger("cluster_setup")

# A cluster that starts with its database can take a minute or two to answer; past this,
# something is wrong and the one-shot fails (compose then keeps the workers from starting).
DEFAULT_TIMEOUT = 300.0
RETRY_INTERVAL = 2.0
ATTEMPT_TIMEOUT = 10.0


class ClusterSetupError(RuntimeError):
    """The cluster cannot take the contract as it stands; the message says why."""


class SearchAttributeClash(ClusterSetupError):
    """A search attribute of the contract exists in the namespace with another type."""


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Register the contract's custom search attributes (`ALL_KEYS`) that `namespace` lacks,
    and return once the namespace lists them all.

    Raises `SearchAttributeClash` when one exists with another type: Temporal cannot change
    an attribute's type, and a workflow upserting it would fail.
    """
    wanted = {key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in ALL_KEYS}
    existing = await _custom_attributes(client, namespace)
    clashes = [
        f"{name} is {IndexedValueType.Name(existing[name])}, "
        f"the contract says {IndexedValueType.Name(kind)}"
        for name, kind in wanted.items()
        if name in existing and existing[name] != kind
    ]
    if clashes:
        raise SearchAttributeClash(
            "search attributes of another type already exist: " + "; ".join(clashes)
        )
    missing = {name: kind for name, kind in wanted.items() if name not in existing}
    if not missing:
        return
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
    )
    for _ in range(50):
        if missing.keys() <= (await _custom_attributes(client, namespace)).keys():
            log.info("search attributes registered", names=sorted(missing))
            return
        await asyncio.sleep(0.2)
    raise ClusterSetupError(
        f"search attributes {sorted(missing)} were added but {namespace} does not list them"
    )


async def _custom_attributes(
    client: Client, namespace: str
) -> dict[str, IndexedValueType.ValueType]:
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return {
        name: IndexedValueType.ValueType(kind) for name, kind in listed.custom_attributes.items()
    }


async def wait_for_namespace(settings: Settings, timeout: float = DEFAULT_TIMEOUT) -> Client:
    """A client of the project once the frontend at TEMPORAL_ADDRESS answers for
    TEMPORAL_NAMESPACE; retries every `RETRY_INTERVAL` seconds, for `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            client = await asyncio.wait_for(connect(settings), ATTEMPT_TIMEOUT)
            await asyncio.wait_for(
                _custom_attributes(client, settings.temporal_namespace), ATTEMPT_TIMEOUT
            )
            return client
        except Exception as error:
            if loop.time() + RETRY_INTERVAL >= deadline:
                raise ClusterSetupError(
                    f"Temporal at {settings.temporal_address} did not answer for namespace "
                    f"{settings.temporal_namespace} within {timeout:.0f} s "
                    f"(last error: {error or type(error).__name__})"
                ) from None
            if attempt == 1 or attempt % 5 == 0:
                log.info(
                    "waiting for Temporal",
                    address=settings.temporal_address,
                    namespace=settings.temporal_namespace,
                    error=str(error) or type(error).__name__,
                )
        await asyncio.sleep(RETRY_INTERVAL)


async def setup_cluster(client: Client, settings: Settings) -> None:
    """The search attributes first (a worker upserts them), then the schedules."""
    await ensure_search_attributes(client, settings.temporal_namespace)
    await ensure_schedules(client, settings)


async def _main(settings: Settings, timeout: float) -> None:
    client = await wait_for_namespace(settings, timeout)
    await setup_cluster(client, settings)
    log.info(
        "cluster ready",
        namespace=settings.temporal_namespace,
        task_queue=settings.temporal_task_queue,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """0 once the attributes and schedules are in place; 1 when the cluster did not answer
    or refuses them; 2 on invalid settings."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.cluster_setup",
        description="Register the search attributes and the schedules of the contract.",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for the frontend (default {DEFAULT_TIMEOUT:.0f})",
    )
    args = parser.parse_args(argv)
    settings = settings_with_logging()
    if settings is None:
        return 2
    try:
        asyncio.run(_main(settings, args.timeout))
    except ClusterSetupError as error:
        log.error("cluster setup failed", error=str(error))
        return 1
    return 0


if __name__ == "__main__":
    exit_process(main())
