"""`invoke monitoring.dashboards`: offline check and rebuild, and --apply to the cluster."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from scripts.core.console import Console
from scripts.core.errors import OperationFailed
from scripts.monitoring import dashboards as shipped
from scripts.monitoring import update_dashboards
from tests.conftest import TaskRun
from tests.monitoring.conftest import ENV, MonitoringEnv
from tests.support.fake_helm import FakeHelm
from tests.support.fakekube import FakeKube

Run = Callable[..., TaskRun]
NAMES = ["jhub-dashboard-cluster", "jhub-dashboard-gpus", "jhub-dashboard-jupyterhub"]


def test_the_check_passes_offline_on_a_clean_checkout(run_task: Run, config_dir: object) -> None:
    result = run_task("monitoring.dashboards")
    assert result.code == 0, result.err
    assert "3 dashboards up to date" in result.out


def test_build_dry_run_reports_nothing_to_write(run_task: Run, config_dir: object) -> None:
    result = run_task("monitoring.dashboards", "--build", "--dry-run")
    assert result.code == 0, result.err
    assert "up to date" in result.out


def test_apply_creates_the_configmaps_then_leaves_them(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube
) -> None:
    monitoring_env(**{"monitoring.dashboards_folder": "Research Computing"})
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prometheus"}})

    result = run_task("monitoring.dashboards", "--apply", "--env", ENV)
    assert result.code == 0, result.err
    maps = {m["metadata"]["name"]: m for m in kube.objects("configmaps", "prometheus")}
    assert sorted(maps) == NAMES
    gpus = maps["jhub-dashboard-gpus"]
    assert gpus["metadata"]["annotations"] == {"grafana_folder": "Research Computing"}
    assert json.loads(gpus["data"]["gpus.json"])["title"] == "GPUs"

    kube.clear_requests()
    again = run_task("monitoring.dashboards", "--apply", "--env", ENV)
    assert again.code == 0, again.err
    assert kube.mutating_requests() == []
    assert "3 ConfigMaps as committed" in again.out


def test_apply_repairs_an_edited_configmap_only(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube
) -> None:
    monitoring_env()
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prometheus"}})
    assert run_task("monitoring.dashboards", "--apply", "--env", ENV).code == 0
    kube.patch(
        "configmaps", "jhub-dashboard-cluster", {"data": {"cluster.json": "{}"}}, "prometheus"
    )
    kube.clear_requests()

    result = run_task("monitoring.dashboards", "--apply", "--env", ENV)
    assert result.code == 0, result.err
    written = kube.mutating_requests()
    assert [r.path.rsplit("/", 1)[-1] for r in written] == ["jhub-dashboard-cluster"]
    repaired = kube.get("configmaps", "jhub-dashboard-cluster", "prometheus")
    assert repaired is not None
    assert json.loads(repaired["data"]["cluster.json"])["uid"] == "jhub-cluster"


def test_apply_dry_run_makes_no_call_that_changes_anything(
    run_task: Run, monitoring_env: MonitoringEnv, kube: FakeKube, fake_helm: FakeHelm
) -> None:
    monitoring_env()
    result = run_task("monitoring.dashboards", "--apply", "--dry-run", "--env", ENV)
    assert result.code == 0, result.err
    assert kube.mutating_requests() == []
    assert "would create ConfigMap prometheus/jhub-dashboard-gpus" in result.out
    assert fake_helm.calls() == []  # dashboards never go through Helm


def test_apply_without_a_kubeconfig_says_how_to_get_one(
    run_task: Run, monitoring_env: MonitoringEnv, tmp_path: object
) -> None:
    monitoring_env(**{"cluster.kubeconfig": "/nonexistent/kubeconfig"})
    result = run_task("monitoring.dashboards", "--apply", "--env", ENV)
    assert result.code == 1
    assert "does not exist" in result.err
    assert "cluster.kubeconfig" in result.err


def test_a_stale_dashboard_fails_the_check_with_the_fix(tmp_path: Path) -> None:
    shipped.write(tmp_path)
    stale = tmp_path / "jupyterhub.json"
    stale.write_text(stale.read_text().replace("Hub request latency", "Latency"))
    with pytest.raises(OperationFailed, match=r"dashboards/jupyterhub\.json differ") as failure:
        update_dashboards.check_or_build(Console(), build=False, dry_run=False, directory=tmp_path)
    assert "--build" in failure.value.remedy
    update_dashboards.check_or_build(Console(), build=True, dry_run=False, directory=tmp_path)
    assert "Hub request latency" in stale.read_text()
