"""helm_values/kube-prometheus-stack.yaml.j2 against the charts, and against our own objects.

Key paths are checked against the kube-prometheus-stack 88.5.3 and grafana 12.11.1
values.yaml (their key paths in tests/fixtures/upstream/). kube-state-metrics is a subchart
whose values.yaml is not among the fixtures, so below `kube-state-metrics` nothing is checked
upstream (its allowlist is checked against what the dashboards need instead).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import kubernetes_validate
import pytest
import yaml

from scripts.core import manifests
from scripts.core.settings import Secrets, Settings
from scripts.core.templates import FOLDER_ANNOTATION, placeholder_secrets, render
from scripts.monitoring import dashboards, deploy, promql
from tests.conftest import ROOT
from tests.monitoring.conftest import fresh_secrets
from tests.support.contract import GRAFANA, KUBE_PROMETHEUS_STACK, chart_defaults, unknown_paths

EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())


def settings(**monitoring: Any) -> Settings:
    config = copy.deepcopy(EXAMPLE)
    config["monitoring"].update(monitoring)
    return Settings.model_validate(config)


def values(settings_: Settings, secrets: Secrets | None = None) -> dict[str, Any]:
    return render("kube-prometheus-stack", settings_, secrets or placeholder_secrets()).values


def keys(tree: Any) -> list[str]:
    if isinstance(tree, dict):
        return [str(k) for k in tree] + [k for v in tree.values() for k in keys(v)]
    if isinstance(tree, list):
        return [k for item in tree for k in keys(item)]
    return []


# kube-state-metrics is a subchart; values.yaml only comments configSecret out
# ("# configSecret:"), but templates/alertmanager/alertmanager.yaml reads
# .Values.alertmanager.alertmanagerSpec.configSecret (kube-prometheus-stack-88.5.3).
FREE_FORM = ("kube-state-metrics", "alertmanager.alertmanagerSpec.configSecret")

VARIANTS = {
    "example": settings(),
    "loadbalancer": settings(expose="loadbalancer", retention="30d", retention_size="90GB"),
    "renamed": settings(namespace="monitoring", release="kps", dashboards_folder="Ops"),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_every_key_path_exists_upstream(name: str) -> None:
    rendered = values(VARIANTS[name])
    grafana = rendered.pop("grafana")
    assert unknown_paths(rendered, chart_defaults(KUBE_PROMETHEUS_STACK), free_form=FREE_FORM) == []
    assert unknown_paths(grafana, chart_defaults(GRAFANA)) == []


def test_the_key_check_can_fail() -> None:
    rendered = values(VARIANTS["example"])
    rendered["prometheus"]["prometheusSpec"]["retentionBytes"] = "1GB"
    rendered["grafana"]["sidecar"]["dashboards"]["folder_annotation"] = "x"
    grafana = rendered.pop("grafana")
    assert unknown_paths(rendered, chart_defaults(KUBE_PROMETHEUS_STACK), free_form=FREE_FORM) == [
        "prometheus.prometheusSpec.retentionBytes"
    ]
    assert unknown_paths(grafana, chart_defaults(GRAFANA)) == [
        "sidecar.dashboards.folder_annotation"
    ]


@pytest.mark.parametrize("name", VARIANTS)
def test_no_secret_reaches_the_values(name: str) -> None:
    chosen = Secrets.model_validate(fresh_secrets())
    text = render("kube-prometheus-stack", VARIANTS[name], chosen).text
    for secret in chosen.values():
        assert secret not in text
    # Nor a place for one: Secrets are referenced by name and key only.
    assert [
        key for key in keys(yaml.safe_load(text)) if key.lower().endswith(("password", "token"))
    ] == []


def test_grafana_reads_the_admin_secret_deploy_creates() -> None:
    chosen = Secrets.model_validate(fresh_secrets())
    config = VARIANTS["renamed"]
    admin = values(config)["grafana"]["admin"]
    secret = manifests.grafana_admin_secret(config, chosen)
    assert secret["metadata"]["name"] == admin["existingSecret"]
    assert secret["metadata"]["namespace"] == "monitoring"
    assert set(secret["stringData"]) == {admin["userKey"], admin["passwordKey"]}


def test_the_hub_service_monitor_uses_the_metrics_token_secret() -> None:
    chosen = Secrets.model_validate(fresh_secrets())
    config = VARIANTS["renamed"]
    (monitor,) = values(config)["prometheus"]["additionalServiceMonitors"]
    assert monitor["namespaceSelector"] == {"matchNames": ["jhub"]}
    assert monitor["selector"]["matchLabels"] == {
        "app": "jupyterhub",
        "component": "hub",
        "release": "jhub",
    }
    (endpoint,) = monitor["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("hub", "/hub/metrics")
    token = manifests.metrics_token_secret(config, chosen)
    credentials = endpoint["authorization"]["credentials"]
    # The operator reads the credentials from the ServiceMonitor's namespace: the release's.
    assert token["metadata"]["namespace"] == config.monitoring.namespace
    assert credentials["name"] == token["metadata"]["name"]
    assert list(token["stringData"]) == [credentials["key"]]
    assert endpoint["authorization"]["type"] == "Bearer"


def test_prometheus_pods_carry_the_hub_access_label_and_bounded_storage() -> None:
    spec = values(VARIANTS["loadbalancer"])["prometheus"]["prometheusSpec"]
    assert spec["podMetadata"]["labels"] == deploy.HUB_ACCESS
    assert (spec["retention"], spec["retentionSize"]) == ("30d", "90GB")
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "50Gi"
    assert claim["storageClassName"] == "cinder-storage"
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False


def test_exposure_follows_the_config() -> None:
    assert values(VARIANTS["example"])["grafana"]["service"]["type"] == "ClusterIP"
    exposed = values(VARIANTS["loadbalancer"])
    assert exposed["grafana"]["service"]["type"] == "LoadBalancer"
    assert exposed["prometheus"]["service"]["type"] == "LoadBalancer"


def test_the_sidecar_matches_the_dashboard_configmaps() -> None:
    sidecar = values(VARIANTS["renamed"])["grafana"]["sidecar"]["dashboards"]
    assert {sidecar["label"]: sidecar["labelValue"]} == dashboards.SIDECAR_LABEL
    assert sidecar["folderAnnotation"] == FOLDER_ANNOTATION
    assert sidecar["provider"]["foldersFromFilesStructure"] is True
    for manifest in dashboards.dashboards_configmaps(VARIANTS["renamed"]):
        assert manifest["metadata"]["annotations"] == {FOLDER_ANNOTATION: "Ops"}
        assert manifest["metadata"]["namespace"] == "monitoring"


def sanitised(label: str) -> str:
    """kube-state-metrics' label_<name> for a Kubernetes label (non [a-zA-Z0-9_] -> _)."""
    return "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", label)


