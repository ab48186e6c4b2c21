"""hub.usage: the task glue; scripts/hub/tasks.py calls register()."""

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
        "since": "how far back: hours, days or weeks, like 12h, 30d (default), 8w",
        "csv": "also write the figures to this CSV file (metric, period, profile, value)",
        "url": "Prometheus's URL (default: http://localhost:9090, the port-forward "
        "`invoke monitoring.grafana` prints)",
    }
)
@procedure
def usage(c: Context, env: str = "", since: str = "30d", csv: str = "", url: str = "") -> None:
    """Active users per day and month, server-hours per profile, GPU-hours, peak servers."""
    from ..core import session
    from . import usage as procedure_module

    procedure_module.parse_since(since)
    environment, ui = session.begin(env, require_secrets=False)
    procedure_module.run(environment, ui, since=since, csv_path=csv, url=url)


def register(ns: Collection) -> None:
    """Add hub.usage to the hub collection."""
    ns.add_task(usage, name="usage")
