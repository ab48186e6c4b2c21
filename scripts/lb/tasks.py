"""invoke lb.*: the Octavia load balancers of the cluster's Services.

Glue only: parse options, load the environment, call one function.
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from ..core.errors import EXIT_FAILED
from ..core.options import ENV_HELP
from ..core.runner import procedure

ENV = ENV_HELP  # the shared --env help (core.options)
DRY_RUN = "print what would be deleted and change nothing"


@task(help={"env": ENV})
@procedure
def doctor(c: Context, env: str = "") -> None:
    """Match load balancers with Services; report problems with fixes (exit 0 healthy, 1 findings).

    Reports orphaned load balancers, Services stuck <pending> while their load
    balancer is ACTIVE, members pointing at nodes that are gone, and floating IPs
    attached to nothing. Exit status: 0 when healthy, 1 when there are findings.
    """
    from ..core import session
    from . import doctor as procedure_module

    environment, ui = session.begin(env, require_secrets=False)
    report = procedure_module.run(environment, ui)
    if not report.healthy:
        raise Exit(code=EXIT_FAILED)


@task(help={"env": ENV, "yes": "delete without asking", "dry-run": DRY_RUN})
@procedure
def cleanup(c: Context, env: str = "", yes: bool = False, dry_run: bool = False) -> None:
    """Delete orphaned load balancers and the floating IPs the cloud provider made for them.

    Never releases the pinned hub.floating_ip. Lists what goes first; asks on a
    terminal, and needs --yes when nobody is there to answer.
    """
    from ..core import session
    from . import cleanup as procedure_module

    environment, ui = session.begin(env, require_secrets=False)
    procedure_module.run(environment, ui, yes=yes, dry_run=dry_run)


# lb.recreate ends with hub.deploy, so its task lives in the orchestration layer
# (scripts/cross_area_tasks.py); scripts/namespace.py adds it to this collection.
ns = Collection("lb", doctor, cleanup)
