"""invoke config.*: create, check and show an environment."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from ..core.options import ENV_HELP
from ..core.runner import procedure


@task(
    help={
        "env": "environment name: writes config/NAME.yaml and config/NAME.secrets.yaml",
        "auth": "sign-in: oauth, native or dummy (default: as in the example)",
        "domain": "the hub's public name, e.g. jupyter.example.org",
        "force": "overwrite existing files",
    }
)
@procedure
def init(c: Context, env: str = "", auth: str = "", domain: str = "", force: bool = False) -> None:
    """Create an environment from the example and generate its secrets (mode 0600)."""
    from ..core import environment_files, paths
    from ..core.console import Console

    name = paths.resolve_env(env or None)
    config_path, secrets_path = environment_files.init(name, auth or None, domain or None, force)
    ui = Console()
    ui.print(f"✓ wrote {config_path}")
    ui.print(f"✓ wrote {secrets_path} (mode 0600, git-ignored; random tokens generated)")
    ui.print(f"Next: edit {config_path}, then `invoke config.check --env {name}`.")
    if (auth or "") == "oauth" or "type: oauth" in config_path.read_text(encoding="utf-8"):
        ui.print(f"OAuth: paste the client secret into {secrets_path} (oauth_client_secret).")


@task(help={"env": ENV_HELP})
@procedure
def check(c: Context, env: str = "") -> None:
    """Validate an environment and its secrets file; report every problem at once."""
    from ..core import session

    # The same refusals as a deploy (documentation-only values included): valid means ready.
    environment, ui = session.begin(env, require_secrets=True)
    ui.print(f"✓ {environment.config_path} and {environment.secrets_path} are valid")


@task(help={"env": ENV_HELP})
@procedure
def show(c: Context, env: str = "") -> None:
    """Print the effective configuration with secrets redacted."""
    from ..core import environment_files, placeholders, session

    environment, ui = session.begin(env, require_secrets=False, offline=True)
    ui.print(environment_files.shown(environment))
    for problem in placeholders.find(environment.settings):
        ui.warn(f"placeholder: {problem}")


ns = Collection("config", init, check, show)
