"""gpu.status against the emulator: nodes, operator pods, driver version; read-only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scripts.gpu.status import driver_version
from tests.conftest import TaskRun
from tests.gpu.conftest import GPU_TAINT, node
from tests.support.fakekube import FakeKube


def pod(name: str, namespace: str, *, phase: str, waiting: str = "", restarts: int = 0) -> Any:
    state: dict[str, Any] = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "nodeName": "gpu-0",
            "containers": [{"name": "main", "image": f"nvcr.io/nvidia/{name.split('-')[1]}:1"}],
        },
        "status": {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": "main",
                    "ready": not waiting,
                    "restartCount": restarts,
                    "image": "x",
                    "imageID": "",
                    "state": state,
                }
            ],
        },
    }


def test_reports_gpu_nodes_pods_and_driver(
    kube: FakeKube, kube_env: Callable[..., str], run_task: Callable[..., TaskRun]
) -> None:
    kube.create(node("worker-0"))
    gpu = node(
        "gpu-0",
        gpu=True,
        gpus=2,
        taints=[GPU_TAINT],
        labels={
            "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB",
            "nvidia.com/cuda.driver.major": "580",
            "nvidia.com/cuda.driver.minor": "95",
            "nvidia.com/cuda.driver.rev": "05",
        },
    )
    gpu["status"]["allocatable"]["nvidia.com/gpu"] = "1"  # one GPU already taken
    kube.create(gpu)
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gpu-operator"}})
    kube.create(pod("nvidia-driver-daemonset-abcde", "gpu-operator", phase="Running"))
    kube.create(
        pod(
            "nvidia-operator-validator-xyz",
            "gpu-operator",
            phase="Pending",
            waiting="CrashLoopBackOff",
            restarts=7,
        )
    )
    kube.add_resource("nvidia.com/v1/clusterpolicies", kind="ClusterPolicy", namespaced=False)
    kube.create(
        {
            "apiVersion": "nvidia.com/v1",
            "kind": "ClusterPolicy",
            "metadata": {"name": "cluster-policy"},
            "status": {"state": "notReady"},
        }
    )
    kube.clear_requests()

    result = run_task("gpu.status", "--env", kube_env())

    assert result.code == 0, result.err
    out = result.out
    assert "ClusterPolicy: cluster-policy: notReady" in out
    assert "GPU nodes (1 of 2)" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("gpu-0"))
    assert row.split()[:6] == ["gpu-0", "yes", "2", "1", "NVIDIA-A100-SXM4-40GB", "580.95.05"]
    assert "driver version seen on nodes: 580.95.05" in out
    assert "driver image: nvcr.io/nvidia/driver:1" in out
    validator = next(line for line in out.splitlines() if "nvidia-operator-validator" in line)
    assert validator.split()[1:4] == ["CrashLoopBackOff", "0/1", "7"]
    assert "1 GPU(s) allocatable" in out
    assert kube.mutating_requests() == []


def test_without_gpu_nodes_or_operator_says_what_to_do(
    kube: FakeKube, kube_env: Callable[..., str], run_task: Callable[..., TaskRun]
) -> None:
    kube.create(node("worker-0"))

    result = run_task("gpu.status", "--env", kube_env())

    assert result.code == 0, result.err
    assert "GPU nodes (0 of 1)" in result.out
    assert "gpu-worker node group may be scaled to zero" in result.out
    assert "invoke gpu.deploy --env gpu" in result.out
    assert "driver version seen on nodes: none reported yet" in result.out


def test_custom_driver_mismatch_is_warned(
    kube: FakeKube, kube_env: Callable[..., str], run_task: Callable[..., TaskRun]
) -> None:
    kube.create(node("gpu-0", gpu=True, labels={"nvidia.com/cuda.driver-version.full": "570.1.2"}))

    result = run_task("gpu.status", "--env", kube_env(**{"gpu.driver.custom": True}))

    assert result.code == 0, result.err
    assert "nodes report driver 570.1.2 but gpu.driver.version is 580.95.05" in result.err


def test_unreachable_cluster_is_an_operation_failure(
    kube_env: Callable[..., str], run_task: Callable[..., TaskRun], tmp_path: Any
) -> None:
    missing = tmp_path / "nowhere.kubeconfig"

    result = run_task("gpu.status", "--env", kube_env(**{"cluster.kubeconfig": str(missing)}))

    assert result.code == 1
    assert f"kubeconfig {missing} does not exist" in result.err


def test_driver_version_from_feature_discovery_labels() -> None:
    assert driver_version({"nvidia.com/cuda.driver-version.full": "580.95.05"}) == "580.95.05"
    assert (
        driver_version({"nvidia.com/cuda.driver.major": "535", "nvidia.com/cuda.driver.minor": "1"})
        == "535.1"
    )
    assert driver_version({"nvidia.com/cuda.driver.major": "535"}) == ""
