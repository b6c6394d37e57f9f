"""The business metrics the worker serves beside the SDK's (METRICS_ADDRESS): one catalogue
of names, labels and descriptions that the register's reading, the gauges and the Grafana
dashboard (`deploy/grafana/dashboards/integration-visa.json`) all share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MetricSpec(BaseModel):
    """A gauge: its Prometheus name, the labels of each series and what it answers."""

    model_config = ConfigDict(frozen=True)

    name: str
    labels: tuple[str, ...]
    description: str


DOSSIERS = MetricSpec(
    name="integration_dossiers",
    labels=("kind", "stage"),
    description="Dossiers in the register by kind and stage (closed ones at their final stage)",
)
DOSSIERS_OVERDUE = MetricSpec(
    name="integration_dossiers_overdue",
    labels=("kind", "responsible_body"),
    description="Open dossiers with a statutory delay passed, by the authority that holds them",
)
NOTIFICATIONS_UNDELIVERED = MetricSpec(
    name="integration_notifications_undelivered",
    labels=("recipient", "kind"),
    description="Notifications not yet delivered, refused ones included",
)
NOTIFICATIONS_REFUSED = MetricSpec(
    name="integration_notifications_refused",
    labels=("recipient", "kind"),
    description="Notifications their recipient refused, waiting for a fixed route and a redelivery",
)
NOTIFICATIONS_OLDEST_UNDELIVERED = MetricSpec(
    name="integration_notifications_undelivered_oldest_seconds",
    labels=("recipient",),
    description="Age in seconds of the oldest notification not yet delivered, by recipient",
)
INPUTS_REJECTED = MetricSpec(
    name="integration_inputs_rejected",
    labels=("rule",),
    description="Inputs rejected since the register began, by the rule that refused them",
)
COLLECTED_AT = MetricSpec(
    name="integration_metrics_collected_at_seconds",
    labels=(),
    description="Unix time of the last successful reading of the register for these metrics",
)

CATALOGUE: tuple[MetricSpec, ...] = (
    DOSSIERS,
    DOSSIERS_OVERDUE,
    NOTIFICATIONS_UNDELIVERED,
    NOTIFICATIONS_REFUSED,
    NOTIFICATIONS_OLDEST_UNDELIVERED,
    INPUTS_REJECTED,
    COLLECTED_AT,
)

# The SDK's own metrics the dashboard reads (Core exports them with the `temporal_` prefix;
# histograms as `_bucket`, `_sum` and `_count` series).
SDK_METRICS: tuple[str, ...] = (
    "temporal_workflow_task_schedule_to_start_latency",
    "temporal_activity_schedule_to_start_latency",
    "temporal_activity_execution_failed",
    "temporal_workflow_task_execution_failed",
    "temporal_worker_task_slots_available",
    "temporal_sticky_cache_size",
)

# A label the register leaves empty (a dossier with no responsible body yet).
UNKNOWN = "unknown"

Labels = tuple[str, ...]


class MetricsSnapshot(BaseModel):
    """What the register holds at one reading: per metric name, the value of each label set
    (the label values in the order of the metric's `labels`)."""

    model_config = ConfigDict(frozen=True)

    values: dict[str, dict[Labels, int]] = Field(default_factory=dict)

    @classmethod
    def of(
        cls, rows: dict[MetricSpec, list[tuple[tuple[str | None, ...], int]]]
    ) -> MetricsSnapshot:
        """The snapshot of rows read per metric; an empty label value reads `unknown`, and
        rows that land on the same label set add up."""
        values: dict[str, dict[Labels, int]] = {}
        for spec, found in rows.items():
            series = values.setdefault(spec.name, {})
            for labels, value in found:
                if len(labels) != len(spec.labels):
                    raise ValueError(f"{spec.name} takes {spec.labels}, got {labels}")
                named = tuple(label or UNKNOWN for label in labels)
                series[named] = series.get(named, 0) + value
        return cls(values=values)

    def series(self, spec: MetricSpec) -> dict[Labels, int]:
        return self.values.get(spec.name, {})


def with_vanished_at_zero(current: dict[Labels, int], previously: set[Labels]) -> dict[Labels, int]:
    """The values to set on a gauge: the current ones, and 0 for each label set set before
    and gone since (a gauge keeps its last value until told otherwise)."""
    return {**dict.fromkeys(previously - current.keys(), 0), **current}
