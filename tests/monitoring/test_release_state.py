"""monitoring.deploy decides on the release's state, not its values alone, and brings the
chart's CRDs up first when the chart version changes (helm never upgrades CRDs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from tests.conftest import TaskRun
from tests.monitoring.conftest import ENV, MonitoringEnv
from tests.support.fake_helm import FakeHelm
from tests.support.fakekube import FakeKube

Run = Callable[..., TaskRun]
REPO = "https://prometheus-community.github.io/helm-charts"
# kube-prometheus-stack-88.5.3 charts/kube-prometheus-stack/charts/crds/crds/crd-*.yaml:
# the ten CRDs and the operator version they carry (appVersion v0.93.1).
CRDS = {
    "alertmanagerconfigs": "AlertmanagerConfig",
    "alertmanagers": "Alertmanager",
    "podmonitors": "PodMonitor",
    "probes": "Probe",
    "prometheusagents": "PrometheusAgent",
    "prometheuses": "Prometheus",
    "prometheusrules": "PrometheusRule",
    "scrapeconfigs": "ScrapeConfig",
    "servicemonitors": "ServiceMonitor",
    "thanosrulers": "ThanosRuler",
}


def crd(plural: str, operator_version: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.monitoring.coreos.com",
            "annotations": {
                "controller-gen.kubebuilder.io/version": "v0.21.0",
                "operator.prometheus.io/version": operator_version,
            },
        },
        "spec": {
            "group": "monitoring.coreos.com",
            "names": {"kind": CRDS[plural], "plural": plural},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }


def chart_crds(version: str) -> str:
    return "".join(f"---\n{yaml.safe_dump(crd(plural, version))}" for plural in CRDS)


def stack_upgrades(fake_helm: FakeHelm) -> list[dict[str, Any]]:
    """The `helm upgrade --install` calls for the stack itself (the example's release
    `prometheus`), not the blackbox exporter's release beside it."""
    return [call for call in fake_helm.upgrades() if call["argv"][2] == "prometheus"]


def deploy(run_task: Run, *extra: str) -> TaskRun:
    return run_task("monitoring.deploy", "--env", ENV, *extra)


def operator_version(kube: FakeKube, plural: str) -> str:
    found = kube.get("customresourcedefinitions", f"{plural}.monitoring.coreos.com")
    assert found is not None
    version: str = found["metadata"]["annotations"]["operator.prometheus.io/version"]
    return version


