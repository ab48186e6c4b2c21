"""Let the Cinder CSI node plugin run on tainted GPU nodes.

The seed's "Manual Cluster config fix for GPU Workers" (CSI part): on heat-driver
clusters the csi-cinder-nodeplugin DaemonSet had no toleration for the GPU taint,
so GPU nodes got no plugin pod, and a user volume could not attach there ("annotation
csi.volume.kubernetes.io/nodeid is missing"). The fix, as upstream made it later
(magnum fa4a6ba7, 2021), is a toleration `operator: Exists`, which tolerates every taint.

Where the plugin lives depends on the driver (core.known_objects): heat puts it in
kube-system as csi-cinder-nodeplugin; capi-helm's platform add-ons install the
openstack-cinder-csi chart as openstack-system/openstack-cinder-csi-nodeplugin, which
already tolerates every taint; for `existing` both names are tried, then any
DaemonSet running the cinder-csi-plugin container. A plugin that already tolerates the
GPU nodes' taints is left alone, and the run says so.

The toleration is appended with a JSON patch guarded by the object's
resourceVersion: other tolerations stay as they are, and a concurrent edit makes
the patch fail instead of being overwritten.

Afterwards the DaemonSet should be wanted on every node its nodeSelector admits:
with that toleration no taint keeps it away, and DaemonSets ignore cordons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import known_objects, kube
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import OperationFailed
from ..core.loading import Environment
from ..core.waiting import Clock, RealClock

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# The heat driver's plugin (kept for callers that name it).
NAME = known_objects.HEAT_CSI_NODE_PLUGIN.name
NAMESPACE = str(known_objects.HEAT_CSI_NODE_PLUGIN.namespace)
TOLERATE_EVERYTHING: dict[str, str] = {"operator": "Exists"}
PATCH_ATTEMPTS = 3
# Longest single watch request; the wait renews it until its own deadline.
WATCH_SECONDS = 60
# Tolerations the DaemonSet controller adds to every daemon pod by itself.
_AUTOMATIC = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)


# ------------------------------------------------------------------ pure rules


def tolerates_everything(toleration: dict[str, Any]) -> bool:
    return (
        toleration.get("operator") == "Exists"
        and not toleration.get("key")
        and not toleration.get("effect")
    )


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """Kubernetes' matching of one toleration against one taint."""
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key")
    operator = toleration.get("operator") or "Equal"
    if not key:
        return operator == "Exists"
    if key != taint.get("key"):
        return False
    return operator == "Exists" or (toleration.get("value") or "") == (taint.get("value") or "")


def blocking_taints(node: dict[str, Any], tolerations: list[dict[str, Any]]) -> list[str]:
    """The node's taints that keep a daemon pod with these tolerations away."""
    everything = [*tolerations, *_AUTOMATIC]
    blocked = []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") == "PreferNoSchedule":
            continue
        if not any(tolerates(t, taint) for t in everything):
            value = f"={taint['value']}" if taint.get("value") else ""
            blocked.append(f"{taint.get('key')}{value}:{taint.get('effect')}")
    return blocked


def selected(node: dict[str, Any], node_selector: dict[str, str]) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    return all(labels.get(key) == value for key, value in node_selector.items())


@dataclass(frozen=True)
class Coverage:
    """Where the plugin is wanted and where it runs, from the DaemonSet and the nodes."""

    desired: int
    ready: int
    up_to_date: bool
    nodes: list[str]
    uncovered: dict[str, list[str]]

    @property
    def complete(self) -> bool:
        return self.up_to_date and self.desired == len(self.nodes) and self.ready == self.desired

    def describe(self) -> str:
        text = f"wanted on {self.desired} of {len(self.nodes)} node(s), ready on {self.ready}"
        if self.uncovered:
            kept = "; ".join(f"{name} ({', '.join(t)})" for name, t in self.uncovered.items())
            text += f"; kept off by taints: {kept}"
        return text


def coverage(daemonset: dict[str, Any], nodes: list[dict[str, Any]]) -> Coverage:
    pod_spec = daemonset["spec"]["template"].get("spec") or {}
    tolerations = pod_spec.get("tolerations") or []
    node_selector = pod_spec.get("nodeSelector") or {}
    status = daemonset.get("status") or {}
    metadata = daemonset.get("metadata") or {}
    eligible = [n for n in nodes if selected(n, node_selector)]
    uncovered = {
        n["metadata"]["name"]: blocked
        for n in eligible
        if (blocked := blocking_taints(n, tolerations))
    }
    observed = status.get("observedGeneration")
    return Coverage(
        desired=int(status.get("desiredNumberScheduled") or 0),
        ready=int(status.get("numberReady") or 0),
        up_to_date=observed is None or observed >= int(metadata.get("generation") or 0),
        nodes=[n["metadata"]["name"] for n in eligible],
        uncovered=uncovered,
    )


