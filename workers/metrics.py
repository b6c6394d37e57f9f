"""The business metrics beside the SDK's on METRICS_ADDRESS: every METRICS_INTERVAL
seconds the worker reads the register's counts and sets one gauge per series of the
catalogue (`models/metrics.py`). Every worker exports the same values; dashboards take
`max by (...)` across them (docs/production.md, "Read the metrics")."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import asyncpg
import structlog
from temporalio.common import MetricGauge, MetricMeter

from activities.metrics import RegisterMetrics
from models.metrics import CATALOGUE, COLLECTED_AT, Labels, MetricsSnapshot, with_vanished_at_zero
from workers.client import runtime
from workers.settings import Settings

log = structlog.get_logger("workers.metrics")


class BusinessGauges:
    """One gauge per metric of the catalogue, remembering the label sets it has set, so
    that a series gone from the register (a stage nobody is at any more) drops to 0
    instead of keeping its last value."""

    def __init__(self, meter: MetricMeter) -> None:
        self.gauges: dict[str, MetricGauge] = {
            spec.name: meter.create_gauge(spec.name, spec.description) for spec in CATALOGUE
        }
        self.labels = {spec.name: spec.labels for spec in CATALOGUE}
        self.seen: dict[str, set[Labels]] = {spec.name: set() for spec in CATALOGUE}

    def publish(self, snapshot: MetricsSnapshot, now: float) -> None:
        for spec in CATALOGUE:
            if spec == COLLECTED_AT:
                continue
            current = snapshot.series(spec)
            gauge = self.gauges[spec.name]
            for labels, value in with_vanished_at_zero(current, self.seen[spec.name]).items():
                gauge.set(value, dict(zip(spec.labels, labels, strict=True)))
            self.seen[spec.name] |= current.keys()
        self.gauges[COLLECTED_AT.name].set(int(now))


async def collect_once(reader: RegisterMetrics, gauges: BusinessGauges) -> None:
    """One reading of the register, published."""
    gauges.publish(await reader.snapshot(), time.time())


async def collect_every(reader: RegisterMetrics, gauges: BusinessGauges, interval: float) -> None:
    """Read and publish every `interval` seconds until cancelled. A reading that fails (the
    register unreachable) is logged and the gauges keep their values; the age of
    `integration_metrics_collected_at_seconds` shows how stale they are. The metrics never
    stop the worker, whatever their failure."""
    while True:
        try:
            await collect_once(reader, gauges)
        except Exception as error:
            log.warning(
                "metrics: the register could not be read",
                error_type=type(error).__name__,
                error=str(error)[:200],
            )
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def business_metrics(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[None]:
    """While the worker runs, keep the business gauges of METRICS_ADDRESS current; nothing
    without METRICS_ADDRESS."""
    if settings.metrics_address is None:
        yield
        return
    gauges = BusinessGauges(runtime(settings.metrics_address).metric_meter)
    task = asyncio.create_task(
        collect_every(RegisterMetrics(pool), gauges, settings.metrics_interval),
        name="business metrics",
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
