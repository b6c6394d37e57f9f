"""The worker process: `python -m workers`.

It polls the dossiers' task queue (every workflow and the register's activities) and the
documents' (the deliveries and the letters they lay out), or one of them (WORKER_QUEUES),
until SIGTERM or SIGINT, then drains in-flight tasks and exits 0 (docs/contract.md,
"Connection").
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxRestrictions

import workflows
from activities.database import MigrationRequired, migrate_database, open_pool
from activities.delivery import DeliveryActivities, DeliveryOutbox, outboxes
from activities.documents import NotificationDocuments, document_renderer
from activities.outbox import DeliveryStarter
from activities.person_search import PersonSearchActivities
from activities.postman import Postman
from activities.reference import ReferenceActivities
from activities.register import RegisterActivities
from activities.retention import RetentionActivities
from activities.scheduled import ScheduledActivities
from models.documents import check_templates
from workers.client import connect
from workers.data_keys import RegisterDataKeys
from workers.logging import settings_with_logging
from workers.metrics import business_metrics
from workers.postgres import database_url, release_embedded_database
from workers.sandbox import CompiledOnceSandboxRunner
from workers.settings import Settings
from workers.startup import StartupError, check_reports_dir
from workflows import operator_language
from workflows.delivery import NotificationDelivery

# How long in-flight activities get to finish after a stop request before they are cancelled.
GRACEFUL_SHUTDOWN_TIMEOUT = timedelta(seconds=10)
# How long a starting worker waits for Temporal to answer before giving up.
CONNECT_PATIENCE = timedelta(minutes=2)

log = structlog.get_logger("workers")


async def run_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    extra_workflows: Sequence[type[Any]] = (),
    extra_activities: Sequence[Callable[..., Any]] = (),
    deliver: bool = True,
) -> None:
    """Run the worker until `stop` is set, then drain it and close the register pool.

    Without `stop`, SIGTERM and SIGINT stop it (the process entry point); tests pass their own
    event so that the test runner's signals stay untouched. A fatal worker error is raised.
    The other arguments go to `build_workers` (the benchmark's worker adds its baselines).
    Raises `StartupError` before touching anything when REPORTS_DIR cannot be written.
    """
    check_reports_dir(settings)
    own_signals = stop is None
    stop_event = asyncio.Event() if stop is None else stop
    loop = asyncio.get_running_loop()
    if own_signals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop_event.set)
    embedded = settings.database_url is None
    try:
        url = await asyncio.to_thread(database_url, settings)
        owner = settings.migration_database_url
        if owner is not None:
            # Least privilege: the owner migrates; the worker's role only writes.
            await migrate_database(owner.get_secret_value())
        pool = await open_register_pool(url, settings, migrated=owner is None)
        try:
            keys = RegisterDataKeys(pool, settings.key_ring())
            client = await _connect_patiently(settings, keys)
            with document_renderer(settings.document_renderers) as renderer:
                running = build_workers(
                    client,
                    pool,
                    settings,
                    keys=keys,
                    extra_workflows=extra_workflows,
                    extra_activities=extra_activities,
                    deliver=deliver,
                    renderer=renderer,
                )
                postman = (
                    build_postman(client, pool, settings, renderer)
                    if deliver and settings.polls_documents
                    else None
                )
                async with business_metrics(pool, settings):
                    await _run_until(running, stop_event, settings, postman)
        finally:
            await pool.close()
    finally:
        if embedded:
            await asyncio.to_thread(release_embedded_database, settings.data_dir)
        if own_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)


async def open_register_pool(url: str, settings: Settings, *, migrated: bool) -> asyncpg.Pool:
    """The register's pool, sized to the worker's activity slots (docs/production.md, "Sizing")."""
    return await open_pool(
        url,
        min_size=min(4, settings.database_pool_size),
        max_size=settings.database_pool_size,
        migrated=migrated,
        command_timeout=settings.database_command_timeout,
    )


def build_workers(
    client: Client,
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    extra_workflows: Sequence[type[Any]] = (),
    extra_activities: Sequence[Callable[..., Any]] = (),
    deliver: bool = True,
    renderer: Executor | None = None,
    keys: RegisterDataKeys | None = None,
) -> list[Worker]:
    """The workers of the queues this process polls (WORKER_QUEUES): the dossiers'
    (`build_worker`) and the documents' (`build_documents_worker`). Without `deliver` (the
    benchmark of the steps) there are no deliveries, hence no documents' worker."""
    found = []
    if settings.polls_dossiers:
        found.append(
            build_worker(
                client,
                pool,
                settings,
                extra_workflows=extra_workflows,
                extra_activities=extra_activities,
                deliver=deliver,
                renderer=renderer,
                keys=keys,
            )
        )
    if settings.polls_documents and deliver:
        found.append(build_documents_worker(client, pool, settings, renderer))
    if not found:
        raise StartupError("WORKER_QUEUES=documents polls nothing without deliveries")
    return found


