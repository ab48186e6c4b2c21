"""Fixtures of the hub tests: a recording helm on JHUB_HELM and a cluster with a running hub."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.fakekube import FakeKube

FLOATING_IP = "192.0.2.10"


def ready_pod(name: str, component: str, release: str = "jhub") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "jhub",
            "labels": {"app": "jupyterhub", "component": component, "release": release},
        },
        "spec": {"containers": [{"name": component, "image": f"{component}:test"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def running_hub(kube: FakeKube, address: str = FLOATING_IP) -> None:
    """What the chart's controllers would have produced: ready pods and a load balancer.

    The emulator runs no controllers, and a real `helm install` cannot run against it, so
    the result of an install is seeded here.
    """
    kube.create(ready_pod("hub-7c9d", "hub"))
    kube.create(ready_pod("proxy-5f6b", "proxy"))
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "proxy-public", "namespace": "jhub"},
            "spec": {"type": "LoadBalancer", "ports": [{"name": "https", "port": 443}]},
            "status": {"loadBalancer": {"ingress": [{"ip": address}]}},
        }
    )


def use_kubeconfig(kube: FakeKube, config_dir: Path, env: str) -> None:
    """Put the emulator's kubeconfig where cluster.kubeconfig writes it for an environment."""
    shutil.copy(kube.kubeconfig_path, config_dir / f"{env}.kubeconfig")
    (config_dir / f"{env}.kubeconfig").chmod(0o600)


@pytest.fixture(autouse=True)
def _rehearsal(documentation_values: None) -> None:
    """These tests rehearse on the fakes with the example's documentation values."""
