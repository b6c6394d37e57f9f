"""The business metrics on METRICS_ADDRESS, beside the SDK's: a real worker writes a dossier
and a rejected input to a register of its own, the real activities refuse a notification and
project an overdue dossier, one collection runs, and the scraped endpoint says so."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from datetime import date

import asyncpg
import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.delivery import DeliveryActivities, DeliveryOutbox, delivery_id, redeliver
from activities.metrics import RegisterMetrics
from activities.register import RegisterActivities
from models.delivery import RouteTable
from models.metrics import CATALOGUE, SDK_METRICS
from models.records import DossierClaim, DossierRow, DossierView
from scripts.ports import free_port
from tests.conftest import TEST_KEYS, iso, postman_running, visa_input
from workers.client import runtime
from workers.codec import sealed_data_converter
from workers.main import Deliveries, worker_activities, workflow_runner
from workers.metrics import BusinessGauges, collect_once
from workflows import WORKFLOWS

Sample = tuple[str, frozenset[tuple[str, str]]]
U = "integration_notifications_undelivered"
R = "integration_notifications_refused"
OLDEST = "integration_notifications_undelivered_oldest_seconds"


def parse(text: str) -> dict[Sample, float]:
    """The samples of a Prometheus text exposition, by name and labels (but service_name)."""
    samples: dict[Sample, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        found = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        assert found, line
        name, labels, value = found.groups()
        pairs = frozenset(
            (key, val)
            for key, val in re.findall(
                r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels or ""
            )
            if key != "service_name"
        )
        samples[(name, pairs)] = float(value)
    return samples


def sample(name: str, **labels: str) -> Sample:
    return (name, frozenset(labels.items()))


async def scrape(address: str) -> dict[Sample, float]:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://{address}/metrics")
    assert answer.status_code == 200
    return parse(answer.text)


async def until_handed_over(pool: asyncpg.Pool, workflow_id: str, key: str) -> None:
    """Wait, in real time, until the postman handed the notification to its workflow."""
    for _ in range(200):
        if await pool.fetchval(
            """SELECT handed_off_at IS NOT NULL FROM notification
               WHERE workflow_id = $1 AND key = $2""",
            workflow_id,
            key,
        ):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the notification was not handed over in time")


async def until_refused(pool: asyncpg.Pool, workflow_id: str) -> None:
    """Wait, in real time, until the opening's notifications were all refused."""
    for _ in range(200):
        row = await pool.fetchrow(
            """SELECT count(*) FILTER (WHERE refused_at IS NULL) AS waiting, count(*) AS total
               FROM notification WHERE workflow_id = $1""",
            workflow_id,
        )
        assert row is not None
        waiting, total = row["waiting"], row["total"]
        if total and not waiting:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the deliveries were not refused in time")


