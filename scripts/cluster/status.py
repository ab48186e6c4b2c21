"""`invoke cluster.status [--watch]`: the cluster and its node groups as a table.

Replaces `watch openstack coe cluster list` plus `openstack coe nodegroup list`:
one view with status, reasons, node counts and autoscaling bounds. --watch
redraws with back-off until nothing is in progress any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core import cloud, cloud_names
from ..core.console import Console
from ..core.errors import OperationFailed
from ..core.loading import Environment
from ..core.waiting import Backoff, Clock, wait_until
from .deploy import only_one
from .magnum import Magnum, Obj

if TYPE_CHECKING:
    from openstack.connection import Connection


@dataclass(frozen=True)
class Snapshot:
    cluster: Obj
    groups: list[Obj]

    @property
    def busy(self) -> bool:
        states = [str(self.cluster.get("status", ""))]
        states += [str(group.get("status", "")) for group in self.groups]
        return any(state.endswith("_IN_PROGRESS") for state in states)


def run(
    environment: Environment,
    ui: Console,
    *,
    watch: bool = False,
    clock: Clock | None = None,
    connection: Connection | None = None,
) -> Snapshot | None:
    settings = environment.settings
    config = settings.cluster
    if config.driver == "existing":
        ui.print(
            f"driver 'existing': no Magnum cluster to show; `invoke cluster.check --env "
            f"{environment.name}` looks at the nodes through {environment.kubeconfig}"
        )
        ui.print(
            "  cloud-provider cluster name "
            + (
                f"{config.cloud_provider_cluster_name} ({cloud_names.KEY})"
                if config.cloud_provider_cluster_name
                else f"not set ({cloud_names.KEY}; lb.* tasks need it)"
            )
        )
        return None
    magnum = Magnum(connection or cloud.connect(settings), clock)
    found = only_one(
        magnum.clusters_named(config.name),
        f"clusters named {config.name!r}",
        "openstack coe cluster delete UUID",
    )
    if found is None:
        raise OperationFailed(
            f"cluster {config.name} does not exist in cloud {settings.cloud!r}",
            f"create it with `invoke cluster.deploy --env {environment.name}`",
        )
    uuid = str(found["uuid"])
    if not watch:
        snapshot = read(magnum, uuid)
        show(ui, snapshot, config.driver)
        return snapshot

    shown: list[Snapshot] = []

    def probe() -> Snapshot | None:
        snapshot = read(magnum, uuid)
        if not shown or snapshot != shown[-1]:
            show(ui, snapshot, config.driver)
        shown.append(snapshot)
        return None if snapshot.busy else snapshot

    return wait_until(
        probe,
        what=f"cluster {config.name} to finish what it is doing",
        timeout=config.create_timeout_minutes * 60.0,
        backoff=Backoff(initial=5.0, factor=1.6, cap=30.0),
        clock=clock,
    )


def read(magnum: Magnum, uuid: str) -> Snapshot:
    cluster = magnum.cluster(uuid)
    if cluster is None:
        raise OperationFailed(f"cluster {uuid} is gone", "it was deleted meanwhile")
    groups = [
        magnum.nodegroup(uuid, str(group["uuid"])) or group for group in magnum.nodegroups(uuid)
    ]
    return Snapshot(cluster, groups)


def show(ui: Console, snapshot: Snapshot, driver: str) -> None:
    from rich.table import Table

    from .spec import default_bounds_from_labels

    cluster = snapshot.cluster
    health = cluster.get("health_status") or "unknown"
    reason = cluster.get("status_reason") or ""
    ui.heading(
        f"cluster {cluster.get('name')}: {cluster.get('status')} (health {health})"
        + (f" — {reason}" if reason else "")
    )
    if cluster.get("api_address"):
        ui.print(f"  API {cluster['api_address']}, Kubernetes {cluster.get('coe_version') or '?'}")
    if driver == "heat" or cluster.get("stack_id"):
        name = cloud_names.from_record(driver, cluster)
        ui.print(
            f"  cloud-provider cluster name {name.name} (the cluster's {name.source}): its "
            f"load balancers are kube_service_{name.name}_<namespace>_<service>"
        )
    table = Table(show_edge=False, pad_edge=False)
    for column in ("node group", "role", "flavor", "nodes", "min..max", "status"):
        table.add_column(column, no_wrap=True)
    # Only the free text may wrap; names and numbers must survive a narrow terminal whole.
    table.add_column("reason", overflow="fold")
    # capi-helm: the cluster labels decide the default workers' bounds (spec.py).
    from_labels = default_bounds_from_labels(driver, cluster)
    for group in sorted(snapshot.groups, key=lambda g: (g.get("role") != "master", g["name"])):
        low, high = group.get("min_node_count"), group.get("max_node_count")
        if from_labels and group.get("is_default") and group.get("role") != "master":
            low, high = from_labels
        table.add_row(
            str(group.get("name")),
            str(group.get("role")),
            str(group.get("flavor_id")),
            str(group.get("node_count")),
            f"{low if low is not None else '?'}..{high if high is not None else '-'}",
            str(group.get("status")),
            str(group.get("status_reason") or ""),
        )
    ui.stream.print(table)
    if from_labels:
        ui.print(
            "  default-worker bounds: the cluster labels min_node_count/max_node_count, "
            "which magnum-capi-helm reads instead of the group's own fields"
        )
