"""invoke hub.*: deploy JupyterHub and run its sign-in, approval and status procedures.

Glue only: parse options, load the environment, call one function. The
certificate tasks (hub.ssl-retry, hub.cert-status, hub.tls-secret) live in
tls/tasks.py and are added by its register() at the end of this file.
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from ..core.options import ENV_HELP
from ..core.runner import procedure
from . import (
    backup_tasks,
    capacity_tasks,
    dns_tasks,
    health_tasks,
    usage_tasks,
    volumes_tasks,
)
from .tls import tasks as tls_tasks

ENV = ENV_HELP  # the shared --env help (core.options)
URL = "the hub's base URL (default: https://hub.domain/); e.g. through a port-forward"
DRY_RUN = "print what would change and change nothing"
RECOVER = (
    "a release left pending-install/-upgrade/-rollback by an interrupted helm: roll it back "
    "to its last deployed revision (or uninstall an install never deployed) first"
)


def _web(environment: object, url: str) -> object:
    from ..core.loading import Environment
    from .hub_web import HubWeb
    from .urls import normalise, public_url

    assert isinstance(environment, Environment)
    return HubWeb(normalise(url) if url else public_url(environment.settings))


@task(
    help={
        "env": ENV,
        "dry-run": DRY_RUN,
        "yes": "upgrade without asking, although the hub restarts (about a minute); "
        "with --recover, roll back without asking",
        "recover": RECOVER,
    }
)
@procedure
def deploy(
    c: Context, env: str = "", dry_run: bool = False, yes: bool = False, recover: bool = False
) -> None:
    """Install or upgrade JupyterHub; a re-run with the same config changes nothing."""
    from ..core import session
    from ..core.releases import Recovery
    from . import deploy as procedure_module

    environment, ui = session.begin(env, require_secrets=True)
    options = procedure_module.Options(
        dry_run=dry_run, yes=yes, recovery=Recovery(wanted=recover, yes=yes)
    )
    procedure_module.run(environment, ui, options)


@task(help={"env": ENV, "url": URL, "dry-run": DRY_RUN})
@procedure
def admins(c: Context, env: str = "", url: str = "", dry_run: bool = False) -> None:
    """Sign up the configured admin users now (native sign-in); passwords go to the secrets file."""
    from ..core import session
    from . import admins as procedure_module
    from .hub_web import HubWeb

    environment, ui = session.begin(env, require_secrets=True)
    procedure_module.require_native(environment, "hub.admins")
    web = _web(environment, url)
    assert isinstance(web, HubWeb)
    procedure_module.run(environment, ui, web, dry_run=dry_run)


@task(help={"env": ENV, "url": URL})
@procedure
def pending(c: Context, env: str = "", url: str = "") -> None:
    """List sign-ups waiting for an admin's approval (native sign-in)."""
    from ..core import session
    from . import approvals
    from .admins import require_native
    from .hub_web import HubWeb

    environment, ui = session.begin(env, require_secrets=True)
    require_native(environment, "hub.pending")
    web = _web(environment, url)
    assert isinstance(web, HubWeb)
    approvals.pending(environment, ui, web)


# Names are an option (--names alice,bob), not positional: invoke cannot make a
# positional argument optional, and `--all` needs none.
@task(
    help={
        "names": "sign-ups to approve, separated by commas (alice,bob)",
        "all": "approve every waiting sign-up",
        "env": ENV,
        "url": URL,
        "dry-run": DRY_RUN,
    },
)
@procedure
def approve(  # noqa: PLR0917 - invoke maps each keyword to an option
    c: Context,
    names: str = "",
    all: bool = False,
    env: str = "",
    url: str = "",
    dry_run: bool = False,
) -> None:
    """Approve sign-ups as an admin, instead of clicking through /hub/authorize."""
    from ..core import session
    from . import approvals
    from .admins import require_native
    from .hub_web import HubWeb

    chosen = approvals.parse_names(names, every=all)
    environment, ui = session.begin(env, require_secrets=True)
    require_native(environment, "hub.approve")
    web = _web(environment, url)
    assert isinstance(web, HubWeb)
    approvals.approve(environment, ui, web, chosen, every=all, dry_run=dry_run)


@task(
    help={
        "names": "waiting sign-ups to delete, separated by commas (alice,bob)",
        "env": ENV,
        "url": URL,
        "dry-run": DRY_RUN,
        "yes": "delete without asking",
    },
)
@procedure
def reject(  # noqa: PLR0917 - invoke maps each keyword to an option
    c: Context,
    names: str = "",
    env: str = "",
    url: str = "",
    dry_run: bool = False,
    yes: bool = False,
) -> None:
    """Delete sign-ups that were never approved (native sign-in)."""
    from ..core import session
    from . import approvals
    from .admins import require_native
    from .hub_web import HubWeb

    chosen = approvals.parse_names(names, every=False)
    environment, ui = session.begin(env, require_secrets=True)
    require_native(environment, "hub.reject")
    web = _web(environment, url)
    assert isinstance(web, HubWeb)
    approvals.reject(environment, ui, web, chosen, dry_run=dry_run, yes=yes)


@task(help={"env": ENV})
@procedure
def authorize_url(c: Context, env: str = "") -> None:
    """Print the page where admins approve sign-ups (native sign-in)."""
    from ..core import session
    from .admins import require_native
    from .urls import authorize_url as page

    # Offline: it prints a URL and calls nothing.
    environment, ui = session.begin(env, require_secrets=False, offline=True)
    require_native(environment, "hub.authorize-url")
    ui.print(page(environment.settings))


@task(help={"env": ENV, "url": URL})
@procedure
def status(c: Context, env: str = "", url: str = "") -> None:
    """Release, pods, load balancer vs floating IP, certificate and /hub/api/health."""
    from ..core import session
    from . import status as procedure_module
    from .urls import normalise

    base = normalise(url) if url else ""
    environment, ui = session.begin(env, require_secrets=False)
    procedure_module.run(environment, ui, base)


@task(help={"env": ENV})
@procedure
def oauth_check(c: Context, env: str = "") -> None:
    """Compare the OpenID provider's configuration with the hub's OAuth settings."""
    from ..core import session
    from . import oauth_check as procedure_module

    environment, ui = session.begin(env, require_secrets=False)
    procedure_module.run(environment, ui)


@task(
    help={
        "env": ENV,
        "dry-run": DRY_RUN,
        "yes": "uninstall without asking",
        "no-backup": "skip the hub.backup taken first (database, session secrets, certificate)",
    }
)
@procedure
def uninstall(
    c: Context, env: str = "", dry_run: bool = False, yes: bool = False, no_backup: bool = False
) -> None:
    """Remove the hub release after a hub.backup and a copy of its Let's Encrypt certificate."""
    from ..core import session
    from . import uninstall as procedure_module

    environment, ui = session.begin(env, require_secrets=False)
    procedure_module.run(environment, ui, dry_run=dry_run, yes=yes, backup=not no_backup)


ns = Collection(
    "hub",
    deploy,
    admins,
    pending,
    approve,
    reject,
    status,
    oauth_check,
    uninstall,
    authorize_url,
)

# Procedures kept in modules of their own add their tasks to the same collection.
backup_tasks.register(ns)
capacity_tasks.register(ns)
dns_tasks.register(ns)
health_tasks.register(ns)
tls_tasks.register(ns)
usage_tasks.register(ns)
volumes_tasks.register(ns)
