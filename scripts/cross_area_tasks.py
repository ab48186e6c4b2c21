"""Task glue for the procedures in scripts/cross_area.py, under their areas' names.

scripts/namespace.py adds each to its area's collection, so the names stay
(`lb.recreate`); only the module is here, because the procedure crosses areas.
"""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from .core.options import ENV_HELP
from .core.runner import procedure


@task(
    name="recreate",
    help={
        "env": ENV_HELP,
        "yes": "recreate without asking",
        "dry-run": "print what would be deleted and change nothing",
    },
)
@procedure
def lb_recreate(c: Context, env: str = "", yes: bool = False, dry_run: bool = False) -> None:
    """Replace the hub's load balancer: delete Service and LB, redeploy, re-attach the IP.

    The seed's fix for proxy-public stuck <pending> behind a stale load balancer.
    """
    from . import cross_area
    from .core import session

    environment, ui = session.begin(env, require_secrets=True)
    cross_area.recreate_lb(environment, ui, yes=yes, dry_run=dry_run)
