"""`invoke cluster.check`: the seed's `kubectl get nodes` and `get pods -n kube-system`.

Every node Ready; every kube-system pod running and ready (or completed),
with the reason for each one that is not; the Cinder CSI driver registered and
its node plugin on every node (the seed's GPU-node pitfall: a tainted node
gets no plugin, so volumes cannot attach there); the cluster autoscaler
present and its node-group limits shown. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import known_objects
from ..core.console import Console, Step
from ..core.errors import OperationFailed
from ..core.kube import call, find_daemon_set, read_or_none
from .autoscaler import AUTOSCALER, NAMESPACE, node_limits

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

CSI_DRIVER = known_objects.CINDER_CSI_DRIVER


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    remedies: list[str] = field(default_factory=list)


def run(api: ApiClient, ui: Console, *, driver: str, env: str) -> Report:
    from kubernetes import client

    core = client.CoreV1Api(api)
    report = Report()

    nodes = call("list nodes", lambda: core.list_node().items)
    with ui.step("nodes Ready") as step:
        not_ready = [
            f"{node.metadata.name} ({why_not_ready(node)})" for node in nodes if why_not_ready(node)
        ]
        if not nodes:
            fail(step, report, "the cluster has no nodes", "see `invoke cluster.status`")
        elif not_ready:
            fail(
                step,
                report,
                f"not Ready: {', '.join(not_ready)}",
                "see `kubectl describe node NAME`; Magnum's auto-healer replaces dead nodes",
            )
        else:
            step.done(f"{len(nodes)} node(s)")

    with ui.step("kube-system pods healthy") as step:
        pods = call("list kube-system pods", lambda: core.list_namespaced_pod(NAMESPACE).items)
        sick = [f"{pod.metadata.name}: {why_unhealthy(pod)}" for pod in pods if why_unhealthy(pod)]
        if sick:
            for line in sick:
                ui.print(f"    {line}")
            fail(
                step,
                report,
                f"{len(sick)} unhealthy kube-system pod(s)",
                "see `kubectl -n kube-system describe pod NAME` and its logs",
            )
        else:
            step.done(f"{len(pods)} pod(s)")

    with ui.step("Cinder CSI driver") as step:
        check_csi(api, nodes, step, report, env, driver=_driver(driver))

    with ui.step("cluster autoscaler") as step:
        if driver == "capi-helm":
            step.skipped("runs in Magnum's management cluster; limits: `invoke cluster.status`")
        else:
            check_autoscaler(api, step, report, env)

    if report.problems:
        raise OperationFailed(
            f"{len(report.problems)} check(s) failed: " + "; ".join(report.problems),
            " ".join(dict.fromkeys(report.remedies)),
        )
    ui.summary()
    return report


def _driver(name: str) -> known_objects.Driver:
    if name == "heat":
        return "heat"
    if name == "capi-helm":
        return "capi-helm"
    return "existing"


def fail(step: Step, report: Report, problem: str, remedy: str) -> None:
    step.outcome, step.detail = "failed", problem
    report.problems.append(problem)
    report.remedies.append(remedy)


def why_not_ready(node: Any) -> str:
    """Empty for a Ready node; otherwise the kubelet's reason."""
    conditions = {c.type: c for c in (node.status.conditions or [])} if node.status else {}
    ready = conditions.get("Ready")
    if ready is None:
        return "no Ready condition reported"
    if ready.status == "True":
        return ""
    return ready.reason or ready.message or f"Ready={ready.status}"


def why_unhealthy(pod: Any) -> str:
    """Empty for a healthy pod; otherwise the most telling reason."""
    status = pod.status
    phase = (status.phase if status else None) or "Unknown"
    if phase == "Succeeded":
        return ""
    reasons = []
    restarts = 0
    for container in (status.container_statuses or []) if status else []:
        restarts += container.restart_count or 0
        state = container.state
        if state is not None and state.waiting is not None:
            reasons.append(f"{container.name} {state.waiting.reason or 'waiting'}")
        elif state is not None and state.terminated is not None and phase != "Succeeded":
            reasons.append(f"{container.name} {state.terminated.reason or 'terminated'}")
        elif not container.ready:
            reasons.append(f"{container.name} not ready")
    if phase == "Running" and not reasons:
        return ""
    if not reasons:
        reasons.append((status.reason if status else None) or phase)
    more = f", {restarts} restart(s)" if restarts else ""
    return f"{phase}: {', '.join(reasons)}{more}"


def check_csi(  # noqa: PLR0917 - one step's inputs
    api: ApiClient,
    nodes: list[Any],
    step: Step,
    report: Report,
    env: str,
    driver: known_objects.Driver = "existing",
) -> None:
    """The CSIDriver registered and the node plugin wanted on every node; the plugin is
    looked for where the cluster's driver puts it (core.known_objects.csi_node_plugins)."""
    from kubernetes import client

    storage = client.StorageV1Api(api)
    registered = read_or_none(
        f"read CSIDriver {CSI_DRIVER}", lambda: storage.read_csi_driver(CSI_DRIVER)
    )
    if registered is None:
        fail(
            step,
            report,
            f"CSI driver {CSI_DRIVER} is not registered",
            "the cluster was made without Cinder CSI (label cinder_csi_enabled on heat)",
        )
        return
    refs = known_objects.csi_node_plugins(driver)
    plugin = find_daemon_set(api, refs, container=known_objects.CINDER_CSI_PLUGIN_CONTAINER)
    if plugin is None:
        fail(
            step,
            report,
            f"no Cinder CSI node plugin ({' or '.join(str(ref) for ref in refs)})",
            "volumes cannot attach to any node",
        )
        return
    where = f"{plugin['metadata']['namespace']}/{plugin['metadata']['name']}"
    scheduled = int((plugin.get("status") or {}).get("desiredNumberScheduled") or 0)
    if scheduled < len(nodes):
        fail(
            step,
            report,
            f"{where} runs on {scheduled} of {len(nodes)} nodes "
            "(tainted GPU nodes get no plugin, so their volumes never attach)",
            f"let it tolerate all taints: `invoke gpu.fix-csi --env {env}`",
        )
        return
    step.done(f"{where} on all {len(nodes)} node(s)")


def check_autoscaler(api: ApiClient, step: Step, report: Report, env: str) -> None:
    from kubernetes import client

    apps = client.AppsV1Api(api)
    deployment = read_or_none(
        f"read deployment {NAMESPACE}/{AUTOSCALER}",
        lambda: apps.read_namespaced_deployment(AUTOSCALER, NAMESPACE),
    )
    if deployment is None:
        fail(
            step,
            report,
            f"no deployment {NAMESPACE}/{AUTOSCALER}",
            "the cluster was made without auto_scaling_enabled; recreate it to autoscale",
        )
        return
    available = (deployment.status.available_replicas or 0) if deployment.status else 0
    manifest = api.sanitize_for_serialization(deployment)
    limits = ", ".join(
        f"{name} {low}..{high}" for name, (low, high) in node_limits(manifest).items()
    )
    if available < 1:
        fail(
            step,
            report,
            f"{AUTOSCALER} has no available replica",
            f"see `invoke cluster.autoscaler-logs --env {env}`",
        )
        return
    step.done(f"node groups: {limits or 'none configured'}")
