"""Shared by the hub.volumes and hub.volumes-adopt tests: the environment and Cinder
volumes as an earlier cluster's Cinder CSI driver left them (see test_volumes_adopt.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.hub import environments
from tests.hub.conftest import use_kubeconfig
from tests.support.fakecloud import FakeCloud
from tests.support.fakekube import FakeKube

ENV = "volenv"
OLD = "3f2a-old-cluster"


@pytest.fixture
def vol_env(
    fake_cloud: FakeCloud,
    kube: FakeKube,
    config_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_cloud.clouds_yaml(tmp_path, monkeypatch)
    config = environments.example()
    config["cloud"] = "fake"
    environments.write(config_dir, ENV, config)
    use_kubeconfig(kube, config_dir, ENV)
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jhub"}})


def old_volume(
    cloud: FakeCloud,
    user: str,
    *,
    cluster: str = OLD,
    size: int = 10,
    namespace: str = "jhub",
    **kwargs: Any,
) -> dict[str, Any]:
    uid = f"{abs(hash((user, cluster))):x}"[:8]
    return cloud.add_volume(
        f"pvc-{uid}",
        size=size,
        metadata={
            "cinder.csi.openstack.org/cluster": cluster,
            "csi.storage.k8s.io/pvc/name": f"claim-{user}",
            "csi.storage.k8s.io/pvc/namespace": namespace,
            "csi.storage.k8s.io/pv/name": f"pvc-{uid}",
        },
        **kwargs,
    )


def new_claim(kube: FakeKube, user: str, volume: str = "pvc-new") -> None:
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"claim-{user}", "namespace": "jhub"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "10Gi"}},
                "storageClassName": "cinder-storage",
                "volumeName": volume,
            },
        }
    )


def cinder_writes(cloud: FakeCloud) -> list[Any]:
    return [r for r in cloud.mutating_calls() if r.service != "keystone"]
