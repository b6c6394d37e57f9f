"""Two dossiers' workers and a documents' one, each a process of its own, one dossiers'
worker and the documents' one SIGKILLed mid-run, the latter replaced
(`tools.chaos_workers`): no dossier lost or stuck, exactly the reference's notifications,
each taken once by its recipient (the `Idempotency-Key`), and business gauges that every
worker exports alike, the register's counts (so that the dashboards' `max by` reads them
once, docs/production.md "Read the metrics")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from activities.metrics import RegisterMetrics
from models.metrics import DOSSIERS, NOTIFICATIONS_UNDELIVERED
from tests.delivery_servers import webhook_server
from tests.workflow.test_business_metrics import sample, scrape
from tools.chaos_workers import WorkerProcess, run_workers_kill
from tools.private_stack import PrivateStack

DOSSIERS_PER_BATCH = 4
METRICS_PATIENCE = 30.0


async def _gauges_match_the_register(stack: PrivateStack, running: list[WorkerProcess]) -> None:
    """Each surviving worker's gauges, once read after the run, are the register's counts:
    the same in every worker, none a share of them."""
    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=1)
    try:
        snapshot = await RegisterMetrics(pool).snapshot()
    finally:
        await pool.close()
    wanted = {
        sample(spec.name, **dict(zip(spec.labels, labels, strict=True))): float(value)
        for spec in (DOSSIERS, NOTIFICATIONS_UNDELIVERED)
        for labels, value in snapshot.series(spec).items()
    }
    assert wanted, "the register counts the dossiers"
    for worker in running:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + METRICS_PATIENCE
        while True:
            seen = await scrape(worker.metrics_address)
            got = {name: seen.get(name) for name in wanted}
            if got == wanted or loop.time() > deadline:
                break
            await asyncio.sleep(0.5)
        assert got == wanted, f"the {worker.queues} worker exports {got}, not {wanted}"


@pytest.mark.e2e
@pytest.mark.rule("A5")
@pytest.mark.rule("B6")
async def test_a_dossiers_worker_killed_among_three_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    with webhook_server() as (url, hook):
        report = await run_workers_kill(
            DOSSIERS_PER_BATCH,
            tmp_path,
            # Every notification to the webhook: the authorities' own, and the applicant's
            # letters, handed over by the responsible body (the applicants give no contact).
            {"notify_webhook_url": url, "delivery_outbox_dir": tmp_path / "outbox"},
            inspect=_gauges_match_the_register,
        )
    assert report.ok, report.line() + "; " + "; ".join(report.mismatched)
    # Every notification reached it and was taken once; one sent again after the kill
    # carries the same Idempotency-Key.
    posted = {f"{workflow_id}/{key}" for workflow_id, key, _ in report.notes}
    assert any(to == "applicant" for _, _, to in report.notes)
    assert len(posted) == len(report.notes)
    assert sorted(hook.accepted) == sorted(posted)
    assert {key for key, _ in hook.requests} == posted
