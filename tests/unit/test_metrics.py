"""The worker's metrics for Prometheus (METRICS_ADDRESS): the SDK's endpoint answers."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest

from models.metrics import (
    CATALOGUE,
    DOSSIERS,
    DOSSIERS_OVERDUE,
    INPUTS_REJECTED,
    SDK_METRICS,
    Labels,
    MetricsSnapshot,
    with_vanished_at_zero,
)
from scripts.ports import free_port
from workers.client import runtime
from workers.settings import Settings, SettingsError


@pytest.mark.rule("core")
async def test_the_worker_runtime_serves_prometheus_metrics() -> None:
    address = f"127.0.0.1:{free_port()}"
    runtime(address)  # the worker's runtime, as connect(serve_metrics=True) makes it
    async with httpx.AsyncClient() as client:
        for _ in range(50):
            try:
                answer = await client.get(f"http://{address}/metrics")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("nothing listens on METRICS_ADDRESS")
    assert answer.status_code == 200
    assert "text/plain" in answer.headers["content-type"]


@pytest.mark.rule("core")
def test_a_metrics_address_that_is_not_host_and_port_is_refused() -> None:
    with pytest.raises(SettingsError, match="METRICS_ADDRESS"):
        Settings.from_env({"METRICS_ADDRESS": "9464"})
    assert Settings.from_env({"METRICS_ADDRESS": "0.0.0.0:9464"}).metrics_address == "0.0.0.0:9464"


# --- the business metrics: their catalogue, the dashboard, the setting ---------------------

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy/grafana/dashboards/integration-visa.json"
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression reads: its identifiers but for functions (followed
    by a parenthesis), keywords, and what `by (...)`, `{...}` and `[...]` hold."""
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", expression)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", " ", bare)
    return {
        name
        for name, call in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", bare)
        if not call and name not in PROMQL_WORDS
    }


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def sdk_series(name: str) -> str:
    """A histogram's series (`_bucket`, `_sum`, `_count`) stand for their metric."""
    return re.sub(r"_(bucket|sum|count)$", "", name)


@pytest.mark.rule("core")
def test_the_metric_names_of_the_helpers() -> None:
    assert metric_names(
        "histogram_quantile(0.95, sum by (le) (rate(temporal_workflow_task_x_bucket[5m])))"
    ) == {"temporal_workflow_task_x_bucket"}
    assert metric_names('time() - max(a_b{x="y"}) > bool 3') == {"a_b"}


@pytest.mark.rule("core")
def test_every_metric_the_dashboard_reads_is_served() -> None:
    """Each name of the dashboard's PromQL is a business metric of the catalogue or one of
    the SDK's metrics the catalogue lists (their names checked on a scraped worker by
    tests/workflow/test_business_metrics.py); and each business metric has a panel."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["schemaVersion"] >= 39
    # The Prometheus compose provisions (uid `prometheus`), or any other chosen in the UI.
    (source,) = dashboard["templating"]["list"]
    assert (source["type"], source["query"], source["current"]["value"]) == (
        "datasource",
        "prometheus",
        "prometheus",
    )
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    business = {spec.name for spec in CATALOGUE}
    read: set[str] = set()
    for expression in dashboard_expressions():
        names = metric_names(expression)
        assert names, expression
        for name in names:
            assert name in business or sdk_series(name) in SDK_METRICS, (name, expression)
            # Every worker exports the register's gauges: a panel takes one of them.
            if name in business:
                assert f"by ({', '.join(SPECS[name].labels)})" in expression or re.search(
                    r"max\b", expression
                ), expression
        read |= {sdk_series(name) for name in names}
    assert business <= read, business - read
    assert set(SDK_METRICS) <= read, set(SDK_METRICS) - read


SPECS = {spec.name: spec for spec in CATALOGUE}


@pytest.mark.rule("core")
def test_a_label_set_gone_from_the_register_is_set_to_zero() -> None:
    snapshot = MetricsSnapshot.of(
        {
            DOSSIERS: [(("visa_application", "in_training"), 2)],
            DOSSIERS_OVERDUE: [(("cai_contract", None), 1), (("cai_contract", ""), 2)],
        }
    )
    assert snapshot.series(DOSSIERS_OVERDUE) == {("cai_contract", "unknown"): 3}
    assert snapshot.series(INPUTS_REJECTED) == {}
    before: set[Labels] = {
        ("visa_application", "awaiting_evaluation"),
        ("visa_application", "in_training"),
    }
    assert with_vanished_at_zero(snapshot.series(DOSSIERS), before) == {
        ("visa_application", "awaiting_evaluation"): 0,
        ("visa_application", "in_training"): 2,
    }
    with pytest.raises(ValueError, match="takes"):
        MetricsSnapshot.of({DOSSIERS: [(("visa_application",), 1)]})


@pytest.mark.rule("core")
def test_the_metrics_interval_is_validated() -> None:
    assert Settings.from_env({}).metrics_interval == 30
    assert Settings.from_env({"METRICS_INTERVAL": "5"}).metrics_interval == 5
    for wrong in ("0", "0.5", "-3", "3601", "often"):
        with pytest.raises(SettingsError, match="METRICS_INTERVAL"):
            Settings.from_env({"METRICS_INTERVAL": wrong})