def test_kube_state_metrics_exposes_the_labels_the_dashboards_join_on() -> None:
    allow = values(VARIANTS["example"])["kube-state-metrics"]["metricLabelsAllowlist"]
    pods = next(entry for entry in allow if entry.startswith("pods="))
    exposed = {sanitised(label) for label in pods.removeprefix("pods=[").rstrip("]").split(",")}
    assert promql.USER_LABEL in exposed
    assert "label_component" in exposed
    assert "nodes=[*]" in allow  # label_node_kubernetes_io_instance_type for flavours


def test_node_exporter_series_are_named_by_node() -> None:
    monitor = values(VARIANTS["example"])["prometheus-node-exporter"]["prometheus"]["monitor"]
    (relabel,) = monitor["relabelings"]
    assert relabel["sourceLabels"] == ["__meta_kubernetes_pod_node_name"]
    assert relabel["targetLabel"] == "node"


def test_dcgm_service_monitor_is_selected_by_this_release() -> None:
    config = VARIANTS["renamed"]
    gpu = render("gpu-operator", config, placeholder_secrets()).values
    monitor = gpu["dcgmExporter"]["serviceMonitor"]
    relaxed = values(config)["prometheus"]["prometheusSpec"][
        "serviceMonitorSelectorNilUsesHelmValues"
    ]
    assert monitor["enabled"] is True
    assert monitor.get("additionalLabels", {}).get("release") == "kps" or relaxed is False


@pytest.mark.parametrize("name", VARIANTS)
def test_objects_deploy_applies_are_valid_kubernetes(name: str) -> None:
    chosen = Secrets.model_validate(fresh_secrets())
    config = VARIANTS[name]
    for manifest in [*deploy.objects(config, chosen), *dashboards.dashboards_configmaps(config)]:
        kubernetes_validate.validate(manifest, "1.32", strict=True)
