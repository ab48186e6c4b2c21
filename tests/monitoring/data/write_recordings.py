"""Write the OpenMetrics test data: a small JupyterHub cluster as its exporters report it.

Run `python tests/monitoring/data/write_recordings.py` after changing the scene below; it
rewrites the *.om files beside it. Five minutes of samples, 30 s apart, from 2026-01-01
00:00 UTC; the tests move the timestamps to just before "now" when they load them.

The label sets are what kube-prometheus-stack 88.5.3 stores: exporter labels plus the
ServiceMonitor's target labels (job, instance, namespace, pod, container, service,
endpoint), kube-state-metrics with honorLabels, dcgm-exporter without it (so the GPU's
pod arrives as exported_pod), node-exporter with the `node` relabelling from our values.

The scene: nodes default-worker-0 (l3.small), gpu-worker-0 (two A100s, dcgm-exporter
spelling the node label `Hostname`) and gpu-worker-1 (one A100, newer dcgm-exporter
spelling it `hostname`). Users alice (GPU on gpu-worker-1) and bob (GPU 0 on
gpu-worker-0) have servers in namespace jhub; one placeholder runs, one is pending and
unschedulable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

HERE = Path(__file__).parent
START = 1_767_225_600  # 2026-01-01T00:00:00Z
STEP = 30
SAMPLES = 11
HUB = "jhub"
DEFAULT, GPU0, GPU1 = (
    "jhub-example-default-worker-0",
    "jhub-example-gpu-worker-0",
    "jhub-example-gpu-worker-1",
)
NODE_IPS = {DEFAULT: "10.0.0.11", GPU0: "10.0.0.12", GPU1: "10.0.0.13"}
FLAVOURS = {DEFAULT: "l3.small", GPU0: "g-a100.x2", GPU1: "g-a100.x1"}

Labels = dict[str, str]
Value = Callable[[int], float]


def text(labels: Labels) -> str:
    inner = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return "{" + inner + "}" if inner else ""


def family(
    name: str, kind: str, help_text: str, series: Iterable[tuple[Labels, Value]]
) -> list[str]:
    sample = f"{name}_total" if kind == "counter" else name
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in series:
        for step in range(SAMPLES):
            lines.append(f"{sample}{text(labels)} {value(step):g} {START + step * STEP}")
    return lines


def const(value: float) -> Value:
    return lambda _step: value


def rising(per_second: float, start: float = 0.0) -> Value:
    return lambda step: start + per_second * step * STEP


# ------------------------------------------------------------------ kube-state-metrics

KSM_TARGET = {
    "job": "kube-state-metrics",
    "instance": "10.100.1.5:8080",
    "container": "kube-state-metrics",
    "service": "prometheus-kube-state-metrics",
    "endpoint": "http",
}
KSM_OWN = {"namespace": "prometheus", "pod": "prometheus-kube-state-metrics-7c9d5b6f4-q2xlm"}
PODS = [
    # name, node, phase, labels (app, component, username), created, cpu, memory
    ("jupyter-alice", GPU1, "Running", ("jupyterhub", "singleuser-server", "alice"), 7200),
    ("jupyter-bob", GPU0, "Running", ("jupyterhub", "singleuser-server", "bob"), 1800),
    ("user-placeholder-0", DEFAULT, "Running", ("jupyterhub", "user-placeholder", ""), 86400),
    ("user-placeholder-1", "", "Pending", ("jupyterhub", "user-placeholder", ""), 600),
    ("hub-6f8d9c7b5-x4kzp", DEFAULT, "Running", ("jupyterhub", "hub", ""), 86400),
]
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")


def pod_id(name: str) -> Labels:
    return {"namespace": HUB, "pod": name, "uid": f"uid-{name}"}


def kube_state_metrics() -> list[str]:
    lines: list[str] = []
    labels = []
    for name, _node, _phase, (app, component, user), _age in PODS:
        own = {**pod_id(name), "label_app": app, "label_component": component}
        if user:
            own["label_hub_jupyter_org_username"] = user
        labels.append(({**KSM_TARGET, **own}, const(1)))
    lines += family("kube_pod_labels", "gauge", "Kubernetes labels of pods.", labels)
    lines += family(
        "kube_pod_info",
        "gauge",
        "Information about pod.",
        [
            (
                {
                    **KSM_TARGET,
                    **pod_id(name),
                    "host_ip": NODE_IPS.get(node, ""),
                    "pod_ip": f"10.100.2.{index + 10}" if node else "",
                    "node": node,
                    "created_by_kind": "StatefulSet" if "placeholder" in name else "<none>",
                    "priority_class": "jhub-default-priority",
                    "host_network": "false",
                },
                const(1),
            )
            for index, (name, node, _phase, _labels, _age) in enumerate(PODS)
        ],
    )
    lines += family(
        "kube_pod_created",
        "gauge",
        "Unix creation timestamp.",
        [({**KSM_TARGET, **pod_id(name)}, const(START - age)) for name, *_, age in PODS],
    )
    lines += family(
        "kube_pod_status_phase",
        "gauge",
        "The pods current phase.",
        [
            ({**KSM_TARGET, **pod_id(name), "phase": each}, const(1 if each == phase else 0))
            for name, _node, phase, _labels, _age in PODS
            for each in PHASES
        ],
    )
    lines += family(
        "kube_pod_status_unschedulable",
        "gauge",
        "Describes the unschedulable status for the pod.",
        [
            ({**KSM_TARGET, **pod_id(name)}, const(1))
            for name, _node, phase, *_ in PODS
            if phase == "Pending"
        ],
    )
    requests = {"cpu": ("core", 0.05), "memory": ("byte", 1.8e9)}
    lines += family(
        "kube_pod_container_resource_requests",
        "gauge",
        "The number of requested request resource by a container.",
        [
            (
                {
                    **KSM_TARGET,
                    **pod_id(name),
                    "container": "hub" if name.startswith("hub") else "notebook",
                    "node": node,
                    "resource": resource,
                    "unit": unit,
                },
                const(amount),
            )
            for name, node, *_ in PODS
            for resource, (unit, amount) in requests.items()
        ],
    )
    nodes = list(NODE_IPS)
    lines += family(
        "kube_node_info",
        "gauge",
        "Information about a cluster node.",
        [
            (
                {
                    **KSM_TARGET,
                    **KSM_OWN,
                    "node": node,
                    "kernel_version": "5.15.0-131-generic",
                    "os_image": "Ubuntu 22.04.5 LTS",
                    "container_runtime_version": "containerd://1.7.24",
                    "kubelet_version": "v1.32.4",
                    "kubeproxy_version": "v1.32.4",
                    "pod_cidr": "",
                    "provider_id": f"openstack:///{index:08x}-0000-4000-8000-000000000000",
                    "system_uuid": f"{index:08x}-0000-4000-8000-000000000000",
                    "internal_ip": NODE_IPS[node],
                },
                const(1),
            )
            for index, node in enumerate(nodes)
        ],
    )
    lines += family(
        "kube_node_labels",
        "gauge",
        "Kubernetes labels of nodes.",
        [
            (
                {
                    **KSM_TARGET,
                    **KSM_OWN,
                    "node": node,
                    "label_kubernetes_io_hostname": node,
                    "label_node_kubernetes_io_instance_type": FLAVOURS[node],
                    **({"label_nvidia_com_gpu_present": "true"} if "gpu" in node else {}),
                },
                const(1),
            )
            for node in nodes
        ],
    )
    lines += family(
        "kube_node_created",
        "gauge",
        "Unix creation timestamp.",
        [
            ({**KSM_TARGET, **KSM_OWN, "node": node}, const(START - 86400 * (3 - index)))
            for index, node in enumerate(nodes)
        ],
    )
    lines += family(
        "kube_node_status_condition",
        "gauge",
        "The condition of a cluster node.",
        [
            (
                {**KSM_TARGET, **KSM_OWN, "node": node, "condition": "Ready", "status": status},
                const(1 if status == "true" else 0),
            )
            for node in nodes
            for status in ("true", "false", "unknown")
        ],
    )
    allocatable = {"cpu": ("core", 1.93), "memory": ("byte", 3.6e9), "pods": ("integer", 110)}
    lines += family(
        "kube_node_status_allocatable",
        "gauge",
        "The allocatable for different resources of a node.",
        [
            (
                {**KSM_TARGET, **KSM_OWN, "node": node, "resource": resource, "unit": unit},
                const(amount),
            )
            for node in nodes
            for resource, (unit, amount) in allocatable.items()
        ],
    )
    return lines


# ------------------------------------------------------------------ cAdvisor


def cadvisor() -> list[str]:
    lines: list[str] = []
    cpu, memory = [], []
    for name, node, phase, (_app, component, _user), _age in PODS:
        if phase != "Running" or component != "singleuser-server":
            continue
        target = {
            "job": "kubelet",
            "instance": f"{NODE_IPS[node]}:10250",
            "node": node,
            "service": "prometheus-kube-prometheus-kubelet",
            "endpoint": "https-metrics",
            "metrics_path": "/metrics/cadvisor",
            "namespace": HUB,
            "pod": name,
        }
        cgroup = f"/kubepods/burstable/pod{name}"
        notebook = {
            **target,
            "container": "notebook",
            "id": f"{cgroup}/notebook",
            "image": "quay.io/jupyter/pytorch-notebook:cuda12-2025-11-17",
            "name": f"notebook-{name}",
        }
        # The pod-level cgroup (no container) repeats the sum; dashboards must skip it.
        whole = {**target, "container": "", "id": cgroup, "image": "", "name": ""}
        rate = 0.35 if name.endswith("alice") else 1.2
        cpu += [(notebook, rising(rate, 100)), (whole, rising(rate + 0.01, 100))]
        memory += [(notebook, const(1.1e9)), (whole, const(1.15e9))]
    lines += family(
        "container_cpu_usage_seconds",
        "counter",
        "Cumulative cpu time consumed in seconds.",
        cpu,
    )
    lines += family(
        "container_memory_working_set_bytes",
        "gauge",
        "Current working set in bytes.",
        memory,
    )
    return lines


# ------------------------------------------------------------------ node-exporter


def node_exporter() -> list[str]:
    def target(node: str) -> Labels:
        return {
            "job": "node-exporter",
            "instance": f"{NODE_IPS[node]}:9100",
            "node": node,
            "namespace": "prometheus",
            "pod": f"prometheus-prometheus-node-exporter-{node[-5:]}",
            "container": "node-exporter",
            "service": "prometheus-prometheus-node-exporter",
            "endpoint": "http-metrics",
        }

    lines: list[str] = []
    cpu = [
        ({**target(node), "cpu": str(core), "mode": mode}, rising(share, 5000))
        for node in NODE_IPS
        for core in (0, 1)
        for mode, share in (("idle", 0.6), ("user", 0.3), ("system", 0.1))
    ]
    lines += family("node_cpu_seconds", "counter", "Seconds the CPUs spent in each mode.", cpu)
    lines += family(
        "node_memory_MemAvailable_bytes",
        "gauge",
        "Memory information field MemAvailable_bytes.",
        [(target(node), const(1.4e9)) for node in NODE_IPS],
    )
    lines += family(
        "node_memory_MemTotal_bytes",
        "gauge",
        "Memory information field MemTotal_bytes.",
        [(target(node), const(4.1e9)) for node in NODE_IPS],
    )
    disk = {"device": "/dev/vda1", "fstype": "ext4", "mountpoint": "/"}
    lines += family(
        "node_filesystem_avail_bytes",
        "gauge",
        "Filesystem space available to non-root users in bytes.",
        [({**target(node), **disk}, const(12e9)) for node in NODE_IPS],
    )
    lines += family(
        "node_filesystem_size_bytes",
        "gauge",
        "Filesystem size in bytes.",
        [({**target(node), **disk}, const(40e9)) for node in NODE_IPS],
    )
    return lines


# ------------------------------------------------------------------ dcgm-exporter

GPUS = [
    # node, host label spelling, gpu index, pod using it (or "")
    (GPU0, "Hostname", 0, "jupyter-bob"),
    (GPU0, "Hostname", 1, ""),
    (GPU1, "hostname", 0, "jupyter-alice"),
]
DCGM_VALUES: dict[str, tuple[str, Callable[[bool], Value]]] = {
    "DCGM_FI_DEV_GPU_UTIL": ("GPU utilization (in %).", lambda busy: const(87 if busy else 0)),
    "DCGM_FI_DEV_FB_USED": (
        "Framebuffer memory used (in MiB).",
        lambda b: const(31000 if b else 0),
    ),
    "DCGM_FI_DEV_FB_FREE": (
        "Framebuffer memory free (in MiB).",
        lambda b: const(9400 if b else 40400),
    ),
    "DCGM_FI_DEV_GPU_TEMP": ("GPU temperature (in C).", lambda b: const(64 if b else 31)),
    "DCGM_FI_DEV_POWER_USAGE": ("Power draw (in W).", lambda b: const(312.5 if b else 55.1)),
    "DCGM_FI_DEV_SM_CLOCK": ("SM clock frequency (in MHz).", lambda b: const(1410 if b else 210)),
    "DCGM_FI_DEV_XID_ERRORS": ("Value of the last XID error encountered.", lambda b: const(0)),
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": (
        "Ratio of cycles the tensor (HMMA) pipe is active.",
        lambda b: const(0.42 if b else 0),
    ),
}


def dcgm() -> list[str]:
    def labels(node: str, spelling: str, index: int, pod: str) -> Labels:
        found = {
            "gpu": str(index),
            "UUID": f"GPU-{node[-1]}{index}a1b2c3-0000-4000-8000-000000000000",
            "pci_bus_id": f"00000000:0{index + 5}:00.0",
            "device": f"nvidia{index}",
            "modelName": "NVIDIA A100-SXM4-40GB",
            spelling: node,
            "DCGM_FI_DRIVER_VERSION": "580.95.05",
            "job": "nvidia-dcgm-exporter",
            "instance": f"10.100.3.{node[-1]}:9400",
            "namespace": "gpu-operator",
            "pod": f"nvidia-dcgm-exporter-{node[-1]}x7k2",
            "container": "nvidia-dcgm-exporter",
            "service": "nvidia-dcgm-exporter",
            "endpoint": "gpu-metrics",
        }
        if pod:
            found |= {
                "exported_container": "notebook",
                "exported_namespace": HUB,
                "exported_pod": pod,
            }
        return found

    lines: list[str] = []
    for metric, (help_text, value) in DCGM_VALUES.items():
        lines += family(
            metric,
            "gauge",
            help_text,
            [(labels(node, spelling, i, pod), value(bool(pod))) for node, spelling, i, pod in GPUS],
        )
    return lines


RECORDINGS = {
    "kube-state-metrics.om": kube_state_metrics,
    "cadvisor.om": cadvisor,
    "node-exporter.om": node_exporter,
    "dcgm-exporter.om": dcgm,
}


def main() -> None:
    for name, lines in RECORDINGS.items():
        (HERE / name).write_text("\n".join([*lines(), "# EOF"]) + "\n")


if __name__ == "__main__":
    main()
