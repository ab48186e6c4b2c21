"""The JupyterHub dashboard: users, servers, spawns, requests, per-user usage.

Hub series come from the hub's own /hub/metrics (JupyterHub 5.5 names), pod
series from kube-state-metrics and the kubelet's cAdvisor. The user servers'
container is called `notebook` by KubeSpawner; the pause container and the
pod-level cgroup (container="") are left out so nothing is counted twice.
"""

from __future__ import annotations

from typing import Any

from . import promql
from .panels import Board, Panel, Query, query_variable

UID = "jhub-jupyterhub"
NS = "$hub_namespace"
USERS = "$user"
HUB = f'namespace=~"{NS}"'
NOTEBOOK = f'namespace=~"{NS}", container="notebook"'


def _quantiles(metric: str, by: str, legend: str) -> list[Query]:
    buckets = promql.rate(f"{metric}_bucket{{{HUB}}}")
    return [
        Query(
            f"histogram_quantile({q}, sum by (le{by}) ({buckets}))",
            f"p{round(q * 100)}{legend}",
        )
        for q in (0.5, 0.95)
    ]


def _placeholder_phases() -> str:
    return (
        f'sum by (phase) (kube_pod_status_phase{{{HUB}, phase=~"Running|Pending"}}'
        f" * on(namespace, pod) group_left() {promql.placeholders(NS)})"
    )


def _running_user_pods() -> str:
    return (
        f'sum(kube_pod_status_phase{{{HUB}, phase="Running"}}'
        f" * on(namespace, pod) group_left() {promql.user_pods(NS)})"
    )


def overview() -> list[Panel]:
    return [
        Panel(
            "stat",
            "Users",
            "short",
            "Accounts in the hub's database (jupyterhub_total_users).",
            [Query(f"max(jupyterhub_total_users{{{HUB}}})", "users")],
            width=6,
            height=4,
        ),
        Panel(
            "stat",
            "Active users, last 24 hours",
            "short",
            "Users with any activity in the last 24 hours, as the hub counts them "
            "(jupyterhub_active_users, period 24h).",
            [Query(f'max(jupyterhub_active_users{{{HUB}, period="24h"}})', "active")],
            width=6,
            height=4,
        ),
        Panel(
            "stat",
            "Running servers",
            "short",
            "User server pods in phase Running (kube-state-metrics). The hub's own count is "
            "in the graph below; it can read low after failed starts (see there).",
            [Query(_running_user_pods(), "running")],
            width=6,
            height=4,
        ),
        Panel(
            "stat",
            "Free placeholders",
            "short",
            "Running placeholder pods: each holds room for one more default-profile "
            "server, so that many users start without waiting for a new node.",
            [
                Query(
                    f'sum(kube_pod_status_phase{{{HUB}, phase="Running"}} * on(namespace, pod) '
                    f"group_left() {promql.placeholders(NS)})",
                    "placeholders",
                )
            ],
            width=6,
            height=4,
        ),
        Panel(
            "timeseries",
            "Active users",
            "short",
            "Users active within the last 24 hours, 7 days and 30 days.",
            [
                Query(
                    f"max by (period) (jupyterhub_active_users{{{HUB}}})",
                    "{{period}}",
                )
            ],
        ),
        Panel(
            "timeseries",
            "Servers and placeholders",
            "short",
            "Running user server pods, the hub's own count (jupyterhub_running_servers) and "
            "placeholder pods by phase. JupyterHub 6.1 lowers its count when a start fails "
            "and resets it at the next start, so it can dip below the pods. Pending "
            "placeholders mean the cluster autoscaler is adding nodes to make room.",
            [
                Query(_running_user_pods(), "server pods running"),
                Query(f"sum(jupyterhub_running_servers{{{HUB}}})", "hub's count"),
                Query(_placeholder_phases(), "placeholders {{phase}}"),
            ],
        ),
    ]


