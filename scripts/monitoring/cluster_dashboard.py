"""The cluster dashboard: nodes, capacity against requests, pending pods, autoscaling.

Requests decide where pods fit and when the autoscaler adds a node, so they
are set against allocatable capacity; usage comes from node-exporter (whose
series carry the node name in `node`, relabelled in the chart values).
The cluster autoscaler itself runs out of reach of this Prometheus (in
kube-system on heat, in the management cluster on capi-helm), so its activity
is shown through what it acts on: unschedulable pods and nodes coming and going.
"""

from __future__ import annotations

from typing import Any

from . import promql
from .panels import Board, Panel, Query, query_variable

UID = "jhub-cluster"
NODES = 'node=~"$node"'
# Pods that hold their requests: the scheduler ignores finished ones.
LIVE_PODS = '(max by (namespace, pod) (kube_pod_status_phase{phase=~"Pending|Running"}) == 1)'


def _requested(resource: str) -> str:
    return (
        f'sum by (node) (kube_pod_container_resource_requests{{resource="{resource}", {NODES}}}'
        f" * on(namespace, pod) group_left() {LIVE_PODS})"
    )


def _allocatable(resource: str) -> str:
    return f'sum by (node) (kube_node_status_allocatable{{resource="{resource}", {NODES}}})'


def overview() -> list[Panel]:
    return [
        Panel(
            "stat",
            "Nodes",
            "short",
            "Nodes registered with the cluster.",
            [Query("count(kube_node_info)", "nodes")],
            width=6,
            height=4,
        ),
        Panel(
            "stat",
            "Nodes ready",
            "short",
            "Nodes whose Ready condition is true; fewer than Nodes means some are booting, "
            "draining or broken (auto-healing replaces broken ones).",
            [Query('sum(kube_node_status_condition{condition="Ready", status="true"})', "ready")],
            width=6,
            height=4,
        ),
        Panel(
            "stat",
            "Pending pods",
            "short",
            "Pods not yet running: waiting for a node, an image or a volume.",
            [Query('sum(kube_pod_status_phase{phase="Pending"})', "pending")],
            width=6,
            height=4,
        ),
        Panel(
            "stat",
            "Unschedulable pods",
            "short",
            "Pods the scheduler could not place anywhere. These are what make the cluster "
            "autoscaler add a node; if they stay, the node group is at its maximum.",
            [Query("sum(kube_pod_status_unschedulable)", "unschedulable")],
            width=6,
            height=4,
        ),
    ]


def capacity() -> list[Panel]:
    return [
        Panel(
            "timeseries",
            "CPU requested / allocatable",
            "percentunit",
            "Share of each node's allocatable CPU that running and pending pods request. "
            "Near 1 no further server fits and the autoscaler must add a node.",
            [Query(f"{_requested('cpu')} / {_allocatable('cpu')}", "{{node}}")],
        ),
        Panel(
            "timeseries",
            "Memory requested / allocatable",
            "percentunit",
            "Share of each node's allocatable memory that running and pending pods request.",
            [Query(f"{_requested('memory')} / {_allocatable('memory')}", "{{node}}")],
        ),
        Panel(
            "timeseries",
            "Cluster CPU: allocatable and requested",
            "suffix: cores",
            "CPU cores all selected nodes offer to pods, and how many pods request.",
            [
                Query(f"sum({_allocatable('cpu')})", "allocatable"),
                Query(f"sum({_requested('cpu')})", "requested"),
            ],
        ),
        Panel(
            "timeseries",
            "Cluster memory: allocatable and requested",
            "bytes",
            "Memory all selected nodes offer to pods, and how much pods request.",
            [
                Query(f"sum({_allocatable('memory')})", "allocatable"),
                Query(f"sum({_requested('memory')})", "requested"),
            ],
        ),
    ]


def usage() -> list[Panel]:
    idle = promql.rate(f'node_cpu_seconds_total{{mode="idle", {NODES}}}')
    root = f'{NODES}, mountpoint="/"'
    return [
        Panel(
            "timeseries",
            "CPU busy per node",
            "percentunit",
            "Share of each node's CPU time not idle (node-exporter).",
            [Query(f"1 - avg by (node) ({idle})", "{{node}}")],
        ),
        Panel(
            "timeseries",
            "Memory in use per node",
            "percentunit",
            "Share of each node's memory not available to new allocations (node-exporter).",
            [
                Query(
                    f"1 - sum by (node) (node_memory_MemAvailable_bytes{{{NODES}}})"
                    f" / sum by (node) (node_memory_MemTotal_bytes{{{NODES}}})",
                    "{{node}}",
                )
            ],
        ),
        Panel(
            "timeseries",
            "Root file system used per node",
            "percentunit",
            "Share of each node's root file system in use; images and logs fill it, and "
            "a full disk makes the kubelet evict pods.",
            [
                Query(
                    f"1 - max by (node) (node_filesystem_avail_bytes{{{root}}})"
                    f" / max by (node) (node_filesystem_size_bytes{{{root}}})",
                    "{{node}}",
                )
            ],
            width=24,
        ),
    ]


def autoscaling() -> list[Panel]:
    flavour = "label_node_kubernetes_io_instance_type"
    return [
        Panel(
            "timeseries",
            "Nodes by flavour",
            "short",
            "Nodes over time by OpenStack flavour (node label node.kubernetes.io/"
            "instance-type). Steps up and down are the autoscaler adding and removing nodes.",
            [Query(f"count by ({flavour}) (kube_node_labels)", f"{{{{{flavour}}}}}")],
        ),
        Panel(
            "timeseries",
            "Pending and unschedulable pods",
            "short",
            "Pending pods by namespace, and all unschedulable pods: a lasting unschedulable "
            "count means the autoscaler cannot add the node they need.",
            [
                Query(
                    'sum by (namespace) (kube_pod_status_phase{phase="Pending"})',
                    "pending {{namespace}}",
                ),
                Query("sum(kube_pod_status_unschedulable)", "unschedulable"),
            ],
        ),
        Panel(
            "table",
            "Node age",
            "dtdurations",
            "How long each node has existed: young nodes are recent scale-ups or "
            "auto-healing replacements.",
            [Query(f"max by (node) (time() - kube_node_created{{{NODES}}})", "{{node}}")],
            width=24,
        ),
    ]


def build() -> dict[str, Any]:
    board = Board(
        UID,
        "Cluster",
        "Nodes, capacity against requests, resource use, pending pods and autoscaling of "
        "the Kubernetes cluster under JupyterHub.",
        ["kubernetes", "jhub-openstack"],
    )
    board.variable(
        query_variable(
            "node",
            "Node",
            "label_values(kube_node_info, node)",
            description="Nodes to show (all by default).",
            all_value=".+",
        )
    )
    board.row("Overview").add(*overview())
    board.row("Capacity and requests").add(*capacity())
    board.row("Use").add(*usage())
    board.row("Autoscaling").add(*autoscaling())
    return board.json()
