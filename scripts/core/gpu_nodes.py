"""How Kubernetes tells a GPU node from the others, without node-group labels or taints.

Magnum's capi-helm driver cannot label or taint a node group (magnum-capi-helm passes
only name, flavor, count and autoscaling bounds to Helm; released Magnum refuses
node_labels/node_taints), so the labels the NVIDIA GPU operator's own node-feature
discovery puts on every node with an NVIDIA PCI device are what tells the nodes apart.
Read from NVIDIA/gpu-operator at tag v26.7.0:

- deployments/gpu-operator/values.yaml lines 639-649: the bundled node-feature-discovery
  labels PCI devices by vendor (deviceLabelFields: [vendor]), so a node with an NVIDIA
  device (vendor id 10de) gets feature.node.kubernetes.io/pci-10de.present=true;
- controllers/state_manager.go lines 170-174 (gpuNodeLabels) and
  controllers/nodelabeling_controller.go lines 237-251 (reconcileCommonGPULabel): the
  operator then sets nvidia.com/gpu.present=true, and "false" once the GPUs are gone.

Either label alone marks a GPU node: NFD's comes first, the operator's stays if NFD
is disabled. NotIn also matches nodes that have neither label.
"""

from __future__ import annotations

from typing import Any

GPU_PRESENT = "nvidia.com/gpu.present"
NVIDIA_PCI_PRESENT = "feature.node.kubernetes.io/pci-10de.present"
GPU_RESOURCE = "nvidia.com/gpu"
# The taint GPU nodes commonly carry, and the one the tool gives its GPU node group
# (settings.GpuNodes.as_node_group) where the driver applies taints.
GPU_TAINT = ("nvidia.com/gpu", "present", "NoSchedule")


def not_a_gpu_node() -> dict[str, Any]:
    """One NodeSelectorTerm matching nodes that carry neither GPU label as "true".

    Both expressions sit in the same term: the terms of a required node affinity are
    ORed, the expressions of a term ANDed.
    """
    return {
        "matchExpressions": [
            {"key": GPU_PRESENT, "operator": "NotIn", "values": ["true"]},
            {"key": NVIDIA_PCI_PRESENT, "operator": "NotIn", "values": ["true"]},
        ]
    }


def avoid_gpu_nodes() -> dict[str, Any]:
    """A pod's affinity.nodeAffinity that keeps it off GPU nodes."""
    return {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [not_a_gpu_node()]}
    }
