"""hub.status: is the hub installed, running, reachable, and on the right address?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from ..core import helm, known_objects, kube
from ..core.console import Console
from ..core.errors import OperationFailed
from ..core.loading import Environment
from . import floating_ip
from .tls import backup as tls_backup
from .urls import public_url

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

COMPONENTS = (
    known_objects.Z2JH_HUB_COMPONENT,
    known_objects.Z2JH_PROXY_COMPONENT,
    known_objects.Z2JH_AUTOHTTPS_COMPONENT,
    known_objects.Z2JH_USER_SCHEDULER_COMPONENT,
)


@dataclass(frozen=True)
class Line:
    ok: bool
    what: str
    detail: str


def _pods(api: ApiClient, namespace: str, release: str) -> list[Line]:
    lines = []
    for component in COMPONENTS:
        states = kube.pod_states(api, namespace, known_objects.z2jh_pods(component, release))
        if not states:
            continue
        ready = sum(state.ready for state in states)
        detail = ", ".join(f"{s.name} {s.detail}" for s in states)
        lines.append(
            Line(
                ready == len(states), f"{component} pods", f"{ready}/{len(states)} ready: {detail}"
            )
        )
    users = kube.pod_states(api, namespace, f"component={known_objects.SINGLEUSER_COMPONENT}")
    placeholders = kube.pod_states(
        api, namespace, f"component={known_objects.Z2JH_USER_PLACEHOLDER_COMPONENT}"
    )
    lines.append(
        Line(
            True,
            "user servers",
            f"{len(users)} running, {sum(p.ready for p in placeholders)}/{len(placeholders)} "
            "placeholders ready",
        )
    )
    return lines


def _certificate(api: ApiClient, environment: Environment) -> Line:
    hub = environment.settings.hub
    if hub.https.mode == "off":
        return Line(True, "certificate", "https is off")
    name = tls_backup.ACME_SECRET if hub.https.mode == "letsencrypt" else hub.https.secret_name
    assert name is not None
    present = kube.read_secret_manifest(api, hub.namespace, name) is not None
    hint = f"details: `invoke hub.cert-status --env {environment.name}`"
    if present:
        return Line(True, "certificate", f"secret {name} present; {hint}")
    if hub.https.mode == "letsencrypt":
        return Line(
            False, "certificate", f"not issued yet; `invoke hub.ssl-retry --env {environment.name}`"
        )
    return Line(
        False, "certificate", f"secret {name} missing; `invoke hub.tls-secret --cert --key`"
    )


def _health(url: str) -> Line:
    target = f"{url}hub/api/health"
    try:
        response = requests.get(target, timeout=10)
    except requests.RequestException as error:
        return Line(False, "health", f"{target}: {type(error).__name__}")
    return Line(response.status_code == 200, "health", f"{target}: HTTP {response.status_code}")


def run(environment: Environment, ui: Console, url: str = "") -> list[Line]:
    hub = environment.settings.hub
    client = helm.Helm(kubeconfig=environment.kubeconfig)
    release = client.status(hub.release, hub.namespace)
    if release is None:
        raise OperationFailed(
            f"release {hub.release} is not installed in namespace {hub.namespace}",
            f"install it with `invoke hub.deploy --env {environment.name}`",
        )
    lines = [
        Line(
            release.status == "deployed",
            "release",
            f"{release.name} revision {release.revision}, {release.status}, chart "
            f"{release.chart}, JupyterHub {release.app_version}",
        )
    ]
    if release.chart_version.lstrip("v") != hub.chart.version.lstrip("v"):
        lines.append(Line(False, "chart", f"config wants {hub.chart.version}; run hub.deploy"))
    api = kube.api_client(environment.kubeconfig)
    lines += _pods(api, hub.namespace, hub.release)
    address = kube.load_balancer_address(api, hub.namespace, floating_ip.PROXY_SERVICE)
    if address is None:
        lines.append(Line(False, "load balancer", "no external address yet; `invoke lb.doctor`"))
    elif hub.floating_ip and address != hub.floating_ip:
        lines.append(
            Line(False, "load balancer", f"{address}, but hub.floating_ip is {hub.floating_ip}")
        )
    else:
        lines.append(Line(True, "load balancer", address))
    lines.append(_certificate(api, environment))
    if url or hub.url or address:
        lines.append(_health(url or public_url(environment.settings, address)))
    for line in lines:
        ui.print(f"{'✓' if line.ok else '✗'} {line.what}: {line.detail}")
    problems = [line.what for line in lines if not line.ok]
    if problems:
        raise OperationFailed(f"hub {hub.release} has problems: {', '.join(problems)}", "see above")
    return lines
