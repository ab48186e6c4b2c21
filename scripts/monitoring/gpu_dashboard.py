"""The GPU dashboard: DCGM exporter metrics per GPU and per user.

The GPU operator's dcgm-exporter reports every GPU with labels gpu (index),
UUID, modelName and the node in Hostname or hostname; with pod mapping on, the
pod holding the GPU arrives as exported_pod. Only counters enabled in the
exporter's default CSV are used (see tests/fixtures/upstream/dcgm-exporter.json).
"""

from __future__ import annotations

from typing import Any

from . import promql
from .panels import Board, Panel, Query, query_variable

UID = "jhub-gpus"
PER_GPU = "{{host}} GPU {{gpu}}"


def _per_gpu(metric: str, scale: str = "") -> str:
    return f"avg by (host, gpu, modelName) ({promql.gpu(metric)}){scale}"


def _per_user(metric: str, how: str = "sum") -> str:
    return f"{how} by (user) ({promql.per_user(promql.gpu_of_pods(metric))})"


def overview() -> list[Panel]:
    return [
        Panel(
            "stat",
            "GPUs",
            "short",
            "GPUs reporting to dcgm-exporter on the selected nodes.",
            [Query(f"count({promql.gpu('DCGM_FI_DEV_GPU_TEMP')})", "GPUs")],
            width=6,
            height=4,
        ),
        Panel(
            "stat",
            "GPUs in use by user servers",
            "short",
            "GPUs held by a JupyterHub user server (a GPU profile), from the pod that "
            "dcgm-exporter maps each GPU to.",
            [
                Query(
                    f"count({promql.per_user(promql.gpu_of_pods('DCGM_FI_DEV_GPU_TEMP'))})",
                    "in use",
                )
            ],
            width=6,
            height=4,
        ),
        Panel(
            "stat",
            "Average GPU utilisation",
            "percent",
            "Mean utilisation over the selected GPUs: the share of time a kernel ran.",
            [Query(f"avg({promql.gpu('DCGM_FI_DEV_GPU_UTIL')})", "utilisation")],
            width=6,
            height=4,
        ),
        Panel(
            "stat",
            "Power draw",
            "watt",
            "Total power drawn by the selected GPUs.",
            [Query(f"sum({promql.gpu('DCGM_FI_DEV_POWER_USAGE')})", "power")],
            width=6,
            height=4,
        ),
    ]


def per_gpu() -> list[Panel]:
    return [
        Panel(
            "timeseries",
            "GPU utilisation",
            "percent",
            "Share of time one or more kernels ran on each GPU (DCGM_FI_DEV_GPU_UTIL).",
            [Query(_per_gpu("DCGM_FI_DEV_GPU_UTIL"), PER_GPU)],
        ),
        Panel(
            "timeseries",
            "Tensor core activity",
            "percentunit",
            "Ratio of cycles the tensor pipes were busy (DCGM_FI_PROF_PIPE_TENSOR_ACTIVE); "
            "high utilisation with low tensor activity means work that does not use them.",
            [Query(_per_gpu("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"), PER_GPU)],
        ),
        Panel(
            "timeseries",
            "GPU memory used",
            "mbytes",
            "Frame-buffer memory in use on each GPU (DCGM_FI_DEV_FB_USED, MiB).",
            [Query(_per_gpu("DCGM_FI_DEV_FB_USED"), PER_GPU)],
        ),
        Panel(
            "timeseries",
            "GPU memory used, share",
            "percentunit",
            "Used frame buffer as a share of used plus free; near 1 the next allocation "
            "fails with out-of-memory.",
            [
                Query(
                    f"{_per_gpu('DCGM_FI_DEV_FB_USED')} / ({_per_gpu('DCGM_FI_DEV_FB_USED')}"
                    f" + {_per_gpu('DCGM_FI_DEV_FB_FREE')})",
                    PER_GPU,
                )
            ],
        ),
        Panel(
            "timeseries",
            "GPU temperature",
            "celsius",
            "Core temperature of each GPU (DCGM_FI_DEV_GPU_TEMP); GPUs slow their clocks "
            "when they run hot.",
            [Query(_per_gpu("DCGM_FI_DEV_GPU_TEMP"), PER_GPU)],
        ),
        Panel(
            "timeseries",
            "Power draw",
            "watt",
            "Power drawn by each GPU (DCGM_FI_DEV_POWER_USAGE).",
            [Query(_per_gpu("DCGM_FI_DEV_POWER_USAGE"), PER_GPU)],
        ),
        Panel(
            "timeseries",
            "SM clock",
            "hertz",
            "Streaming-multiprocessor clock of each GPU (DCGM_FI_DEV_SM_CLOCK, reported in "
            "MHz); a drop under load means power or thermal throttling.",
            [Query(_per_gpu("DCGM_FI_DEV_SM_CLOCK", " * 1000000"), PER_GPU)],
        ),
        Panel(
            "table",
            "Last XID error",
            "none",
            "The last XID error code each GPU reported (0: none). XIDs 48, 63, 64, 74, 79 "
            "and 94/95 point at hardware or driver faults that need the node drained.",
            [Query(f"max by (host, gpu, UUID) ({promql.gpu('DCGM_FI_DEV_XID_ERRORS')})")],
        ),
    ]


def per_user() -> list[Panel]:
    return [
        Panel(
            "timeseries",
            "GPU utilisation per user",
            "percent",
            "Utilisation of the GPUs each JupyterHub user holds (mean over their GPUs), "
            "joined through the pod dcgm-exporter maps the GPU to.",
            [Query(_per_user("DCGM_FI_DEV_GPU_UTIL", "avg"), "{{user}}")],
        ),
        Panel(
            "timeseries",
            "GPU memory per user",
            "mbytes",
            "Frame-buffer memory used on the GPUs each user holds.",
            [Query(_per_user("DCGM_FI_DEV_FB_USED"), "{{user}}")],
        ),
    ]


def build() -> dict[str, Any]:
    board = Board(
        UID,
        "GPUs",
        "NVIDIA GPUs through the GPU operator's dcgm-exporter: utilisation, memory, "
        "temperature, power, clocks and tensor activity, per GPU and per JupyterHub user.",
        ["gpu", "dcgm", "jhub-openstack"],
    )
    nodes = f"query_result(count by (host) ({promql.gpu('DCGM_FI_DEV_GPU_TEMP', '.*')}))"
    board.variable(
        query_variable(
            "gpu_node",
            "GPU node",
            nodes,
            description="Nodes with GPUs (from the Hostname or hostname label).",
            regex='/host="([^"]+)"/',
        )
    )
    board.row("Overview").add(*overview())
    board.row("Per GPU").add(*per_gpu())
    board.row("Per user").add(*per_user())
    return board.json()
