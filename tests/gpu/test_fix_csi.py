"""gpu.fix-csi against the Kubernetes emulator, through the real kubernetes client.

The emulator has no DaemonSet controller, so a small stand-in thread plays it: once
the toleration is there, it reports the plugin as wanted and ready on every node,
as the real controller would after rolling the pods out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scripts.gpu.fix_csi import blocking_taints, tolerates, toleration_patch
from tests.conftest import TaskRun
from tests.gpu.conftest import GPU_TAINT, node
from tests.support.fakekube import FakeKube

NAME = "csi-cinder-nodeplugin"
CRITICAL_ADDONS = {"key": "CriticalAddonsOnly", "operator": "Exists"}
MASTER = {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"}


def daemonset(tolerations: list[dict[str, str]] | None, desired: int) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {
        "containers": [{"name": "cinder-csi-plugin", "image": "k8scloudprovider/cinder-csi"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
    }
    if tolerations is not None:
        pod_spec["tolerations"] = tolerations
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": NAME, "namespace": "kube-system", "generation": 1},
        "spec": {
            "selector": {"matchLabels": {"app": NAME}},
            "template": {"metadata": {"labels": {"app": NAME}}, "spec": pod_spec},
        },
        "status": {
            "currentNumberScheduled": desired,
            "desiredNumberScheduled": desired,
            "numberMisscheduled": 0,
            "numberReady": desired,
            "observedGeneration": 1,
        },
    }


def seed_cluster(kube: FakeKube, tolerations: list[dict[str, str]] | None) -> None:
    kube.create(node("master-0", taints=[{**MASTER, "value": ""}]))
    kube.create(node("worker-0"))
    kube.create(node("gpu-worker-0", gpu=True, taints=[GPU_TAINT]))
    # The master taint is tolerated, the GPU taint is not: two of three nodes.
    kube.create(daemonset(tolerations, desired=2))


@pytest.fixture
def controller(kube: FakeKube) -> Iterator[Callable[[], None]]:
    """start() runs a stand-in DaemonSet controller until the test ends."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def run() -> None:
        while not stop.wait(0.05):
            current = kube.get("daemonsets", NAME, "kube-system")
            if current is None:
                continue
            tolerations = current["spec"]["template"]["spec"].get("tolerations") or []
            if {"operator": "Exists"} in tolerations and (
                current["status"]["desiredNumberScheduled"] != 3
            ):
                # As the DaemonSet controller does once it has seen the new spec.
                generation = current["metadata"]["generation"]
                status = {"desiredNumberScheduled": 3, "numberReady": 3}
                status["observedGeneration"] = generation
                kube.patch("apps/v1/daemonsets", NAME, {"status": status}, namespace="kube-system")

    def start() -> None:
        thread = threading.Thread(target=run, daemon=True)
        threads.append(thread)
        thread.start()

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=5)


def patches(kube: FakeKube) -> list[Any]:
    return [r for r in kube.mutating_requests() if r.method == "PATCH"]


def stored_tolerations(kube: FakeKube) -> list[dict[str, str]] | None:
    found = kube.get("daemonsets", NAME, "kube-system")
    assert found is not None
    tolerations: list[dict[str, str]] | None = found["spec"]["template"]["spec"].get("tolerations")
    return tolerations


def test_adds_the_toleration_once_and_keeps_the_others(
    kube: FakeKube,
    kube_env: Callable[..., str],
    run_task: Callable[..., TaskRun],
    controller: Callable[[], None],
) -> None:
    seed_cluster(kube, [CRITICAL_ADDONS, MASTER])
    env = kube_env(**{"cluster.driver": "heat"})
    controller()

    first = run_task("gpu.fix-csi", "--env", env, "--timeout", "60")

    assert first.code == 0, first.err
    assert stored_tolerations(kube) == [CRITICAL_ADDONS, MASTER, {"operator": "Exists"}]
    assert len(patches(kube)) == 1
    assert "before:" in first.out and "wanted on 2 of 3 node(s)" in first.out
    assert "gpu-worker-0 (nvidia.com/gpu=present:NoSchedule)" in first.out
    assert "after:" in first.out and "wanted on 3 of 3 node(s), ready on 3" in first.out

    kube.clear_requests()
    second = run_task("gpu.fix-csi", "--env", env)

    assert second.code == 0, second.err
    assert kube.mutating_requests() == []
    assert "already tolerates every taint; nothing to patch" in second.out
    assert stored_tolerations(kube) == [CRITICAL_ADDONS, MASTER, {"operator": "Exists"}]


