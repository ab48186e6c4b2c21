"""lb.doctor: the seed's "Proxy_public service notes", as a check with fixes.

Deleting a Service does not always delete its Octavia load balancer, and a
redeployed Service then sits on the old one: `kubectl get svc` shows the
external address <pending> while Octavia shows the load balancer ACTIVE, and
its members still point at nodes that may be long gone. This reads both sides
(see inventory.py) and reports, each with the command that fixes it:

- load balancers of this cluster whose Service no longer exists (orphans);
- Services stuck <pending> although their load balancer is ACTIVE;
- load balancers sending traffic to addresses no node has any more;
- load balancers in ERROR;
- the pinned hub.floating_ip missing, attached elsewhere, or not the hub's address;
- floating IPs attached to nothing that the cloud provider allocated for this cluster.

The pinned hub.floating_ip being free is expected (it waits for the hub's load
balancer) and never reported as a leftover.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import cloud, kube
from ..core.console import Console
from ..core.loading import Environment
from ..core.settings import Settings
from ..core.waiting import Clock
from . import inventory
from .inventory import Balancer, Inventory

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Finding:
    problem: str
    fix: str
    # (namespace, name) of the Service it concerns, when it concerns one.
    service: tuple[str, str] | None = None


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    # Things worth knowing that need no action (an expected free address, an LB being built).
    notes: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class Context:
    """What the fix commands name: the environment, its kubeconfig, the pinned address."""

    env: str
    kubeconfig: Path
    settings: Settings

    @property
    def hub_key(self) -> tuple[str, str]:
        return self.settings.hub.namespace, inventory.HUB_SERVICE


def run(
    environment: Environment,
    ui: Console,
    *,
    clock: Clock | None = None,
) -> Report:
    settings = environment.settings
    inventory.require_managed_cluster(settings, "lb.doctor")
    conn = cloud.connect(settings)
    api = kube.api_client(environment.kubeconfig)
    found = inventory.read(conn, api, settings, task="lb.doctor", clock=clock)
    context = Context(environment.name, environment.kubeconfig, settings)
    report = diagnose(found, context)
    show(found, report, context, ui)
    return report


# ------------------------------------------------------------------ diagnosis


def diagnose(found: Inventory, context: Context) -> Report:
    report = Report()
    for balancer in found.balancers:
        _check_balancer(found, balancer, context, report)
    for service in found.services:
        if service.pending and not found.balancers_for(service.key) and not service.deleting:
            report.notes.append(
                f"Service {service.namespace}/{service.name} is <pending> and has no load "
                "balancer yet: the cloud provider is building it, or failing "
                f"(see `{_kubectl(context)} describe service -n {service.namespace} "
                f"{service.name}`)"
            )
    _check_pinned_address(found, context, report)
    _check_free_addresses(found, context, report)
    return report


def _check_balancer(found: Inventory, balancer: Balancer, context: Context, report: Report) -> None:
    service = found.service(balancer.key)
    where = f"{balancer.namespace}/{balancer.service}"
    if balancer.status == "PENDING_DELETE":
        report.notes.append(f"load balancer {balancer.name} is being deleted")
        return
    if service is None:
        if balancer.busy:
            report.notes.append(
                f"load balancer {balancer.name} has no Service {where} and is "
                f"{balancer.status}; run lb.doctor again once Octavia has finished"
            )
            return
        report.findings.append(
            Finding(
                f"orphaned load balancer {balancer.name} ({balancer.status}, VIP "
                f"{balancer.vip_address}): no Service {where} of type LoadBalancer exists",
                f"invoke lb.cleanup --env {context.env}",
                balancer.key,
            )
        )
        return
    if balancer.status == "ERROR":
        report.findings.append(
            Finding(
                f"load balancer {balancer.name} of Service {where} is in ERROR",
                _rebuild(balancer, context),
                balancer.key,
            )
        )
    if balancer.status == "ACTIVE" and service.pending and not service.deleting:
        report.findings.append(
            Finding(
                f"Service {where} is <pending> although its load balancer {balancer.name} is "
                "ACTIVE: the cloud provider is not managing it (the seed's proxy-public symptom)",
                _rebuild(balancer, context),
                balancer.key,
            )
        )
    stale = [address for address in balancer.members if address not in found.node_addresses]
    if stale:
        report.findings.append(
            Finding(
                f"load balancer {balancer.name} sends traffic to {', '.join(stale)}, which no "
                "node of the cluster has (neither a Kubernetes node nor a Nova server)",
                _rebuild(balancer, context),
                balancer.key,
            )
        )


def _check_pinned_address(found: Inventory, context: Context, report: Report) -> None:
    settings = context.settings
    pinned = settings.hub.floating_ip
    hub_service = found.service(context.hub_key)
    hub_balancers = found.balancers_for(context.hub_key)
    if pinned is None:
        return
    ip = found.ip(pinned)
    if ip is None:
        report.findings.append(
            Finding(
                f"hub.floating_ip {pinned} is not allocated in this project",
                f"openstack floating ip create --floating-ip-address {pinned} "
                f"{settings.cluster.external_network}",
                context.hub_key,
            )
        )
    elif ip.port_id is None:
        report.notes.append(
            f"floating IP {pinned} is free: it is the pinned hub.floating_ip, which waits for "
            "the hub's load balancer (expected, not a leftover; lb.cleanup never deletes it)"
        )
    else:
        holder = next((b for b in found.balancers if b.vip_port_id == ip.port_id), None)
        if holder is None:
            report.findings.append(
                Finding(
                    f"hub.floating_ip {pinned} is attached to port {ip.port_id}, which is not "
                    "a load balancer of this cluster",
                    f"openstack floating ip unset --port {pinned}  # if that port may lose it\n"
                    f"invoke lb.recreate --env {context.env}",
                    context.hub_key,
                )
            )
        # An orphan holding it is already reported; cleanup frees the address.
        elif holder.key != context.hub_key and found.service(holder.key) is not None:
            report.findings.append(
                Finding(
                    f"hub.floating_ip {pinned} is on load balancer {holder.name} of "
                    f"Service {holder.namespace}/{holder.service}, not on the hub's",
                    f"openstack floating ip unset --port {pinned}\n"
                    f"invoke lb.recreate --env {context.env}",
                    context.hub_key,
                )
            )
    if hub_service is not None and hub_service.ingress and pinned not in hub_service.ingress:
        report.findings.append(
            Finding(
                f"Service {hub_service.namespace}/{hub_service.name} has the address "
                f"{', '.join(hub_service.ingress)}, not hub.floating_ip {pinned}",
                f"invoke lb.recreate --env {context.env}"
                if hub_balancers
                else f"invoke hub.deploy --env {context.env}",
                context.hub_key,
            )
        )


def _check_free_addresses(found: Inventory, context: Context, report: Report) -> None:
    pinned = context.settings.hub.floating_ip
    for ip in found.floating_ips:
        if ip.port_id is not None or ip.address == pinned:
            continue
        if not found.made_by_provider(ip):
            report.notes.append(
                f"floating IP {ip.address} is attached to nothing and was not allocated for "
                f"this cluster; release it (`openstack floating ip delete {ip.address}`) "
                "if nobody reserved it"
            )
            continue
        fix = f"openstack floating ip delete {ip.address}"
        hub_description = inventory.provider_description(
            found.cluster, context.hub_key[0], context.hub_key[1]
        )
        if ip.description == hub_description and pinned is None:
            fix += (
                f"\nor, if the hub's DNS name points at it, keep it: set hub.floating_ip: "
                f"{ip.address} in the config and run `invoke lb.recreate --env {context.env}`"
            )
        report.findings.append(
            Finding(
                f"floating IP {ip.address} is attached to nothing; the cloud provider "
                f"allocated it for this cluster ({ip.description!r})",
                fix,
            )
        )


def _rebuild(balancer: Balancer, context: Context) -> str:
    """The fix for a load balancer the cloud provider no longer manages properly."""
    if balancer.key == context.hub_key:
        return f"invoke lb.recreate --env {context.env}"
    # Any change to a Service's annotations makes the cloud provider ensure its load
    # balancer again, and with the old one gone it builds a new one.
    return (
        f"openstack loadbalancer delete --cascade {balancer.id}  # wait until it is gone, then\n"
        f"{_kubectl(context)} annotate service -n {balancer.namespace} {balancer.service} "
        'jhub.lb/rebuilt-at="$(date +%s)" --overwrite'
    )


def _kubectl(context: Context) -> str:
    return f"kubectl --kubeconfig {context.kubeconfig}"


# ------------------------------------------------------------------ output


def show(found: Inventory, report: Report, context: Context, ui: Console) -> None:
    ui.heading(f"Load balancers of cluster {found.cluster}")
    if not found.balancers:
        ui.print("  none")
    for balancer in found.balancers:
        service = found.service(balancer.key)
        if service is None:
            matched = "no Service"
        elif service.pending:
            matched = f"Service {balancer.namespace}/{balancer.service} <pending>"
        else:
            matched = (
                f"Service {balancer.namespace}/{balancer.service} at {', '.join(service.ingress)}"
            )
        addresses = ", ".join(ip.address for ip in found.ips_on(balancer)) or "no floating IP"
        ui.print(
            f"  {balancer.name}: {balancer.status}, VIP {balancer.vip_address} "
            f"({addresses}), {len(balancer.members)} member(s); {matched}"
        )
    if report.notes:
        ui.heading("Notes")
        for note in report.notes:
            ui.print(f"  · {note}")
    if report.healthy:
        ui.print("\nNo findings: every load balancer has its Service and its nodes.")
        return
    ui.heading(f"Findings ({len(report.findings)})")
    for finding in report.findings:
        ui.print(f"  ✗ {finding.problem}")
        for number, line in enumerate(finding.fix.splitlines()):
            ui.print(f"      {'fix: ' if number == 0 else '     '}{line}")
