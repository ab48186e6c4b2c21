"""Task glue for hub.health; scripts/hub/tasks.py calls register()."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from ..core.options import ENV_HELP
from ..core.runner import procedure

ENV = ENV_HELP  # the shared --env help (core.options)


def parse_timeout(text: str) -> float:
    """--timeout in seconds; invoke would print a traceback for a bad float itself."""
    import math

    from ..core.errors import bad_option

    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    # inf passes `> 0` and nan fails every comparison: both are refused.
    if not (math.isfinite(seconds) and seconds > 0):
        raise bad_option("--timeout", f"{text!r} is not allowed; give seconds above 0, e.g. 600")
    return seconds


@task(
    help={
        "env": ENV,
        "url": "the hub's base URL (default: hub.domain, else the load balancer's address); "
        "e.g. http://127.0.0.1:8080/ through a port-forward",
        "no-spawn": "only ask /hub/api/health; do not start a server",
        "timeout": "seconds to wait for the check user's server (default 600)",
    }
)
@procedure
def health(
    c: Context, env: str = "", url: str = "", no_spawn: bool = False, timeout: str = "600"
) -> None:
    """Ask /hub/api/health, then start and stop a server for the check user (spawn time)."""
    from ..core import session
    from . import health as procedure_module
    from .urls import normalise

    seconds = parse_timeout(timeout)
    base = normalise(url) if url else None
    environment, ui = session.begin(env, require_secrets=not no_spawn)
    result = procedure_module.run(environment, ui, url=base, spawn=not no_spawn, timeout=seconds)
    result.raise_if_unhealthy()
    ui.summary(result.lines)


def register(ns: Collection) -> None:
    ns.add_task(health)
