"""invoke monitoring.*: deploy the stack, manage dashboards, reach Grafana."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from ..core.options import ENV_HELP
from ..core.runner import procedure

ENV = ENV_HELP  # the shared --env help (core.options)


@task(
    help={
        "env": ENV,
        "dry_run": "show what would be created, updated or upgraded; change nothing",
        "recover": "a release left pending-install/-upgrade/-rollback by an interrupted helm: "
        "roll it back to its last deployed revision (or uninstall an install never deployed) "
        "first",
        "yes": "with --recover: roll back or uninstall without asking",
    }
)
@procedure
def deploy(
    c: Context, env: str = "", dry_run: bool = False, recover: bool = False, yes: bool = False
) -> None:
    """kube-prometheus-stack with the hub's metrics, GPU metrics and the dashboards."""
    from ..core import session
    from ..core.releases import Recovery
    from . import deploy as procedure_module

    environment, ui = session.begin(env, require_secrets=True)
    procedure_module.run(
        environment, ui, dry_run=dry_run, recovery=Recovery(wanted=recover, yes=yes)
    )
    ui.summary([f"Grafana: invoke monitoring.grafana --env {environment.name}"])


@task(
    help={
        "env": ENV,
        "build": "rebuild dashboards/*.json from scripts/monitoring (needs grafana-foundation-sdk)",
        "apply": "update the dashboard ConfigMaps in the cluster, without a Helm upgrade",
        "dry_run": "show which files or ConfigMaps would change; change nothing",
    }
)
@procedure
def dashboards(
    c: Context, env: str = "", build: bool = False, apply: bool = False, dry_run: bool = False
) -> None:
    """Check, rebuild (--build) or publish (--apply) the Grafana dashboards."""
    from ..core import session
    from ..core.console import Console
    from . import update_dashboards

    # Only publishing needs an environment; checking and rebuilding are offline.
    environment, ui = session.begin(env, require_secrets=False) if apply else (None, Console())
    update_dashboards.run(ui, build=build, environment=environment, dry_run=dry_run)


@task(
    help={
        "env": ENV,
        "show_password": "also print the Grafana admin password (keep it off shared screens)",
    }
)
@procedure
def grafana(c: Context, env: str = "", show_password: bool = False) -> None:
    """Grafana's URL (or the port-forward command) and its admin user."""
    from ..core import kube, session
    from . import grafana as grafana_access

    environment, ui = session.begin(env, require_secrets=False)
    found = grafana_access.access(
        kube.api_client(environment.kubeconfig), environment.settings, environment.kubeconfig
    )
    grafana_access.show(ui, found, show_password=show_password)


@task(
    help={
        "env": ENV,
        "url": "Alertmanager's URL (default: http://localhost:9093, the port-forward to "
        "service/alertmanager-operated)",
        "timeout": "seconds to wait for each receiver's delivery attempt (default 60)",
    }
)
@procedure
def alert_test(c: Context, env: str = "", url: str = "", timeout: str = "60") -> None:
    """Send a synthetic alert through Alertmanager and say whether each receiver got it."""
    from ..core import session
    from ..core.errors import bad_option
    from . import alert_test as procedure_module

    # A string, parsed here: invoke would print a traceback for a bad number itself.
    seconds = int(timeout) if timeout.isdigit() else 0
    if not 1 <= seconds <= 600:
        raise bad_option("--timeout", f"{timeout!r} is not allowed; give 1 to 600 seconds")
    environment, ui = session.begin(env, require_secrets=False)
    outcome = procedure_module.run(environment, ui, url=url, timeout=float(seconds))
    ui.summary([f"delivered by: {', '.join(outcome.delivered)}"])


ns = Collection("monitoring", deploy, dashboards, grafana, alert_test)
