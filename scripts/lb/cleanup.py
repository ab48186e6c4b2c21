"""lb.cleanup: delete the load balancers whose Service is gone, and their floating IPs.

An orphan is a `kube_service_<cluster>_<namespace>_<service>` load balancer of
this cluster with no Service of type LoadBalancer by that name. It is deleted
with cascade. The floating IPs on its VIP are released only when the cloud
provider allocated them for that very Service of this cluster (their
description says so); everything else on it is left allocated and reported:

- the pinned hub.floating_ip, always;
- an address someone allocated by hand (any other description);
- the hub's own proxy-public address when no hub.floating_ip is pinned, because
  the hub's DNS name may still point at it and a released address is gone.

Load balancers Octavia is still working on are skipped (it refuses to delete
them anyway); a re-run picks them up. A second run finds nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core import cloud, kube
from ..core.changes import Changes
from ..core.console import Console
from ..core.loading import Environment
from ..core.prompts import Ask, confirm_deletion
from ..core.waiting import Clock
from . import inventory, removal
from .inventory import Balancer, FloatingIp, Inventory

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Kept:
    ip: FloatingIp
    reason: str


@dataclass(frozen=True)
class Orphan:
    balancer: Balancer
    release: tuple[FloatingIp, ...]
    keep: tuple[Kept, ...]


@dataclass
class Outcome:
    deleted: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def run(
    environment: Environment,
    ui: Console,
    *,
    yes: bool = False,
    dry_run: bool = False,
    ask: Ask | None = None,
    clock: Clock | None = None,
) -> Outcome:
    settings = environment.settings
    inventory.require_managed_cluster(settings, "lb.cleanup")
    conn = cloud.connect(settings)
    api = kube.api_client(environment.kubeconfig)
    found = inventory.read(conn, api, settings, task="lb.cleanup", clock=clock)
    pinned = settings.hub.floating_ip
    outcome = Outcome()

    orphans: list[Orphan] = []
    for balancer in found.balancers:
        if found.service(balancer.key) is not None or balancer.status == "PENDING_DELETE":
            continue
        if balancer.busy:
            outcome.skipped.append(balancer.name)
            ui.print(
                f"  skipped {balancer.name}: Octavia is still working on it "
                f"({balancer.status}); run lb.cleanup again later"
            )
            continue
        orphans.append(plan(found, balancer, pinned, settings.hub.namespace))

    if not orphans:
        with ui.step("orphaned load balancers") as step:
            step.unchanged("none; every load balancer of this cluster has its Service")
        ui.summary()
        return outcome

    ui.heading(f"lb.cleanup --env {environment.name} deletes:")
    for orphan in orphans:
        balancer = orphan.balancer
        ui.print(
            f"  load balancer {balancer.name} ({balancer.status}, VIP {balancer.vip_address}) "
            f"with its listeners and pools: no Service {balancer.namespace}/{balancer.service}"
        )
        for ip in orphan.release:
            ui.print(f"    and floating IP {ip.address} (allocated for it by the cloud provider)")
        for kept in orphan.keep:
            ui.print(f"    keeping floating IP {kept.ip.address}: {kept.reason}")
    if not dry_run and not confirm_deletion(
        f"delete {len(orphans)} load balancer(s)", yes=yes, ask=ask
    ):
        ui.print("Nothing was deleted.")
        return outcome

    changes = Changes(ui, dry_run)
    for orphan in orphans:
        balancer = orphan.balancer
        with ui.step(f"load balancer {balancer.name}") as step:
            # The listing above may be minutes old: a Service created since then owns it.
            now = inventory.read_service(api, balancer.namespace, balancer.service)
            if now is not None and now.type == "LoadBalancer":
                step.skipped(f"Service {balancer.namespace}/{balancer.service} exists again")
                outcome.skipped.append(balancer.name)
                continue
            removal.delete_balancer(conn, balancer, changes, clock=clock)
            if dry_run:
                step.planned("would be deleted")
            else:
                removal.wait_gone(conn, balancer, ui, clock=clock)
                outcome.deleted.append(balancer.name)
            for ip in orphan.release:
                removal.release_ip(conn, ip, changes, pinned=pinned, clock=clock)
                if not dry_run:
                    outcome.released.append(ip.address)
            outcome.kept += [kept.ip.address for kept in orphan.keep]
            if not dry_run:
                step.done(_what_happened(orphan))
    ui.summary(
        ["dry run: nothing was changed"]
        if dry_run
        else [f"check with `invoke lb.doctor --env {environment.name}`"]
    )
    return outcome


def plan(found: Inventory, balancer: Balancer, pinned: str | None, hub_namespace: str) -> Orphan:
    """Which floating IPs on an orphan's VIP go with it, and why the others stay."""
    release: list[FloatingIp] = []
    keep: list[Kept] = []
    hub_service = (hub_namespace, inventory.HUB_SERVICE)
    for ip in found.ips_on(balancer):
        if ip.address == pinned:
            keep.append(Kept(ip, "it is the pinned hub.floating_ip"))
        elif not found.made_by_provider(ip, balancer):
            keep.append(Kept(ip, "not allocated by the cloud provider for this Service"))
        elif balancer.key == hub_service and pinned is None:
            keep.append(
                Kept(
                    ip,
                    "it was the hub's address and the hub's DNS name may point at it; pin it "
                    f"(hub.floating_ip: {ip.address}) or release it with "
                    f"`openstack floating ip delete {ip.address}`",
                )
            )
        else:
            release.append(ip)
    return Orphan(balancer, tuple(release), tuple(keep))


def _what_happened(orphan: Orphan) -> str:
    parts = ["deleted"]
    if orphan.release:
        parts.append(f"released {', '.join(ip.address for ip in orphan.release)}")
    if orphan.keep:
        parts.append(f"kept {', '.join(kept.ip.address for kept in orphan.keep)}")
    return "; ".join(parts)
