"""What the GPU side of the cluster looks like: nodes, operator pods, driver version.

Replaces the seed's `kubectl get all -n gpu-operator-resources` and reading node
descriptions by hand. Read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import known_objects, kube
from ..core.console import Console
from ..core.loading import Environment

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRESENT_LABEL = known_objects.GPU_PRESENT_LABEL
PRODUCT_LABEL = known_objects.GPU_PRODUCT_LABEL
# GPU feature discovery labels (gpu-operator v26.7.0 internal/nodeinfo/attributes.go
# NodeLabelCudaVersionMajor = nvidia.com/cuda.driver.major); newer releases add the full
# version in one label.
DRIVER_FULL_LABEL = "nvidia.com/cuda.driver-version.full"
DRIVER_PART_LABELS = ("nvidia.com/cuda.driver.major", "nvidia.com/cuda.driver.minor")
DRIVER_REV_LABEL = "nvidia.com/cuda.driver.rev"
# Where operator releases before v1.9 (the seed's) put the driver and plugin pods.
LEGACY_NAMESPACE = known_objects.GPU_OPERATOR_LEGACY_NAMESPACE
CLUSTER_POLICY = ("nvidia.com", "v1", "clusterpolicies")


@dataclass(frozen=True)
class GpuNode:
    name: str
    ready: bool
    capacity: int
    allocatable: int
    product: str
    driver: str
    os_image: str


@dataclass(frozen=True)
class OperatorPod:
    namespace: str
    name: str
    state: str
    ready: str
    restarts: int
    node: str
    image: str


def _count(resources: dict[str, Any] | None) -> int:
    try:
        return int(str((resources or {}).get(GPU_RESOURCE, "0")))
    except ValueError:
        return 0


def driver_version(labels: dict[str, str]) -> str:
    """The driver a node reports through GPU feature discovery, '' when none yet."""
    if labels.get(DRIVER_FULL_LABEL):
        return labels[DRIVER_FULL_LABEL]
    parts = [labels.get(key, "") for key in DRIVER_PART_LABELS]
    if not all(parts):
        return ""
    rev = labels.get(DRIVER_REV_LABEL, "")
    return ".".join([*parts, rev] if rev else parts)


def is_gpu_node(node: dict[str, Any]) -> bool:
    labels = node["metadata"].get("labels") or {}
    status = node.get("status") or {}
    taints = (node.get("spec") or {}).get("taints") or []
    return (
        _count(status.get("capacity")) > 0
        or labels.get(GPU_PRESENT_LABEL) == "true"
        or any(t.get("key") == GPU_RESOURCE for t in taints)
    )


def gpu_node(node: dict[str, Any]) -> GpuNode:
    labels = node["metadata"].get("labels") or {}
    status = node.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    return GpuNode(
        name=node["metadata"]["name"],
        ready=conditions.get("Ready") == "True",
        capacity=_count(status.get("capacity")),
        allocatable=_count(status.get("allocatable")),
        product=labels.get(PRODUCT_LABEL, ""),
        driver=driver_version(labels),
        os_image=str((status.get("nodeInfo") or {}).get("osImage") or ""),
    )


def operator_pod(pod: dict[str, Any]) -> OperatorPod:
    status = pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    state = str(status.get("phase") or "Pending")
    for container in containers:
        for condition in ("waiting", "terminated"):
            reason = ((container.get("state") or {}).get(condition) or {}).get("reason")
            if reason and reason != "Completed":
                state = reason
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        state = "Terminating"
    ready = sum(1 for c in containers if c.get("ready"))
    specs = (pod.get("spec") or {}).get("containers") or []
    return OperatorPod(
        namespace=pod["metadata"]["namespace"],
        name=pod["metadata"]["name"],
        state=state,
        ready=f"{ready}/{len(specs) or len(containers)}",
        restarts=sum(int(c.get("restartCount") or 0) for c in containers),
        node=str((pod.get("spec") or {}).get("nodeName") or "-"),
        image=str(specs[0].get("image", "")) if specs else "",
    )


def table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def status(environment: Environment, ui: Console) -> None:
    from kubernetes import client

    settings = environment.settings
    api = kube.api_client(environment.kubeconfig)
    core = client.CoreV1Api(api)

    nodes = [
        api.sanitize_for_serialization(node)
        for node in kube.call("list nodes", core.list_node).items
    ]
    gpus = [gpu_node(node) for node in nodes if is_gpu_node(node)]
    ui.heading(f"GPU nodes ({len(gpus)} of {len(nodes)})")
    if gpus:
        rows = [["NODE", "READY", "CAPACITY", "ALLOCATABLE", "PRODUCT", "DRIVER", "OS"]]
        rows += [
            [
                g.name,
                "yes" if g.ready else "no",
                str(g.capacity),
                str(g.allocatable),
                g.product or "-",
                g.driver or "-",
                g.os_image or "-",
            ]
            for g in gpus
        ]
        for line in table(rows):
            ui.print(f"  {line}")
    else:
        ui.print(
            f"  none; the {settings.cluster.gpu.name} node group may be scaled to zero until a "
            "GPU server is requested"
        )

    pods = _operator_pods(api, core, settings.gpu.namespace)
    namespaces = sorted({p.namespace for p in pods}) or [settings.gpu.namespace]
    ui.heading(f"Operator pods in {', '.join(namespaces)}")
    if pods:
        rows = [["POD", "STATE", "READY", "RESTARTS", "NODE"]]
        rows += [[p.name, p.state, p.ready, str(p.restarts), p.node] for p in pods]
        for line in table(rows):
            ui.print(f"  {line}")
    else:
        ui.print(f"  none; install the operator with `invoke gpu.deploy --env {environment.name}`")

    policy = _cluster_policy_state(api)
    if policy is not None:
        ui.print(f"ClusterPolicy: {policy}")

    _driver_summary(environment, gpus, pods, ui)


def _operator_pods(api: ApiClient, core: Any, namespace: str) -> list[OperatorPod]:
    found: list[OperatorPod] = []
    for where in sorted({namespace, LEGACY_NAMESPACE}):
        found += [operator_pod(pod) for pod in _pods(api, core, where)]
    return sorted(found, key=lambda p: (p.namespace, p.name))


def _pods(api: ApiClient, core: Any, namespace: str) -> list[dict[str, Any]]:
    listed = kube.call(f"list pods in {namespace}", lambda: core.list_namespaced_pod(namespace))
    return [api.sanitize_for_serialization(pod) for pod in listed.items]


def _cluster_policy_state(api: ApiClient) -> str | None:
    """The operator's overall state (ready / notReady), None when it has no ClusterPolicy."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    custom = client.CustomObjectsApi(api)
    group, version, plural = CLUSTER_POLICY
    try:
        listed = kube.read_or_none(
            "list ClusterPolicies",
            lambda: custom.list_cluster_custom_object(group, version, plural),
        )
    except ApiException:  # pragma: no cover - read_or_none converts these
        return None
    items = (listed or {}).get("items") or []
    if not items:
        return None
    states = [
        f"{item['metadata']['name']}: {(item.get('status') or {}).get('state', 'unknown')}"
        for item in items
    ]
    return ", ".join(states)