def toleration_patch(daemonset: dict[str, Any]) -> list[dict[str, Any]]:
    """A JSON patch that appends the toleration, valid only against this very version."""
    pod_spec = daemonset["spec"]["template"].get("spec") or {}
    guard = {
        "op": "test",
        "path": "/metadata/resourceVersion",
        "value": daemonset["metadata"]["resourceVersion"],
    }
    if pod_spec.get("tolerations") is None:
        # No list yet: "/-" would point into nothing, so create the list whole.
        whole = [dict(TOLERATE_EVERYTHING)]
        return [guard, {"op": "add", "path": "/spec/template/spec/tolerations", "value": whole}]
    return [
        guard,
        {"op": "add", "path": "/spec/template/spec/tolerations/-", "value": TOLERATE_EVERYTHING},
    ]


# ------------------------------------------------------------------ the procedure


def fix_csi(
    environment: Environment,
    ui: Console,
    *,
    dry_run: bool,
    timeout: float,
    clock: Clock | None = None,
) -> None:
    from kubernetes import client

    api = kube.api_client(environment.kubeconfig)
    apps = client.AppsV1Api(api)
    core = client.CoreV1Api(api)
    changes = Changes(ui, dry_run)
    driver = environment.settings.cluster.driver

    def read_nodes() -> list[dict[str, Any]]:
        found = kube.call("list nodes", core.list_node)
        return [api.sanitize_for_serialization(node) for node in found.items]

    daemonset = _find(api, driver)
    plugin = _Plugin(daemonset["metadata"]["namespace"], daemonset["metadata"]["name"])
    label = f"DaemonSet {plugin}"
    nodes = read_nodes()
    before = coverage(daemonset, nodes)
    ui.print(f"before: {label} {before.describe()}")

    tolerations = daemonset["spec"]["template"].get("spec", {}).get("tolerations") or []
    gpu_taints = [t.model_dump() for t in environment.settings.cluster.gpu.as_node_group().taints]
    patched = False
    with ui.step(f"Toleration `operator: Exists` on {label}") as step:
        if any(tolerates_everything(t) for t in tolerations):
            step.unchanged("already tolerates every taint; nothing to patch")
        elif not before.uncovered and all(
            any(tolerates(t, taint) for t in tolerations) for taint in gpu_taints
        ):
            shown = ", ".join(_taint(t) for t in gpu_taints)
            step.unchanged(f"already tolerates the GPU taint ({shown}); nothing to patch")
        else:
            kept = len(tolerations)
            changes.make(
                f"patch {label}: add toleration operator: Exists (keeping {kept} other(s))",
                lambda: _add_toleration(api, apps, plugin, daemonset),
            )
            patched = True
            if dry_run:
                step.planned(f"{kept} existing toleration(s) kept")
            else:
                step.done(f"{kept} existing toleration(s) kept")

    with ui.step(f"{plugin.name} on every node") as step:
        if dry_run:
            step.skipped("dry run")
            ui.summary(["dry run: nothing was changed"])
            return
        if not patched and before.complete:
            step.unchanged(f"runs on all {len(before.nodes)} node(s)")
            after = before
        else:
            after = _wait_for_coverage(
                apps, plugin, read_nodes, timeout=timeout, clock=clock or RealClock(), ui=ui
            )
            step.done(f"{after.desired} of {len(after.nodes)} node(s)")

    ui.print(f"after: {label} {after.describe()}")
    ui.summary([f"check: kubectl get daemonset -n {plugin.namespace} {plugin.name}"])


@dataclass(frozen=True)
class _Plugin:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def _taint(taint: dict[str, Any]) -> str:
    value = f"={taint['value']}" if taint.get("value") else ""
    return f"{taint.get('key')}{value}:{taint.get('effect')}"


