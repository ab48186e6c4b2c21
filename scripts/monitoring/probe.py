"""The outside view of the hub: the Prometheus blackbox exporter probing its public URL.

`monitoring.deploy` installs the prometheus-blackbox-exporter chart (version pinned in
`monitoring.blackbox.chart`) beside Prometheus. Its values ask for one ServiceMonitor
target (chart templates/servicemonitor.yaml: `serviceMonitor.targets[]` becomes a
ServiceMonitor scraping /probe with `module` and `target` parameters, and relabels every
series with `target: <name>` and `instance: <url>`), so Prometheus, which selects every
ServiceMonitor (`serviceMonitorSelectorNilUsesHelmValues: false`), collects probe_success,
probe_http_status_code and probe_ssl_earliest_cert_expiry for `https://<hub.domain>/hub/api/health`
(JupyterHub serves its health check at /hub/health and /hub/api/health: jupyterhub
handlers/pages.py, HealthCheckHandler).

The probe goes out through the load balancer and DNS like a user's browser, so it fails
when any of them does, and its TLS handshake reports the certificate's expiry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core import releases
from ..core.settings import Settings
from .alerts import PROBE_TARGET, probed

if TYPE_CHECKING:
    from .deploy import Deployment

MODULE = "hub_health"
HEALTH_PATH = "hub/api/health"
UPGRADE_TIMEOUT_SECONDS = 5 * 60


def target_url(settings: Settings) -> str:
    url = settings.hub.url
    assert url is not None, "probed() is checked first"
    return f"{url}{HEALTH_PATH}"


def module(settings: Settings) -> dict[str, Any]:
    """The blackbox module: a GET that must answer 200 (over TLS when the hub has it)."""
    http: dict[str, Any] = {
        "method": "GET",
        "valid_status_codes": [200],
        "valid_http_versions": ["HTTP/1.1", "HTTP/2.0"],
        # A redirect (to a login page, say) is not the health check answering.
        "follow_redirects": False,
        "preferred_ip_protocol": "ip4",
    }
    if settings.hub.https.mode != "off":
        http["fail_if_not_ssl"] = True
    return {"prober": "http", "timeout": "10s", "http": http}


def blackbox_config(settings: Settings) -> dict[str, Any]:
    """blackbox.yml as the exporter reads it (the chart's `config` value)."""
    return {"modules": {MODULE: module(settings)}}


def values(settings: Settings) -> dict[str, Any]:
    interval = f"{settings.monitoring.blackbox.interval_seconds}s"
    return {
        "config": blackbox_config(settings),
        "serviceMonitor": {
            "enabled": True,
            "defaults": {
                "interval": interval,
                "scrapeTimeout": "15s",
                "module": MODULE,
            },
            "targets": [{"name": PROBE_TARGET, "url": target_url(settings)}],
        },
    }


def ensure(run: Deployment, settings: Settings) -> None:
    """Install or upgrade the blackbox exporter release when its values differ."""
    blackbox = settings.monitoring.blackbox
    namespace = settings.monitoring.namespace
    chart = blackbox.chart
    release = f"{namespace}/{blackbox.release}"
    with run.ui.step(f"Helm release {release} ({chart.name} {chart.version})") as step:
        if not probed(settings):
            why = (
                "monitoring.blackbox.enabled is false" if not blackbox.enabled else "no hub.domain"
            )
            step.unchanged(f"skipped: {why}, so nothing to probe")
            return
        wanted = values(settings)
        spec = releases.Release(
            blackbox.release, namespace, chart.version, wanted, UPGRADE_TIMEOUT_SECONDS
        )
        # The same rule as every release: "unchanged" only when the last revision is
        # deployed at the config's chart version with equal values (core.releases).
        plan = releases.settle(
            run.helm,
            spec,
            run.ui,
            run.changes,
            task=f"invoke monitoring.deploy --env {run.environment.name}",
            recovery=run.recovery,
        )
        if plan.action == "unchanged":
            step.unchanged(
                f"{releases.unchanged_detail(plan, chart.version)}; probing {target_url(settings)}"
            )
            return
        what = "install" if plan.action == "install" else "upgrade"
        if plan.action == "upgrade":
            run.ui.print(f"  why: {plan.reason}")
        if plan.changes:
            keys = [change.path for change in plan.changes]
            run.ui.print(
                f"  values changed at: {', '.join(keys[:8])}{' …' if len(keys) > 8 else ''}"
            )
        run.changes.make(
            f"{what} {blackbox.release} with {chart.repo} {chart.name} {chart.version}",
            lambda: run.helm.upgrade_install(
                blackbox.release,
                chart.name,
                repo=chart.repo,
                version=chart.version,
                namespace=namespace,
                values=wanted,
                timeout_seconds=UPGRADE_TIMEOUT_SECONDS,
            ),
        )
        if run.changes.dry_run:
            step.planned(f"would {what}; probing {target_url(settings)}")
        else:
            done = "installed" if what == "install" else "upgraded"
            step.done(f"{done}; probing {target_url(settings)}")
