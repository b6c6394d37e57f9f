"""The register read for the business metrics (docs/production.md, "Read the metrics"): a
few counts, each over an index, that the worker turns into gauges every METRICS_INTERVAL seconds.
Reads only what the worker's role (`register_writer`) may read."""

from __future__ import annotations

import asyncpg

from activities import register_gateway as register
from models.metrics import MetricSpec, MetricsSnapshot


class RegisterMetrics:
    """The register's counts for the metrics, through the worker's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def snapshot(self) -> MetricsSnapshot:
        """One reading of every count, in one read-only transaction (one consistent view)."""
        async with (
            self.pool.acquire() as connection,
            connection.transaction(readonly=True, isolation="repeatable_read"),
        ):
            counts = await register.metric_counts(connection)
        rows: dict[MetricSpec, list[tuple[tuple[str | None, ...], int]]] = {
            spec: [(tuple(row[label] for label in spec.labels), int(row["value"])) for row in found]
            for spec, found in counts.items()
        }
        return MetricsSnapshot.of(rows)
