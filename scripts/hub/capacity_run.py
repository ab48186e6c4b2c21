"""hub.capacity's procedure: the reads that feed the arithmetic in capacity.py.

The node groups' sizes come from the Nova flavors named in the config (a Magnum
cluster), or from the Kubernetes nodes' allocatable (driver `existing`, where the
flavors are not ours to know). The task glue is capacity_tasks.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from ..core.console import Console
    from ..core.loading import Environment
    from ..core.settings import Settings, Taint
    from .capacity import Accepts, NodeShape, Plan

GPU_TAINT = "nvidia.com/gpu"
NODE_GROUP_LABEL = "magnum.openstack.org/nodegroup"
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


def run(
    environment: Environment,
    ui: Console,
    *,
    users: int = 0,
    ready_per: int = 10,
) -> Plan:
    from ..core import cloud, kube
    from ..core.user_pods import shapes
    from . import capacity as arithmetic

    settings = environment.settings
    warnings: list[str] = []
    if settings.cluster.driver == "existing":
        nodes = node_shapes(kube.api_client(environment.kubeconfig))
    else:
        nodes = flavor_shapes(settings, cloud.connect(settings), warnings)
    placeholders = settings.hub.placeholders
    chart_placeholders = placeholders.replicas if placeholders.enabled else 0
    needs = [
        arithmetic.ProfileNeeds.from_pod(
            pod, chart_placeholders if pod.default else pod.placeholders
        )
        for pod in shapes(settings)
    ]
    result = arithmetic.plan(needs, nodes, users=users, ready_per=ready_per)
    result.warnings[:0] = warnings
    ui.heading(f"Capacity of environment {environment.name}")
    for line in arithmetic.report(result, nodes, users=users, ready_per=ready_per, needs=needs):
        ui.print(line)
    if result.placeholders is not None:
        configured = placeholders.replicas if placeholders.enabled else 0
        ui.print(f"  configured: hub.placeholders.replicas {configured}")
    ui.print("  (the hub, proxy and monitoring pods need room on one node as well)")
    for warning in result.warnings:
        ui.warn(warning)
    return result


# ------------------------------------------------------------------ reading


def flavor_shapes(settings: Settings, conn: Any, warnings: list[str]) -> list[NodeShape]:
    from . import capacity as arithmetic

    cluster = settings.cluster
    # (group, flavor, what may run there, bound, config key of the bound, of the flavor)
    groups: list[tuple[str, str, Accepts, int, str, str]] = [
        (
            "default-worker",
            cluster.worker_flavor,
            "all",
            cluster.max_workers,
            "cluster.max_workers",
            "cluster.worker_flavor",
        )
    ]
    for index, group in enumerate(cluster.node_groups):
        where = f"cluster.node_groups[{index}]"
        groups.append(
            (
                group.name,
                group.flavor,
                _accepts(group.taints),
                group.max_nodes,
                f"{where}.max_nodes",
                f"{where}.flavor",
            )
        )
    if cluster.gpu.enabled:
        gpu = cluster.gpu
        groups.append(
            (
                gpu.name,
                gpu.flavor,
                "gpu",
                gpu.max_nodes,
                "cluster.gpu.max_nodes",
                "cluster.gpu.flavor",
            )
        )
    shapes = []
    for name, flavor_name, accepts, max_nodes, max_key, flavor_key in groups:
        flavor = _flavor(conn, settings, flavor_name, flavor_key)
        gpus = arithmetic.gpus_in_extra_specs(dict(flavor.extra_specs or {}))
        if accepts == "gpu" and not gpus:
            warnings.append(
                f"flavor {flavor_name} ({flavor_key}) names no GPU in its extra specs "
                "(pci_passthrough:alias, resources:PGPU or resources:VGPU); counted as 1 GPU"
            )
            gpus = 1
        shapes.append(
            arithmetic.from_flavor(
                name,
                flavor_name,
                vcpus=int(flavor.vcpus),
                ram_mib=int(flavor.ram),
                gpus=gpus,
                accepts=accepts,
                max_nodes=max_nodes,
                max_key=max_key,
            )
        )
    return shapes


def _flavor(conn: Any, settings: Settings, name: str, key: str) -> Any:
    from ..core import cloud
    from ..core.errors import OperationFailed

    found = cloud.call(
        f"look up flavor {name}", lambda: conn.compute.find_flavor(name, ignore_missing=True)
    )
    if found is None:
        raise OperationFailed(
            f"flavor {name!r} ({key}) does not exist in cloud {settings.cloud!r}",
            f"pick one from `openstack flavor list` and set {key}",
        )
    return found


def _accepts(taints: list[Taint]) -> Accepts:
    blocking = [t for t in taints if t.effect in ("NoSchedule", "NoExecute")]
    if not blocking:
        return "all"
    return "gpu" if all(t.key == GPU_TAINT for t in blocking) else "none"


def node_shapes(api: ApiClient) -> list[NodeShape]:
    """Worker nodes grouped by Magnum node group (or instance type); each group as its
    smallest node, so the numbers hold for every node in it."""
    from kubernetes import client

    from ..core import kube
    from ..core.gpu_nodes import GPU_PRESENT, NVIDIA_PCI_PRESENT
    from ..core.quantities import memory_bytes
    from . import capacity as arithmetic

    listed = kube.call("list nodes", client.CoreV1Api(api).list_node)
    groups: dict[tuple[str, Accepts], list[tuple[int, int, int]]] = {}
    for node in listed.items:
        labels = node.metadata.labels or {}
        spec = node.spec
        if any(label in labels for label in CONTROL_PLANE_LABELS) or (spec and spec.unschedulable):
            continue
        taints = [t for t in (spec.taints or [] if spec else []) if t.effect != "PreferNoSchedule"]
        accepts: Accepts = (
            "all" if not taints else "gpu" if all(t.key == GPU_TAINT for t in taints) else "none"
        )
        # A node the GPU operator labels takes GPU profiles only, tainted or not: every
        # other profile has a required node affinity against these labels.
        if accepts == "all" and any(
            labels.get(label) == "true" for label in (GPU_PRESENT, NVIDIA_PCI_PRESENT)
        ):
            accepts = "gpu"
        allocatable = (node.status.allocatable if node.status else None) or {}
        shape = (
            _millicores(str(allocatable.get("cpu", "0"))),
            memory_bytes(str(allocatable.get("memory", "0"))),
            int(str(allocatable.get(GPU_TAINT, "0"))),
        )
        name = labels.get(NODE_GROUP_LABEL) or labels.get("node.kubernetes.io/instance-type")
        groups.setdefault((name or "nodes", accepts), []).append(shape)
    return [
        arithmetic.from_allocatable(
            name,
            nodes=len(shapes),
            cpu_milli=min(s[0] for s in shapes),
            memory=min(s[1] for s in shapes),
            gpus=min(s[2] for s in shapes),
            accepts=accepts,
        )
        for (name, accepts), shapes in sorted(groups.items())
    ]


def _millicores(text: str) -> int:
    from ..core.quantities import cpu_cores

    return 0 if text in ("", "0") else round(cpu_cores(text) * 1000)
