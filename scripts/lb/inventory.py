"""What exists on both sides: the cluster's Octavia load balancers and its Services.

cloud-provider-openstack (the cluster's cloud controller) turns each Service of
type LoadBalancer into an Octavia load balancer named
`kube_service_<cluster>_<namespace>_<service>`, puts the nodes in its pools and,
when it allocates a floating IP itself, describes it as "Floating IP for
Kubernetes external service <namespace>/<service> from cluster <cluster>". Those
two conventions are all that links an Octavia object to a Kubernetes one, so
this module reads both sides once into plain records that doctor, cleanup and
recreate compare.

Reads only: nothing here changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import cloud, cloud_names, known_objects, kube
from ..core.waiting import Clock

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from ..core.settings import Settings

PREFIX = cloud_names.LB_PREFIX
HUB_SERVICE = known_objects.Z2JH_PROXY_PUBLIC
# Octavia refuses changes and deletes while an operation runs on a load balancer.
BUSY_PREFIX = "PENDING_"

balancer_name = cloud_names.load_balancer_name
service_of = cloud_names.service_of


def provider_description(cluster: str, namespace: str, service: str) -> str:
    return cloud_names.floating_ip_description(cluster, namespace, service)


def require_managed_cluster(settings: Settings, task: str) -> None:
    """The Octavia names embed the cloud controller's --cluster-name: Magnum knows it for
    the clusters it made; for driver 'existing' only the config can say (exit 2 without)."""
    if settings.cluster.driver == "existing":
        cloud_names.configured(settings, task)


def cluster_name(conn: Any, settings: Settings, task: str, clock: Clock | None = None) -> str:
    """The <cluster> of this cluster's `kube_service_<cluster>_...` names."""
    return cloud_names.resolve(conn, settings, task, clock=clock).name


# ------------------------------------------------------------------ records


@dataclass(frozen=True)
class Balancer:
    id: str
    name: str
    namespace: str
    service: str
    status: str  # Octavia provisioning_status
    vip_address: str
    vip_port_id: str
    members: tuple[str, ...]  # pool member addresses, read for ACTIVE ones only

    @property
    def busy(self) -> bool:
        return self.status.startswith(BUSY_PREFIX)

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.service


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    type: str  # spec.type: LoadBalancer, ClusterIP, ...
    ingress: tuple[str, ...]
    requested_ip: str | None  # spec.loadBalancerIP
    deleting: bool
    finalizers: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    @property
    def pending(self) -> bool:
        """What kubectl shows as EXTERNAL-IP <pending>."""
        return not self.ingress


@dataclass(frozen=True)
class FloatingIp:
    id: str
    address: str
    port_id: str | None
    description: str


@dataclass(frozen=True)
class Inventory:
    cluster: str
    balancers: tuple[Balancer, ...]
    services: tuple[Service, ...]
    node_addresses: frozenset[str]
    floating_ips: tuple[FloatingIp, ...]

    def service(self, key: tuple[str, str]) -> Service | None:
        return next((s for s in self.services if s.key == key), None)

    def balancers_for(self, key: tuple[str, str]) -> list[Balancer]:
        return [b for b in self.balancers if b.key == key]

    def ips_on(self, balancer: Balancer) -> list[FloatingIp]:
        return [ip for ip in self.floating_ips if ip.port_id and ip.port_id == balancer.vip_port_id]

    def ip(self, address: str) -> FloatingIp | None:
        return next((ip for ip in self.floating_ips if ip.address == address), None)

    def made_by_provider(self, ip: FloatingIp, balancer: Balancer | None = None) -> bool:
        """Allocated by cloud-provider-openstack for this cluster (for balancer's Service)."""
        if balancer is not None:
            return ip.description == provider_description(
                self.cluster, balancer.namespace, balancer.service
            )
        return cloud_names.made_for_cluster(ip.description, self.cluster)


# ------------------------------------------------------------------ reading


def read(
    conn: Any, api: ApiClient, settings: Settings, *, task: str, clock: Clock | None = None
) -> Inventory:
    cluster = cluster_name(conn, settings, task, clock)
    # Server names: heat's start with the Magnum name, capi-helm's with the Helm release
    # (the stack_id; capi-helm-charts openstack-cluster `componentName`), and for an
    # existing cluster the controller's name is the best guess there is.
    servers = settings.cluster.name if settings.cluster.driver == "heat" else cluster
    return Inventory(
        cluster=cluster,
        balancers=tuple(read_balancers(conn, cluster, clock=clock)),
        services=tuple(read_services(api)),
        node_addresses=frozenset(_node_addresses(api) | _server_addresses(conn, servers, clock)),
        floating_ips=tuple(read_floating_ips(conn, clock=clock)),
    )


