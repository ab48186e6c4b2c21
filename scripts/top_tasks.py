"""Top-level tasks: plan and doctor."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from .core import options
from .core.runner import procedure

ENV_HELP = {"env": options.ENV_HELP}


@task(help=ENV_HELP)
@procedure
def plan(c: Context, env: str = "") -> None:
    """Offline dry run of deploy: validate, write build/<env>/, list every action."""
    from . import plan as planner
    from .core import session

    environment, ui = session.begin(env, require_secrets=False, offline=True)
    planner.run(environment, ui)


@task(help=ENV_HELP)
@procedure
def doctor(c: Context, env: str = "") -> None:
    """Check tools, Python packages, clouds.yaml and kubeconfig for an environment."""
    from . import doctor as checks
    from .core import session
    from .core.errors import OperationFailed

    environment, ui = session.begin(env, require_secrets=False)
    results = checks.run_checks(environment)
    for check in results:
        mark = "✓" if check.ok else ("✗" if check.required else "·")
        hint = f"  → {check.hint}" if check.hint and not check.ok else ""
        ui.print(f"{mark} {check.name}: {check.detail}{hint}")
    failed = [check.name for check in results if check.required and not check.ok]
    if failed:
        raise OperationFailed(
            f"{len(failed)} check(s) failed: {', '.join(failed)}", "follow the hints above"
        )


@task(
    help={
        **ENV_HELP,
        "dry_run": "say what would change; make no mutating call",
        "no_health": "skip the health check at the end",
        "recover": "releases left pending by an interrupted helm: roll each back to its last "
        "deployed revision (or uninstall an install never deployed) first; needs --yes",
        "yes": "with --recover: confirm the rollbacks",
    }
)
@procedure
def deploy(  # noqa: PLR0917 - invoke maps each keyword to an option
    c: Context,
    env: str = "",
    dry_run: bool = False,
    no_health: bool = False,
    recover: bool = False,
    yes: bool = False,
) -> None:
    """Everything: cluster, kubeconfig, hub and monitoring while node groups come up, GPU last."""
    from . import orchestrate
    from .core import session
    from .core.errors import bad_option
    from .core.releases import Recovery

    if recover and not (yes or dry_run):
        # The releases run in parallel threads, where nobody can be asked.
        raise bad_option("--yes", "required with --recover (or --dry-run to see the rollbacks)")
    environment, ui = session.begin(env, require_secrets=True)
    orchestrate.deploy(
        environment,
        ui,
        dry_run=dry_run,
        health=not no_health,
        recovery=Recovery(wanted=recover, yes=yes),
    )


@task(help=ENV_HELP)
@procedure
def status(c: Context, env: str = "") -> None:
    """One screen: cluster, node groups, releases, hub, certificate, load balancers, autoscaler."""
    from . import overview
    from .core import session
    from .core.errors import OperationFailed

    environment, ui = session.begin(env, require_secrets=False)
    if not all(s.ok for s in overview.run(environment, ui)):
        raise OperationFailed("some sections could not be read", "see the ✗ lines above")


@task(
    help={
        **ENV_HELP,
        "yes": "really delete (without it, only the list of what would go)",
        "dry_run": "list what would be deleted; delete nothing",
        "no_backup": "skip the hub.backup taken before the hub goes (its database is then lost)",
    }
)
@procedure
def destroy(
    c: Context, env: str = "", yes: bool = False, dry_run: bool = False, no_backup: bool = False
) -> None:
    """Remove hub (backed up first), monitoring, GPU operator, load balancers, cluster."""
    from . import orchestrate
    from .core import session

    environment, ui = session.begin(env, require_secrets=False)
    orchestrate.destroy(environment, ui, yes=yes, dry_run=dry_run, backup=not no_backup)


@task(
    help={
        **ENV_HELP,
        "to": "the new cluster's name (cluster.name allows lower-case letters, digits and '-')",
        "dry_run": "print what would be made; change nothing",
        "grace": "seconds between the announcement and stopping users' servers (default 300)",
        "yes": "delete the old cluster once the new hub is healthy (else it is kept)",
    }
)
@procedure
def replace(  # noqa: PLR0917 - invoke maps each keyword to an option
    c: Context,
    env: str = "",
    to: str = "",
    dry_run: bool = False,
    grace: int = 300,
    yes: bool = False,
) -> None:
    """A new cluster from the current config, users' servers, hub state and volumes moved."""
    from . import replace as procedure_module
    from .core import session
    from .core.errors import bad_option

    if not to.strip():
        raise bad_option("--to", "needs the new cluster's name, e.g. --to jhub-2")
    environment, ui = session.begin(env, require_secrets=True)
    procedure_module.run(
        environment, ui, new_name=to.strip(), dry_run=dry_run, grace=grace, yes=yes
    )


TASKS = [plan, doctor, deploy, status, destroy]
# Registered in the cluster collection (scripts/namespace.py): `invoke cluster.replace`.
CLUSTER_TASKS = [replace]
