"""`invoke hub.volumes` against the fake cloud's Cinder and the Kubernetes emulator."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import TaskRun
from tests.hub.volume_helpers import (
    ENV,
    cinder_writes,
    old_volume,
    vol_env,  # noqa: F401 - the fixture
)
from tests.support.fakecloud import FakeCloud
from tests.support.fakekube import FakeKube

Run = Callable[..., TaskRun]


def current_storage(
    cloud: FakeCloud, kube: FakeKube, user: str, *, reclaim: str = "Retain", server: str = ""
) -> str:
    """A claim, its PV and its Cinder volume, as KubeSpawner and the CSI driver make them."""
    vol = old_volume(cloud, user, cluster="kubernetes", server_id=server or None)
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": vol["name"]},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": reclaim,
                "storageClassName": "cinder-storage",
                "csi": {"driver": "cinder.csi.openstack.org", "volumeHandle": vol["id"]},
                "claimRef": {"namespace": "jhub", "name": f"claim-{user}"},
            },
            "status": {"phase": "Bound"},
        }
    )
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": f"claim-{user}",
                "namespace": "jhub",
                "annotations": {"hub.jupyter.org/username": user},
            },
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "10Gi"}},
                "storageClassName": "cinder-storage",
                "volumeName": vol["name"],
            },
            "status": {"phase": "Bound"},
        }
    )
    return str(vol["id"])


def row(out: str, word: str) -> list[str]:
    (line,) = [line for line in out.splitlines() if f" {word} " in f" {line} "]
    return line.split()


@pytest.mark.usefixtures("vol_env")
def test_lists_current_and_earlier_volumes_and_changes_nothing(
    run_task: Run, fake_cloud: FakeCloud, kube: FakeKube
) -> None:
    server = fake_cloud.add_server("node-1")
    alice = current_storage(fake_cloud, kube, "alice", server=server["id"])
    bob = old_volume(fake_cloud, "bob", cluster="old-one", size=5)
    kube.clear_requests()
    result = run_task("hub.volumes", "--env", ENV)
    assert result.code == 0, result.err
    assert row(result.out, alice) == [
        "alice",
        "claim-alice",
        kube.objects("persistentvolumes")[0]["metadata"]["name"],
        alice,
        "10Gi",
        "in-use",
        "node-1",
        "Retain",
    ]
    assert row(result.out, bob["id"]) == [
        "bob",
        "(claim-bob)",
        "(earlier",
        "cluster",
        "old-one)",
        bob["id"],
        "5Gi",
        "available",
        "-",
    ]
    assert "1 volume(s) from earlier clusters are unattached" in result.out
    assert "reclaim policy Delete" not in result.out + result.err
    assert kube.mutating_requests() == []
    assert cinder_writes(fake_cloud) == []


@pytest.mark.usefixtures("vol_env")
def test_warns_about_reclaim_policy_delete(
    run_task: Run, fake_cloud: FakeCloud, kube: FakeKube
) -> None:
    current_storage(fake_cloud, kube, "alice", reclaim="Delete")
    result = run_task("hub.volumes", "--env", ENV)
    assert result.code == 0, result.err
    text = result.out + result.err
    assert "reclaim policy Delete on pvc-" in text
    assert "persistentVolumeReclaimPolicy" in text
