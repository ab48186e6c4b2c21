"""Every dashboard query against a real Prometheus holding real and recorded metrics.

A real JupyterHub (with configurable-http-proxy) serves /hub/metrics; a real Prometheus
(Debian's) scrapes it the way our ServiceMonitor tells the operator to (path and Bearer
authorization from the rendered values), with the metrics service's read:metrics token,
and fails without it. The cluster exporters cannot run here, so their series come from
OpenMetrics recordings in data/ (written by data/write_recordings.py), loaded with
`promtool tsdb create-blocks-from openmetrics` into the server's data directory, moved in
time to end just before now so every query can be evaluated at one instant.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.core.settings import Settings
from scripts.core.templates import placeholder_secrets, render
from tests.conftest import ROOT
from tests.monitoring import dashboard_queries as q
from tests.monitoring.data import write_recordings as scene
from tests.support.components import (
    HubService,
    JupyterHubFactory,
    JupyterHubServer,
    PrometheusFactory,
    PrometheusServer,
    require,
)
from tests.support.processes import LOOPBACK

DATA = Path(__file__).parent / "data"
RECORDINGS = ("kube-state-metrics.om", "cadvisor.om", "node-exporter.om", "dcgm-exporter.om")
# The spawner exits at once, so a start attempt ends in a real spawn failure quickly.
FAILING_SPAWNER = """
c.Spawner.cmd = ["/bin/false"]
c.Spawner.http_timeout = 3
c.Spawner.start_timeout = 10
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}
"""
QUERIES = q.panel_queries()


def shifted(text: str, offset: int) -> str:
    """OpenMetrics with every sample's timestamp (its last field) moved by offset seconds."""
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            head, stamp = line.rsplit(" ", 1)
            out.append(f"{head} {int(stamp) + offset}")
        else:
            out.append(line)
    return "\n".join(out)


def recordings(ending_at: float) -> str:
    last = scene.START + (scene.SAMPLES - 1) * scene.STEP
    offset = int(ending_at) - last
    bodies = [
        (DATA / name).read_text().removesuffix("\n").removesuffix("# EOF") for name in RECORDINGS
    ]
    return shifted("".join(bodies), offset) + "\n# EOF\n"


def hub_service_monitor() -> dict[str, Any]:
    settings = Settings.model_validate(
        yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    )
    values = render("kube-prometheus-stack", settings, placeholder_secrets()).values
    monitor: dict[str, Any] = values["prometheus"]["additionalServiceMonitors"][0]
    return monitor


