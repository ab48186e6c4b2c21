"""`invoke monitoring.grafana`: how to reach Grafana, as the cluster describes it."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from tests.conftest import TaskRun
from tests.monitoring.conftest import ENV, MonitoringEnv
from tests.support.fakekube import FakeKube

Run = Callable[..., TaskRun]
PASSWORD = "cluster-side-password-4711"


def grafana_service(load_balancer_ip: str = "") -> dict[str, Any]:
    service: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "prometheus-grafana",
            "namespace": "prometheus",
            "labels": {
                "app.kubernetes.io/name": "grafana",
                "app.kubernetes.io/instance": "prometheus",
            },
        },
        "spec": {
            "type": "LoadBalancer" if load_balancer_ip else "ClusterIP",
            "ports": [{"name": "http-web", "port": 80, "targetPort": 3000}],
        },
    }
    if load_balancer_ip:
        service["status"] = {"loadBalancer": {"ingress": [{"ip": load_balancer_ip}]}}
    return service


def admin_secret() -> dict[str, Any]:
    def encode(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "grafana-admin", "namespace": "prometheus"},
        "data": {"admin-user": encode("grafana-boss"), "admin-password": encode(PASSWORD)},
    }


def seed(kube: FakeKube, *objects: dict[str, Any]) -> None:
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prometheus"}})
    for manifest in objects:
        kube.create(manifest)


def test_cluster_ip_gives_a_port_forward_and_hides_the_password(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube
) -> None:
    monitoring_env()
    seed(kube, grafana_service(), admin_secret())
    result = run_task("monitoring.grafana", "--env", ENV)
    assert result.code == 0, result.err
    assert (
        f"kubectl --kubeconfig {kube.kubeconfig_path} --namespace prometheus "
        "port-forward service/prometheus-grafana 3000:80"
    ) in result.out
    assert "http://localhost:3000/" in result.out
    assert "user: grafana-boss" in result.out
    assert PASSWORD not in result.out + result.err
    assert "--show-password" in result.out
    assert "service/prometheus-operated 9090:9090" in result.out
    assert kube.mutating_requests() == []


def test_the_password_only_with_the_flag(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube
) -> None:
    monitoring_env()
    seed(kube, grafana_service(), admin_secret())
    result = run_task("monitoring.grafana", "--env", ENV, "--show-password")
    assert result.code == 0, result.err
    assert f"password: {PASSWORD}" in result.out


def test_the_password_shown_is_the_cluster_s_even_if_it_is_a_known_secret(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube
) -> None:
    chosen = monitoring_env()
    secret = admin_secret()
    secret["data"]["admin-password"] = base64.b64encode(
        chosen["grafana_admin_password"].encode()
    ).decode()
    seed(kube, grafana_service(), secret)
    shown = run_task("monitoring.grafana", "--env", ENV, "--show-password")
    assert f"password: {chosen['grafana_admin_password']}" in shown.out
    hidden = run_task("monitoring.grafana", "--env", ENV)
    assert chosen["grafana_admin_password"] not in hidden.out


def test_load_balancer_gives_the_url(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube
) -> None:
    monitoring_env(**{"monitoring.expose": "loadbalancer"})
    seed(kube, grafana_service("192.0.2.55"), admin_secret())
    result = run_task("monitoring.grafana", "--env", ENV)
    assert result.code == 0, result.err
    assert "Grafana: http://192.0.2.55/" in result.out
    assert "port-forward service/prometheus-grafana" not in result.out


def test_pending_load_balancer_falls_back_to_a_port_forward(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube
) -> None:
    monitoring_env(**{"monitoring.expose": "loadbalancer"})
    seed(kube, grafana_service(), admin_secret())
    result = run_task("monitoring.grafana", "--env", ENV)
    assert result.code == 0, result.err
    assert "port-forward service/prometheus-grafana 3000:80" in result.out
    assert "no address yet" in result.err


def test_not_deployed_says_what_to_run(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube
) -> None:
    monitoring_env()
    seed(kube)
    result = run_task("monitoring.grafana", "--env", ENV)
    assert result.code == 1
    assert "no Grafana Service of release 'prometheus'" in result.err
    assert "invoke monitoring.deploy" in result.err
    assert "Traceback" not in result.err


def test_missing_admin_secret_says_what_to_run(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube
) -> None:
    monitoring_env()
    seed(kube, grafana_service())
    result = run_task("monitoring.grafana", "--env", ENV)
    assert result.code == 1
    assert "Secret prometheus/grafana-admin" in result.err
    assert "invoke monitoring.deploy" in result.err