def test_daemonset_without_tolerations_gets_a_list(
    kube: FakeKube,
    kube_env: Callable[..., str],
    run_task: Callable[..., TaskRun],
    controller: Callable[[], None],
) -> None:
    seed_cluster(kube, None)
    controller()

    result = run_task("gpu.fix-csi", "--env", kube_env(), "--timeout", "60")

    assert result.code == 0, result.err
    assert stored_tolerations(kube) == [{"operator": "Exists"}]
    (patch,) = patches(kube)
    assert "json-patch" in patch.content_type  # a list body: no merge of tolerations


def test_dry_run_makes_no_change(
    kube: FakeKube, kube_env: Callable[..., str], run_task: Callable[..., TaskRun]
) -> None:
    seed_cluster(kube, [CRITICAL_ADDONS])

    result = run_task("gpu.fix-csi", "--env", kube_env(), "--dry-run")

    assert result.code == 0, result.err
    assert kube.mutating_requests() == []
    assert stored_tolerations(kube) == [CRITICAL_ADDONS]
    assert "would patch DaemonSet kube-system/csi-cinder-nodeplugin" in result.out
    assert "keeping 1 other(s)" in result.out


def test_gives_up_after_the_timeout_naming_what_it_waited_for(
    kube: FakeKube, kube_env: Callable[..., str], run_task: Callable[..., TaskRun]
) -> None:
    seed_cluster(kube, [CRITICAL_ADDONS])  # no controller: the status never changes

    result = run_task("gpu.fix-csi", "--env", kube_env(), "--timeout", "1")

    assert result.code == 1
    assert "timed out after 1s waiting for csi-cinder-nodeplugin on every node" in result.err
    assert "wanted on 2 of 3 node(s)" in result.err
    assert "Traceback" not in result.err
    assert stored_tolerations(kube) == [CRITICAL_ADDONS, {"operator": "Exists"}]


def test_missing_daemonset_is_explained(
    kube: FakeKube, kube_env: Callable[..., str], run_task: Callable[..., TaskRun]
) -> None:
    kube.create(node("worker-0"))

    result = run_task("gpu.fix-csi", "--env", kube_env())

    assert result.code == 1
    assert "no Cinder CSI node plugin: no DaemonSet openstack-system/" in result.err
    assert "cinder_csi_enabled" in result.err
    assert kube.mutating_requests() == []


def test_bad_timeout_is_bad_input(
    kube_env: Callable[..., str], run_task: Callable[..., TaskRun]
) -> None:
    result = run_task("gpu.fix-csi", "--env", kube_env(), "--timeout", "0")

    assert result.code == 2
    assert "option --timeout" in result.err


def test_toleration_matching_follows_kubernetes() -> None:
    assert tolerates({"operator": "Exists"}, GPU_TAINT)
    assert tolerates({"key": "nvidia.com/gpu", "operator": "Exists"}, GPU_TAINT)
    assert tolerates({"key": "nvidia.com/gpu", "value": "present"}, GPU_TAINT)
    assert not tolerates({"key": "nvidia.com/gpu", "value": "absent"}, GPU_TAINT)
    assert not tolerates({"operator": "Exists", "effect": "NoExecute"}, GPU_TAINT)
    assert not tolerates(CRITICAL_ADDONS, GPU_TAINT)
    gpu_node = node(
        "g", gpu=True, taints=[GPU_TAINT, {"key": "soft", "effect": "PreferNoSchedule"}]
    )
    assert blocking_taints(gpu_node, [CRITICAL_ADDONS]) == ["nvidia.com/gpu=present:NoSchedule"]
    assert blocking_taints(gpu_node, [{"operator": "Exists"}]) == []


