"""`invoke monitoring.deploy` against the Kubernetes emulator and the recording helm."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import TaskRun
from tests.monitoring.conftest import ENV, MonitoringEnv, write_secrets
from tests.support.fake_helm import FakeHelm
from tests.support.fakekube import FakeKube

Run = Callable[..., TaskRun]


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}


def stack_upgrades(fake_helm: FakeHelm) -> list[dict[str, Any]]:
    """Upgrades of the kube-prometheus-stack release (the blackbox exporter has its own)."""
    return [u for u in fake_helm.upgrades() if u["argv"][2] == "prometheus"]


def deploy(run_task: Run, *extra: str) -> TaskRun:
    return run_task("monitoring.deploy", "--env", ENV, *extra)


def assert_no_secret(chosen: dict[str, Any], *texts: str) -> None:
    for value in chosen.values():
        for text in texts:
            assert value not in text


def test_first_deploy_creates_objects_and_installs_the_release(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    chosen = monitoring_env()
    result = deploy(run_task)
    assert result.code == 0, result.err

    namespace = kube.get("namespaces", "prometheus")
    assert namespace is not None
    assert namespace["metadata"]["labels"]["hub.jupyter.org/network-access-hub"] == "true"
    grafana = kube.get("secrets", "grafana-admin", "prometheus")
    assert grafana is not None
    assert decoded(grafana) == {
        "admin-user": "admin",
        "admin-password": chosen["grafana_admin_password"],
    }
    token = kube.get("secrets", "hub-metrics-token", "prometheus")
    assert token is not None
    assert decoded(token) == {"token": chosen["metrics_token"]}
    maps = {m["metadata"]["name"]: m for m in kube.objects("configmaps", "prometheus")}
    assert sorted(maps) == [
        "jhub-dashboard-cluster",
        "jhub-dashboard-gpus",
        "jhub-dashboard-jupyterhub",
    ]
    assert all(m["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps.values())

    (upgrade,) = stack_upgrades(fake_helm)
    argv = upgrade["argv"]
    assert argv[:4] == ["upgrade", "--install", "prometheus", "kube-prometheus-stack"]
    assert argv[argv.index("--namespace") + 1] == "prometheus"
    assert argv[argv.index("--version") + 1] == "88.5.3"
    assert argv[argv.index("--repo") + 1] == "https://prometheus-community.github.io/helm-charts"
    assert "--wait" in argv
    assert upgrade["values_mode"] == 0o600
    assert not Path(upgrade["values_path"]).exists()
    values = yaml.safe_load(upgrade["values_text"])
    assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    assert_no_secret(chosen, " ".join(argv), upgrade["values_text"], result.out, result.err)
    assert "Grafana: invoke monitoring.grafana --env mon" in result.out


def test_creates_whose_answers_were_lost_are_not_a_failed_deploy(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    # The API server stores each object, then its answer is lost (the connection closes,
    # or the load balancer in front answers 504); every retry meets 409 AlreadyExists.
    monitoring_env()
    rules = kube.fail_request("POST", r"/namespaces/prometheus/prometheusrules$", "504")
    kube.fail_request("POST", r"/namespaces/prometheus/secrets$", "dropped_response")
    kube.fail_request("POST", r"^/api/v1/namespaces$", "dropped_response")
    result = deploy(run_task)
    assert result.code == 0, result.err
    assert sorted((f.kind, f.path.rsplit("/", 1)[-1]) for f in rules.injected if f.applied) == [
        ("504", "prometheusrules"),
        ("dropped_response", "namespaces"),
        ("dropped_response", "secrets"),
    ]
    assert kube.get("prometheusrules", "jhub-alerts", "prometheus") is not None


def test_a_second_deploy_changes_nothing(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    monitoring_env()
    assert deploy(run_task).code == 0
    kube.clear_requests()

    again = deploy(run_task)
    assert again.code == 0, again.err
    assert kube.mutating_requests() == []
    assert len(stack_upgrades(fake_helm)) == 1
    assert "no upgrade" in again.out
    # namespace, 2 secrets, 2 alerting secrets, dashboards, 2 releases, alert rules
    assert "9 unchanged" in again.out


def test_dry_run_changes_nothing_and_says_what_it_would_do(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    chosen = monitoring_env()
    result = deploy(run_task, "--dry-run")
    assert result.code == 0, result.err
    assert kube.mutating_requests() == []
    assert stack_upgrades(fake_helm) == []
    assert "would create Namespace prometheus" in result.out
    assert "would create Secret prometheus/grafana-admin" in result.out
    assert "would install prometheus" in result.out
    assert_no_secret(chosen, result.out, result.err)


def test_changed_settings_upgrade_and_name_the_keys(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    monitoring_env()
    assert deploy(run_task).code == 0
    monitoring_env(**{"monitoring.retention": "30d"})
    kube.clear_requests()

    result = deploy(run_task)
    assert result.code == 0, result.err
    assert "prometheus.prometheusSpec.retention" in result.out
    assert len(stack_upgrades(fake_helm)) == 2
    last = yaml.safe_load(stack_upgrades(fake_helm)[-1]["values_text"])
    assert last["prometheus"]["prometheusSpec"]["retention"] == "30d"
    # The objects were already right; only the storage rule's text names the retention.
    (rule,) = kube.mutating_requests()
    assert (rule.method, rule.path.rsplit("/", 1)[-1]) == ("PUT", "jhub-alerts")


def test_a_new_password_updates_the_secret_without_an_upgrade(
    run_task: Run,
    monitoring_env: MonitoringEnv,
    config_dir: Path,
    kube: FakeKube,
    fake_helm: FakeHelm,
) -> None:
    chosen = monitoring_env()
    assert deploy(run_task).code == 0
    changed = {**chosen, "grafana_admin_password": "a-brand-new-password-0123"}
    write_secrets(config_dir / f"{ENV}.secrets.yaml", changed)

    result = deploy(run_task)
    assert result.code == 0, result.err
    grafana = kube.get("secrets", "grafana-admin", "prometheus")
    assert grafana is not None
    assert decoded(grafana)["admin-password"] == "a-brand-new-password-0123"
    assert len(stack_upgrades(fake_helm)) == 1
    assert "a-brand-new-password-0123" not in result.out


def test_load_balancer_exposure_warns(
    run_task: Run, monitoring_env: MonitoringEnv, fake_helm: FakeHelm
) -> None:
    monitoring_env(**{"monitoring.expose": "loadbalancer"})
    result = deploy(run_task)
    assert result.code == 0, result.err
    assert "warning" in result.err and "public" in result.err
    values = yaml.safe_load(stack_upgrades(fake_helm)[0]["values_text"])
    assert values["grafana"]["service"]["type"] == "LoadBalancer"


def test_disabled_monitoring_is_refused_before_any_call(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    monitoring_env(**{"monitoring.enabled": False})
    result = deploy(run_task)
    assert result.code == 2
    assert "monitoring.enabled" in result.err
    assert kube.requests == []
    assert fake_helm.calls() == []


def test_missing_secrets_file_is_refused_before_any_call(
    run_task: Run,
    monitoring_env: MonitoringEnv,
    config_dir: Path,
    kube: FakeKube,
    fake_helm: FakeHelm,
) -> None:
    monitoring_env()
    (config_dir / f"{ENV}.secrets.yaml").unlink()
    result = deploy(run_task)
    assert result.code == 2
    assert "secrets file not found" in result.err
    assert kube.requests == []
    assert fake_helm.calls() == []


def test_helm_failure_is_one_line_with_a_remedy(
    run_task: Run, monitoring_env: MonitoringEnv, fake_helm: FakeHelm
) -> None:
    chosen = monitoring_env()
    fake_helm.fail("upgrade", f"Error: timed out waiting, token {chosen['metrics_token']}\n")
    result = deploy(run_task)
    assert result.code == 1
    assert "helm upgrade --install prometheus failed" in result.err
    assert "fix:" in result.err
    assert "Traceback" not in result.err
    assert_no_secret(chosen, result.out, result.err)


def test_a_retention_size_that_would_fill_the_volume_is_refused(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    monitoring_env(**{"monitoring.retention_size": "48GB", "monitoring.storage_size": "50Gi"})
    result = deploy(run_task)
    assert result.code == 2
    assert "monitoring.retention_size: 48GB does not leave room" in result.err
    assert "storage_size" in result.err
    assert kube.requests == []
    assert fake_helm.calls() == []
