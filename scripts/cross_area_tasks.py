"""Task glue for the procedures in scripts/cross_area.py, under their areas' names.

scripts/namespace.py adds each to its area's collection, so the names stay
(`lb.recreate`, `local.up`); only the module is here, because the procedure crosses areas.
"""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from .core.options import ENV_HELP
from .core.runner import procedure
from .local import tasks as local_tasks


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


@task(
    name="up",
    help={
        "name": local_tasks.NAME,
        "monitoring": "also deploy kube-prometheus-stack (default: monitoring.enabled)",
        "no-monitoring": "deploy the hub only, whatever monitoring.enabled says",
        "dry-run": local_tasks.DRY_RUN,
    },
)
@procedure
def local_up(
    c: Context,
    name: str = "",
    monitoring: bool = False,
    no_monitoring: bool = False,
    dry_run: bool = False,
) -> None:
    """Create or reuse a kind cluster and deploy the hub on it; prints the port-forward."""
    from . import cross_area
    from .core import session
    from .core.errors import bad_option
    from .local import kind, stack

    if monitoring and no_monitoring:
        raise bad_option("--monitoring", "contradicts --no-monitoring; give one of them")
    chosen = True if monitoring else (False if no_monitoring else None)
    if name:
        kind.checked_name(name)
    environment, ui = session.begin(stack.LOCAL_ENV, require_secrets=False)
    cross_area.local_up(
        environment,
        ui,
        stack.UpOptions(name=name, monitoring=chosen, dry_run=dry_run),
    )
