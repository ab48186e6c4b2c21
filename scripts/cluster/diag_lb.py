"""`invoke cluster.diag-lb`: the seed's optional load balancer to the masters.

An Octavia load balancer `<cluster>_master_in` on the cluster's network, with a
TCP listener and pool for SSH (22) and the Kubernetes API (6443), and every
master as a member of both pools. Masters replaced by auto-healing are swapped
in the pools on the next run. Octavia refuses changes while a load balancer is
PENDING_*, so every change waits for ACTIVE before the next.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from ..core import cloud
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import OperationFailed
from ..core.waiting import Backoff, Clock, wait_until
from .magnum import Magnum, Obj

T = TypeVar("T")
PORTS = (22, 6443)
LB_TIMEOUT = 15 * 60.0


def lb_name(cluster_name: str) -> str:
    return f"{cluster_name}_master_in"


def run(magnum: Magnum, cluster_name: str, ui: Console, changes: Changes, env: str) -> None:
    found = magnum.clusters_named(cluster_name)
    if not found:
        raise OperationFailed(
            f"cluster {cluster_name} not found",
            f"create it first with `invoke cluster.deploy --env {env}`",
        )
    cluster = magnum.cluster(str(found[0]["uuid"])) or found[0]
    ensure(magnum, cluster, ui, changes, clock=magnum.clock)
    ui.summary(["dry run: nothing was changed"] if changes.dry_run else [])


def ensure(
    magnum: Magnum, cluster: Obj, ui: Console, changes: Changes, *, clock: Clock | None
) -> None:
    octavia = magnum.connection.load_balancer
    name = lb_name(str(cluster.get("name")))
    masters = [str(address) for address in cluster.get("master_addresses") or []]
    if not masters and cluster.get("stack_id") and watch_ready(cluster):
        masters = control_plane_addresses(magnum, str(cluster["stack_id"]), clock)
    if not masters:
        raise OperationFailed(
            f"cluster {cluster.get('name')} reports no master addresses "
            f"(status {cluster.get('status')})",
            "wait until the cluster is CREATE_COMPLETE (`invoke cluster.status`), then re-run",
        )

    with ui.step(f"load balancer {name}") as step:
        existing = [
            lb
            for lb in cloud.call(
                "list load balancers", lambda: list(octavia.load_balancers(name=name)), clock=clock
            )
            if lb.name == name
        ]
        if len(existing) > 1:
            raise OperationFailed(
                f"{len(existing)} load balancers are named {name}",
                "delete the extra ones (`openstack loadbalancer delete --cascade ID`), re-run",
            )
        if existing:
            lb = existing[0]
            step.unchanged(f"exists, VIP {lb.vip_address}")
        else:
            subnet = cluster_subnet(magnum, cluster, masters[0], clock)
            made = changes.make(
                f"create load balancer {name} on subnet {subnet}",
                lambda: cloud.create_once(
                    f"create load balancer {name}",
                    lambda: next(iter(octavia.load_balancers(name=name)), None),
                    lambda: octavia.create_load_balancer(
                        name=name,
                        vip_subnet_id=subnet,
                        description=f"SSH and API to the masters of {cluster.get('name')}",
                    ),
                    clock=clock,
                ),
            )
            if made is None:
                step.planned("would be created")
                for port in PORTS:
                    ui.print(f"  would add listener and pool {name}_{port} with {masters}")
                return
            lb = made
            step.done("created")
        lb = wait_active(octavia, lb.id, name, ui, clock)

    balancer = Balancer(octavia, lb.id, name, lb.vip_subnet_id, ui, changes, clock)
    for port in PORTS:
        with ui.step(f"{name}: port {port} to {len(masters)} master(s)") as step:
            if not balancer.ensure_port(port, masters):
                step.unchanged("listener, pool and members in place")
            elif changes.dry_run:
                step.planned("would change")
    ui.print(f"  VIP {lb.vip_address}: attach a floating IP to its port to reach it from outside")


@dataclass
class Balancer:
    """One load balancer's listeners, pools and members; waits for ACTIVE after each change."""

    octavia: Any
    lb_id: str
    name: str
    subnet_id: str
    ui: Console
    changes: Changes
    clock: Clock | None

    def _call(self, what: str, action: Callable[[], T]) -> T:
        return cloud.call(what, action, clock=self.clock)

    def _change(self, description: str, action: Callable[[], T]) -> T | None:
        done = self.changes.make(description, lambda: self._call(description, action))
        if not self.changes.dry_run:
            wait_active(self.octavia, self.lb_id, self.name, self.ui, self.clock)
        return done

    def ensure_port(self, port: int, masters: list[str]) -> bool:
        """Listener, pool and members for one port; answers whether anything changed."""
        part = f"{self.name}_{port}"
        changed = False
        listener = self._listener(port)
        if listener is None:
            listener = self._change(
                f"create TCP listener {part}",
                lambda: self.octavia.create_listener(
                    name=part, protocol="TCP", protocol_port=port, loadbalancer_id=self.lb_id
                ),
            )
            if listener is None:  # dry run
                return True
            changed = True
        pool = self._pool(listener.id)
        if pool is None:
            listener_id = listener.id
            pool = self._change(
                f"create TCP pool {part}",
                lambda: self.octavia.create_pool(
                    name=part, protocol="TCP", lb_algorithm="ROUND_ROBIN", listener_id=listener_id
                ),
            )
            if pool is None:
                return True
            changed = True
        return self._members(pool.id, part, port, masters) or changed

    def _listener(self, port: int) -> Any:
        listeners = self._call(
            f"list listeners of {self.name}", lambda: list(self.octavia.listeners())
        )
        return next(
            (
                item
                for item in listeners
                if item.protocol_port == port
                and any(ref.get("id") == self.lb_id for ref in item.load_balancers or [])
            ),
            None,
        )

    def _pool(self, listener_id: str) -> Any:
        pools = self._call(
            f"list pools of {self.name}",
            lambda: list(self.octavia.pools(loadbalancer_id=self.lb_id)),
        )
        return next(
            (p for p in pools if any(ref.get("id") == listener_id for ref in p.listeners or [])),
            None,
        )

    def _members(self, pool_id: str, part: str, port: int, masters: list[str]) -> bool:
        members = self._call(f"list members of {part}", lambda: list(self.octavia.members(pool_id)))
        present = {m.address: m for m in members}
        changed = False
        for address in masters:
            if address not in present:
                self._add_member(pool_id, part, port, address)
                changed = True
        for address, member in present.items():
            if address not in masters:
                # A master that auto-healing replaced: it would only swallow connections.
                self._change(
                    f"remove {address} (no longer a master) from {part}",
                    partial(self.octavia.delete_member, member, pool_id, ignore_missing=True),
                )
                changed = True
        return changed

    def _add_member(self, pool_id: str, part: str, port: int, address: str) -> None:
        def find() -> Any:
            return next((m for m in self.octavia.members(pool_id) if m.address == address), None)

        def create() -> Any:
            return self.octavia.create_member(
                pool_id, address=address, protocol_port=port, subnet_id=self.subnet_id
            )

        description = f"add master {address}:{port} to {part}"
        self.changes.make(
            description, lambda: cloud.create_once(description, find, create, clock=self.clock)
        )
        if not self.changes.dry_run:
            wait_active(self.octavia, self.lb_id, self.name, self.ui, self.clock)


