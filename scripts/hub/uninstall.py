"""hub.uninstall: remove the JupyterHub release, keeping its state and the certificate.

First a hub.backup (hub/backup.py: database, session secrets, certificate) unless
--no-backup; hub.restore puts it into the next hub.

The Let's Encrypt certificate lives in a secret that the autohttps pod writes,
outside Helm's bookkeeping; a re-created namespace or cluster loses it, and a
new order counts against the 5-per-week limit. It is copied to
config/<env>.tls-backup.yaml (0600) first; hub.deploy restores it.
"""

from __future__ import annotations

from pathlib import Path

from ..core import helm, kube, paths
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import OperationFailed
from ..core.loading import Environment
from ..core.prompts import Ask, confirm_deletion
from . import backup as hub_backup
from . import placeholders
from .tls import backup as tls_backup

DELETES = (
    "the hub, proxy and autohttps pods, the hub database (its volume: NativeAuthenticator "
    "accounts and passwords, user list), the placeholders (those of other profiles too) and "
    "the proxy's load balancer; users' own volumes and the floating IP are kept"
)


def run(
    environment: Environment,
    ui: Console,
    *,
    dry_run: bool,
    yes: bool,
    ask: Ask | None = None,
    backup: bool = True,
) -> bool:
    """True when a release was removed (or would be, in a dry run)."""
    hub = environment.settings.hub
    what = f"uninstall release {hub.release} from namespace {hub.namespace}"
    ui.print(f"This will {what}: {DELETES}.")
    if not dry_run and not confirm_deletion(what, yes=yes, ask=ask):
        ui.print("Nothing was removed.")
        return False

    changes = Changes(ui, dry_run=dry_run)
    client = helm.Helm(kubeconfig=environment.kubeconfig)
    api = kube.api_client(environment.kubeconfig)
    if backup:
        take_backup(environment, ui, client, dry_run=dry_run)
    else:
        ui.print("No hub backup (--no-backup): the hub database goes with the release.")
    tls_file = paths.tls_backup_file(environment.name)
    with ui.step("back up the Let's Encrypt certificate") as step:
        if tls_backup.backup(api, hub.namespace, tls_file, changes):
            step.done(f"{tls_file} (mode 0600); hub.deploy restores it")
        else:
            step.skipped("no certificate secret in the cluster")

    # The tool's own placeholders go first: once the chart's PriorityClass is gone they
    # could never be evicted, and would hold their GPUs for ever.
    with ui.step("placeholders of other profiles") as step:
        removed_placeholders = placeholders.remove_all(api, environment.settings, changes)
        if removed_placeholders:
            step.done(", ".join(removed_placeholders))
        else:
            step.skipped("none in the cluster")

    with ui.step(f"helm uninstall {hub.release}") as step:
        if client.status(hub.release, hub.namespace) is None:
            step.unchanged("not installed")
            removed = False
        else:
            changes.make(
                f"helm uninstall {hub.release} --namespace {hub.namespace}",
                lambda: client.uninstall(
                    hub.release, hub.namespace, timeout_seconds=hub.upgrade_timeout_minutes * 60
                ),
            )
            removed = True
    ui.summary([f"reinstall with `invoke hub.deploy --env {environment.name}`"] if removed else [])
    return removed


def take_backup(
    environment: Environment, ui: Console, client: helm.Helm, *, dry_run: bool
) -> Path | None:
    """hub.backup before anything is removed; where it went, or None without a release."""
    hub = environment.settings.hub
    if client.status(hub.release, hub.namespace) is None:
        ui.print(f"No release {hub.release}: no hub state to back up.")
        return None
    target = hub_backup.default_path(environment)
    if dry_run:
        ui.print(f"  would back up the hub (database, session secrets, certificate) to {target}")
        return None
    try:
        written = hub_backup.backup(environment, ui, to=target)
    except OperationFailed as failure:
        raise OperationFailed(
            f"the backup before removing the hub failed: {failure.cause}",
            f"{failure.remedy}; or skip it with --no-backup (the database is then lost)",
        ) from None
    ui.print(
        f"Hub state backed up to {written}; `invoke hub.restore --from {written}` puts it back."
    )
    return written
