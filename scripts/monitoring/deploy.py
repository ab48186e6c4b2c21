"""`invoke monitoring.deploy`: kube-prometheus-stack with the hub, GPU and cluster wired in.

1. The monitoring namespace, labelled so the hub's NetworkPolicy can admit Prometheus.
2. The Grafana admin Secret and the hub metrics-token Secret, from the secrets file:
   the Helm values only name them, so no secret is ever part of a release.
3. Alertmanager's configuration and its receivers' credentials, as Secrets (alerting.py).
4. The dashboards as sidecar ConfigMaps in the configured folder.
5. Before a chart-version change, the chart's CRDs, applied server-side (crds.py):
   helm never upgrades them itself.
6. The Helm release, upgraded only when it is not `deployed`, runs another chart
   version, or its values differ from the rendered ones (an unchanged re-run restarts
   nothing; core.releases). A pending release is shown with its history and rolled
   back first with `--recover`.
7. The alert rules as a PrometheusRule, and the blackbox exporter probing the hub's
   public URL (alerting.py, probe.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import helm as helm_cli
from ..core import kube, manifests, releases
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import BadInput, Problem
from ..core.loading import Environment
from ..core.manifests import Manifest
from ..core.quantities import memory_bytes
from ..core.settings import Secrets, Settings
from ..core.templates import render
from . import alerting, crds, dashboards, probe

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# z2jh's hub NetworkPolicy admits pods carrying this label, and (with
# hub.networkPolicy.interNamespaceAccessLabels: accept) only from namespaces carrying it.
HUB_ACCESS = manifests.HUB_ACCESS
UPGRADE_TIMEOUT_SECONDS = 15 * 60
# Prometheus counts blocks, not the write-ahead log, against retentionSize, and reads
# its units as powers of 1024; the WAL needs the rest of the volume.
RETENTION_SHARE = 0.9
_SIZE_UNITS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}


def retention_bytes(size: str) -> int:
    number = size.rstrip("BKMGT")
    return int(number) * _SIZE_UNITS[size[len(number) :]]


def check(environment: Environment) -> tuple[Settings, Secrets]:
    """Refuse before any call: monitoring off, a disk that would fill, no secrets."""
    settings = environment.settings
    if not settings.monitoring.enabled:
        raise BadInput(
            Problem(
                "monitoring.enabled",
                f"is false in {environment.config_path}; set it to true to deploy monitoring",
            )
        )
    monitoring = settings.monitoring
    volume = memory_bytes(monitoring.storage_size)
    if retention_bytes(monitoring.retention_size) > RETENTION_SHARE * volume:
        raise BadInput(
            Problem(
                "monitoring.retention_size",
                f"{monitoring.retention_size} does not leave room for the write-ahead log on a "
                f"{monitoring.storage_size} volume (storage_size); allowed is at most "
                f"{RETENTION_SHARE:.0%} of it, or raise storage_size",
            )
        )
    if environment.secrets is None:
        raise BadInput(
            Problem(
                str(environment.secrets_path),
                f"secrets file not found; generate it with "
                f"`invoke config.init --env {environment.name}`",
            )
        )
    return settings, environment.secrets


def objects(settings: Settings, secrets: Secrets) -> list[Manifest]:
    """What exists before the release, in the order it is applied."""
    return [
        manifests.monitoring_namespace(settings),
        manifests.grafana_admin_secret(settings, secrets),
        manifests.metrics_token_secret(settings, secrets),
    ]


@dataclass
class Deployment:
    environment: Environment
    ui: Console
    changes: Changes
    api: ApiClient
    helm: helm_cli.Helm
    recovery: releases.Recovery = field(default_factory=releases.Recovery)


def ensure_objects(run: Deployment, settings: Settings, secrets: Secrets) -> None:
    for manifest in objects(settings, secrets):
        label = kube.describe(manifest)
        with run.ui.step(f"{label}") as step:
            outcome = kube.ensure(run.api, manifest, run.changes)
            _report(step, outcome, run.changes.dry_run)


def ensure_dashboards(run: Deployment, settings: Settings) -> None:
    folder = settings.monitoring.dashboards_folder
    with run.ui.step(f"dashboards in Grafana folder {folder!r}") as step:
        outcomes = dashboards.apply(run.api, settings, run.changes)
        changed = sorted(name for name, outcome in outcomes.items() if outcome != "unchanged")
        if not changed:
            step.unchanged(f"{len(outcomes)} ConfigMaps as committed")
        elif run.changes.dry_run:
            step.planned(", ".join(changed))
        else:
            step.done(", ".join(changed))


def ensure_release(run: Deployment, settings: Settings, secrets: Secrets) -> None:
    monitoring = settings.monitoring
    chart = monitoring.chart
    wanted = render("kube-prometheus-stack", settings, secrets).values
    release = f"{monitoring.namespace}/{monitoring.release}"
    spec = releases.Release(
        monitoring.release, monitoring.namespace, chart.version, wanted, UPGRADE_TIMEOUT_SECONDS
    )
    with run.ui.step(f"Helm release {release} ({chart.name} {chart.version})") as step:
        plan = releases.settle(
            run.helm,
            spec,
            run.ui,
            run.changes,
            task=f"invoke monitoring.deploy --env {run.environment.name}",
            recovery=run.recovery,
        )
        if plan.action == "unchanged":
            step.unchanged(releases.unchanged_detail(plan, chart.version))
            return
        what = "install" if plan.action == "install" else "upgrade"
        if plan.action == "upgrade":
            run.ui.print(f"  why: {plan.reason}")
        if plan.changes:
            keys = [change.path for change in plan.changes]
            more = " …" if len(keys) > 8 else ""
            run.ui.print(f"  values changed at: {', '.join(keys[:8])}{more}")
        why = crds.needed(run.api, settings, plan)
        if why is not None:
            crds.upgrade(
                run.api,
                run.helm,
                settings,
                kubeconfig=run.environment.kubeconfig,
                ui=run.ui,
                changes=run.changes,
                why=why,
            )
        run.changes.make(
            f"{what} {monitoring.release} with {chart.repo} {chart.name} {chart.version}",
            lambda: run.helm.upgrade_install(
                monitoring.release,
                chart.name,
                repo=chart.repo,
                version=chart.version,
                namespace=monitoring.namespace,
                values=wanted,
                timeout_seconds=UPGRADE_TIMEOUT_SECONDS,
            ),
        )
        if run.changes.dry_run:
            step.planned(f"would {what}")
        else:
            step.done("installed" if what == "install" else "upgraded")


def _report(step: Any, outcome: kube.Outcome, dry_run: bool) -> None:
    if outcome == "unchanged":
        step.unchanged()
    elif dry_run:
        step.planned(f"would be {outcome}")
    else:
        step.done(outcome)


def run(
    environment: Environment,
    ui: Console,
    *,
    dry_run: bool,
    recovery: releases.Recovery | None = None,
) -> Changes:
    settings, secrets = check(environment)
    alerting.check(environment, settings, secrets)
    # Committed dashboards are read before anything changes: a broken checkout stops here.
    dashboards.committed()
    if settings.monitoring.expose == "loadbalancer":
        ui.warn(
            "monitoring.expose is 'loadbalancer': Grafana and Prometheus get public "
            "addresses, and Prometheus has no login. Prefer 'clusterip' and "
            f"`invoke monitoring.grafana --env {environment.name}` (a port-forward)."
        )
    deployment = Deployment(
        environment,
        ui,
        Changes(ui, dry_run),
        kube.api_client(environment.kubeconfig),
        helm_cli.Helm(kubeconfig=environment.kubeconfig),
        recovery or releases.Recovery(),
    )
    ensure_objects(deployment, settings, secrets)
    alerting.ensure_receivers(deployment, settings, secrets)
    ensure_dashboards(deployment, settings)
    ensure_release(deployment, settings, secrets)
    alerting.ensure_rules(deployment, settings)
    probe.ensure(deployment, settings)
    return deployment.changes
