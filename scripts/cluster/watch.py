"""Waiting for Magnum: back-off polling with a live status line.

A *_FAILED state stops the wait at once with Magnum's status_reason (and, for
a cluster, the reason of each failed node group): Magnum never recovers from
it on its own, so waiting out the clock would only hide the cause.

UPDATE_FAILED is different: a node-group create or update that failed leaves the
cluster there (openstack/magnum magnum/conductor/handlers/nodegroup_conductor.py,
stable/2026.1 9f9c4b9f), its control plane keeps working, and Magnum still takes
node-group operations (ALLOWED_NODEGROUP_STATES there includes UPDATE_FAILED). So a
cluster in UPDATE_FAILED is usable: the failed group is named with its reason, and
the remedy is about that group, never about deleting the cluster.

Node-group operations move the cluster to UPDATE_IN_PROGRESS and back
(nodegroup_conductor.py `nodegroup_create`/`nodegroup_update`); `nodegroup_ready`
waits for both, so the next node-group call or the kubeconfig step sees a settled
cluster.
"""

from __future__ import annotations

from ..core.console import Console
from ..core.errors import OperationFailed
from ..core.waiting import Backoff, Clock, wait_until
from .magnum import Magnum, Obj

# Magnum takes minutes per node; polls start at 5 s and settle at one a minute,
# so a 15-minute creation costs about twenty status calls.
BACKOFF = Backoff(initial=5.0, factor=1.6, cap=60.0)


RECOVERABLE = "UPDATE_FAILED"


def ready(status: str) -> bool:
    return status.endswith("_COMPLETE") and not status.startswith("DELETE")


def usable(status: str) -> bool:
    """Created and not busy: ready, or UPDATE_FAILED (a node group failed, the rest works)."""
    return ready(status) or status == RECOVERABLE


def _still_there(magnum: Magnum, uuid: str, label: str, env: str) -> Obj:
    """The cluster as Magnum has it now; a cluster gone while waited for is a failure."""
    cluster = magnum.cluster(uuid)
    if cluster is None:
        raise OperationFailed(
            f"cluster {label} disappeared while waiting for it",
            f"someone deleted it; run `invoke cluster.deploy --env {env}` again",
        )
    return cluster


def cluster_ready(
    magnum: Magnum,
    uuid: str,
    name: str,
    ui: Console,
    *,
    timeout: float,
    env: str,
    clock: Clock | None = None,
) -> Obj:
    """Wait for CREATE/UPDATE_COMPLETE; fail at once on *_FAILED or a deletion."""
    seen: dict[str, Obj] = {}

    def probe() -> Obj | None:
        cluster = seen["last"] = _still_there(magnum, uuid, name, env)
        status = str(cluster.get("status") or "UNKNOWN")
        if status == RECOVERABLE:
            for line in failed_groups(magnum, cluster):
                ui.warn(f"cluster {name} is {RECOVERABLE}: {line}")
            return cluster
        if status.endswith("_FAILED"):
            raise failed_cluster(magnum, cluster, env)
        if status.startswith("DELETE"):
            raise OperationFailed(
                f"cluster {name} is {status}",
                "wait until it is gone (`invoke cluster.status`), then deploy again",
            )
        return cluster if ready(status) else None

    with ui.waiting(f"cluster {name}") as line:

        def show(elapsed: float) -> None:
            cluster = seen.get("last", {})
            reason = cluster.get("status_reason") or ""
            line.update(
                f"{cluster.get('status', '?')}{f' — {reason}' if reason else ''} "
                f"({elapsed / 60:.0f} min)"
            )

        return wait_until(
            probe,
            what=f"cluster {name} to become ready",
            timeout=timeout,
            remedy=(
                "Magnum is still working or stuck; see `invoke cluster.status --env "
                f"{env}` and re-run deploy later (it resumes without creating a second cluster)"
            ),
            backoff=Backoff(BACKOFF.initial, BACKOFF.factor, BACKOFF.cap),
            clock=clock,
            on_poll=show,
        )


def cluster_gone(
    magnum: Magnum,
    uuid: str,
    name: str,
    ui: Console,
    *,
    timeout: float,
    env: str,
    clock: Clock | None = None,
) -> None:
    seen: dict[str, Obj] = {}

    def probe() -> bool | None:
        cluster = magnum.cluster(uuid)
        if cluster is None:
            return True
        seen["last"] = cluster
        if str(cluster.get("status")) == "DELETE_FAILED":
            raise failed_cluster(magnum, cluster, env)
        return None

    with ui.waiting(f"deleting cluster {name}") as line:
        wait_until(
            probe,
            what=f"cluster {name} to be deleted",
            timeout=timeout,
            backoff=Backoff(BACKOFF.initial, BACKOFF.factor, BACKOFF.cap),
            clock=clock,
            on_poll=lambda elapsed: line.update(
                f"{seen.get('last', {}).get('status', 'gone')} ({elapsed / 60:.0f} min)"
            ),
        )


