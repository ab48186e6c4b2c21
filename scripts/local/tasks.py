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


# local.up deploys the hub and monitoring (their areas' procedures), so its task
# lives in the orchestration layer (scripts/cross_area_tasks.py); scripts/namespace.py
# adds it to this collection.
ns = Collection("local", down)
