"""`invoke cluster.delete --yes`: the cluster and the load balancers it left behind.

Magnum cannot delete the cluster network while Octavia load balancers still
sit on it, and the ones cloud-provider-openstack made for Services
(`kube_service_<cluster>_<namespace>_<service>`) are not Magnum's, so they go
first, with their listeners and pools (cascade). Floating IPs that
cloud-provider-openstack allocated for them are released; any other address
(the hub's pinned one above all) is only reported and kept. Then the cluster
is deleted and the task waits until it is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from ..core import cloud, cloud_names
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import BadInput, Problem, bad_option
from ..core.loading import Environment
from ..core.waiting import Backoff, Clock, wait_until
from . import diag_lb, watch
from .deploy import only_one
from .magnum import Magnum

if TYPE_CHECKING:
    from openstack.connection import Connection

LB_TIMEOUT = 15 * 60.0


def is_service_lb(name: str, cluster: str) -> bool:
    """kube_service_<cluster>_<namespace>_<service>, and not another cluster's; `cluster`
    is the cloud controller's --cluster-name (uuid on heat, stack_id on capi-helm)."""
    return cloud_names.service_of(name, cluster) is not None


@dataclass
class Doomed:
    """A load balancer to delete and the floating IPs on its VIP."""

    lb: Any
    addresses: list[Any]


def run(
    environment: Environment,
    ui: Console,
    *,
    yes: bool,
    dry_run: bool = False,
    clock: Clock | None = None,
    connection: Connection | None = None,
) -> None:
    settings = environment.settings
    config = settings.cluster
    env = environment.name
    if config.driver == "existing":
        raise BadInput(
            Problem(
                "cluster.driver",
                "'existing': this tool did not create the cluster and will not delete it; "
                "delete it where it was made",
            )
        )
    magnum = Magnum(connection or cloud.connect(settings), clock)
    conn = magnum.connection

    # Say what goes before anything goes.
    summary = only_one(
        magnum.clusters_named(config.name),
        f"clusters named {config.name!r}",
        "openstack coe cluster delete UUID",
    )
    live = magnum.cluster(str(summary["uuid"])) if summary is not None else None
    # The Service load balancers carry the controller's name for the cluster, which
    # only Magnum's record gives; without a cluster there are none of its left to find.
    named = live is not None and (config.driver == "heat" or bool(live.get("stack_id")))
    provider = cloud_names.from_record(config.driver, live) if live and named else None
    balancers = cloud.call(
        "list load balancers", lambda: list(conn.load_balancer.load_balancers()), clock=clock
    )
    doomed = [
        Doomed(lb, floating_ips_on(conn, lb, clock))
        for lb in balancers
        if (provider is not None and is_service_lb(str(lb.name), provider.name))
        or lb.name == diag_lb.lb_name(config.name)
    ]
    if summary is None and not doomed:
        with ui.step(f"cluster {config.name}") as step:
            step.unchanged("does not exist; nothing to delete")
        ui.summary()
        return

    ui.heading(f"cluster.delete --env {env} removes:")
    for item in doomed:
        ips = ", ".join(str(ip.floating_ip_address) for ip in item.addresses) or "none"
        ui.print(f"  load balancer {item.lb.name} (VIP {item.lb.vip_address}, floating IPs {ips})")
    if summary is not None:
        ui.print(
            f"  cluster {config.name} ({summary.get('uuid')}, {summary.get('status')}, "
            f"{summary.get('node_count')} worker(s)) with its nodes and their volumes"
        )
    if not yes and not dry_run:
        raise bad_option(
            "--yes",
            "required to delete the above (or --dry-run to only list it); nothing was deleted",
        )

    changes = Changes(ui, dry_run)
    for item in doomed:
        with ui.step(f"load balancer {item.lb.name}") as step:
            delete_lb(
                conn,
                item,
                pinned=settings.hub.floating_ip,
                cluster=provider.name if provider is not None else "",
                ui=ui,
                changes=changes,
                clock=clock,
            )
            if dry_run:
                step.planned("would be deleted")

    if summary is not None:
        uuid = str(summary["uuid"])
        with ui.step(f"cluster {config.name}") as step:
            changes.make(f"delete cluster {config.name}", lambda: magnum.delete_cluster(uuid))
            if dry_run:
                step.planned("would be deleted")
            else:
                watch.cluster_gone(
                    magnum,
                    uuid,
                    config.name,
                    ui,
                    timeout=config.create_timeout_minutes * 60.0,
                    env=env,
                    clock=clock,
                )
                step.done("deleted")
    ui.summary(
        ["dry run: nothing was changed"]
        if dry_run
        else [f"cluster template {config.template} is kept (other clusters may use it)"]
    )


def floating_ips_on(conn: Any, lb: Any, clock: Clock | None) -> list[Any]:
    if not lb.vip_port_id:
        return []
    return cloud.call(
        f"list floating IPs of {lb.name}",
        lambda: list(conn.network.ips(port_id=lb.vip_port_id)),
        clock=clock,
    )


def delete_lb(
    conn: Any,
    item: Doomed,
    *,
    pinned: str | None,
    cluster: str,
    ui: Console,
    changes: Changes,
    clock: Clock | None,
) -> None:
    octavia, lb = conn.load_balancer, item.lb
    changes.make(
        f"delete load balancer {lb.name} with its listeners and pools",
        lambda: cloud.call(
            f"delete load balancer {lb.name}",
            lambda: octavia.delete_load_balancer(lb.id, ignore_missing=True, cascade=True),
            clock=clock,
        ),
    )
    if not changes.dry_run:
        wait_gone(octavia, lb, ui, clock)
    for ip in item.addresses:
        address = str(ip.floating_ip_address)
        description = str(ip.description or "")
        made_by_cloud_provider = bool(cluster) and cloud_names.made_for_cluster(
            description, cluster
        )
        if address == pinned or not made_by_cloud_provider:
            ui.print(f"  floating IP {address} kept (not allocated by the cluster) — now free")
            continue
        changes.make(
            f"release floating IP {address} ({description})",
            partial(
                cloud.call,
                f"release floating IP {address}",
                partial(conn.network.delete_ip, ip.id, ignore_missing=True),
                clock=clock,
            ),
        )


def wait_gone(octavia: Any, lb: Any, ui: Console, clock: Clock | None) -> None:
    from openstack import exceptions

    def read() -> Any:
        try:
            return octavia.get_load_balancer(lb.id)
        except exceptions.NotFoundException:
            return None

    def probe() -> bool | None:
        current = cloud.call(f"read load balancer {lb.name}", read, clock=clock)
        return True if current is None or current.provisioning_status == "DELETED" else None

    with ui.waiting(f"deleting load balancer {lb.name}") as line:
        wait_until(
            probe,
            what=f"load balancer {lb.name} to be deleted",
            timeout=LB_TIMEOUT,
            backoff=Backoff(initial=2.0, factor=1.6, cap=20.0),
            clock=clock,
            on_poll=lambda elapsed: line.update(f"{elapsed:.0f}s"),
        )
