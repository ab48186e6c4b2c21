"""invoke local.*: the hub on a kind cluster on this machine (config/local.yaml).

Glue only: parse options, load the environment, call one function of stack.py.
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from ..core.runner import procedure

NAME = "kind cluster name (default: cluster.name in config/local.yaml, jhub-local)"
DRY_RUN = "print what would change and change nothing"


@task(
    help={
        "name": NAME,
        "monitoring": "also deploy kube-prometheus-stack (default: monitoring.enabled)",
        "no-monitoring": "deploy the hub only, whatever monitoring.enabled says",
        "dry-run": DRY_RUN,
    }
)
@procedure
def up(
    c: Context,
    name: str = "",
    monitoring: bool = False,
    no_monitoring: bool = False,
    dry_run: bool = False,
) -> None:
    """Create or reuse a kind cluster and deploy the hub on it; prints the port-forward."""
    from ..core import session
    from ..core.errors import bad_option
    from . import kind, stack

    if monitoring and no_monitoring:
        raise bad_option("--monitoring", "contradicts --no-monitoring; give one of them")
    chosen = True if monitoring else (False if no_monitoring else None)
    if name:
        kind.checked_name(name)
    environment, ui = session.begin(stack.LOCAL_ENV, require_secrets=False)
    stack.up(
        environment,
        ui,
        stack.UpOptions(name=name, monitoring=chosen, dry_run=dry_run),
    )


@task(help={"name": NAME, "yes": "delete without asking", "dry-run": DRY_RUN})
@procedure
def down(c: Context, name: str = "", yes: bool = False, dry_run: bool = False) -> None:
    """Delete the kind cluster (and the load-balancer container once no cluster is left)."""
    from ..core import session
    from . import kind, stack

    if name:
        kind.checked_name(name)
    environment, ui = session.begin(stack.LOCAL_ENV, require_secrets=False)
    stack.down(environment, ui, name=name, yes=yes, dry_run=dry_run)


ns = Collection("local", up, down)
