"""The register read for the business metrics (README, "Read the metrics"): a few counts,
each over an index, that the worker turns into gauges every METRICS_INTERVAL seconds.
Reads only what the worker's role (`register_writer`) may read."""

from __future__ import annotations

import asyncpg

from models.metrics import (
    DOSSIERS,
    DOSSIERS_OVERDUE,
    INPUTS_REJECTED,
    NOTIFICATIONS_OLDEST_UNDELIVERED,
    NOTIFICATIONS_REFUSED,
    NOTIFICATIONS_UNDELIVERED,
    MetricSpec,
    MetricsSnapshot,
)

# Each query returns the metric's labels in its catalogue order, then `value`. Rows of a
# branch a reset abandoned (migration 007) are not the dossier's any more: not counted.
QUERIES: dict[MetricSpec, str] = {
    DOSSIERS: "SELECT kind, stage, count(*) AS value FROM dossier GROUP BY kind, stage",
    DOSSIERS_OVERDUE: """
        SELECT kind, responsible_body, count(*) AS value FROM dossier
        WHERE overdue AND closed_at IS NULL GROUP BY kind, responsible_body""",
    NOTIFICATIONS_UNDELIVERED: """
        SELECT recipient, kind, count(*) AS value FROM notification
        WHERE delivered_at IS NULL AND abandoned_by IS NULL GROUP BY recipient, kind""",
    NOTIFICATIONS_REFUSED: """
        SELECT recipient, kind, count(*) AS value FROM notification
        WHERE delivered_at IS NULL AND abandoned_by IS NULL AND refused_at IS NOT NULL
        GROUP BY recipient, kind""",
    NOTIFICATIONS_OLDEST_UNDELIVERED: """
        SELECT recipient,
               floor(extract(epoch FROM now() - min(created_at)))::bigint AS value
        FROM notification
        WHERE delivered_at IS NULL AND abandoned_by IS NULL GROUP BY recipient""",
    INPUTS_REJECTED: """
        SELECT rule, count(*) AS value FROM dossier_event
        WHERE NOT accepted AND abandoned_by IS NULL GROUP BY rule""",
}


class RegisterMetrics:
    """The register's counts for the metrics, through the worker's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def snapshot(self) -> MetricsSnapshot:
        """One reading of every count, in one read-only transaction (one consistent view)."""
        rows: dict[MetricSpec, list[tuple[tuple[str | None, ...], int]]] = {}
        async with (
            self.pool.acquire() as connection,
            connection.transaction(readonly=True, isolation="repeatable_read"),
        ):
            for spec, query in QUERIES.items():
                found = await connection.fetch(query)
                rows[spec] = [
                    (tuple(row[label] for label in spec.labels), int(row["value"])) for row in found
                ]
        return MetricsSnapshot.of(rows)
