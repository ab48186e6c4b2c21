"""What every task does first: validate its environment and open a redacting console."""

from __future__ import annotations

from .console import Console
from .errors import BadInput
from .loading import Environment, load


def begin(env: str, *, require_secrets: bool, offline: bool = False) -> tuple[Environment, Console]:
    """The environment named by --env (or $JHUB_ENV, or the example) and a console.

    Loading registers the environment's secrets for redaction (core.redaction), so
    nothing printed or logged afterwards can show one. A task that talks to a cloud
    or a cluster (the default) refuses documentation-only values such as the
    example's `jupyter.example.org` (exit 2, every key named); `offline` tasks
    (plan, config.show) work with them and can list them (core.placeholders.find).
    """
    from . import placeholders

    environment = load(env or None, require_secrets=require_secrets)
    if not offline and not placeholders.allowed():
        found = placeholders.find(environment.settings)
        if found:
            raise BadInput(found)
    return environment, Console()