def spawns_and_requests() -> list[Panel]:
    spawn_count = f"jupyterhub_server_spawn_duration_seconds_count{{{HUB}}}"
    failed = f'jupyterhub_server_spawn_duration_seconds_count{{{HUB}, status!="success"}}'
    return [
        Panel(
            "timeseries",
            "Spawn time by outcome",
            "s",
            "Median and 95th percentile of the time from a start request to a running "
            "server, by outcome (success, failure, error). Slow successes usually mean "
            "image pulls or a node being added.",
            _quantiles("jupyterhub_server_spawn_duration_seconds", ", status", " {{status}}"),
        ),
        Panel(
            "timeseries",
            "Spawns per minute by outcome",
            "opm",
            "Server starts per minute by status and reason; anything but success is a "
            "user who did not get a server (throttled, too many users, timeouts).",
            [
                Query(
                    f"sum by (status, reason) ({promql.rate(spawn_count)}) * 60",
                    "{{status}} {{reason}}",
                ),
                Query(f"sum({promql.rate(failed)}) * 60", "all failures"),
            ],
        ),
        Panel(
            "timeseries",
            "Hub request latency",
            "s",
            "Median and 95th percentile time the hub takes to answer an HTTP request "
            "(API and pages, proxied requests to user servers excluded).",
            _quantiles("jupyterhub_request_duration_seconds", "", ""),
        ),
        Panel(
            "timeseries",
            "Hub requests by status code",
            "reqps",
            "Requests per second answered by the hub, by HTTP status code; a rise in 5xx "
            "means the hub or its database is in trouble.",
            [
                Query(
                    "sum by (code) "
                    f"({promql.rate(f'jupyterhub_request_duration_seconds_count{{{HUB}}}')})",
                    "{{code}}",
                )
            ],
        ),
        Panel(
            "timeseries",
            "Hub event loop interval",
            "s",
            "95th percentile of the hub's event-loop tick. Well above 0.05 s the hub is "
            "blocked (slow database, too many users) and every request waits.",
            _quantiles("jupyterhub_event_loop_interval_seconds", "", "")[1:],
            width=24,
        ),
    ]


def per_user() -> list[Panel]:
    cpu = promql.rate(f"container_cpu_usage_seconds_total{{{NOTEBOOK}}}")
    memory = f"container_memory_working_set_bytes{{{NOTEBOOK}}}"
    age = f"(time() - kube_pod_created{{{HUB}}})"
    running_users = (
        f"kube_pod_info{{{HUB}}} * on(namespace, pod) group_left() {promql.user_pods(NS)}"
    )
    return [
        Panel(
            "timeseries",
            "CPU per user",
            "suffix: cores",
            "CPU cores used by each user's server (container notebook), matched to the "
            "user through the pod label hub.jupyter.org/username.",
            [
                Query(
                    f"sum by (user) ({promql.per_user(cpu, NS, USERS)})",
                    "{{user}}",
                )
            ],
        ),
        Panel(
            "timeseries",
            "Memory per user",
            "bytes",
            "Working-set memory of each user's server: what the kernel counts against the "
            "memory limit before it kills the server.",
            [
                Query(
                    f"sum by (user) ({promql.per_user(memory, NS, USERS)})",
                    "{{user}}",
                )
            ],
        ),
        Panel(
            "table",
            "Server age per user",
            "dtdurations",
            "How long each user's server pod has existed; old idle servers are what the "
            "culler stops.",
            [
                Query(
                    f"max by (user) ({promql.per_user(age, NS, USERS)})",
                    "{{user}}",
                )
            ],
        ),
        Panel(
            "bargauge",
            "Users per node",
            "short",
            "User servers on each node. The user scheduler packs servers onto few nodes so "
            "the autoscaler can remove empty ones.",
            [Query(f"count by (node) ({running_users})", "{{node}}")],
        ),
    ]


def build() -> dict[str, Any]:
    board = Board(
        UID,
        "JupyterHub",
        "Users, servers, spawns and hub health of JupyterHub on this cluster, and what each "
        "user's server uses.",
        ["jupyterhub", "jhub-openstack"],
    )
    board.variable(
        query_variable(
            "hub_namespace",
            "Hub namespace",
            "label_values(jupyterhub_running_servers, namespace)",
            description="Namespace of the JupyterHub release.",
            multi=False,
        )
    )
    board.variable(
        query_variable(
            "user",
            "User",
            f"label_values({promql.user_pods(NS)}, {promql.USER_LABEL})",
            description="Users with a server pod (all by default).",
        )
    )
    board.row("Users and servers").add(*overview())
    board.row("Spawns and hub requests").add(*spawns_and_requests())
    board.row("Per user").add(*per_user())
    return board.json()
