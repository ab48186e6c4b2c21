"""Procedures of one area that end in another's: the orchestration layer joins them.

Areas do not import each other (tests/support/house_rules.py checks it), so when an
area's procedure needs another area's step, the step is passed in from here.
"""

from __future__ import annotations

from .core.console import Console
from .core.loading import Environment
from .core.waiting import Clock
from .hub import deploy as hub_deploy
from .lb import recreate
from .local import stack
from .monitoring import deploy as monitoring_deploy


def redeploy_hub(environment: Environment, ui: Console, clock: Clock | None) -> None:
    """hub.deploy after lb.recreate re-applied the release: the hub as hub.deploy makes it."""
    ui.heading("hub.deploy")
    hub_deploy.run(environment, ui, hub_deploy.Options(dry_run=False, yes=True, clock=clock))


def recreate_lb(
    environment: Environment,
    ui: Console,
    *,
    yes: bool = False,
    dry_run: bool = False,
    clock: Clock | None = None,
) -> recreate.Outcome:
    """lb.recreate: replace the hub's load balancer, redeploying the hub with hub.deploy."""
    return recreate.run(
        environment, ui, redeploy=redeploy_hub, yes=yes, dry_run=dry_run, clock=clock
    )


def local_up(environment: Environment, ui: Console, options: stack.UpOptions) -> stack.UpResult:
    """local.up: a kind cluster (local area), then the hub and monitoring on it (theirs)."""
    result = stack.prepare(environment, ui, options)
    if not result.ready:
        return result
    deployed = result.environment
    ui.heading("JupyterHub")
    hub = hub_deploy.run(
        deployed, ui, hub_deploy.Options(dry_run=options.dry_run, yes=True, clock=options.clock)
    )
    result.address = hub.address
    if result.monitoring:
        ui.heading("Monitoring")
        monitoring_deploy.run(deployed, ui, dry_run=options.dry_run)
    stack.finish(environment, ui, result, options)
    return result
