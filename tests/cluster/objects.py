"""Kubernetes objects the cluster tests seed into the emulator."""

from __future__ import annotations

from typing import Any

MAGNUM_COMMAND = [
    "./cluster-autoscaler",
    "--cloud-provider=magnum",
    "--cloud-config=/config/cloud-config",
    "--nodes=1:5:default-worker",
    "--scale-down-unneeded-time=10m",
    "--v=2",
]


def autoscaler(command: list[str], field: str = "command") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "cluster-autoscaler", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"app": "cluster-autoscaler"}},
            "template": {
                "metadata": {"labels": {"app": "cluster-autoscaler"}},
                "spec": {
                    "containers": [
                        {"name": "cluster-autoscaler", "image": "ca:v1.27.3", field: command}
                    ]
                },
            },
        },
    }
