"""hub.capacity: the task glue; the procedure is capacity_run.py, the arithmetic capacity.py.

scripts/hub/tasks.py calls register().
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from ..core.options import ENV_HELP
from ..core.runner import procedure

ENV = ENV_HELP  # the shared --env help (core.options)


@task(
    help={
        "env": ENV,
        "users": "target number of concurrent users: sizes max_node_count and placeholders",
        "ready-per": "keep one default-profile server ready per this many logins (default 10)",
    }
)
@procedure
def capacity(c: Context, env: str = "", users: int = 0, ready_per: int = 10) -> None:
    """Users per node for each profile; placeholders and max_node_count for --users N."""
    from ..core import session
    from ..core.errors import bad_option
    from .capacity_run import run

    if users < 0 or users > 100_000:
        raise bad_option("--users", f"{users} is not allowed; use 0 (no target) to 100000")
    if ready_per < 1:
        raise bad_option("--ready-per", f"{ready_per} is not allowed; use 1 or more")
    environment, ui = session.begin(env, require_secrets=False)
    run(environment, ui, users=users, ready_per=ready_per)


def register(ns: Collection) -> None:
    """Add hub.capacity to the hub collection."""
    ns.add_task(capacity, name="capacity")
