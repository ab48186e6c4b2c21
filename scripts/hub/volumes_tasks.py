"""hub.volumes-adopt: the task glue; scripts/hub/tasks.py calls register()."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from ..core.runner import procedure

ENV = "environment name (default: $JHUB_ENV, else example)"


@task(
    help={
        "env": ENV,
        "from-cluster": "only volumes the Cinder CSI driver of this cluster made (its "
        "cinder.csi.openstack.org/cluster metadata, as `invoke hub.volumes` shows it)",
        "dry-run": "print what would be bound and change nothing",
        "yes": "do not ask before binding the volumes",
    }
)
@procedure
def volumes_adopt(
    c: Context, env: str = "", from_cluster: str = "", dry_run: bool = False, yes: bool = False
) -> None:
    """Bind users' retained Cinder volumes from an earlier cluster back to their claims."""
    from ..core import session
    from . import volumes_adopt as procedure_module

    environment, ui = session.begin(env, require_secrets=False)
    adopted = procedure_module.adopt_volumes(
        environment, ui, from_cluster=from_cluster, dry_run=dry_run, yes=yes
    )
    if adopted:
        verb = "would adopt" if dry_run else "adopted"
        ui.print(f"{verb} the volumes of {len(adopted)} user(s): {', '.join(adopted)}")


def register(ns: Collection) -> None:
    """Add hub.volumes-adopt to the hub collection."""
    ns.add_task(volumes_adopt, name="volumes-adopt")
