"""Is the configured floating IP usable by the hub's load balancer?

The seed attached the address by hand while the load balancer was being built.
Here the address goes into the proxy Service (`loadBalancerIP`), and
cloud-provider-openstack attaches it; that only works when the address is
allocated in the project and not attached to something else. Checking first
turns a Service stuck in <pending> into a clear message before anything changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import cloud, cloud_names, known_objects
from ..core.errors import OperationFailed
from ..core.settings import Settings

PROXY_SERVICE = known_objects.Z2JH_PROXY_PUBLIC


def load_balancer_name(cluster: str, namespace: str, service: str = PROXY_SERVICE) -> str:
    """The name cloud-provider-openstack gives a Service's Octavia load balancer; `cluster`
    is the controller's --cluster-name (core.cloud_names), not the Magnum name."""
    return cloud_names.load_balancer_name(cluster, namespace, service)


def service_description(cluster: str, namespace: str, service: str = PROXY_SERVICE) -> str:
    """The description cloud-provider-openstack writes on a floating IP it attached."""
    return cloud_names.floating_ip_description(cluster, namespace, service)


@dataclass(frozen=True)
class FloatingIpState:
    address: str
    # "free", or "ours" (already on this hub's load balancer).
    state: str
    detail: str


def check(conn: Any, settings: Settings) -> FloatingIpState:
    """Free, or already on this hub's load balancer; anything else is an OperationFailed."""
    address = settings.hub.floating_ip
    assert address is not None, "check() is only called with a floating IP configured"
    namespace = settings.hub.namespace
    found = cloud.call(
        f"look up floating IP {address}",
        lambda: list(conn.network.ips(floating_ip_address=address)),
    )
    if not found:
        raise OperationFailed(
            f"floating IP {address} (hub.floating_ip) is not allocated in this project",
            f"allocate it (`openstack floating ip create --floating-ip-address {address} "
            f"{settings.cluster.external_network}`) or set hub.floating_ip to one you own",
        )
    fip = found[0]
    if not fip.port_id:
        return FloatingIpState(address, "free", "allocated and not attached")
    # Only an attached address needs the load balancer's name, and with it Magnum's record.
    cluster = cloud_names.resolve(conn, settings, "hub.deploy's floating-IP check").name
    if _on_our_load_balancer(conn, fip, cluster, namespace):
        return FloatingIpState(address, "ours", "already on this hub's load balancer")
    raise OperationFailed(
        f"floating IP {address} (hub.floating_ip) is attached to port {fip.port_id} "
        f"(fixed IP {fip.fixed_ip_address}), not to this hub's load balancer "
        f"{load_balancer_name(cluster, namespace)}",
        f"detach it (`openstack floating ip unset --port {address}`) if that is safe, "
        "or set hub.floating_ip to a free address",
    )


def _on_our_load_balancer(conn: Any, fip: Any, cluster: str, namespace: str) -> bool:
    if fip.description == service_description(cluster, namespace):
        return True
    name = load_balancer_name(cluster, namespace)
    balancers = cloud.call(
        f"look up load balancer {name}",
        lambda: list(conn.load_balancer.load_balancers(name=name)),
    )
    return any(balancer.vip_port_id == fip.port_id for balancer in balancers)
