"""cluster.check against kmock: nodes, kube-system pods, Cinder CSI, autoscaler."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import ENV, EnvFactory
from tests.cluster.objects import MAGNUM_COMMAND, autoscaler
from tests.support.fakekube import FakeKube


def node(name: str, ready: str = "True", reason: str = "KubeletReady") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": ready, "reason": reason}]},
    }


def pod(name: str, *, waiting: str = "", phase: str = "Running") -> dict[str, Any]:
    state: dict[str, Any] = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"containers": [{"name": "main", "image": "img"}]},
        "status": {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": "main",
                    "image": "img",
                    "imageID": "sha256:0",
                    "ready": not waiting,
                    "restartCount": 7 if waiting else 0,
                    "state": state,
                }
            ],
        },
    }


def csi(
    scheduled: int, name: str = "csi-cinder-nodeplugin", namespace: str = "kube-system"
) -> list[dict[str, Any]]:
    """The CSIDriver and the node plugin; the heat driver's names by default."""
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "CSIDriver",
            "metadata": {"name": "cinder.csi.openstack.org"},
            "spec": {"attachRequired": True},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "selector": {"matchLabels": {"app": "csi"}},
                "template": {
                    "metadata": {"labels": {"app": "csi"}},
                    "spec": {
                        "containers": [
                            {"name": "node-driver-registrar", "image": "registrar"},
                            {"name": "cinder-csi-plugin", "image": "cinder-csi"},
                        ]
                    },
                },
            },
            "status": {
                "currentNumberScheduled": scheduled,
                "desiredNumberScheduled": scheduled,
                "numberMisscheduled": 0,
                "numberReady": scheduled,
            },
        },
    ]


def available_autoscaler() -> dict[str, Any]:
    deployment = autoscaler([*MAGNUM_COMMAND, "--nodes=0:2:gpu-worker"])
    deployment["status"] = {"availableReplicas": 1, "replicas": 1}
    return deployment


@pytest.fixture
def kube_env(make_env: EnvFactory, kube: FakeKube, config_dir: Path) -> EnvFactory:
    """make_env, with the emulator's kubeconfig where the tasks look for it."""
    shutil.copy(kube.kubeconfig_path, config_dir / f"{ENV}.kubeconfig")
    return make_env


def test_healthy_cluster_passes(
    kube: FakeKube, kube_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    kube_env(cluster={"driver": "heat"})
    for item in [
        node("master-0"),
        node("worker-0"),
        pod("coredns-1"),
        pod("magnum-auto-healer-x", phase="Succeeded"),
        *csi(2),
        available_autoscaler(),
    ]:
        kube.create(item)

    result = run_task("cluster.check", "--env", ENV)

    assert result.code == 0, result.err
    assert "nodes Ready — 2 node(s)" in result.out
    assert "kube-system/csi-cinder-nodeplugin on all 2 node(s)" in result.out
    assert "node groups: default-worker 1..5, gpu-worker 0..2" in result.out
    assert kube.mutating_requests() == []


def test_every_problem_is_listed_with_its_reason(
    kube: FakeKube, kube_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    kube_env(cluster={"driver": "heat"})
    for item in [
        node("worker-0"),
        node("gpu-worker-0", ready="False", reason="KubeletNotReady"),
        pod("coredns-1"),
        pod("cluster-autoscaler-5d", waiting="CrashLoopBackOff"),
        pod("csi-cinder-controllerplugin-0", waiting="ImagePullBackOff"),
        *csi(1),
    ]:
        kube.create(item)

    result = run_task("cluster.check", "--env", ENV)

    assert result.code == 1
    assert "not Ready: gpu-worker-0 (KubeletNotReady)" in result.out
    assert "cluster-autoscaler-5d: Running: main CrashLoopBackOff, 7 restart(s)" in result.out
    assert "csi-cinder-controllerplugin-0: Running: main ImagePullBackOff" in result.out
    assert "coredns-1" not in result.out
    assert "runs on 1 of 2 nodes" in result.out
    assert "4 check(s) failed" in result.err
    assert "invoke gpu.fix-csi --env cloudtest" in result.err
    assert "no deployment kube-system/cluster-autoscaler" in result.err


def test_capi_helm_autoscaler_is_not_looked_for_in_the_cluster(
    kube: FakeKube, kube_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    kube_env()
    # capi-helm's add-ons: chart openstack-cinder-csi in openstack-system
    # (capi-helm-charts cluster-addons; cloud-provider-openstack nodeplugin-daemonset.yaml).
    plugin = csi(1, "openstack-cinder-csi-nodeplugin", "openstack-system")
    for item in [node("worker-0"), pod("coredns-1"), *plugin]:
        kube.create(item)

    result = run_task("cluster.check", "--env", ENV)

    assert result.code == 0, result.err
    assert "runs in Magnum's management cluster" in result.out
    assert "openstack-system/openstack-cinder-csi-nodeplugin on all 1 node(s)" in result.out


def test_the_heat_name_is_not_the_capi_helm_plugin(
    kube: FakeKube, kube_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    """On capi-helm nothing in kube-system is the plugin; a stray DaemonSet there named
    like heat's, without the plugin container, is not mistaken for it."""
    kube_env()
    stray = csi(1)[1]
    stray["spec"]["template"]["spec"]["containers"] = [{"name": "other", "image": "x"}]
    for item in [node("worker-0"), pod("coredns-1"), csi(1)[0], stray]:
        kube.create(item)

    result = run_task("cluster.check", "--env", ENV)

    assert result.code == 1
    assert "no Cinder CSI node plugin (DaemonSet openstack-system/" in result.out


def test_missing_kubeconfig_says_how_to_get_one(
    make_env: EnvFactory, run_task: Callable[..., Any]
) -> None:
    make_env()
    result = run_task("cluster.check", "--env", ENV)
    assert result.code == 1 and "invoke cluster.kubeconfig" in result.err