def test_patch_is_guarded_by_the_resource_version() -> None:
    live = daemonset([CRITICAL_ADDONS], desired=2)
    live["metadata"]["resourceVersion"] = "41"
    guard, append = toleration_patch(live)
    assert guard == {"op": "test", "path": "/metadata/resourceVersion", "value": "41"}
    assert append["path"] == "/spec/template/spec/tolerations/-"


def capi_helm_node_plugin() -> dict[str, Any]:
    """What capi-helm's platform add-ons run: the openstack-cinder-csi chart (release
    csi-cinder) in openstack-system (azimuth-cloud/capi-helm-charts cluster-addons
    values.yaml openstack.targetNamespace; cloud-provider-openstack
    openstack-cinder-csi-2.35.0 charts/cinder-csi-plugin/templates/nodeplugin-daemonset.yaml,
    name "{{ cinder-csi.name }}-nodeplugin", values.yaml nodePlugin.tolerations)."""
    labels = {"component": "nodeplugin", "app": "openstack-cinder-csi", "release": "csi-cinder"}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": "openstack-cinder-csi-nodeplugin",
            "namespace": "openstack-system",
            "labels": labels,
            "generation": 1,
        },
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "node-driver-registrar", "image": "csi-node-driver-registrar"},
                        {"name": "liveness-probe", "image": "livenessprobe"},
                        {"name": "cinder-csi-plugin", "image": "cinder-csi-plugin"},
                    ],
                    "nodeSelector": {},
                    "tolerations": [{"operator": "Exists"}],
                },
            },
        },
        "status": {
            "currentNumberScheduled": 2,
            "desiredNumberScheduled": 2,
            "numberMisscheduled": 0,
            "numberReady": 2,
            "observedGeneration": 1,
        },
    }


@pytest.mark.parametrize("driver", ["capi-helm", "existing"])
def test_capi_helm_plugin_is_found_and_already_tolerates_everything(
    kube: FakeKube,
    kube_env: Callable[..., str],
    run_task: Callable[..., TaskRun],
    driver: str,
) -> None:
    kube.create(node("worker-0"))
    kube.create(node("gpu-worker-0", gpu=True, taints=[GPU_TAINT]))
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "openstack-system"}})
    kube.create(capi_helm_node_plugin())

    result = run_task("gpu.fix-csi", "--env", kube_env(**{"cluster.driver": driver}))

    assert result.code == 0, result.err
    assert "DaemonSet openstack-system/openstack-cinder-csi-nodeplugin" in result.out
    assert "already tolerates every taint; nothing to patch" in result.out
    assert "runs on all 2 node(s)" in result.out
    assert kube.mutating_requests() == []


def test_a_plugin_that_tolerates_the_gpu_taint_is_left_alone(
    kube: FakeKube, kube_env: Callable[..., str], run_task: Callable[..., TaskRun]
) -> None:
    kube.create(node("worker-0"))
    kube.create(node("gpu-worker-0", gpu=True, taints=[GPU_TAINT]))
    gpu_toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    kube.create(daemonset([CRITICAL_ADDONS, gpu_toleration], desired=2))

    result = run_task("gpu.fix-csi", "--env", kube_env(**{"cluster.driver": "heat"}))

    assert result.code == 0, result.err
    assert (
        "already tolerates the GPU taint (nvidia.com/gpu=present:NoSchedule); nothing to patch"
        in result.out
    )
    assert kube.mutating_requests() == []


def test_a_plugin_installed_by_hand_is_found_by_its_container(
    kube: FakeKube, kube_env: Callable[..., str], run_task: Callable[..., TaskRun]
) -> None:
    kube.create(node("gpu-worker-0", gpu=True, taints=[GPU_TAINT]))
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "storage"}})
    custom = daemonset([CRITICAL_ADDONS], desired=0)
    custom["metadata"].update(name="cinder-node", namespace="storage")
    custom["spec"]["template"]["spec"]["containers"] = [
        {"name": "cinder-csi-plugin", "image": "registry.k8s.io/provider-os/cinder-csi-plugin"}
    ]
    kube.create(custom)

    result = run_task(
        "gpu.fix-csi", "--env", kube_env(**{"cluster.driver": "existing"}), "--dry-run"
    )

    assert result.code == 0, result.err
    assert "would patch DaemonSet storage/cinder-node" in result.out
    assert kube.mutating_requests() == []
