"""GPU-area fixtures: an environment file built from the example, pointed at the emulator."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.support.fakekube import FakeKube

EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
WriteEnv = Callable[..., str]


def set_path(config: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = config
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


@pytest.fixture
def write_env(config_dir: Path) -> WriteEnv:
    """write_env(name="gpu", **{"gpu.driver.registry": "..."}) -> the environment name.

    Keys are dotted config paths (pass them with ** because of the dots).
    """

    def write(name: str = "gpu", **changes: Any) -> str:
        config = copy.deepcopy(EXAMPLE)
        for dotted, value in changes.items():
            set_path(config, dotted, value)
        (config_dir / f"{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        return name

    return write


@pytest.fixture
def kube_env(write_env: WriteEnv, kube: FakeKube) -> Callable[..., str]:
    """An environment whose kubeconfig is the emulator's; more config changes as kwargs."""

    def write(name: str = "gpu", **changes: Any) -> str:
        return write_env(name, **{"cluster.kubeconfig": str(kube.kubeconfig_path), **changes})

    return write


def node(
    name: str,
    *,
    gpu: bool = False,
    taints: list[dict[str, str]] | None = None,
    labels: dict[str, str] | None = None,
    os_image: str = "Fedora CoreOS 42.20250901.3.0",
    gpus: int = 1,
) -> dict[str, Any]:
    """A Node as the kubelet and GPU feature discovery would have filled it."""
    all_labels = {"kubernetes.io/os": "linux", "kubernetes.io/hostname": name, **(labels or {})}
    resources = {"cpu": "4", "memory": "16Gi", "pods": "110"}
    if gpu:
        all_labels["nvidia.com/gpu.present"] = "true"
        resources = {**resources, "nvidia.com/gpu": str(gpus)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all_labels},
        "spec": {"taints": taints or []},
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {
                "osImage": os_image,
                "kernelVersion": "6.15.9-201.fc42.x86_64",
                "architecture": "amd64",
                "bootID": "",
                "containerRuntimeVersion": "containerd://1.7.0",
                "kubeProxyVersion": "",
                "kubeletVersion": "v1.32.4",
                "machineID": "",
                "operatingSystem": "linux",
                "systemUUID": "",
            },
        },
    }


GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


@pytest.fixture(autouse=True)
def _rehearsal(documentation_values: None) -> None:
    """These tests rehearse on the fakes with the example's documentation values."""