def _driver_summary(
    environment: Environment, gpus: list[GpuNode], pods: list[OperatorPod], ui: Console
) -> None:
    driver = environment.settings.gpu.driver
    seen = sorted({g.driver for g in gpus if g.driver})
    driver_pods = [p for p in pods if "driver" in p.name and "manager" not in p.name]
    images = sorted({p.image for p in driver_pods if p.image})
    lines = [f"driver version seen on nodes: {', '.join(seen) if seen else 'none reported yet'}"]
    if images:
        lines.append(f"driver image: {', '.join(images)}")
    if driver.custom and seen and driver.version not in seen:
        ui.warn(
            f"nodes report driver {', '.join(seen)} but gpu.driver.version is {driver.version}; "
            f"the driver pods restart only when deleted (OnDelete): "
            f"`kubectl delete pod -n {environment.settings.gpu.namespace} -l "
            f"{known_objects.GPU_DRIVER_PODS}`"
        )
    not_ready = [p for p in pods if p.state not in {"Running", "Succeeded"}]
    if not_ready:
        lines.append(
            "not running: "
            + ", ".join(f"{p.name} ({p.state})" for p in not_ready)
            + f" — see `kubectl describe pod -n {not_ready[0].namespace} {not_ready[0].name}`"
        )
    allocatable = sum(g.allocatable for g in gpus)
    lines.append(f"{allocatable} GPU(s) allocatable for user servers")
    for line in lines:
        ui.print(line)
