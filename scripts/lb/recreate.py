"""lb.recreate: the seed's whole fix for a hub stuck behind a stale load balancer.

The seed's steps were: delete the proxy-public Service and its load balancer,
re-run the deployment (which recreates the Service), and attach the floating IP
by hand. Here:

1. read the Service, its load balancer and the floating IPs; refuse before any
   change when the pinned hub.floating_ip is missing or attached elsewhere, or
   when no address is pinned but the load balancer has one (the new load
   balancer would get another address and the hub's DNS name would break);
2. say what goes and what stays, and ask (or take --yes);
3. delete the Service and the load balancer (cascade), and wait until both are
   gone; release the addresses the cloud provider allocated for it, never the
   pinned one;
4. redeploy the hub: helm re-applies the release with its deployed values,
   which re-creates the missing Service (hub.deploy alone would see unchanged
   values and not run helm at all), then hub.deploy brings the release to the
   config and waits for the pods and the Service's address;
5. wait for the new load balancer to be ACTIVE and check that the pinned
   floating IP is on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import cloud, helm, known_objects, kube
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import OperationFailed
from ..core.loading import Environment
from ..core.prompts import Ask, confirm_deletion
from ..core.waiting import Backoff, Clock, wait_until
from . import doctor, inventory, removal
from .inventory import Balancer, FloatingIp, Inventory

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# The Service waits for its finalizer (the cloud provider's load-balancer cleanup).
SERVICE_GONE_TIMEOUT = 15 * 60.0
# Octavia builds an amphora in a few minutes; a busy cloud can take ten.
NEW_BALANCER_TIMEOUT = 15 * 60.0
# The cloud provider attaches the floating IP as the load balancer's last step.
ATTACH_TIMEOUT = 5 * 60.0
FINALIZER = "service.kubernetes.io/load-balancer-cleanup"

# Step 4's second half, hub.deploy, is another area's procedure: the orchestration
# layer (scripts/cross_area.py) passes it in, since areas do not import each other.
Redeploy = Callable[[Environment, Console, "Clock | None"], None]


@dataclass
class Outcome:
    deleted: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    new_balancer: str = ""
    address: str | None = None
    pinned_attached: bool = False


def run(
    environment: Environment,
    ui: Console,
    *,
    redeploy: Redeploy,
    yes: bool = False,
    dry_run: bool = False,
    ask: Ask | None = None,
    clock: Clock | None = None,
) -> Outcome:
    settings = environment.settings
    hub = settings.hub
    inventory.require_managed_cluster(settings, "lb.recreate")
    conn = cloud.connect(settings)
    api = kube.api_client(environment.kubeconfig)
    key = (hub.namespace, inventory.HUB_SERVICE)
    where = f"{hub.namespace}/{inventory.HUB_SERVICE}"
    found = inventory.read(conn, api, settings, task="lb.recreate", clock=clock)
    name = inventory.balancer_name(found.cluster, *key)
    service = inventory.read_service(api, *key)
    old = found.balancers_for(key)
    released = _addresses_to_release(found, old, hub.floating_ip)
    _refuse_unsafe_addresses(found, old, hub.floating_ip, environment.name)
    _warn_when_healthy(found, environment, ui)

    ui.heading(f"lb.recreate --env {environment.name} replaces the hub's load balancer:")
    ui.print("  the hub is unreachable until the new one is ACTIVE (usually a few minutes)")
    if service is not None:
        shown = ", ".join(service.ingress) or "<pending>"
        ui.print(f"  delete Service {where} (address {shown})")
    for balancer in old:
        ui.print(
            f"  delete load balancer {balancer.name} ({balancer.status}, VIP "
            f"{balancer.vip_address}) with its listeners and pools"
        )
    for ip in released:
        ui.print(f"  release floating IP {ip.address} (the cloud provider allocated it for it)")
    if hub.floating_ip:
        ui.print(f"  keep floating IP {hub.floating_ip} (hub.floating_ip): it moves to the new one")
    ui.print(f"  redeploy the hub (release {hub.release}), then wait for load balancer {name}")
    if not dry_run and not confirm_deletion(
        f"replace the load balancer of Service {where}", yes=yes, ask=ask
    ):
        ui.print("Nothing was changed.")
        return Outcome()

    changes = Changes(ui, dry_run)
    outcome = Outcome()
    with ui.step(f"delete Service {where}") as step:
        if service is None:
            step.unchanged("not there")
        else:
            _delete_service(api, hub.namespace, changes)
            if dry_run:
                step.planned("would be deleted")
    for balancer in old:
        with ui.step(f"delete load balancer {balancer.name}") as step:
            if _delete_when_settled(conn, balancer, changes, clock):
                if dry_run:
                    step.planned("would be deleted")
                else:
                    outcome.deleted.append(balancer.name)
            else:
                step.unchanged("already gone, or being deleted by the cloud controller")
    if dry_run:
        for ip in released:
            removal.release_ip(conn, ip, changes, pinned=hub.floating_ip, clock=clock)
        changes.make(
            f"re-apply release {hub.release} with its deployed values (re-creates the Service), "
            f"then run hub.deploy and wait for load balancer {name}",
            lambda: None,
        )
        ui.summary(["dry run: nothing was changed"])
        return outcome

    with ui.step("Service and load balancer gone"):
        _wait_until_gone(conn, api=api, namespace=hub.namespace, old=old, ui=ui, clock=clock)
    for ip in released:
        with ui.step(f"release floating IP {ip.address}"):
            removal.release_ip(conn, ip, changes, pinned=hub.floating_ip, clock=clock)
            outcome.released.append(ip.address)

    _reapply(environment, ui, changes)
    redeploy(environment, ui, clock)

    with ui.step(f"new load balancer {name}") as step:
        new = _wait_for_new_balancer(
            conn, cluster=found.cluster, key=key, name=name, ui=ui, clock=clock
        )
        outcome.new_balancer = new.id
        step.done(f"ACTIVE, VIP {new.vip_address}")
    outcome.address = kube.load_balancer_address(api, *key)
    if hub.floating_ip:
        with ui.step(f"floating IP {hub.floating_ip} on the new load balancer") as step:
            _wait_for_attachment(conn, new, hub.floating_ip, clock)
            outcome.pinned_attached = True
            step.done(f"Service {where} answers at {outcome.address}")
    ui.summary(
        [
            f"Service {where}: {outcome.address}",
            f"check with `invoke lb.doctor --env {environment.name}`",
        ]
    )
    return outcome


# ------------------------------------------------------------------ checks


def _addresses_to_release(
    found: Inventory, old: list[Balancer], pinned: str | None
) -> list[FloatingIp]:
    """Addresses the cloud provider allocated for the old load balancer. Only with a
    pinned address: without one, _refuse_unsafe_addresses stops the run first."""
    if pinned is None:
        return []
    return [
        ip
        for balancer in old
        for ip in found.ips_on(balancer)
        if ip.address != pinned and found.made_by_provider(ip, balancer)
    ]


def _refuse_unsafe_addresses(
    found: Inventory, old: list[Balancer], pinned: str | None, env: str
) -> None:
    ports = {balancer.vip_port_id for balancer in old}
    if pinned is None:
        current = [ip.address for balancer in old for ip in found.ips_on(balancer)]
        if current:
            raise OperationFailed(
                f"the hub's load balancer has the floating IP {current[0]} and no "
                "hub.floating_ip is pinned: a new load balancer would get another address "
                "and the hub's DNS name would point at nothing",
                f"pin it: set hub.floating_ip: {current[0]} in config/{env}.yaml and re-run "
                f"`invoke lb.recreate --env {env}` (the address then moves to the new one)",
            )
        return
    ip = found.ip(pinned)
    if ip is None:
        raise OperationFailed(
            f"hub.floating_ip {pinned} is not allocated in this project; nothing was changed",
            f"allocate it (`openstack floating ip create --floating-ip-address {pinned} "
            "EXTERNAL_NETWORK`) or set hub.floating_ip to an address you own",
        )
    if ip.port_id is not None and ip.port_id not in ports:
        raise OperationFailed(
            f"hub.floating_ip {pinned} is attached to port {ip.port_id}, not to the hub's load "
            "balancer; the new one could not take it; nothing was changed",
            f"detach it (`openstack floating ip unset --port {pinned}`) if that is safe, "
            f"then re-run `invoke lb.recreate --env {env}`",
        )


def _warn_when_healthy(found: Inventory, environment: Environment, ui: Console) -> None:
    context = doctor.Context(environment.name, environment.kubeconfig, environment.settings)
    report = doctor.diagnose(found, context)
    if not any(finding.service == context.hub_key for finding in report.findings):
        ui.warn(
            "lb.doctor finds nothing wrong with the hub's load balancer; "
            "recreating it still interrupts the hub"
        )


# ------------------------------------------------------------------ steps


def _delete_service(api: ApiClient, namespace: str, changes: Changes) -> None:
    from kubernetes import client

    core = client.CoreV1Api(api)

    def delete() -> None:
        kube.read_or_none(
            f"delete Service {namespace}/{inventory.HUB_SERVICE}",
            lambda: core.delete_namespaced_service(inventory.HUB_SERVICE, namespace),
        )

    changes.make(f"delete Service {namespace}/{inventory.HUB_SERVICE}", delete)


def _delete_when_settled(
    conn: Any, balancer: Balancer, changes: Changes, clock: Clock | None
) -> bool:
    """Delete once Octavia accepts it (it refuses while PENDING_*); False when it went
    meanwhile (the cloud controller may be deleting it right now, after the Service)."""

    def settled() -> str | None:
        status = removal.current_status(conn, balancer.id, clock=clock)
        if status is None:
            return "gone"
        return None if status.startswith(inventory.BUSY_PREFIX) else status

    if balancer.status == "PENDING_DELETE":
        return False
    if not changes.dry_run and (
        wait_until(
            settled,
            what=f"load balancer {balancer.name} to finish its current operation",
            timeout=removal.GONE_TIMEOUT,
            backoff=Backoff(initial=2.0, factor=1.6, cap=20.0),
            clock=clock,
        )
        == "gone"
    ):
        return False
    removal.delete_balancer(conn, balancer, changes, clock=clock)
    return True


def _wait_until_gone(
    conn: Any,
    *,
    api: ApiClient,
    namespace: str,
    old: list[Balancer],
    ui: Console,
    clock: Clock | None,
) -> None:
    remaining: list[str] = []

    def probe() -> bool | None:
        remaining.clear()
        service = inventory.read_service(api, namespace, inventory.HUB_SERVICE)
        if service is not None:
            held = f" (finalizers: {', '.join(service.finalizers)})" if service.finalizers else ""
            remaining.append(f"Service {namespace}/{inventory.HUB_SERVICE}{held}")
        for balancer in old:
            status = removal.current_status(conn, balancer.id, clock=clock)
            if status == "ERROR":
                raise OperationFailed(
                    f"Octavia could not delete load balancer {balancer.name} (ERROR)",
                    f"try `openstack loadbalancer delete --cascade {balancer.id}`, then re-run",
                )
            if status is not None:
                remaining.append(f"load balancer {balancer.name} ({status})")
        return True if not remaining else None

    with ui.waiting("waiting for the Service and the load balancer to go") as line:
        try:
            wait_until(
                probe,
                what="the hub's Service and load balancer to be deleted",
                timeout=SERVICE_GONE_TIMEOUT,
                backoff=Backoff(initial=2.0, factor=1.6, cap=20.0),
                clock=clock,
                on_poll=lambda elapsed: line.update(f"{elapsed:.0f}s"),
            )
        except OperationFailed as error:
            heat, heat_pods = known_objects.cloud_controller("heat")
            capi, capi_pods = known_objects.cloud_controller("capi-helm")
            raise OperationFailed(
                f"{error.cause}; still there: {'; '.join(remaining)}",
                f"the cloud controller removes the {FINALIZER} finalizer once the load balancer "
                f"is gone; check its logs (`kubectl logs -n {heat.namespace} -l {heat_pods}` "
                f"on heat, `kubectl logs -n {capi.namespace} -l {capi_pods}` on capi-helm), "
                "then re-run",
            ) from None


def _reapply(environment: Environment, ui: Console, changes: Changes) -> None:
    hub = environment.settings.hub
    client = helm.Helm(kubeconfig=environment.kubeconfig)
    with ui.step(f"re-apply release {hub.release} (re-creates the Service)") as step:
        deployed = client.get_values(hub.release, hub.namespace)
        status = client.status(hub.release, hub.namespace)
        if deployed is None or status is None:
            step.skipped("not installed; hub.deploy installs it")
        else:
            version = status.chart_version or hub.chart.version
            changes.make(
                f"helm upgrade --install {hub.release} {hub.chart.name} {version} with the "
                "release's deployed values (in a 0600 temporary file)",
                lambda: client.upgrade_install(
                    hub.release,
                    hub.chart.name,
                    repo=hub.chart.repo,
                    version=version,
                    namespace=hub.namespace,
                    values=deployed,
                    wait=True,
                    timeout_seconds=hub.upgrade_timeout_minutes * 60,
                ),
            )


def _wait_for_new_balancer(
    conn: Any,
    *,
    cluster: str,
    key: tuple[str, str],
    name: str,
    ui: Console,
    clock: Clock | None,
) -> Balancer:
    def probe() -> Balancer | None:
        found = [b for b in inventory.read_balancers(conn, cluster, clock=clock) if b.key == key]
        for balancer in found:
            if balancer.status == "ERROR":
                raise OperationFailed(
                    f"the new load balancer {name} is in ERROR",
                    f"see `openstack loadbalancer show {balancer.id}` and the cloud "
                    "controller's logs; then run `invoke lb.recreate` again",
                )
        return next((b for b in found if b.status == "ACTIVE"), None)

    with ui.waiting(f"waiting for load balancer {name}") as line:
        return wait_until(
            probe,
            what=f"load balancer {name} to be ACTIVE",
            timeout=NEW_BALANCER_TIMEOUT,
            remedy="see `invoke lb.doctor` and the cloud controller's logs",
            backoff=Backoff(initial=2.0, factor=1.6, cap=20.0),
            clock=clock,
            on_poll=lambda elapsed: line.update(f"{elapsed:.0f}s"),
        )


def _wait_for_attachment(conn: Any, balancer: Balancer, address: str, clock: Clock | None) -> None:
    def probe() -> bool | None:
        found = inventory.read_floating_ips(conn, clock=clock)
        ip = next((ip for ip in found if ip.address == address), None)
        if ip is None:
            raise OperationFailed(
                f"hub.floating_ip {address} disappeared from the project",
                "allocate it again and run `invoke lb.recreate` once more",
            )
        if ip.port_id == balancer.vip_port_id:
            return True
        if ip.port_id is not None:
            raise OperationFailed(
                f"hub.floating_ip {address} went to port {ip.port_id}, not to the new load "
                f"balancer {balancer.name}",
                "see `invoke lb.doctor`",
            )
        return None

    wait_until(
        probe,
        what=f"floating IP {address} to be attached to load balancer {balancer.name}",
        timeout=ATTACH_TIMEOUT,
        remedy="the cloud controller attaches it from the Service's loadBalancerIP; "
        "see its logs and `invoke lb.doctor`",
        backoff=Backoff(initial=2.0, factor=1.6, cap=20.0),
        clock=clock,
    )
