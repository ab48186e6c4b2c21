"""`invoke hub.volumes-adopt` against the fake cloud's Cinder and the Kubernetes emulator.

The volumes are seeded as the Cinder CSI driver of an earlier cluster left them: metadata
``cinder.csi.openstack.org/cluster`` and the csi-provisioner's ``csi.storage.k8s.io/*`` keys
(kubernetes/cloud-provider-openstack v1.35.0, see scripts/hub/volumes_adopt.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TaskRun
from tests.hub import environments
from tests.hub.conftest import use_kubeconfig
from tests.support.fakecloud import FakeCloud
from tests.support.fakekube import FakeKube

Run = Callable[..., TaskRun]
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


@pytest.mark.usefixtures("vol_env")
def test_binds_an_old_volume_to_the_users_claim_and_a_second_run_changes_nothing(
    run_task: Run, fake_cloud: FakeCloud, kube: FakeKube
) -> None:
    vol = old_volume(fake_cloud, "alice", size=20)
    result = run_task("hub.volumes-adopt", "--env", ENV, "--yes")
    assert result.code == 0, result.err
    pv = kube.get("persistentvolumes", vol["name"])
    assert pv is not None
    assert pv["spec"]["csi"] == {
        "driver": "cinder.csi.openstack.org",
        "volumeHandle": vol["id"],
        "fsType": "ext4",
    }
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["capacity"] == {"storage": "20Gi"}
    assert pv["spec"]["storageClassName"] == "cinder-storage"
    ref = pv["spec"]["claimRef"]
    assert (ref["namespace"], ref["name"]) == ("jhub", "claim-alice")
    claim = kube.get("persistentvolumeclaims", "claim-alice", "jhub")
    assert claim is not None
    assert claim["spec"]["volumeName"] == vol["name"]
    assert claim["spec"]["storageClassName"] == "cinder-storage"
    assert claim["metadata"]["annotations"]["hub.jupyter.org/username"] == "alice"
    assert "alice" in result.out
    assert cinder_writes(fake_cloud) == []

    kube.clear_requests()
    second = run_task("hub.volumes-adopt", "--env", ENV, "--yes")
    assert second.code == 0, second.err
    assert kube.mutating_requests() == []
    assert cinder_writes(fake_cloud) == []
    assert "nothing to adopt" in second.out


@pytest.mark.usefixtures("vol_env")
def test_dry_run_changes_nothing(run_task: Run, fake_cloud: FakeCloud, kube: FakeKube) -> None:
    old_volume(fake_cloud, "alice")
    kube.clear_requests()
    result = run_task("hub.volumes-adopt", "--env", ENV, "--dry-run")
    assert result.code == 0, result.err
    assert kube.mutating_requests() == []
    assert cinder_writes(fake_cloud) == []
    assert "would create PersistentVolume" in result.out
    assert "would create PersistentVolumeClaim jhub/claim-alice" in result.out
    assert kube.objects("persistentvolumes") == []


@pytest.mark.usefixtures("vol_env")
def test_refuses_attached_in_use_and_already_claimed_volumes(
    run_task: Run, fake_cloud: FakeCloud, kube: FakeKube
) -> None:
    server = fake_cloud.add_server("old-node-1")
    old_volume(fake_cloud, "bob", server_id=server["id"])
    old_volume(fake_cloud, "carol", status="maintenance")
    old_volume(fake_cloud, "dave")
    new_claim(kube, "dave")
    good = old_volume(fake_cloud, "erin")
    result = run_task("hub.volumes-adopt", "--env", ENV, "--yes")
    assert result.code == 0, result.err
    assert f"attached to server {server['id']}" in result.out
    assert "status maintenance" in result.out
    assert "claim-dave already exists" in result.out
    created = [(r.method, r.path) for r in kube.mutating_requests() if r.method in {"POST", "PUT"}]
    assert created == [
        ("POST", "/api/v1/persistentvolumes"),
        ("POST", "/api/v1/namespaces/jhub/persistentvolumeclaims"),
    ]
    dave = kube.get("persistentvolumeclaims", "claim-dave", "jhub")
    assert dave is not None and dave["spec"]["volumeName"] == "pvc-new"
    assert [pv["spec"]["csi"]["volumeHandle"] for pv in kube.objects("persistentvolumes")] == [
        good["id"]
    ]


@pytest.mark.usefixtures("vol_env")
def test_two_earlier_clusters_need_from_cluster(
    run_task: Run, fake_cloud: FakeCloud, kube: FakeKube
) -> None:
    old_volume(fake_cloud, "alice", cluster="first")
    second = old_volume(fake_cloud, "alice", cluster="second")
    old_volume(fake_cloud, "bob", namespace="other-hub")
    refused = run_task("hub.volumes-adopt", "--env", ENV, "--yes")
    assert refused.code == 0, refused.err
    assert "choose one with --from-cluster" in refused.out
    assert kube.objects("persistentvolumes") == []

    chosen = run_task("hub.volumes-adopt", "--env", ENV, "--yes", "--from-cluster", "second")
    assert chosen.code == 0, chosen.err
    (pv,) = kube.objects("persistentvolumes")
    assert pv["spec"]["csi"]["volumeHandle"] == second["id"]
    assert kube.get("persistentvolumeclaims", "claim-bob", "jhub") is None


@pytest.mark.usefixtures("vol_env")
def test_an_interrupted_run_resumes_with_the_missing_claim(
    run_task: Run, fake_cloud: FakeCloud, kube: FakeKube
) -> None:
    vol = old_volume(fake_cloud, "alice")
    first = run_task("hub.volumes-adopt", "--env", ENV, "--yes")
    assert first.code == 0, first.err
    kube.delete("persistentvolumeclaims", "claim-alice", "jhub")  # as if cut off before it
    kube.clear_requests()
    again = run_task("hub.volumes-adopt", "--env", ENV, "--yes")
    assert again.code == 0, again.err
    assert [(r.method, r.path) for r in kube.mutating_requests()] == [
        ("POST", "/api/v1/namespaces/jhub/persistentvolumeclaims")
    ]
    claim = kube.get("persistentvolumeclaims", "claim-alice", "jhub")
    assert claim is not None and claim["spec"]["volumeName"] == vol["name"]
    assert len(kube.objects("persistentvolumes")) == 1
