"""invoke cluster.*: the Magnum cluster's life, from creation to deletion."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from ..core.options import ENV_HELP
from ..core.runner import procedure

ENV = ENV_HELP  # the shared --env help (core.options)


@task(help={"env": ENV, "dry_run": "look and print what would be created; change nothing"})
@procedure
def deploy(c: Context, env: str = "", dry_run: bool = False) -> None:
    """Create or reuse the cluster template, cluster and node groups; wait until ready."""
    from ..core import session
    from . import deploy as procedure_

    environment, ui = session.begin(env, require_secrets=False)
    procedure_.run(environment, ui, dry_run=dry_run)


@task(help={"env": ENV, "watch": "redraw until nothing is in progress"})
@procedure
def status(c: Context, env: str = "", watch: bool = False) -> None:
    """Cluster and node groups: status, reasons, node counts, autoscaling bounds."""
    from ..core import session
    from . import status as procedure_

    environment, ui = session.begin(env, require_secrets=False)
    procedure_.run(environment, ui, watch=watch)


@task(
    help={
        "env": ENV,
        "path": "write here instead of config/ENV.kubeconfig (or cluster.kubeconfig)",
        "renew": "sign a new client certificate even if the current one is still good",
        "dry_run": "say what would be signed and written; write nothing",
    }
)
@procedure
def kubeconfig(
    c: Context, env: str = "", path: str = "", renew: bool = False, dry_run: bool = False
) -> None:
    """Write a kubeconfig (mode 0600) with a client certificate signed by Magnum."""
    from pathlib import Path

    from ..core import session
    from . import kubeconfig as procedure_

    environment, ui = session.begin(env, require_secrets=False)
    target = Path(path).expanduser() if path else None
    procedure_.run(environment, ui, path=target, renew=renew, dry_run=dry_run)


@task(help={"env": ENV})
@procedure
def check(c: Context, env: str = "") -> None:
    """Nodes Ready, kube-system pods healthy, Cinder CSI on every node, autoscaler present."""
    from ..core import session
    from ..core.kube import api_client
    from . import check as procedure_

    environment, ui = session.begin(env, require_secrets=False)
    api = api_client(environment.kubeconfig)
    procedure_.run(api, ui, driver=environment.settings.cluster.driver, env=environment.name)


@task(
    help={
        "env": ENV,
        "nodegroup": "node group to scale, e.g. gpu-worker or default-worker",
        "min": "fewest nodes the autoscaler keeps (0 or more)",
        "max": "most nodes the autoscaler may add (1 or more)",
        "dry_run": "show the change; patch nothing",
    }
)
@procedure
def autoscaler(
    c: Context,
    *,
    nodegroup: str = "",
    min: int = -1,
    max: int = -1,
    env: str = "",
    dry_run: bool = False,
) -> None:
    """Set a node group's autoscaling limits (heat: the autoscaler's --nodes flag)."""
    from ..core import session
    from ..core.errors import bad_option
    from . import autoscaler as procedure_

    missing = [name for name, value in (("--min", min), ("--max", max)) if value == -1]
    if not nodegroup:
        raise bad_option("--nodegroup", "required, e.g. --nodegroup gpu-worker")
    if missing:
        raise bad_option(missing[0], "required, e.g. --min 0 --max 4")
    environment, ui = session.begin(env, require_secrets=False)
    procedure_.run(environment, ui, nodegroup=nodegroup, low=min, high=max, dry_run=dry_run)


@task(
    name="autoscaler-logs",
    help={"env": ENV, "follow": "keep streaming new lines", "tail": "lines of history"},
)
@procedure
def autoscaler_logs(c: Context, env: str = "", follow: bool = False, tail: int = 200) -> None:
    """Print the cluster autoscaler's log (heat driver or an existing cluster)."""
    from ..core import session
    from ..core.errors import BadInput, Problem, bad_option
    from ..core.kube import api_client
    from . import autoscaler as procedure_

    if tail < 0:
        raise bad_option("--tail", f"{tail} is negative; allowed: 0 or more lines")
    environment, ui = session.begin(env, require_secrets=False)
    if environment.settings.cluster.driver == "capi-helm":
        raise BadInput(
            Problem(
                "cluster.driver",
                "'capi-helm' runs the autoscaler in Magnum's management cluster, out of reach; "
                "watch node counts with `invoke cluster.status --watch`",
            )
        )
    procedure_.logs(api_client(environment.kubeconfig), ui, follow=follow, tail=tail)


@task(name="diag-lb", help={"env": ENV, "dry_run": "print what would be created"})
@procedure
def diag_lb(c: Context, env: str = "", dry_run: bool = False) -> None:
    """Load balancer <cluster>_master_in: SSH (22) and API (6443) to the masters."""
    from ..core import cloud, session
    from ..core.changes import Changes
    from ..core.errors import BadInput, Problem
    from . import diag_lb as procedure_
    from .magnum import Magnum

    environment, ui = session.begin(env, require_secrets=False)
    settings = environment.settings
    if settings.cluster.driver == "existing":
        raise BadInput(
            Problem("cluster.driver", "'existing': no Magnum masters to balance; nothing to do")
        )
    magnum = Magnum(cloud.connect(settings))
    procedure_.run(magnum, settings.cluster.name, ui, Changes(ui, dry_run), environment.name)


@task(
    help={
        "env": ENV,
        "yes": "really delete (without it the task lists what would go and stops)",
        "dry_run": "list what would be deleted; delete nothing",
    }
)
@procedure
def delete(c: Context, env: str = "", yes: bool = False, dry_run: bool = False) -> None:
    """Delete the cluster's Service load balancers, then the cluster; wait until gone."""
    from ..core import session
    from . import delete as procedure_

    environment, ui = session.begin(env, require_secrets=False)
    procedure_.run(environment, ui, yes=yes, dry_run=dry_run)


ns = Collection(
    "cluster", deploy, status, kubeconfig, check, autoscaler, autoscaler_logs, diag_lb, delete
)