def older_release(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    """A deployed 87.0.0 release and its CRDs, the way a year-old install looks."""
    monitoring_env(**{"monitoring.chart.version": "87.0.0"})
    assert deploy(run_task).code == 0
    for plural in CRDS:
        kube.create(crd(plural, "0.92.0"))
    monitoring_env(**{"monitoring.chart.version": "88.5.3"})
    fake_helm.chart_crds("kube-prometheus-stack", "88.5.3", chart_crds("0.93.1"))


def test_a_failed_release_is_retried(
    run_task: Run, monitoring_env: MonitoringEnv, fake_helm: FakeHelm
) -> None:
    monitoring_env()
    assert deploy(run_task).code == 0
    fake_helm.set_status("prometheus", "prometheus", "failed")
    again = deploy(run_task)
    assert again.code == 0, again.err
    assert "last revision 1 is failed" in again.out
    assert len(stack_upgrades(fake_helm)) == 2


def test_a_chart_bump_applies_the_new_crds_server_side_first(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    older_release(run_task, monitoring_env, kube, fake_helm)
    kube.clear_requests()

    result = deploy(run_task)

    assert result.code == 0, result.err
    assert "chart 87.0.0 → 88.5.3" in result.out
    assert "applied CRD prometheuses.monitoring.coreos.com 0.92.0 → 0.93.1" in result.out
    assert all(operator_version(kube, plural) == "0.93.1" for plural in CRDS)
    applies = [r for r in kube.mutating_requests() if "customresourcedefinitions" in r.path]
    assert len(applies) == 10
    assert {r.content_type for r in applies} == {"application/apply-patch+yaml"}
    assert {(r.query["fieldManager"], r.query["force"]) for r in applies} == {
        ("jhub-openstack", "true")
    }
    shown = [c["argv"] for c in fake_helm.calls() if c["argv"][:2] == ["show", "crds"]]
    assert shown == [
        [
            "show",
            "crds",
            "kube-prometheus-stack",
            "--repo",
            REPO,
            "--version",
            "88.5.3",
            "--kubeconfig",
            shown[0][-1],
        ]
    ]
    argv = stack_upgrades(fake_helm)[-1]["argv"]
    assert argv[argv.index("--version") + 1] == "88.5.3"

    kube.clear_requests()
    again = deploy(run_task)
    assert again.code == 0, again.err
    assert kube.mutating_requests() == []
    assert len(stack_upgrades(fake_helm)) == 2


def test_the_crds_come_before_the_upgrade(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    older_release(run_task, monitoring_env, kube, fake_helm)
    fake_helm.fail_release("prometheus", "Error: UPGRADE FAILED: boom\n")
    assert deploy(run_task).code == 1
    assert operator_version(kube, "servicemonitors") == "0.93.1"


def test_dry_run_lists_the_crds_and_applies_nothing(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    older_release(run_task, monitoring_env, kube, fake_helm)
    kube.clear_requests()
    result = deploy(run_task, "--dry-run")
    assert result.code == 0, result.err
    assert (
        "would apply CRD thanosrulers.monitoring.coreos.com 0.92.0 → 0.93.1 (server-side, forced)"
        in result.out
    )
    assert kube.mutating_requests() == []
    assert operator_version(kube, "thanosrulers") == "0.92.0"
    assert len(stack_upgrades(fake_helm)) == 1


def test_crds_owned_by_another_prometheus_operator_are_refused_with_the_command(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    older_release(run_task, monitoring_env, kube, fake_helm)
    kube.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring-system"}}
    )
    labels = {"app": "kube-prometheus-stack-operator", "release": "kube-prometheus-stack"}
    kube.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "kube-prometheus-stack-operator",
                "namespace": "monitoring-system",
                "labels": labels,
            },
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "operator", "image": "operator"}]},
                },
            },
        }
    )
    kube.clear_requests()

    result = deploy(run_task)

    assert result.code == 1
    assert "kube-prometheus-stack release monitoring-system/kube-prometheus-stack" in result.err
    assert (
        f"helm show crds kube-prometheus-stack --repo {REPO} --version 88.5.3 | kubectl "
        in result.err
    )
    assert "apply --server-side --force-conflicts -f -" in result.err
    assert kube.mutating_requests() == []
    assert len(stack_upgrades(fake_helm)) == 1


def test_crds_that_cannot_be_read_stop_the_upgrade_with_the_command(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    older_release(run_task, monitoring_env, kube, fake_helm)
    monitoring_env(**{"monitoring.chart.version": "88.9.9"})  # no such chart version
    result = deploy(run_task)
    assert result.code == 1
    assert 'chart "kube-prometheus-stack" version "88.9.9" not found' in result.err
    assert "--version 88.9.9 | kubectl" in result.err
    assert len(stack_upgrades(fake_helm)) == 1


def test_leftover_crds_of_an_earlier_install_are_brought_up_to_date(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    monitoring_env()
    for plural in CRDS:
        kube.create(crd(plural, "0.80.0"))  # helm uninstall keeps CRDs
    fake_helm.chart_crds("kube-prometheus-stack", "88.5.3", chart_crds("0.93.1"))
    result = deploy(run_task)
    assert result.code == 0, result.err
    assert "CRDs of an earlier install are still in the cluster" in result.out
    assert operator_version(kube, "probes") == "0.93.1"


def test_a_fresh_install_leaves_the_crds_to_helm(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    monitoring_env()
    assert deploy(run_task).code == 0
    assert not any(c["argv"][:2] == ["show", "crds"] for c in fake_helm.calls())


def test_a_failed_blackbox_release_is_retried_too(
    run_task: Run, monitoring_env: MonitoringEnv, fake_helm: FakeHelm
) -> None:
    # The exporter's `helm get values` still answers after a failed upgrade (helm 4
    # pkg/action/get_values.go reads the last revision whatever its status), so equal
    # values alone must not count as "unchanged".
    monitoring_env()
    assert deploy(run_task).code == 0
    fake_helm.set_status("blackbox", "prometheus", "failed")
    again = deploy(run_task)
    assert again.code == 0, again.err
    probe_upgrades = [c for c in fake_helm.upgrades() if c["argv"][2] == "blackbox"]
    assert len(probe_upgrades) == 2
