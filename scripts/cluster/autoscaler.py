"""`invoke cluster.autoscaler` and `cluster.autoscaler-logs`.

On the Heat driver the cluster autoscaler runs inside the cluster and learns
which node groups it may scale, and how far, from one `--nodes=MIN:MAX:GROUP`
flag per group on its command line. Magnum writes only the default workers'
flag, which is why the seed edited the deployment by hand for GPU workers.
Here the edit is a JSON patch whose first operation tests that the command
is still what was read, so a concurrent edit fails instead of being
overwritten; other flags keep their place.

On capi-helm the autoscaler runs in Magnum's management cluster and reads the
node group's min_node_count/max_node_count, so the limits change through Magnum.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..core import cloud, known_objects
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import BadInput, OperationFailed, Problem, bad_option
from ..core.kube import call, read_or_none
from ..core.loading import Environment
from ..core.waiting import Clock

if TYPE_CHECKING:
    from kubernetes.client import ApiClient
    from openstack.connection import Connection

NAMESPACE = str(known_objects.HEAT_AUTOSCALER.namespace)
AUTOSCALER = known_objects.HEAT_AUTOSCALER.name
GROUP_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_LIMIT = re.compile(r"^(\d+):(\d+):(.+)$")
Limits = dict[str, tuple[int, int]]


def validate(nodegroup: str, low: int, high: int) -> None:
    """All option problems at once, before any connection is made."""
    problems = []
    if not GROUP_NAME.match(nodegroup):
        problems.append(
            Problem(
                "option --nodegroup",
                f"{nodegroup!r} is not a node group name (lower-case letters, digits, '-'; "
                "e.g. gpu-worker)",
            )
        )
    if low < 0:
        problems.append(Problem("option --min", f"{low} is negative; allowed: 0 or more"))
    if high < 1:
        problems.append(Problem("option --max", f"{high} is below 1; allowed: 1 or more"))
    if low >= 0 and 1 <= high < low:
        problems.append(Problem("option --min", f"{low} exceeds --max {high}"))
    if problems:
        raise BadInput(problems)


# ------------------------------------------------------------------ the flags


def _entries(flags: list[str]) -> list[tuple[int, int, str, int, int]]:
    """(position, length, group, min, max) of every --nodes flag, both spellings."""
    found = []
    index = 0
    while index < len(flags):
        item = flags[index]
        value, length = None, 1
        if item.startswith("--nodes="):
            value = item[len("--nodes=") :]
        elif item == "--nodes" and index + 1 < len(flags):
            value, length = flags[index + 1], 2
        match = _LIMIT.match(value.strip()) if value is not None else None
        if match:
            found.append((index, length, match.group(3), int(match.group(1)), int(match.group(2))))
        index += length
    return found


def with_limits(flags: list[str], limits: Limits) -> list[str]:
    """The flags with exactly one --nodes per named group; everything else untouched.

    A group's flag replaces its first existing one in place (duplicates go); a new
    group's flag goes right after the last --nodes flag, or at the end.
    """
    entries = _entries(flags)
    first_of: dict[str, int] = {}
    dropped: set[int] = set()
    for position, length, group, _, _ in entries:
        if group not in limits:
            continue
        if group in first_of:
            dropped.update(range(position, position + length))
        else:
            first_of[group] = position
            dropped.update(range(position + 1, position + length))
    result: list[str] = []
    for index, item in enumerate(flags):
        if index in dropped:
            continue
        replaced = next((g for g, p in first_of.items() if p == index), None)
        if replaced is not None:
            low, high = limits[replaced]
            result.append(f"--nodes={low}:{high}:{replaced}")
        else:
            result.append(item)
    new = [g for g in limits if g not in first_of]
    if new:
        remaining = _entries(result)
        at = (remaining[-1][0] + remaining[-1][1]) if remaining else len(result)
        result[at:at] = [f"--nodes={limits[g][0]}:{limits[g][1]}:{g}" for g in new]
    return result


def _container(manifest: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    containers = manifest.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
    if not containers:
        raise OperationFailed(
            f"{NAMESPACE}/{AUTOSCALER} has no containers",
            "the deployment is damaged; recreate the cluster or fix it with kubectl",
        )
    for index, container in enumerate(containers):
        if container.get("name") == AUTOSCALER:
            return index, container
    return 0, containers[0]


def _flag_field(container: dict[str, Any]) -> str:
    """command or args: wherever the --nodes flags live (Magnum uses command)."""
    for name in ("command", "args"):
        if _entries(list(container.get(name) or [])):
            return name
    return "command" if container.get("command") else "args"


def node_limits(manifest: dict[str, Any]) -> Limits:
    _, container = _container(manifest)
    flags = list(container.get(_flag_field(container)) or [])
    return {group: (low, high) for _, _, group, low, high in _entries(flags)}


def ensure_limits(api: ApiClient, limits: Limits, ui: Console, changes: Changes) -> bool:
    """Patch the autoscaler so each named group has exactly these bounds; True if it changed."""
    from kubernetes import client

    apps = client.AppsV1Api(api)
    deployment = read_or_none(
        f"read deployment {NAMESPACE}/{AUTOSCALER}",
        lambda: apps.read_namespaced_deployment(AUTOSCALER, NAMESPACE),
    )
    if deployment is None:
        raise OperationFailed(
            f"no deployment {NAMESPACE}/{AUTOSCALER} in this cluster",
            "the cluster was made without auto_scaling_enabled; it cannot autoscale",
        )
    manifest: dict[str, Any] = api.sanitize_for_serialization(deployment)
    index, container = _container(manifest)
    field = _flag_field(container)
    current = list(container.get(field) or [])
    wanted = with_limits(current, limits)
    if wanted == current:
        return False
    before = node_limits(manifest)
    for group, (low, high) in limits.items():
        old = before.get(group)
        ui.print(f"  {group}: {f'{old[0]}..{old[1]}' if old else 'not scaled'} → {low}..{high}")
    path = f"/spec/template/spec/containers/{index}/{field}"
    patch = [
        # Fails with 422 when someone changed the command since we read it.
        {"op": "test", "path": path, "value": current},
        {"op": "replace", "path": path, "value": wanted},
    ]

    refused = object()

    def send() -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return apps.patch_namespaced_deployment(AUTOSCALER, NAMESPACE, patch)
        except ApiException as error:
            if error.status in (409, 422):
                return refused
            raise

    def apply() -> None:
        if call(f"patch {NAMESPACE}/{AUTOSCALER}", send) is not refused:
            return
        # The guard failed. Either someone changed the command since we read it, or an
        # earlier attempt of ours was applied and its answer lost (a dropped connection, a
        # load balancer's 504): read again (its own retries) to tell which.
        live = call(
            f"read deployment {NAMESPACE}/{AUTOSCALER}",
            lambda: apps.read_namespaced_deployment(AUTOSCALER, NAMESPACE),
        )
        containers = live.spec.template.spec.containers or []
        if index < len(containers) and list(getattr(containers[index], field) or []) == wanted:
            return
        raise OperationFailed(
            f"{NAMESPACE}/{AUTOSCALER} was changed by someone else while patching; "
            "nothing was overwritten",
            "re-run the task: it reads the new command and applies the limits to it",
        )

    changes.make(
        f"patch {NAMESPACE}/{AUTOSCALER} {field}: "
        + ", ".join(f"--nodes={low}:{high}:{group}" for group, (low, high) in limits.items()),
        apply,
    )
    return True


# ------------------------------------------------------------------ the task


def run(
    environment: Environment,
    ui: Console,
    *,
    nodegroup: str,
    low: int,
    high: int,
    dry_run: bool = False,
    api: ApiClient | None = None,
    connection: Connection | None = None,
    clock: Clock | None = None,
) -> bool:
    validate(nodegroup, low, high)
    settings = environment.settings
    config = settings.cluster
    changes = Changes(ui, dry_run)

    if config.driver == "capi-helm":
        if low < 1 and config.autoscaling():
            raise bad_option(
                "--min",
                f"{low} is refused by driver capi-helm with autoscaling (magnum-capi-helm: "
                "'Min node count must be greater than or equal to 1 for all node groups'); "
                "allowed: 1 or more",
            )
        return through_magnum(
            environment,
            ui=ui,
            nodegroup=nodegroup,
            low=low,
            high=high,
            changes=changes,
            connection=connection,
            clock=clock,
        )

    if config.driver == "heat":
        # The flag must name a real node group, or the autoscaler crash-loops.
        from .deploy import only_one
        from .magnum import Magnum

        magnum = Magnum(connection or cloud.connect(settings), clock)
        found = only_one(
            magnum.clusters_named(config.name), "clusters", "openstack coe cluster delete"
        )
        if found is None:
            raise OperationFailed(f"cluster {config.name} does not exist", "deploy it first")
        names = [str(g["name"]) for g in magnum.nodegroups(str(found["uuid"]))]
        if nodegroup not in names:
            raise bad_option(
                "--nodegroup",
                f"{nodegroup!r} is not a node group of {config.name}; "
                f"allowed: {', '.join(sorted(names))}",
            )
    if api is None:
        from ..core.kube import api_client

        api = api_client(environment.kubeconfig)
    with ui.step(f"autoscaler limits for {nodegroup}") as step:
        changed = ensure_limits(api, {nodegroup: (low, high)}, ui, changes)
        if not changed:
            step.unchanged(f"already --nodes={low}:{high}:{nodegroup}")
        elif dry_run:
            step.planned("would be patched")
        else:
            step.done(f"--nodes={low}:{high}:{nodegroup}; the autoscaler restarts with it")
    ui.summary(["dry run: nothing was changed"] if dry_run else [])
    return changed


def through_magnum(
    environment: Environment,
    *,
    ui: Console,
    nodegroup: str,
    low: int,
    high: int,
    changes: Changes,
    connection: Connection | None,
    clock: Clock | None,
) -> bool:
    from . import spec
    from .deploy import only_one
    from .magnum import Magnum

    config = environment.settings.cluster
    magnum = Magnum(connection or cloud.connect(environment.settings), clock)
    found = only_one(magnum.clusters_named(config.name), "clusters", "openstack coe cluster delete")
    if found is None:
        raise OperationFailed(
            f"cluster {config.name} does not exist",
            f"deploy it first (`invoke cluster.deploy --env {environment.name}`)",
        )
    uuid = str(found["uuid"])
    group = magnum.nodegroup(uuid, nodegroup)
    if group is None:
        names = sorted(str(g["name"]) for g in magnum.nodegroups(uuid))
        raise bad_option(
            "--nodegroup",
            f"{nodegroup!r} is not a node group of {config.name}; allowed: {', '.join(names)}",
        )
    with ui.step(f"node group {nodegroup} limits") as step:
        if group.get("is_default") and group.get("role") != "master":
            live = magnum.cluster(uuid) or {}
            fixed = spec.default_bounds_from_labels(config.driver, live)
            if fixed is not None:
                if fixed != (low, high):
                    raise OperationFailed(
                        *spec.fixed_bounds_refusal(
                            fixed, (low, high), environment.name, "--min/--max"
                        )
                    )
                step.unchanged(f"already {low}..{high} (cluster labels min/max_node_count)")
                ui.summary()
                return False
        patch = spec.bounds_patch(group, low, high)
        if not patch:
            step.unchanged(f"already {low}..{high}")
            ui.summary()
            return False
        conflict = spec.bounds_conflict(group, config.name, low, high)
        if conflict:
            raise OperationFailed(*conflict)
        ui.print(
            f"  {nodegroup}: {group.get('min_node_count')}..{group.get('max_node_count')} "
            f"→ {low}..{high} (Magnum's autoscaler reads these)"
        )
        changes.make(
            f"set node group {nodegroup} to {low}..{high} nodes",
            lambda: magnum.update_nodegroup(uuid, nodegroup, patch),
        )
        if changes.dry_run:
            step.planned("would change")
        else:
            step.done(f"{low}..{high}")
    ui.summary(["dry run: nothing was changed"] if changes.dry_run else [])
    return True


# ------------------------------------------------------------------ logs


def logs(api: ApiClient, ui: Console, *, follow: bool = False, tail: int = 200) -> None:
    """Print (or follow) the newest autoscaler pod's log."""
    from kubernetes import client

    apps = client.AppsV1Api(api)
    core = client.CoreV1Api(api)
    deployment = read_or_none(
        f"read deployment {NAMESPACE}/{AUTOSCALER}",
        lambda: apps.read_namespaced_deployment(AUTOSCALER, NAMESPACE),
    )
    if deployment is None:
        raise OperationFailed(
            f"no deployment {NAMESPACE}/{AUTOSCALER}",
            "the cluster has no in-cluster autoscaler (made without auto_scaling_enabled?)",
        )
    labels = (deployment.spec.selector.match_labels or {}) if deployment.spec.selector else {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    pods = call(
        f"list {AUTOSCALER} pods",
        lambda: core.list_namespaced_pod(NAMESPACE, label_selector=selector).items,
    )
    if not pods:
        raise OperationFailed(
            f"{NAMESPACE}/{AUTOSCALER} has no pods",
            f"see `kubectl -n {NAMESPACE} describe deployment {AUTOSCALER}`",
        )
    pod = max(pods, key=lambda p: str(p.metadata.creation_timestamp or ""))
    _, container = _container(api.sanitize_for_serialization(deployment))
    how = "following; Ctrl-C stops" if follow else f"last {tail} lines"
    ui.print(f"# {NAMESPACE}/{pod.metadata.name} ({how})")
    response = call(
        f"read the log of {pod.metadata.name}",
        lambda: core.read_namespaced_pod_log(
            pod.metadata.name,
            NAMESPACE,
            container=container.get("name"),
            follow=follow,
            tail_lines=tail,
            _preload_content=False,
        ),
    )
    pending = ""
    try:
        for chunk in response.stream(4096):
            pending += chunk.decode("utf-8", errors="replace")
            *lines, pending = pending.split("\n")
            for line in lines:
                ui.print(line)
        if pending:
            ui.print(pending)
    except KeyboardInterrupt:
        pass
    finally:
        response.release_conn()
