"""What each Magnum driver puts on a cluster before this tool runs, for the emulator.

The names are written out as the upstream manifests have them:

* heat (openstack/magnum stable/2025.1 kubernetes fragments): the Cinder CSI node plugin
  kube-system/csi-cinder-nodeplugin, tolerating every taint (enable-cinder-csi.sh), the
  cluster autoscaler kube-system/cluster-autoscaler knowing only default-worker
  (enable-auto-scaling.sh), no StorageClass.
* capi-helm (azimuth-cloud/capi-helm-charts cluster-addons with magnum-capi-helm 1.4.0):
  openstack-system/openstack-cinder-csi-nodeplugin tolerating every taint, a default
  StorageClass named after the cloud's default volume type, and the NVIDIA GPU operator
  as release gpu-operator/nvidia-gpu-operator.
* existing: a cluster made by hand, with the plugin under the heat name.

Shared by tests/whole/test_deploy_drivers.py and tests/support/faulty_deploy.py.
"""

from __future__ import annotations

from typing import Any

from tests.hub.conftest import running_hub
from tests.support.fakekube import FakeKube

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
EVERYTHING = [{"operator": "Exists"}]


def node(name: str, *, taints: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux"}},
        "spec": {"taints": taints or []},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def node_plugin(name: str, namespace: str, nodes: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "generation": 1},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "node-driver-registrar", "image": "csi-node-driver-registrar"},
                        {"name": "cinder-csi-plugin", "image": "cinder-csi-plugin"},
                    ],
                    "tolerations": EVERYTHING,
                },
            },
        },
        "status": {
            "currentNumberScheduled": nodes,
            "desiredNumberScheduled": nodes,
            "numberMisscheduled": 0,
            "numberReady": nodes,
            "observedGeneration": 1,
        },
    }


def heat_autoscaler() -> dict[str, Any]:
    # enable-auto-scaling.sh: the heat driver writes only default-worker's bounds.
    command = [
        "./cluster-autoscaler",
        "--alsologtostderr",
        "--cloud-provider=magnum",
        "--cluster-name=4b2f7c1e-0000-4000-8000-000000000001",
        "--cloud-config=/config/cloud-config",
        "--nodes=1:5:default-worker",
        "--scale-down-unneeded-time=10m",
    ]
    labels = {"app": "cluster-autoscaler"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "cluster-autoscaler", "namespace": "kube-system", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "cluster-autoscaler", "image": "autoscaler", "command": command}
                    ]
                },
            },
        },
        "status": {"availableReplicas": 1, "replicas": 1},
    }


def seed(kube: FakeKube, driver: str) -> None:
    nodes = [node("master-0"), node("worker-0"), node("gpu-worker-0", taints=[GPU_TAINT])]
    for item in nodes:
        kube.create(item)
    kube.create(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "CSIDriver",
            "metadata": {"name": "cinder.csi.openstack.org"},
            "spec": {"attachRequired": True},
        }
    )
    if driver == "capi-helm":
        kube.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "openstack-system"}}
        )
        kube.create(node_plugin("openstack-cinder-csi-nodeplugin", "openstack-system", 3))
        kube.create(
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {
                    "name": "default",
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                "provisioner": "cinder.csi.openstack.org",
                "parameters": {"availability": "nova", "type": "__DEFAULT__"},
                "reclaimPolicy": "Delete",
                "allowVolumeExpansion": True,
                "volumeBindingMode": "WaitForFirstConsumer",
            }
        )
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gpu-operator"}})
        kube.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {
                    "name": "gpu-operator",
                    "annotations": {
                        "meta.helm.sh/release-name": "nvidia-gpu-operator",
                        "meta.helm.sh/release-namespace": "gpu-operator",
                    },
                },
                "rules": [],
            }
        )
    else:
        kube.create(node_plugin("csi-cinder-nodeplugin", "kube-system", 3))
    if driver == "heat":
        kube.create(heat_autoscaler())
    running_hub(kube, address="203.0.113.7")
