"""Metric names and labels the cluster exporters emit, for checking the dashboards' PromQL.

Only what the dashboards may use is listed, each with the labels the exporter puts on it.
`TARGET_LABELS` are what Prometheus adds when it scrapes through the operator's
ServiceMonitors of kube-prometheus-stack 88.5.3 (namespace/pod/container name the
exporter's own pod, unless the exporter sets them itself and honorLabels keeps them).

Sources (checked November 2026):

- kube-state-metrics v2.17: docs/metrics/workload/pod-metrics.md and
  docs/metrics/cluster/node-metrics.md in github.com/kubernetes/kube-state-metrics.
  `label_*` labels exist only for what --metric-labels-allowlist admits; the values
  template admits pods=[app,component,hub.jupyter.org/username,hub.jupyter.org/profile]
  and nodes=[*].
- cAdvisor through the kubelet (/metrics/cadvisor): docs/storage/prometheus.md in
  github.com/google/cadvisor; the kubelet adds namespace, pod and container.
- node_exporter 1.9: the cpu, meminfo and filesystem collectors
  (collector/cpu_linux.go, meminfo.go, filesystem_common.go in
  github.com/prometheus/node_exporter).
- kube-state-metrics deployments: docs/metrics/workload/deployment-metrics.md
  (kube_deployment_status_replicas_available: namespace, deployment).
- kubelet volume stats (the kubelet's /metrics, scraped by the chart's kubelet
  ServiceMonitor): kubelet_volume_stats_used_bytes / _capacity_bytes with namespace and
  persistentvolumeclaim, pkg/kubelet/metrics/collectors/volume_stats.go in
  kubernetes/kubernetes (found through the code search; too big to fetch here).
- Prometheus's own TSDB metrics: prometheus_tsdb_storage_blocks_bytes
  (tsdb/db.go in prometheus/prometheus); `up` is the series Prometheus writes for every
  target (docs/concepts/jobs_instances.md). test_blackbox_probe.py also finds both in a
  live Debian Prometheus.
- blackbox_exporter: probe_success and probe_duration_seconds (prober/handler.go),
  probe_http_status_code and probe_ssl_earliest_cert_expiry (prober/http.go) in
  github.com/prometheus/blackbox_exporter; the chart's ServiceMonitor adds `target`
  (charts/prometheus-blackbox-exporter templates/servicemonitor.yaml).
  test_blackbox_probe.py reads them from a live Debian blackbox exporter too.
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
POD_LABELS = labels(
    "label_app",
    "label_component",
    "label_hub_jupyter_org_username",
    "label_hub_jupyter_org_profile",
)

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
        "kube_deployment_status_replicas_available": labels("namespace", "deployment"),
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

KUBELET = Exporter(
    "kubelet (/metrics)",
    "kubernetes/kubernetes pkg/kubelet/metrics/collectors/volume_stats.go",
    {
        "kubelet_volume_stats_used_bytes": labels("namespace", "persistentvolumeclaim"),
        "kubelet_volume_stats_capacity_bytes": labels("namespace", "persistentvolumeclaim"),
        "kubelet_volume_stats_available_bytes": labels("namespace", "persistentvolumeclaim"),
    },
    SERVICE_MONITOR | labels("node", "metrics_path"),
)

PROMETHEUS = Exporter(
    "Prometheus itself",
    "prometheus/prometheus tsdb/db.go; `up` per target (docs/concepts/jobs_instances.md)",
    {
        "prometheus_tsdb_storage_blocks_bytes": labels(),
        "up": labels(),
    },
    SERVICE_MONITOR,
)

BLACKBOX = Exporter(
    "blackbox_exporter (/probe through the chart's ServiceMonitor)",
    "prometheus/blackbox_exporter prober/handler.go, prober/http.go",
    {
        "probe_success": labels(),
        "probe_duration_seconds": labels(),
        "probe_http_status_code": labels(),
        "probe_ssl_earliest_cert_expiry": labels(),
    },
    SERVICE_MONITOR | labels("target"),
)

EXPORTERS = (KUBE_STATE_METRICS, CADVISOR, NODE_EXPORTER)
# The alert rules also read these (tests/monitoring/test_alert_metrics.py).
RULE_EXPORTERS = (*EXPORTERS, KUBELET, PROMETHEUS, BLACKBOX)

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


def exporter_of(metric: str, among: tuple[Exporter, ...] = EXPORTERS) -> Exporter | None:
    for exporter in among:
        if metric in exporter.metrics:
            return exporter
    return None


# The jupyterhub_* metrics the alert rules read (test_alert_metrics derives them from the
# rules; test_against_prometheus checks them against a live hub's exposition).
JUPYTERHUB_RULE_METRICS = {
    "jupyterhub_request_duration_seconds_count",
    "jupyterhub_server_spawn_duration_seconds_count",
    "jupyterhub_server_spawn_duration_seconds_bucket",
}