def build_worker(
    client: Client,
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    extra_workflows: Sequence[type[Any]] = (),
    extra_activities: Sequence[Callable[..., Any]] = (),
    deliver: bool = True,
    renderer: Executor | None = None,
    keys: RegisterDataKeys | None = None,
) -> Worker:
    """The dossiers' worker, with its measured sizing (docs/production.md, "Sizing"): as many
    activity slots as the pool has connections, so an activity never waits for one.
    Without `deliver` (the benchmark of the steps), notifications stay in the register;
    with it, each committed step wakes the postmen (`build_postman`). It still
    serves `NotificationDelivery` and its activity (laid out by `renderer`, see
    `document_renderer`; None: a thread) for the deliveries started on its own queue before
    the documents had one. A template of a document that does not hold stops it, naming the
    file and the line. It chooses the language of what operators read of its workflows
    (OPERATOR_LANGUAGE). `keys` are the client's data keys, which retention forgets as it
    erases them."""
    check_templates()
    operator_language.choose(settings.operator_language)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[*workflows.WORKFLOWS, *extra_workflows],
        activities=[
            *worker_activities(
                pool,
                settings.reference_data_path,
                settings.reports_path,
                Deliveries(
                    delivery_activities(pool, settings, renderer),
                    DeliveryOutbox(pool, client, settings.documents_task_queue),
                )
                if deliver
                else None,
                RetentionActivities(
                    pool,
                    settings.retention_days,
                    settings.retention_max_open_days,
                    forget=keys.forget if keys is not None else None,
                    outboxes=outboxes(settings.delivery_routes()),
                ),
                PersonSearchActivities(settings.person_search_secret()),
            ),
            *extra_activities,
        ],
        max_concurrent_activities=settings.worker_activity_slots,
        max_concurrent_local_activities=settings.worker_activity_slots,
        max_cached_workflows=settings.worker_cache_size,
        workflow_runner=workflow_runner(),
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN_TIMEOUT,
    )


def build_documents_worker(
    client: Client, pool: asyncpg.Pool, settings: Settings, renderer: Executor | None = None
) -> Worker:
    """The documents' worker (TEMPORAL_DOCUMENTS_TASK_QUEUE): the `NotificationDelivery`
    workflows and their activity, which lays out the letters in `renderer`'s processes
    (DOCUMENT_RENDERERS). A dossier's update never waits behind them: they poll a queue of
    their own, with slots of their own."""
    check_templates()
    operator_language.choose(settings.operator_language)
    deliveries = delivery_activities(pool, settings, renderer)
    return Worker(
        client,
        task_queue=settings.documents_task_queue,
        workflows=[NotificationDelivery],
        activities=[deliveries.deliver_notification],
        max_concurrent_activities=settings.worker_activity_slots,
        max_cached_workflows=settings.worker_cache_size,
        workflow_runner=workflow_runner(),
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN_TIMEOUT,
    )


def build_postman(
    client: Client, pool: asyncpg.Pool, settings: Settings, renderer: Executor | None = None
) -> Postman:
    """The postman of a worker polling the documents' queue (`activities.postman`): the
    committed notifications delivered, as many at once as the worker has activity slots;
    those it could not deliver handed to a `NotificationDelivery` workflow."""
    outbox = DeliveryOutbox(pool, client, settings.documents_task_queue)
    return Postman(
        pool,
        delivery_activities(pool, settings, renderer),
        outbox.hand_over,
        concurrency=settings.worker_activity_slots,
        lease=timedelta(seconds=settings.delivery_lease_seconds),
    )


def delivery_activities(
    pool: asyncpg.Pool, settings: Settings, renderer: Executor | None
) -> DeliveryActivities:
    """The activity that sends a notification, with its routes and its documents."""
    return DeliveryActivities(
        pool,
        settings.delivery_routes(),
        mail_from=settings.delivery_mail_from,
        documents=NotificationDocuments(
            pool,
            settings.document_verification_secret(),
            renderer,
            # The issuers' blocks, with the operator's override (a body added).
            ReferenceActivities(settings.reference_data_path).load(),
        ),
        alert_after=timedelta(hours=settings.delivery_alert_hours),
    )


class Deliveries(NamedTuple):
    """What delivers the notifications: the activity that sends one, and what starts a
    delivery once the register has committed its notification (on the worker's client and
    task queue)."""

    activities: DeliveryActivities
    start: DeliveryStarter