@dataclass
class Stack:
    hub: JupyterHubServer
    token: str
    prometheus: PrometheusServer

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.prometheus.query(expr)

    def values(self, expr: str, label: str) -> dict[str, float]:
        return {r["metric"].get(label, ""): float(r["value"][1]) for r in self.query(expr)}


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    configurable_http_proxy: str,
    prometheus_bin: str,
    promtool_bin: str,
) -> Iterator[Stack]:
    if importlib.util.find_spec("jupyterhub") is None:
        require("jupyterhub", "Python module `jupyterhub` is not importable")
    hubs = JupyterHubFactory(tmp_path_factory.mktemp("hub"), configurable_http_proxy)
    servers = PrometheusFactory(prometheus_bin, tmp_path_factory.mktemp("prom"), promtool_bin)
    try:
        metrics = HubService.metrics()
        hub = hubs(services=[metrics], extra_config=FAILING_SPAWNER)
        for user in ("alice", "bob"):
            assert hub.api("POST", f"users/{user}").status_code == 201

        endpoint = hub_service_monitor()["endpoints"][0]
        token_file = tmp_path_factory.mktemp("secret") / "token"
        token_file.write_text(metrics.api_token)
        token_file.chmod(0o600)
        address = hub.url.removeprefix("http://").rstrip("/")
        assert address.startswith(LOOPBACK)
        job = {
            "metrics_path": endpoint["path"],
            "scrape_interval": "1s",
            "static_configs": [{"targets": [address], "labels": {"namespace": "jhub"}}],
        }
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    **job,
                    "job_name": "jupyterhub",
                    "authorization": {
                        "type": endpoint["authorization"]["type"],
                        "credentials_file": str(token_file),
                    },
                },
                {
                    **job,
                    "job_name": "jupyterhub-without-token",
                    "static_configs": [{"targets": [address], "labels": {"namespace": "nobody"}}],
                },
            ],
        }
        prometheus = servers(config, backfill=recordings(time.time() - 10))
        stack = Stack(hub, metrics.api_token, prometheus)
        # A start attempt while Prometheus watches: the spawn failure lands in a rate window.
        prometheus.wait_for_result('up{job="jupyterhub"} == 1', timeout=60)
        assert hub.api("POST", "users/alice/server", timeout=60).status_code in (201, 202)
        prometheus.wait_for_result(
            'sum(jupyterhub_server_spawn_duration_seconds_count{status!="success"}) > 0',
            timeout=90,
        )
        # Enough scrapes for every rate() window to hold two samples.
        scraped = f'jupyterhub_running_servers{{namespace="jhub"}}[{q.RATE_WINDOW}]'
        prometheus.wait_for_result(f"count_over_time({scraped}) >= 5", timeout=60)
        yield stack
    finally:
        servers.close()
        hubs.close()


# ------------------------------------------------------------------ the hub's metrics


def test_the_hub_serves_metrics_only_to_the_read_metrics_token(stack: Stack) -> None:
    assert stack.hub.metrics().status_code == 403
    assert stack.hub.metrics(token="not-the-token").status_code == 403
    answer = stack.hub.metrics(token=stack.token)
    assert answer.status_code == 200
    assert "jupyterhub_running_servers" in answer.text


def test_prometheus_scrapes_with_the_token_and_is_refused_without(stack: Stack) -> None:
    targets = {t["labels"]["job"]: t for t in stack.prometheus.targets()}
    assert targets["jupyterhub"]["health"] == "up"
    refused = targets["jupyterhub-without-token"]
    assert refused["health"] == "down"
    assert "403" in refused["lastError"]
    assert stack.query('up{job="jupyterhub-without-token"} == 0')


def test_jupyterhub_names_and_labels_are_what_the_live_hub_emits(stack: Stack) -> None:
    exposition = stack.hub.metrics(token=stack.token).text
    names = q.exposed_names(exposition)
    labels = q.exposed_labels(exposition)
    used = 0
    for query in QUERIES:
        for selector in q.selectors(q.parse(q.substitute(query.expr, q.ALL_VALUES))):
            if not selector.metric.startswith("jupyterhub_"):
                continue
            used += 1
            assert selector.metric in names, f"{query.label}: the hub has no {selector.metric}"
            seen = labels.get(selector.metric, set()) | {"namespace", "job", "instance"}
            asked = {label for label, _, _ in selector.matchers}
            assert asked <= seen, f"{selector.metric} has no label {sorted(asked - seen)}"
    assert used >= 10


def test_name_check_would_catch_a_renamed_metric(stack: Stack) -> None:
    names = q.exposed_names(stack.hub.metrics(token=stack.token).text)
    assert "jupyterhub_server_spawn_duration_seconds_bucket" in names
    assert "jupyterhub_spawn_duration_seconds_bucket" not in names


# ------------------------------------------------------------------ every panel returns data


@pytest.mark.parametrize("values", [q.ALL_VALUES, q.CONCRETE_VALUES], ids=["all", "concrete"])
@pytest.mark.parametrize("query", QUERIES, ids=lambda pq: pq.label)
def test_every_panel_query_returns_data(
    stack: Stack, query: q.PanelQuery, values: dict[str, str]
) -> None:
    result = stack.query(q.substitute(query.expr, values))
    assert result, f"{query.label} returned no series"