def _find(api: ApiClient, driver: known_objects.Driver) -> dict[str, Any]:
    """The driver's own plugin first (core.known_objects), then anything running it."""
    refs = known_objects.csi_node_plugins(driver)
    found = kube.find_daemon_set(api, refs, container=known_objects.CINDER_CSI_PLUGIN_CONTAINER)
    if found is None:
        looked = " or ".join(str(ref) for ref in refs)
        raise OperationFailed(
            f"no Cinder CSI node plugin: no {looked}, and no DaemonSet runs a "
            f"{known_objects.CINDER_CSI_PLUGIN_CONTAINER} container",
            "the cluster runs without Cinder CSI (heat label cinder_csi_enabled=false?); "
            "there is nothing to fix",
        )
    return found


def _add_toleration(api: ApiClient, apps: Any, plugin: _Plugin, daemonset: dict[str, Any]) -> None:
    from kubernetes.client.exceptions import ApiException

    current = daemonset
    for attempt in range(1, PATCH_ATTEMPTS + 1):
        tolerations = current["spec"]["template"].get("spec", {}).get("tolerations") or []
        if any(tolerates_everything(t) for t in tolerations):
            return  # someone else added it meanwhile
        try:
            _patch(apps, plugin, toleration_patch(current))
            return
        except _Conflict:
            if attempt == PATCH_ATTEMPTS:
                break
            fresh = kube.call(
                f"read DaemonSet {plugin}",
                lambda: apps.read_namespaced_daemon_set(plugin.name, plugin.namespace),
            )
            current = api.sanitize_for_serialization(fresh)
        except ApiException:  # pragma: no cover - kube.call turns these into OperationFailed
            raise
    raise OperationFailed(
        f"DaemonSet {plugin} kept changing while the toleration was being added",
        "something else is editing it (an addon manager?); re-run when it has settled",
    )


def _patch(apps: Any, plugin: _Plugin, patch: list[dict[str, Any]]) -> None:
    # A list body makes the client send application/json-patch+json.
    kube.call(
        f"patch DaemonSet {plugin}",
        lambda: _raw(
            lambda: apps.patch_namespaced_daemon_set(plugin.name, plugin.namespace, patch)
        ),
    )


class _Conflict(Exception):
    """The resourceVersion guard failed: the object changed since we read it."""


def _raw(action: Callable[[], Any]) -> Any:
    from kubernetes.client.exceptions import ApiException

    try:
        return action()
    except ApiException as error:
        # 422 from a failed `test` op, 409 from a stale resourceVersion.
        if error.status in (409, 422):
            raise _Conflict() from None
        raise


def _wait_for_coverage(
    apps: Any,
    plugin: _Plugin,
    read_nodes: Callable[[], list[dict[str, Any]]],
    *,
    timeout: float,
    clock: Clock,
    ui: Console,
) -> Coverage:
    """Watch the DaemonSet until it is wanted and ready on every eligible node."""
    from kubernetes import watch
    from kubernetes.client.exceptions import ApiException

    started = clock.monotonic()
    latest: Coverage | None = None
    with ui.waiting(f"{plugin.name} on every node") as status:
        while True:
            found = kube.call(
                f"read DaemonSet {plugin}",
                lambda: apps.read_namespaced_daemon_set(plugin.name, plugin.namespace),
            )
            daemonset = apps.api_client.sanitize_for_serialization(found)
            latest = coverage(daemonset, read_nodes())
            status.update(latest.describe())
            if latest.complete:
                return latest
            remaining = timeout - (clock.monotonic() - started)
            if remaining <= 0:
                break
            # Block until the DaemonSet changes (or the watch times out), then look again;
            # nodes are re-read every time because the autoscaler may add one meanwhile.
            stream = watch.Watch().stream(
                apps.list_namespaced_daemon_set,
                plugin.namespace,
                field_selector=f"metadata.name={plugin.name}",
                resource_version=daemonset["metadata"]["resourceVersion"],
                timeout_seconds=max(1, int(min(remaining, WATCH_SECONDS))),
            )
            try:
                for _event in stream:
                    break
            except ApiException as error:
                if error.status != 410:  # 410 Gone: our version is too old; just re-read
                    raise OperationFailed(
                        f"Kubernetes API: watch DaemonSet {plugin} failed: "
                        f"{kube.api_message(error)}",
                        "re-run `invoke gpu.fix-csi` (the toleration is already in place)",
                    ) from None
            finally:
                stream.close()
    raise OperationFailed(
        f"timed out after {timeout:.0f}s waiting for {plugin.name} on every node "
        f"({latest.describe() if latest else 'no status'})",
        f"see `kubectl describe daemonset -n {plugin.namespace} {plugin.name}` and its pods; "
        "re-run to keep waiting",
    )
