"""`invoke monitoring.grafana`: how to reach Grafana and who to sign in as.

The account is read from the admin Secret in the cluster, since that is what
Grafana uses, whatever the local secrets file says now.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import known_objects, kube
from ..core.console import Console
from ..core.errors import OperationFailed
from ..core.settings import Settings
from ..core.templates import GRAFANA_SECRET

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

LOCAL_PORT = 3000
PROMETHEUS_SERVICE = known_objects.PROMETHEUS_OPERATED_SERVICE
DEPLOY_HINT = "deploy monitoring first: `invoke monitoring.deploy --env ENV`"


@dataclass(frozen=True)
class Access:
    url: str | None
    port_forward: str | None
    prometheus_port_forward: str
    user: str
    password: str
    note: str = ""


def grafana_service(api: ApiClient, settings: Settings) -> tuple[str, int]:
    """Name and port of the release's Grafana Service, found by its chart labels."""
    from kubernetes import client

    monitoring = settings.monitoring
    selector = known_objects.GRAFANA_SERVICE_LABELS.format(release=monitoring.release)
    core = client.CoreV1Api(api)
    found = kube.call(
        f"list Grafana services in {monitoring.namespace}",
        lambda: core.list_namespaced_service(monitoring.namespace, label_selector=selector),
    )
    for service in found.items:
        ports = (service.spec.ports or []) if service.spec else []
        if ports:
            return str(service.metadata.name), int(ports[0].port)
    raise OperationFailed(
        f"no Grafana Service of release {monitoring.release!r} in namespace "
        f"{monitoring.namespace!r}",
        DEPLOY_HINT,
    )


def admin_account(api: ApiClient, settings: Settings) -> tuple[str, str]:
    namespace = settings.monitoring.namespace
    data = kube.read_secret(api, namespace, GRAFANA_SECRET)
    if not data or not data.get("admin-user") or not data.get("admin-password"):
        raise OperationFailed(
            f"Secret {namespace}/{GRAFANA_SECRET} with admin-user and admin-password is missing",
            DEPLOY_HINT,
        )
    return data["admin-user"], data["admin-password"]


def port_forward(kubeconfig: Path, namespace: str, service: str, local: int, remote: int) -> str:
    return (
        f"kubectl --kubeconfig {kubeconfig} --namespace {namespace} "
        f"port-forward service/{service} {local}:{remote}"
    )


def access(api: ApiClient, settings: Settings, kubeconfig: Path) -> Access:
    monitoring = settings.monitoring
    service, port = grafana_service(api, settings)
    user, password = admin_account(api, settings)
    forward = port_forward(kubeconfig, monitoring.namespace, service, LOCAL_PORT, port)
    prometheus = port_forward(kubeconfig, monitoring.namespace, PROMETHEUS_SERVICE, 9090, 9090)
    if monitoring.expose == "loadbalancer":
        address = kube.load_balancer_address(api, monitoring.namespace, service)
        if address:
            suffix = "" if port == 80 else f":{port}"
            return Access(f"http://{address}{suffix}/", None, prometheus, user, password)
        return Access(
            None,
            forward,
            prometheus,
            user,
            password,
            note="the load balancer has no address yet; until it has, use the port-forward",
        )
    return Access(f"http://localhost:{LOCAL_PORT}/", forward, prometheus, user, password)


def show(ui: Console, found: Access, *, show_password: bool) -> None:
    if found.url and not found.port_forward:
        ui.print(f"Grafana: {found.url}")
    else:
        ui.print("Grafana is reachable through a port-forward; keep this running:")
        ui.print(f"  {found.port_forward}")
        ui.print(f"then open {found.url or f'http://localhost:{LOCAL_PORT}/'}")
    if found.note:
        ui.warn(found.note)
    ui.print(f"user: {found.user}")
    if show_password:
        # Asked for explicitly: the one place a secret is printed, so it bypasses redaction.
        print(f"password: {found.password}", flush=True)
    else:
        ui.print("password: hidden (add --show-password to print it)")
    ui.print(f"Prometheus: {found.prometheus_port_forward}, then http://localhost:9090/")
