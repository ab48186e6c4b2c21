"""What every task does first: validate its environment and open a redacting console."""

from __future__ import annotations

from .console import Console
from .loading import Environment, load


def begin(env: str, *, require_secrets: bool) -> tuple[Environment, Console]:
    """The environment named by --env (or $JHUB_ENV, or the example) and a console that
    already knows its secrets, so nothing printed afterwards can show one."""
    environment = load(env or None, require_secrets=require_secrets)
    ui = Console()
    ui.add_secrets(environment.secret_values())
    return environment, ui