def read_balancers(conn: Any, cluster: str, *, clock: Clock | None = None) -> list[Balancer]:
    """This cluster's Service load balancers; pool members only for ACTIVE ones, because
    Octavia is still changing the others."""
    octavia = conn.load_balancer
    found = cloud.call(
        "list Octavia load balancers", lambda: list(octavia.load_balancers()), clock=clock
    )
    balancers = []
    for lb in found:
        owner = service_of(str(lb.name or ""), cluster)
        if owner is None:
            continue
        status = str(lb.provisioning_status or "")
        members: tuple[str, ...] = ()
        if status == "ACTIVE":
            members = _members(octavia, lb, clock)
        balancers.append(
            Balancer(
                id=str(lb.id),
                name=str(lb.name),
                namespace=owner[0],
                service=owner[1],
                status=status,
                vip_address=str(lb.vip_address or ""),
                vip_port_id=str(lb.vip_port_id or ""),
                members=members,
            )
        )
    return sorted(balancers, key=lambda b: b.name)


def _members(octavia: Any, lb: Any, clock: Clock | None) -> tuple[str, ...]:
    def addresses() -> tuple[str, ...]:
        found: set[str] = set()
        for pool in octavia.pools(loadbalancer_id=lb.id):
            found.update(str(m.address) for m in octavia.members(pool.id))
        return tuple(sorted(found))

    return cloud.call(f"list the pool members of {lb.name}", addresses, clock=clock)


def read_services(api: ApiClient) -> list[Service]:
    """Every Service of type LoadBalancer, in all namespaces (the others have no
    load balancer, so an Octavia one by their name is an orphan)."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    listed = kube.call("list Services", core.list_service_for_all_namespaces)
    services = []
    for item in listed.items:
        if item.spec is None or item.spec.type != "LoadBalancer":
            continue
        services.append(_service(item))
    return sorted(services, key=lambda s: s.key)


def read_service(api: ApiClient, namespace: str, name: str) -> Service | None:
    from kubernetes import client

    core = client.CoreV1Api(api)
    item = kube.read_or_none(
        f"read Service {namespace}/{name}",
        lambda: core.read_namespaced_service(name, namespace),
    )
    return None if item is None else _service(item)


def _service(item: Any) -> Service:
    status = item.status.load_balancer if item.status is not None else None
    ingress = tuple(
        str(entry.ip or entry.hostname)
        for entry in (status.ingress or [] if status is not None else [])
        if entry.ip or entry.hostname
    )
    return Service(
        namespace=str(item.metadata.namespace),
        name=str(item.metadata.name),
        type=str(item.spec.type if item.spec is not None else ""),
        ingress=ingress,
        requested_ip=item.spec.load_balancer_ip if item.spec is not None else None,
        deleting=item.metadata.deletion_timestamp is not None,
        finalizers=tuple(item.metadata.finalizers or ()),
    )


def read_floating_ips(conn: Any, *, clock: Clock | None = None) -> list[FloatingIp]:
    found = cloud.call("list floating IPs", lambda: list(conn.network.ips()), clock=clock)
    return sorted(
        (
            FloatingIp(
                id=str(ip.id),
                address=str(ip.floating_ip_address),
                port_id=str(ip.port_id) if ip.port_id else None,
                description=str(ip.description or ""),
            )
            for ip in found
        ),
        key=lambda ip: ip.address,
    )


def _node_addresses(api: ApiClient) -> set[str]:
    from kubernetes import client

    nodes = kube.call("list nodes", client.CoreV1Api(api).list_node)
    return {
        str(address.address)
        for node in nodes.items
        for address in (node.status.addresses or [] if node.status is not None else [])
        if address.type == "InternalIP"
    }


def _server_addresses(conn: Any, cluster: str, clock: Clock | None) -> set[str]:
    """Addresses of the cluster's Nova servers (Magnum names them `<cluster>-...`).

    Together with the nodes' InternalIPs: a member is stale only when neither side
    knows its address, so a node that is still joining is not reported.
    """
    servers = cloud.call(
        f"list the servers of cluster {cluster}",
        # Nova's name filter is a regular expression; cluster names are DNS labels.
        lambda: list(conn.compute.servers(name=f"^{cluster}-")),
        clock=clock,
    )
    return {
        str(entry.get("addr"))
        for server in servers
        for entries in (server.addresses or {}).values()
        for entry in entries
        if entry.get("addr")
    }
