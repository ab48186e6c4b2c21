"""`invoke plan`: offline, complete, and never shows a secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from tests.conftest import TaskRun


def test_plan_of_the_example_writes_values_and_manifests(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    result = run_task("plan")
    assert result.code == 0, result.err
    build = config_dir.parent / "build" / "example"
    values = sorted(p.name for p in (build / "values").iterdir())
    assert values == [
        "gpu-operator.yaml",
        "jupyterhub.yaml",
        "kube-prometheus-stack.yaml",
        "prometheus-blackbox-exporter.yaml",
    ]
    manifests = sorted(p.name for p in (build / "manifests").iterdir())
    assert "storageclass-cinder-storage.yaml" in manifests
    assert "namespace-jhub.yaml" in manifests
    for path in (build / "values").iterdir():
        assert isinstance(yaml.safe_load(path.read_text()), dict)
    stages = [
        "1. OpenStack",
        "2. Cluster access",
        "3. Kubernetes objects",
        "4. Helm releases",
        "5. Verify",
    ]
    positions = [result.out.index(stage) for stage in stages]
    assert positions == sorted(positions)
    assert "ensure node group 'gpu-worker'" in result.out
    assert "helm upgrade --install jhub jupyterhub" in result.out
    # monitoring.deploy's alerting objects and probe release.
    assert "prometheusrule-jhub-alerts.yaml" in manifests
    assert "secret-alertmanager-jhub-config.yaml" in manifests
    rule = yaml.safe_load((build / "manifests" / "prometheusrule-jhub-alerts.yaml").read_text())
    runbooks = [r["annotations"]["runbook"] for r in rule["spec"]["groups"][0]["rules"]]
    assert "invoke hub.status --env example" in runbooks
    assert "then helm upgrade --install blackbox prometheus-blackbox-exporter" in result.out


def test_plan_for_an_existing_cluster_skips_openstack(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    text = (
        (config_dir / "example.yaml").read_text().replace("driver: capi-helm", "driver: existing")
    )
    (config_dir / "local.yaml").write_text(text)
    result = run_task("plan", "--env", "local")
    assert result.code == 0, result.err
    assert "ensure cluster" not in result.out
    assert "write kubeconfig" not in result.out


def test_plan_output_and_build_hold_no_secret(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    assert run_task("config.init", "--env", "dev", "--auth", "native").code == 0
    secrets_path = config_dir / "dev.secrets.yaml"
    secrets = yaml.safe_load(secrets_path.read_text())
    secrets["oauth_client_secret"] = "oauth-client-secret-value-1234"
    secrets["native_admin_passwords"] = {"hubadmin": "admin-password-value-5678"}
    secrets_path.write_text(yaml.safe_dump(secrets))
    values = [v for v in secrets.values() if isinstance(v, str) and v]
    values += list(secrets["native_admin_passwords"].values())
    assert len(values) == 6

    result = run_task("plan", "--env", "dev")
    assert result.code == 0, result.err
    shown = result.out + result.err
    build = config_dir.parent / "build" / "dev"
    files = [p for p in build.rglob("*") if p.is_file()]
    assert files
    for secret in values:
        assert secret not in shown
        for path in files:
            assert secret not in path.read_text(), f"{secret[:4]}… leaked into {path}"
    assert "«secret:proxy_secret_token»" in (build / "values" / "jupyterhub.yaml").read_text()


def test_config_show_redacts_secrets(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    assert run_task("config.init", "--env", "dev").code == 0
    secrets = yaml.safe_load((config_dir / "dev.secrets.yaml").read_text())
    result = run_task("config.show", "--env", "dev")
    assert result.code == 0
    assert "«redacted»" in result.out
    for key in ("proxy_secret_token", "metrics_token", "grafana_admin_password"):
        assert secrets[key] not in result.out


def test_plan_warns_about_sudo_and_missing_floating_ip(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    text = (config_dir / "example.yaml").read_text()
    text = text.replace("sudo: false", "sudo: true").replace(
        "floating_ip: 192.0.2.10", "floating_ip: null"
    )
    (config_dir / "risky.yaml").write_text(text)
    result = run_task("plan", "--env", "risky")
    assert result.code == 0
    assert "hub.sudo is true" in result.err
    assert "hub.floating_ip is empty" in result.err


def test_plan_lists_the_dns_record_when_managed(
    config_dir: Path, run_task: Callable[..., TaskRun], socket_disabled: None
) -> None:
    text = (
        (config_dir / "example.yaml").read_text().replace("    manage: false", "    manage: true")
    )
    (config_dir / "dnsplan.yaml").write_text(text)
    result = run_task("plan", "--env", "dnsplan")
    assert result.code == 0, result.err
    assert "ensure DNS A record jupyter.example.org. → 192.0.2.10 (ttl 300)" in result.out
    assert "ensure DNS A record" not in run_task("plan").out