def nodegroup_ready(
    magnum: Magnum,
    cluster_uuid: str,
    group: str,
    ui: Console,
    *,
    timeout: float,
    env: str,
    clock: Clock | None = None,
) -> Obj:
    seen: dict[str, Obj] = {}

    def probe() -> Obj | None:
        found = magnum.nodegroup(cluster_uuid, group)
        if found is None:
            raise OperationFailed(
                f"node group {group} disappeared while waiting for it",
                f"run `invoke cluster.deploy --env {env}` again",
            )
        seen["last"] = found
        status = str(found.get("status") or "UNKNOWN")
        if status.endswith("_FAILED"):
            raise OperationFailed(
                f"node group {group} is {status}: "
                f"{found.get('status_reason') or 'no reason given'}",
                f"fix the cause (quota, flavor, image), delete the group with `openstack coe "
                f"nodegroup delete {cluster_uuid} {group}` and re-run "
                f"`invoke cluster.deploy --env {env}`",
            )
        return found if ready(status) else None

    with ui.waiting(f"node group {group}") as line:
        found = wait_until(
            probe,
            what=f"node group {group} to become ready",
            timeout=timeout,
            backoff=Backoff(BACKOFF.initial, BACKOFF.factor, BACKOFF.cap),
            clock=clock,
            on_poll=lambda elapsed: line.update(
                f"{seen.get('last', {}).get('status', '?')} ({elapsed / 60:.0f} min)"
            ),
        )
    cluster_settled(magnum, cluster_uuid, ui, timeout=timeout, env=env, clock=clock)
    return found


def cluster_settled(
    magnum: Magnum,
    uuid: str,
    ui: Console,
    *,
    timeout: float,
    env: str,
    clock: Clock | None = None,
) -> Obj:
    """Wait until the cluster has left UPDATE_IN_PROGRESS after a node-group operation."""
    seen: dict[str, Obj] = {}

    def probe() -> Obj | None:
        cluster = seen["last"] = _still_there(magnum, uuid, uuid, env)
        status = str(cluster.get("status") or "UNKNOWN")
        if status == RECOVERABLE:
            raise failed_cluster(magnum, cluster, env)
        return cluster if usable(status) else None

    with ui.waiting("cluster update") as line:
        return wait_until(
            probe,
            what=f"cluster {uuid} to finish its update",
            timeout=timeout,
            backoff=Backoff(BACKOFF.initial, BACKOFF.factor, BACKOFF.cap),
            clock=clock,
            on_poll=lambda elapsed: line.update(
                f"{seen.get('last', {}).get('status', '?')} ({elapsed / 60:.0f} min)"
            ),
        )


def failed_groups(magnum: Magnum, cluster: Obj) -> list[str]:
    """`node group NAME STATUS: reason` for each failed node group of the cluster."""
    lines = []
    for group in magnum.nodegroups(str(cluster["uuid"])):
        if str(group.get("status", "")).endswith("_FAILED"):
            detail = magnum.nodegroup(str(cluster["uuid"]), str(group["uuid"])) or group
            lines.append(
                f"node group {group['name']} {group['status']}: "
                f"{detail.get('status_reason') or 'no reason given'}"
            )
    return lines


def failed_cluster(magnum: Magnum, cluster: Obj, env: str) -> OperationFailed:
    """The error for a failed cluster: its reason and each failed node group's."""
    name, status = cluster.get("name"), cluster.get("status")
    groups = failed_groups(magnum, cluster)
    reasons = [f"{status}: {cluster.get('status_reason') or 'no reason given'}", *groups]
    if status == "DELETE_FAILED":
        remedy = (
            "remove what blocks the deletion (often a load balancer or volume still on the "
            f"cluster network), then `invoke cluster.delete --yes --env {env}` again"
        )
    elif status == RECOVERABLE:
        uuid = cluster.get("uuid")
        named = [line.split()[2] for line in groups]
        which = f"node group {', '.join(named)}" if named else "the node group"
        remedy = (
            f"the cluster itself still works and Magnum still accepts node-group changes: fix "
            f"the cause above (quota, flavor, image, bounds), delete {which} (`openstack coe "
            f"nodegroup delete {uuid} NAME`) or correct its bounds, then re-run "
            f"`invoke cluster.deploy --env {env}`"
        )
    else:
        remedy = (
            "Magnum cannot repair a failed cluster: fix the cause above (quota, flavor, "
            f"image), then `invoke cluster.delete --yes --env {env}` and deploy again"
        )
    return OperationFailed(f"cluster {name} " + "; ".join(reasons), remedy)