def worker_activities(
    pool: asyncpg.Pool,
    reference_data_path: Path | None,
    reports_dir: Path | None = None,
    deliveries: Deliveries | None = None,
    retention: RetentionActivities | None = None,
    person_search: PersonSearchActivities | None = None,
) -> list[Callable[..., Any]]:
    """Every activity the worker registers, bound to its dependencies. Without
    `reports_dir` the ministry report cannot write its CSV file (REPORTS_DIR); without
    `deliveries`, notifications stay in the register and nothing is delivered; without
    `retention`, the sweep erases with the default periods; without `person_search` (no
    PERSON_SEARCH_KEY: the benchmark), dossiers carry no `PersonKeys`."""
    start = deliveries.start if deliveries is not None else None
    register = RegisterActivities(pool, start_deliveries=start)
    reference = ReferenceActivities(reference_data_path)
    reference.load()  # a broken reference file stops the worker at start, naming the file
    scheduled = ScheduledActivities(
        pool,
        reference,
        reports_dir,
        start_deliveries=start,
        alert_after=(
            deliveries.activities.alert_after if deliveries is not None else timedelta(hours=48)
        ),
    )
    found: list[Callable[..., Any]] = [
        register.record_step,
        register.language_outcome_abroad,  # D2, D6, D7: read before a CAI opens (runs before)
        register.language_record_abroad,  # D2, D6, D7, C1: read before a CAI opens
        # The activities of the steps written before one transaction per step, for the
        # dossiers still running on that branch of their history.
        register.claim_dossier,
        register.record_event,
        register.send_notification,
        register.upsert_dossier,
        reference.load_reference_data,
        scheduled.plan_sessions,
        scheduled.release_seats,
        scheduled.convene_seats,
        scheduled.sweep_deadlines,
        scheduled.write_ministry_report,
        (retention or RetentionActivities(pool)).erase_expired,
        (person_search or PersonSearchActivities(None)).person_keys,
    ]
    if deliveries is not None:
        found.append(deliveries.activities.deliver_notification)
    return found


def workflow_runner() -> CompiledOnceSandboxRunner:
    """The sandbox, with every module passed through instead of imported again for each
    workflow: measured, the re-import cost a fifth of intake and 60 % of a cached dossier's
    memory (docs/design.md, "Performance"). What re-importing guarded is kept by the code itself:
    no module of `workflows/` or `models/` holds mutable global state, reads the clock,
    draws at random or does I/O (`tests/unit/test_determinism.py`), and every recorded
    history replays. Its texts are compiled once (`workers.sandbox`)."""
    return CompiledOnceSandboxRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
    )


async def _connect_patiently(settings: Settings, keys: RegisterDataKeys) -> Client:
    """A worker started before Temporal answers (a cluster restarting, a compose stack
    coming up) waits for it instead of dying."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CONNECT_PATIENCE.total_seconds()
    delay = 0.5
    while True:
        try:
            return await connect(settings, serve_metrics=True, inbound_guard=True, keys=keys)
        except RuntimeError as error:
            if loop.time() > deadline:
                raise
            log.warning("Temporal not reachable yet; retrying", error=str(error)[:200])
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _run_until(
    running_workers: list[Worker],
    stop: asyncio.Event,
    settings: Settings,
    postman: Postman | None = None,
) -> None:
    postman_stop = asyncio.Event()

    # One task for all: a fatal error of either worker stops the process, the postman too.
    async def run_all() -> None:
        try:
            await asyncio.gather(
                *(worker.run() for worker in running_workers),
                *([postman.run(postman_stop)] if postman is not None else []),
            )
        finally:
            postman_stop.set()

    running = asyncio.create_task(run_all(), name="workers")
    stopping = asyncio.create_task(stop.wait(), name="stop")
    log.info(
        "worker started",
        temporal_address=settings.temporal_address,
        namespace=settings.temporal_namespace,
        task_queues=[worker.task_queue for worker in running_workers],
        postman=postman is not None,
        workflows=sorted(workflow_type.__name__ for workflow_type in workflows.WORKFLOWS),
    )
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopping
    if not running.done():
        log.info("worker stopping", drain_timeout_s=GRACEFUL_SHUTDOWN_TIMEOUT.total_seconds())
        postman_stop.set()
        await asyncio.gather(*(worker.shutdown() for worker in running_workers))
    # Raises the worker's fatal error, if it had one.
    await running
    log.info("worker stopped")


def main() -> int:
    """Entry point of `python -m workers`: 0 after a requested stop, 1 on a fatal error,
    2 on invalid settings (including a REPORTS_DIR it cannot write, or no register)."""
    settings = settings_with_logging()
    if settings is None:
        return 2
    try:
        asyncio.run(run_worker(settings))
    except (StartupError, MigrationRequired) as error:
        log.error("worker cannot start", error=str(error))
        return 2
    except Exception:
        log.exception("worker failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