def cluster_subnet(magnum: Magnum, cluster: Obj, master: str, clock: Clock | None) -> str:
    """The subnet the masters live on: the cluster's own, or the one holding their address."""
    if cluster.get("fixed_subnet"):
        network = magnum.connection.network
        subnet = cloud.call(
            "find the cluster subnet",
            lambda: network.find_subnet(str(cluster["fixed_subnet"]), ignore_missing=True),
            clock=clock,
        )
        if subnet is not None:
            return str(subnet.id)
    address = ipaddress.ip_address(master)
    subnets = cloud.call(
        "list subnets", lambda: list(magnum.connection.network.subnets()), clock=clock
    )
    for subnet in subnets:
        if subnet.cidr and address in ipaddress.ip_network(subnet.cidr, strict=False):
            return str(subnet.id)
    raise OperationFailed(
        f"no subnet in this project holds the master address {master}",
        "the masters may have floating IPs only; set fixed_subnet on the cluster template",
    )


def wait_active(octavia: Any, lb_id: str, name: str, ui: Console, clock: Clock | None) -> Any:
    def probe() -> Any:
        lb = cloud.call(
            f"read load balancer {name}", lambda: octavia.get_load_balancer(lb_id), clock=clock
        )
        if lb.provisioning_status == "ERROR":
            raise OperationFailed(
                f"load balancer {name} went into ERROR",
                f"delete it (`openstack loadbalancer delete --cascade {lb_id}`) and re-run",
            )
        return lb if lb.provisioning_status == "ACTIVE" else None

    with ui.waiting(f"load balancer {name}") as line:
        return wait_until(
            probe,
            what=f"load balancer {name} to become ACTIVE",
            timeout=LB_TIMEOUT,
            backoff=Backoff(initial=2.0, factor=1.6, cap=20.0),
            clock=clock,
            on_poll=lambda elapsed: line.update(f"{elapsed:.0f}s"),
        )


def watch_ready(cluster: Obj) -> bool:
    status = str(cluster.get("status", ""))
    return status.endswith("_COMPLETE") or status in ("UPDATE_IN_PROGRESS", "UPDATE_FAILED")


def control_plane_addresses(magnum: Magnum, stack_id: str, clock: Clock | None) -> list[str]:
    """magnum-capi-helm leaves master_addresses empty (only the heat driver fills it);
    its control-plane servers are the Cluster API machines `<stack_id>-control-plane-*`
    (azimuth-cloud/capi-helm-charts openstack-cluster kubeadm-control-plane.yaml)."""
    compute = magnum.connection.compute
    servers = cloud.call(
        "list the control-plane servers",
        lambda: list(compute.servers(name=f"^{stack_id}-control-plane-")),
        clock=clock,
    )
    return sorted(
        str(entry["addr"])
        for server in servers
        for entries in (server.addresses or {}).values()
        for entry in entries
        if entry.get("addr") and entry.get("OS-EXT-IPS:type", "fixed") == "fixed"
    )


def remove(
    magnum: Magnum, cluster_name: str, ui: Console, changes: Changes, clock: Clock | None
) -> bool:
    """Delete the diagnostic load balancer, if there is one; answers whether there was."""
    octavia = magnum.connection.load_balancer
    name = lb_name(cluster_name)
    found = [
        lb
        for lb in cloud.call(
            "list load balancers", lambda: list(octavia.load_balancers(name=name)), clock=clock
        )
        if lb.name == name
    ]
    for lb in found:
        changes.make(
            f"delete load balancer {name} (cascade)",
            partial(
                cloud.call,
                f"delete load balancer {name}",
                partial(octavia.delete_load_balancer, lb.id, ignore_missing=True, cascade=True),
                clock=clock,
            ),
        )
    return bool(found)
