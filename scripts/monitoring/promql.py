"""PromQL fragments the dashboards share.

Two joins recur: usage series carry a pod but not the JupyterHub user, so they
are matched on (namespace, pod) with kube-state-metrics' kube_pod_labels, whose
label_hub_jupyter_org_username exists only because the values allowlist
`hub.jupyter.org/username` for pods. DCGM series name the node in `Hostname`
(dcgm-exporter releases up to 4.x) or `hostname` (later ones); the helpers
accept either and expose it as `host`.
"""

from __future__ import annotations

# Grafana widens this to at least four scrape intervals, so rate() always has
# two samples, whatever the zoom.
RATE = "$__rate_interval"
USER_LABEL = "label_hub_jupyter_org_username"
SINGLEUSER = 'label_component="singleuser-server"'
PLACEHOLDER = 'label_component="user-placeholder"'


def rate(selector: str) -> str:
    return f"rate({selector}[{RATE}])"


def as_label(expr: str, target: str, source: str, pattern: str = "(.+)") -> str:
    """Copy `source` into `target` where it matches; other series pass unchanged."""
    return f'label_replace({expr}, "{target}", "$1", "{source}", "{pattern}")'


def user_pods(namespace: str, users: str = "") -> str:
    """kube_pod_labels of user servers (value 1), one series per pod."""
    matchers = [SINGLEUSER]
    if namespace:
        matchers.insert(0, f'namespace=~"{namespace}"')
    if users:
        matchers.append(f'{USER_LABEL}=~"{users}"')
    return f"kube_pod_labels{{{', '.join(matchers)}}}"


def per_user(expr: str, namespace: str = "", users: str = "") -> str:
    """`expr` (with namespace and pod labels) joined to its user, in a `user` label."""
    joined = f"{expr} * on(namespace, pod) group_left({USER_LABEL}) {user_pods(namespace, users)}"
    return as_label(joined, "user", USER_LABEL)


def placeholders(namespace: str) -> str:
    """kube_pod_labels of the hub's placeholder pods."""
    return f'kube_pod_labels{{namespace=~"{namespace}", {PLACEHOLDER}}}'


def gpu(metric: str, nodes: str = "$gpu_node") -> str:
    """A DCGM metric on the chosen nodes, with the node in `host` whichever label named it."""
    either = f'({metric}{{Hostname=~"{nodes}"}} or {metric}{{hostname=~"{nodes}"}})'
    return as_label(as_label(either, "host", "Hostname"), "host", "hostname")


def gpu_of_pods(metric: str, nodes: str = "$gpu_node") -> str:
    """A DCGM metric relabelled to the pod using the GPU.

    Behind a ServiceMonitor the exporter's own pod, namespace and container
    labels win, so the workload's arrive as exported_pod / exported_namespace;
    GPUs that no pod holds have an empty exported_pod and drop out here.
    """
    assigned = as_label(gpu(metric, nodes), "pod", "exported_pod")
    return as_label(assigned, "namespace", "exported_namespace")
