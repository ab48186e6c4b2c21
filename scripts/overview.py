"""`invoke status`: one screen with everything an operator checks first.

Each section is read on its own; a section that cannot be read says why and the
rest still shows, because status is what one runs when something is broken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .core import helm, kube
from .core.console import Console
from .core.errors import BadInput, OperationFailed
from .core.loading import Environment
from .core.templates import releases


@dataclass(frozen=True)
class Section:
    title: str
    ok: bool
    note: str = ""


def section(ui: Console, title: str, show: Callable[[], object]) -> Section:
    ui.heading(title)
    try:
        show()
    except (OperationFailed, BadInput) as problem:
        ui.print(f"  ✗ unavailable: {problem}")
        return Section(title, False, str(problem))
    except Exception as unexpected:  # status must still show the other sections
        ui.print(f"  ✗ unavailable: {type(unexpected).__name__}: {unexpected}")
        return Section(title, False, str(unexpected))
    return Section(title, True)


def show_releases(environment: Environment, ui: Console) -> None:
    client = helm.Helm(kubeconfig=environment.kubeconfig)
    for release in releases(environment.settings):
        deployed = client.status(release.name, release.namespace)
        wanted = release.chart.version
        if deployed is None:
            ui.print(
                f"  ✗ {release.name}: not installed (configured {release.chart.name} {wanted})"
            )
            continue
        same = deployed.chart_version.lstrip("v") == wanted.lstrip("v")
        mark = "✓" if same and deployed.status == "deployed" else "!"
        drift = "" if same else f", configured {wanted}"
        ui.print(
            f"  {mark} {release.name}: {deployed.chart} ({deployed.status}, revision "
            f"{deployed.revision}{drift})"
        )


def show_autoscaler(environment: Environment, ui: Console) -> None:
    cluster = environment.settings.cluster
    if cluster.driver != "heat":
        ui.print("  bounds are the node groups' min/max (see the cluster section)")
        return
    from kubernetes import client

    from .cluster import autoscaler

    api = kube.api_client(environment.kubeconfig)
    deployment = client.AppsV1Api(api).read_namespaced_deployment(
        autoscaler.AUTOSCALER, autoscaler.NAMESPACE
    )
    limits = autoscaler.node_limits(api.sanitize_for_serialization(deployment))
    for group in ["default-worker", *[g.name for g in cluster.all_node_groups()]]:
        bounds = limits.get(group)
        ui.print(
            f"  {'✓' if bounds else '✗'} {group}: "
            + (f"{bounds[0]}..{bounds[1]}" if bounds else "not scaled (run cluster.autoscaler)")
        )


def run(environment: Environment, ui: Console) -> list[Section]:
    from .cluster import status as cluster_status
    from .hub import status as hub_status
    from .hub.tls import cert_status

    settings = environment.settings
    shown = [
        section(ui, "Cluster and node groups", lambda: cluster_status.run(environment, ui)),
        section(ui, "Releases (deployed vs configured)", lambda: show_releases(environment, ui)),
        section(ui, "Hub", lambda: hub_status.run(environment, ui)),
    ]
    if settings.hub.https.mode != "off" and settings.hub.domain:
        shown.append(
            section(
                ui,
                "Certificate",
                lambda: cert_status.run(environment, ui, cert_status.StatusOptions()),
            )
        )
    if settings.cluster.driver != "existing":
        from .lb import doctor as lb_doctor

        shown.append(section(ui, "Load balancers", lambda: lb_doctor.run(environment, ui)))
    shown.append(section(ui, "Autoscaler limits", lambda: show_autoscaler(environment, ui)))
    bad = [s.title for s in shown if not s.ok]
    ui.summary([f"needs attention: {', '.join(bad)}"] if bad else ["all sections read"])
    return shown