async def test_the_worker_serves_the_register_counts_beside_the_sdk_metrics(
    dev_server: WorkflowEnvironment, own_register: asyncpg.Pool
) -> None:
    address = f"127.0.0.1:{free_port()}"
    metrics_runtime = runtime(address)  # the worker's, as connect(serve_metrics=True) makes it
    client = await Client.connect(
        dev_server.client.service_client.config.target_host,
        namespace=dev_server.client.namespace,
        data_converter=sealed_data_converter(TEST_KEYS),
        runtime=metrics_runtime,
    )
    task_queue = f"test-metrics-{uuid.uuid4()}"
    today = (await dev_server.get_current_time()).date()
    application = visa_input(today)
    workflow_id = f"visa-{application['application_id']}"
    # No route at all: each notification is refused by the postman and handed to a
    # `NotificationDelivery` workflow, as a recipient no route leads to is in production.
    delivery = DeliveryActivities(own_register, RouteTable())
    outbox = DeliveryOutbox(own_register, client, task_queue)
    async with (
        Worker(
            client,
            task_queue=task_queue,
            workflows=WORKFLOWS,
            workflow_runner=workflow_runner(),
            activities=worker_activities(
                own_register, None, deliveries=Deliveries(delivery, outbox)
            ),
        ),
        postman_running(own_register, delivery, outbox.hand_over),
    ):
        handle = await client.start_workflow(
            "VisaApplication", application, id=workflow_id, task_queue=task_queue
        )
        try:
            # D3: never fewer than 40 hours of language training.
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(
                    "training_prescribed",
                    {"kind": "language", "hours": 30, "provider": "P", "notified_on": iso(today)},
                )
            await until_refused(own_register, workflow_id)
            # An operator redelivers one before its route exists: the delivery's activity
            # runs (the dashboard's activity metrics) and is refused again.
            key = await own_register.fetchval(
                "SELECT min(key) FROM notification WHERE workflow_id = $1", workflow_id
            )
            # Once the postman's hand-over has failed: a redelivery while it still runs
            # would be that run, which runs no activity.
            await until_handed_over(own_register, workflow_id, key)
            with pytest.raises(WorkflowFailureError):
                await client.get_workflow_handle(delivery_id(workflow_id, key)).result()
            again = await redeliver(client, task_queue, workflow_id, key)
            with pytest.raises(WorkflowFailureError):
                await again.result()
        finally:
            await handle.terminate("test finished")

    stage = await own_register.fetchval(
        "SELECT stage FROM dossier WHERE workflow_id = $1", workflow_id
    )
    rule = await own_register.fetchval(
        "SELECT rule FROM dossier_event WHERE workflow_id = $1 AND NOT accepted", workflow_id
    )
    assert rule == "D3"
    notes = await own_register.fetch(
        "SELECT key, recipient, kind FROM notification WHERE workflow_id = $1 ORDER BY key",
        workflow_id,
    )
    assert notes, "the opening made notifications due"
    # A second dossier, overdue at its authority, projected by the real register activity.
    register = RegisterActivities(own_register)
    other = f"visa-metrics-{uuid.uuid4().hex[:8]}"
    await register.claim_dossier(
        DossierClaim(
            workflow_id=other, first_run_id="run-1", kind="visa_application", reference="M"
        )
    )

    async def project(version: int, stage: str, overdue: list[str]) -> None:
        view = DossierView(
            kind="visa_application",
            reference="M",
            stage=stage,
            responsible_body="delegate",
            overdue=overdue,
            deadlines={"visa_decision": date(2009, 3, 1)},
            version=version,
        )
        await register.upsert_dossier(
            DossierRow(workflow_id=other, first_run_id="run-1", view=view, run_id="run-1")
        )

    await project(1, "awaiting_visa_decision", ["B4"])

    gauges = BusinessGauges(metrics_runtime.metric_meter)
    await collect_once(RegisterMetrics(own_register), gauges)
    seen = await scrape(address)

    assert seen[sample("integration_dossiers", kind="visa_application", stage=stage)] == 1
    assert (
        seen[
            sample("integration_dossiers", kind="visa_application", stage="awaiting_visa_decision")
        ]
        == 1
    )
    assert (
        seen[
            sample(
                "integration_dossiers_overdue", kind="visa_application", responsible_body="delegate"
            )
        ]
        == 1
    )
    assert seen[sample("integration_inputs_rejected", rule="D3")] == 1
    by_series = Counter((note["recipient"], note["kind"]) for note in notes)
    for (recipient, kind), count in by_series.items():
        # Refused, hence undelivered too.
        assert seen[sample(U, recipient=recipient, kind=kind)] == count
        assert seen[sample(R, recipient=recipient, kind=kind)] == count
    for recipient in {recipient for recipient, _ in by_series}:
        assert seen[sample(OLDEST, recipient=recipient)] >= 0
    assert seen[sample("integration_metrics_collected_at_seconds")] > 0
    names = {name for name, _ in seen}
    for spec in CATALOGUE:
        assert spec.name in names, spec.name
    # The SDK's metrics the dashboard reads, as Core names them; Core records a failed
    # workflow task only when one fails, which nothing here makes happen.
    for name in set(SDK_METRICS) - {"temporal_workflow_task_execution_failed"}:
        assert name in names or f"{name}_bucket" in names, name

    # The dossier moves on and is no longer overdue: the series it left drop to 0.
    await project(2, "visa_issued", [])
    await collect_once(RegisterMetrics(own_register), gauges)
    seen = await scrape(address)
    assert (
        seen[
            sample("integration_dossiers", kind="visa_application", stage="awaiting_visa_decision")
        ]
        == 0
    )
    assert seen[sample("integration_dossiers", kind="visa_application", stage="visa_issued")] == 1
    assert (
        seen[
            sample(
                "integration_dossiers_overdue", kind="visa_application", responsible_body="delegate"
            )
        ]
        == 0
    )
    assert seen[sample("integration_inputs_rejected", rule="D3")] == 1
