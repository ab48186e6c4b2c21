"""Task glue for hub.backup and hub.restore; scripts/hub/tasks.py calls register()."""

from __future__ import annotations

from pathlib import Path

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from ..core.options import ENV_HELP
from ..core.runner import procedure


def _parse_path(option: str, text: str) -> Path:

    from ..core.errors import bad_option

    if not text.strip():
        raise bad_option(option, "needs a file name, e.g. config/hub-backup.json")
    path = Path(text).expanduser()
    if path.is_dir():
        raise bad_option(option, f"{text} is a directory; give a file name")
    return path


@task(
    help={
        "env": ENV_HELP,
        "to": "file to write (default: config/<env>.backups/hub-<UTC time>.json), mode 0600",
    }
)
@procedure
def backup(c: Context, env: str = "", to: str = "") -> None:
    """Save the hub database, session secrets and certificate to one file (0600, checksummed)."""
    from ..core import session
    from . import backup as procedure_module

    target = _parse_path("--to", to) if to else None
    environment, ui = session.begin(env, require_secrets=False)
    written = procedure_module.backup(environment, ui, to=target)
    ui.summary([f"restore with `invoke hub.restore --env {environment.name} --from {written}`"])


@task(
    help={
        "env": ENV_HELP,
        "from": "a file written by hub.backup (or by hub.uninstall, destroy)",
        "yes": "replace the hub database without asking",
        "dry-run": "check the file and print what would change; change nothing",
    }
)
@procedure
def restore(
    c: Context, env: str = "", from_: str = "", yes: bool = False, dry_run: bool = False
) -> None:
    """Put a hub.backup file back into the deployed hub; refuses a newer JupyterHub's."""
    from ..core import session
    from . import backup as procedure_module

    source = _parse_path("--from", from_)
    environment, ui = session.begin(env, require_secrets=False)
    procedure_module.restore(environment, ui, source=source, yes=yes, dry_run=dry_run)


def register(ns: Collection) -> None:
    ns.add_task(backup)
    ns.add_task(restore)
