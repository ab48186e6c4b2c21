"""hub.dns: the task glue; scripts/hub/tasks.py calls register()."""

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
        "dry-run": "show whether the record would be created or changed; change nothing",
        "yes": "replace an A record that points to another address",
    }
)
@procedure
def dns(c: Context, env: str = "", dry_run: bool = False, yes: bool = False) -> None:
    """Ensure the A record hub.domain -> hub.floating_ip in the cloud's DNS (Designate)."""
    from ..core import session
    from . import dns as procedure_module

    environment, ui = session.begin(env, require_secrets=False)
    procedure_module.run(environment, ui, dry_run=dry_run, yes=yes)


def register(ns: Collection) -> None:
    """Add hub.dns to the hub collection."""
    ns.add_task(dns, name="dns")
