"""`invoke cluster.replace --to NEW_NAME`: a new cluster from the current config, users' data kept.

Changing the flavours, the Kubernetes version or the driver needs a new Magnum cluster.
The whole replacement is, in order:

1. the new cluster from the current config under the new name, its kubeconfig and fixes;
2. the Helm releases (hub, monitoring, GPU operator) on it;
3. users' data: stop the servers on the old hub (announced, with a grace period), move the
   hub state (hub.backup, hub.restore), adopt every volume into the new cluster
   (hub.volumes-adopt), move hub.floating_ip to the new hub's load balancer, hub.health,
   and only then offer to delete the old cluster.

This version does 1 and 2, which never touch what users see, and stops before 3 (not
automated yet; every step of it must run in order: a user who reaches the new hub before
their volume is adopted gets a new, empty home directory). docs/data.md has the manual
procedure for the rest, with hub.backup, hub.restore and hub.volumes-adopt.

Resumable: each finished step is recorded in config/<env>.state/replace.json (0600), so an
interrupted run continues at the step it stopped in; the steps themselves look before they
act (cluster.deploy, the releases), so a step interrupted half-way makes nothing twice. The
old cluster is never changed.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core import paths
from .core.console import Console
from .core.errors import BadInput, OperationFailed, Problem, shown
from .core.loading import Environment
from .core.private_files import write_private
from .core.waiting import Clock

if TYPE_CHECKING:
    from openstack.connection import Connection

STATE_FILE = "replace.json"
STEP_CLUSTER = "new cluster"
STEP_RELEASES = "releases on the new cluster"
STEPS = (STEP_CLUSTER, STEP_RELEASES)


def state_path(env: str) -> Path:
    return paths.state_dir(env) / STATE_FILE


def new_environment(environment: Environment, new_name: str) -> Environment:
    """The same environment aimed at the new cluster, with its own kubeconfig.

    hub.floating_ip stays on the old hub until the move (step 3), so the new hub is built
    without it, and without the DNS record (which keeps pointing at that address).
    """
    from pydantic import ValidationError

    settings = environment.settings
    wanted = {
        **settings.cluster.model_dump(),
        "name": new_name,
        "kubeconfig": str(paths.config_dir() / f"{environment.name}.{new_name}.kubeconfig"),
    }
    try:
        cluster = type(settings.cluster).model_validate(wanted)
    except ValidationError:
        raise BadInput(
            Problem(
                "--to",
                f"{shown(new_name)} is not a cluster name; use what cluster.name allows "
                "(lower-case letters, digits and '-')",
            )
        ) from None
    hub = settings.hub.model_copy(
        update={
            "floating_ip": None,
            "dns": settings.hub.dns.model_copy(update={"manage": False}),
        }
    )
    return dataclasses.replace(
        environment, settings=settings.model_copy(update={"cluster": cluster, "hub": hub})
    )


def check_options(environment: Environment, new_name: str) -> None:
    cluster = environment.settings.cluster
    if cluster.driver == "existing":
        raise BadInput(
            Problem(
                "cluster.driver",
                "'existing' clusters are not made by this tool; cluster.replace needs "
                "capi-helm or heat",
            )
        )
    if new_name == cluster.name:
        raise BadInput(
            Problem(
                "--to",
                f"{shown(new_name)} is the current cluster.name; give the new cluster's name",
            )
        )


def load_state(environment: Environment, new_name: str) -> dict[str, Any]:
    path = state_path(environment.name)
    fresh: dict[str, Any] = {"from": environment.settings.cluster.name, "to": new_name, "done": {}}
    if not path.exists():
        return fresh
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BadInput(
            Problem(str(path), "is not a cluster.replace record; move it away to start over")
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("done"), dict):
        raise BadInput(
            Problem(str(path), "is not a cluster.replace record; move it away to start over")
        )
    if state.get("to") != new_name or state.get("from") != fresh["from"]:
        raise BadInput(
            Problem(
                "--to",
                f"a replacement of {state.get('from')} by {state.get('to')} is under way "
                f"({path}); re-run with --to {state.get('to')}, or move the file away to "
                "start over",
            )
        )
    return state


def save_state(environment: Environment, state: dict[str, Any]) -> None:
    write_private(state_path(environment.name), json.dumps(state, indent=1) + "\n")


def run(
    environment: Environment,
    ui: Console,
    *,
    new_name: str,
    dry_run: bool = False,
    clock: Clock | None = None,
    connection: Connection | None = None,
) -> list[str]:
    """The steps done by this run (already done ones are reported, not repeated)."""
    check_options(environment, new_name)
    target = new_environment(environment, new_name)
    state = load_state(environment, new_name)
    old = environment.settings.cluster.name
    ui.heading(f"cluster.replace: {old} → {new_name}")
    ui.print(f"  the old cluster {old} keeps running and is not changed")
    done_now: list[str] = []

    for step in STEPS:
        earlier = state["done"].get(step)
        if earlier:
            with ui.step(step) as report:
                report.unchanged(f"done earlier ({earlier['at']}): {earlier['detail']}")
            continue
        ui.heading(f"Step: {step}")
        if step == STEP_CLUSTER:
            detail = _new_cluster(target, ui, dry_run=dry_run, clock=clock, connection=connection)
        else:
            if dry_run and not target.kubeconfig.exists():
                ui.print(f"  would deploy the releases on {new_name} once it exists")
                break
            detail = _releases(target, ui, dry_run=dry_run, clock=clock)
        if dry_run:
            continue
        state["done"][step] = {
            "at": datetime.datetime.now(tz=datetime.UTC).isoformat(timespec="seconds"),
            "detail": detail,
        }
        save_state(environment, state)
        done_now.append(step)
        ui.print(f"  ✓ {step}: {detail} (recorded in {state_path(environment.name)})")

    if dry_run:
        ui.summary(["dry run: nothing was changed"])
        return done_now
    _users_data(environment, new_name, ui)
    return done_now


def _new_cluster(
    target: Environment,
    ui: Console,
    *,
    dry_run: bool,
    clock: Clock | None,
    connection: Connection | None,
) -> str:
    from .cluster import deploy as cluster_deploy
    from .cluster import kubeconfig
    from .orchestrate import cluster_fixes

    uuid = cluster_deploy.run(target, ui, dry_run=dry_run, clock=clock, connection=connection)
    if dry_run and not target.kubeconfig.exists():
        return "would be created"
    written = kubeconfig.run(target, ui, dry_run=dry_run, clock=clock, connection=connection)
    cluster_fixes(target, ui, dry_run=dry_run, clock=clock)
    return f"{target.settings.cluster.name} ({uuid}), kubeconfig {written}"


def _releases(target: Environment, ui: Console, *, dry_run: bool, clock: Clock | None) -> str:
    from .orchestrate import release_jobs, run_parallel

    results = run_parallel(release_jobs(target, dry_run=dry_run, clock=clock), ui)
    failed = [result for result in results if not result.ok]
    if failed:
        raise OperationFailed(
            f"{len(failed)} of {len(results)} releases failed on "
            f"{target.settings.cluster.name}: " + ", ".join(r.name for r in failed),
            "fix the cause shown in its block, then re-run cluster.replace with the same --to "
            "(the new cluster is kept; finished releases are left unchanged)",
        )
    return ", ".join(sorted(result.name for result in results))


def _users_data(environment: Environment, new_name: str, ui: Console) -> None:
    """Step 3 is not automated yet: stop here, with where things stand and what follows."""
    old = environment.settings.cluster.name
    raise OperationFailed(
        f"the new cluster {new_name} is ready with its releases; {old} still serves every "
        "user: moving them (stop their servers, hub state, volume adoption, floating IP, "
        f"health, deleting {old}) is not automated in this version",
        "follow docs/data.md, 'Replacing the cluster', for the rest by hand "
        "(hub.backup, hub.restore, hub.volumes-adopt); a re-run of cluster.replace repeats "
        "nothing",
    )
