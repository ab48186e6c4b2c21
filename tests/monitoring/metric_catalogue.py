"""Metric names and labels the cluster exporters emit, for checking the dashboards' PromQL.

Only what the dashboards may use is listed, each with the labels the exporter puts on it.
`TARGET_LABELS` are what Prometheus adds when it scrapes through the operator's
ServiceMonitors of kube-prometheus-stack 88.5.3 (namespace/pod/container name the
exporter's own pod, unless the exporter sets them itself and honorLabels keeps them).

Sources (checked November 2026):

- kube-state-metrics v2.17: docs/metrics/workload/pod-metrics.md and
  docs/metrics/cluster/node-metrics.md in github.com/kubernetes/kube-state-metrics.
  `label_*` labels exist only for what --metric-labels-allowlist admits; the values
  template admits pods=[app,component,hub.jupyter.org/username] and nodes=[*].
- cAdvisor through the kubelet (/metrics/cadvisor): docs/storage/prometheus.md in
  github.com/google/cadvisor; the kubelet adds namespace, pod and container.
- node_exporter 1.9: the cpu, meminfo and filesystem collectors
  (collector/cpu_linux.go, meminfo.go, filesystem_common.go in
  github.com/prometheus/node_exporter).
- DCGM names are not listed here: they are read from tests/fixtures/upstream/dcgm-exporter.json
  (dcgm-exporter's etc/*.csv, written by tests/fixtures/generate.py).
  Labels from dcgm-exporter's README (gpu, UUID, device, modelName, Hostname — `hostname`
  on main — pci_bus_id, DCGM_FI_DRIVER_VERSION; pod/namespace/container with pod mapping,
  renamed exported_* under a ServiceMonitor without honorLabels).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Exporter:
    name: str
    source: str
    metrics: dict[str, frozenset[str]]
    target_labels: frozenset[str]


def labels(*names: str) -> frozenset[str]:
    return frozenset(names)


SERVICE_MONITOR = labels("job", "instance", "namespace", "pod", "container", "service", "endpoint")
POD = labels("namespace", "pod", "uid")
POD_LABELS = labels("label_app", "label_component", "label_hub_jupyter_org_username")

KUBE_STATE_METRICS = Exporter(
    "kube-state-metrics",
    "github.com/kubernetes/kube-state-metrics docs/metrics (v2.17)",
    {
        "kube_pod_labels": POD | POD_LABELS,
        "kube_pod_info": POD
        | labels(
            "host_ip",
            "pod_ip",
            "node",
            "created_by_kind",
            "created_by_name",
            "priority_class",
            "host_network",
        ),
        "kube_pod_created": POD,
        "kube_pod_start_time": POD,
        "kube_pod_status_phase": POD | labels("phase"),
        "kube_pod_status_unschedulable": POD,
        "kube_pod_container_resource_requests": POD
        | labels("container", "node", "resource", "unit"),
        "kube_pod_container_resource_limits": POD | labels("container", "node", "resource", "unit"),
        "kube_node_info": labels(
            "node",
            "kernel_version",
            "os_image",
            "container_runtime_version",
            "kubelet_version",
            "kubeproxy_version",
            "pod_cidr",
            "provider_id",
            "system_uuid",
            "internal_ip",
        ),
        # nodes=[*]: every node label, as label_<sanitised name>.
        "kube_node_labels": labels(
            "node",
            "label_node_kubernetes_io_instance_type",
            "label_kubernetes_io_hostname",
            "label_topology_kubernetes_io_zone",
            "label_nvidia_com_gpu_present",
        ),
        "kube_node_created": labels("node"),
        "kube_node_status_condition": labels("node", "condition", "status"),
        "kube_node_status_allocatable": labels("node", "resource", "unit"),
        "kube_node_status_capacity": labels("node", "resource", "unit"),
    },
    SERVICE_MONITOR,
)

CADVISOR = Exporter(
    "cAdvisor (kubelet /metrics/cadvisor)",
    "github.com/google/cadvisor docs/storage/prometheus.md",
    {
        "container_cpu_usage_seconds_total": labels(
            "container", "id", "image", "name", "namespace", "pod"
        ),
        "container_memory_working_set_bytes": labels(
            "container", "id", "image", "name", "namespace", "pod"
        ),
    },
    # The kubelet ServiceMonitor adds node and (by relabelling) metrics_path.
    SERVICE_MONITOR | labels("node", "metrics_path"),
)

NODE_EXPORTER = Exporter(
    "node-exporter",
    "github.com/prometheus/node_exporter collector/{cpu_linux,meminfo,filesystem_common}.go",
    {
        "node_cpu_seconds_total": labels("cpu", "mode"),
        "node_memory_MemAvailable_bytes": labels(),
        "node_memory_MemTotal_bytes": labels(),
        "node_filesystem_avail_bytes": labels("device", "fstype", "mountpoint", "device_error"),
        "node_filesystem_size_bytes": labels("device", "fstype", "mountpoint", "device_error"),
    },
    # `node` comes from the relabelling in helm_values/kube-prometheus-stack.yaml.j2.
    SERVICE_MONITOR | labels("node"),
)

EXPORTERS = (KUBE_STATE_METRICS, CADVISOR, NODE_EXPORTER)

DCGM_LABELS = (
    labels(
        "gpu",
        "UUID",
        "device",
        "modelName",
        "Hostname",
        "hostname",
        "pci_bus_id",
        "DCGM_FI_DRIVER_VERSION",
        "exported_pod",
        "exported_namespace",
        "exported_container",
    )
    | SERVICE_MONITOR
)


def exporter_of(metric: str) -> Exporter | None:
    for exporter in EXPORTERS:
        if metric in exporter.metrics:
            return exporter
    return None