@pytest.mark.parametrize("name", q.NAMES)
def test_every_variable_lists_values(stack: Stack, name: str) -> None:
    for variable in q.variables(q.load(name)):
        if variable["type"] != "query":
            continue
        expr, label = q.variable_promql(variable["query"])
        result = stack.query(q.substitute(expr, q.ALL_VALUES))
        options = {r["metric"].get(label or "host") for r in result} - {None, ""}
        assert options, f"{name}: variable {variable['name']} has no options"


# ------------------------------------------------------------------ and the right data


def panel_expr(dashboard: str, title: str, ref: str = "A") -> str:
    for query in QUERIES:
        if query.dashboard == dashboard and query.panel["title"] == title and query.ref == ref:
            return query.expr
    raise AssertionError(f"no {dashboard} panel {title!r} query {ref}")


def ask(stack: Stack, dashboard: str, title: str, label: str, ref: str = "A") -> dict[str, float]:
    return stack.values(q.substitute(panel_expr(dashboard, title, ref), q.ALL_VALUES), label)


def test_hub_panels_read_the_live_hub(stack: Stack) -> None:
    assert ask(stack, "jupyterhub", "Users", "") == {"": 2}
    # From the recorded pods: alice's and bob's servers run.
    assert ask(stack, "jupyterhub", "Running servers", "") == {"": 2}
    failures = ask(stack, "jupyterhub", "Spawns per minute by outcome", "", ref="B")
    assert failures[""] > 0


def test_cpu_per_user_counts_the_notebook_container_only(stack: Stack) -> None:
    cores = ask(stack, "jupyterhub", "CPU per user", "user")
    assert cores == pytest.approx({"alice": 0.35, "bob": 1.2})


def test_users_per_node_and_placeholders(stack: Stack) -> None:
    assert ask(stack, "jupyterhub", "Users per node", "node") == {
        scene.GPU0: 1,
        scene.GPU1: 1,
    }
    assert ask(stack, "jupyterhub", "Free placeholders", "") == {"": 1}
    phases = ask(stack, "jupyterhub", "Servers and placeholders", "phase", ref="C")
    assert phases == {"Running": 1, "Pending": 1}


def test_gpu_panels_see_both_host_label_spellings(stack: Stack) -> None:
    hosts = ask(stack, "gpus", "GPU temperature", "host")
    assert set(hosts) == {scene.GPU0, scene.GPU1}
    assert ask(stack, "gpus", "GPUs", "") == {"": len(scene.GPUS)}


def test_gpu_use_is_attributed_to_users_through_exported_pod(stack: Stack) -> None:
    busy = [pod for *_, pod in scene.GPUS if pod]
    assert ask(stack, "gpus", "GPUs in use by user servers", "") == {"": len(busy)}
    assert ask(stack, "gpus", "GPU utilisation per user", "user") == {"alice": 87, "bob": 87}


def test_cluster_requests_against_allocatable(stack: Stack) -> None:
    share = ask(stack, "cluster", "CPU requested / allocatable", "node")
    # default-worker-0 holds the hub and a running placeholder; the pending one has no node.
    assert share[scene.DEFAULT] == pytest.approx(2 * 0.05 / 1.93)
    assert ask(stack, "cluster", "Unschedulable pods", "") == {"": 1}


def test_the_alert_rules_read_metrics_the_live_hub_emits(stack: Stack) -> None:
    from tests.monitoring.metric_catalogue import JUPYTERHUB_RULE_METRICS

    exposition = stack.hub.metrics(token=stack.token).text
    names = q.exposed_names(exposition)
    labels = q.exposed_labels(exposition)
    assert names >= JUPYTERHUB_RULE_METRICS
    # The rules match on code and status.
    assert "code" in labels["jupyterhub_request_duration_seconds_count"]
    assert "status" in labels["jupyterhub_server_spawn_duration_seconds_count"]
