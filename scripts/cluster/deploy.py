"""`invoke cluster.deploy`: the seed's "Deploying a cluster" and the GPU node group.

1. Look at what exists (template, cluster, node groups) and compare it with the
   config. Anything Magnum cannot change in place stops here, before a single
   change, with the remedy; a second cluster is never made.
   Before anything is created, the image and flavors are checked (preflight.py).
2. Create the template, then the cluster, and wait for CREATE_COMPLETE.
3. Bring the default workers' autoscaling bounds in line (on capi-helm the
   cluster labels fix them: a change is refused with the real remedy).
4. Create each extra node group (GPU workers, other sizes) once, and wait.
5. Optionally the diagnostic load balancer to the masters.

Re-running resumes wherever a previous run stopped: everything is looked up by
name first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import cloud
from ..core.changes import Changes
from ..core.console import Console, Step
from ..core.errors import BadInput, OperationFailed, Problem
from ..core.loading import Environment
from ..core.settings import Cluster, NodeGroup, Settings
from ..core.waiting import Clock
from . import spec, watch
from .magnum import Magnum, Obj

if TYPE_CHECKING:
    from openstack.connection import Connection


def run(
    environment: Environment,
    ui: Console,
    *,
    dry_run: bool = False,
    clock: Clock | None = None,
    connection: Connection | None = None,
    node_groups: bool = True,
) -> str | None:
    """Deploy the cluster; answers its uuid (None for driver 'existing' or a dry run).

    node_groups=False leaves the extra groups to `node_group` (one call per group), so
    `invoke deploy` can start the hub on the default workers while they come up.
    """
    settings = environment.settings
    config = settings.cluster
    env = environment.name
    if config.driver == "existing":
        use_existing(environment, ui)
        return None
    for text in spec.ignored_settings(config):
        ui.warn(text)

    magnum = Magnum(connection or cloud.connect(settings), clock)
    changes = Changes(ui, dry_run)
    timeout = config.create_timeout_minutes * 60.0

    # 1. Look and compare before changing anything.
    wanted_template = spec.template_body(settings)
    template = only_one(
        magnum.templates_named(config.template),
        f"cluster templates named {config.template!r}",
        "openstack coe cluster template delete UUID",
    )
    summary = only_one(
        magnum.clusters_named(config.name),
        f"clusters named {config.name!r}",
        "openstack coe cluster delete UUID",
    )
    live = magnum.cluster(str(summary["uuid"])) if summary else None
    refuse_conflicts(
        magnum,
        settings=settings,
        wanted_template=wanted_template,
        template=template,
        live=live,
        env=env,
    )

    # 1b. Before anything is created: the image and flavors, which Magnum and the
    #     driver would otherwise refuse late (a CREATE_FAILED cluster minutes later).
    if template is None or live is None:
        from . import preflight

        with ui.step("image and flavors") as step:
            notes = preflight.check(config, magnum.connection, clock)
            step.done("; ".join([f"image {config.image} fits driver {config.driver}", *notes]))

    # 2. Template, cluster, wait.
    with ui.step(f"cluster template {config.template}") as step:
        if template is not None:
            step.unchanged("exists and matches the config")
        else:
            template = changes.make(
                f"create cluster template {config.template} (driver {config.driver})",
                lambda: magnum.create_template(wanted_template),
            )
            if dry_run:
                step.planned("would be created")
            else:
                step.done("created")

    with ui.step(f"cluster {config.name}") as step:
        if live is not None:
            step.unchanged(f"exists ({live.get('status')})")
            uuid: str | None = str(live["uuid"])
        else:
            body = spec.cluster_body(settings, str(template["uuid"]) if template else "")
            uuid = changes.make(
                f"create cluster {config.name}: {config.master_count} master(s) "
                f"{config.master_flavor}, workers {config.worker_flavor} "
                f"{config.min_workers}..{config.max_workers}",
                lambda: magnum.create_cluster(body),
            )
            if dry_run:
                step.planned("would be created")
            else:
                step.done("create accepted")

    if uuid is None:  # a dry run from nothing: the rest depends on the new cluster
        for group in config.all_node_groups():
            ui.print(
                f"  would create node group {describe(group, config.driver)} "
                "once the cluster is ready"
            )
        ui.summary(["dry run: nothing was changed"])
        return None

    with ui.step(f"cluster {config.name} ready") as step:
        status = str((live or {}).get("status", ""))
        if live is not None and watch.ready(status):
            step.unchanged(status)
        elif dry_run and live is not None and not status.endswith("_FAILED"):
            step.planned(f"{status}: a real run waits for it")
            ui.summary(["dry run: nothing was changed"])
            return None
        else:
            live = watch.cluster_ready(
                magnum, uuid, config.name, ui, timeout=timeout, env=env, clock=clock
            )
            step.done(str(live.get("status")))

    # 3. The default workers' bounds: in place through the node group, except where
    #    capi-helm takes them from the cluster's labels, which Magnum cannot change.
    default = default_workers(magnum, uuid)
    with ui.step(f"node group {default.get('name', spec.DEFAULT_WORKERS)} bounds") as step:
        fixed = spec.default_bounds_from_labels(config.driver, live or {})
        if fixed is not None:
            wanted = (config.min_workers, config.max_workers)
            if fixed != wanted:
                raise OperationFailed(*spec.fixed_bounds_refusal(fixed, wanted, env, "config"))
            step.unchanged(f"{fixed[0]}..{fixed[1]} (cluster labels min/max_node_count)")
            fixed_done = True
        else:
            fixed_done = False
        patch = [] if fixed_done else spec.bounds_patch(default, *_wanted(config))
        conflict = spec.bounds_conflict(
            default, config.name, config.min_workers, config.max_workers
        )
        if fixed_done:
            pass
        elif not patch:
            step.unchanged(f"{config.min_workers}..{config.max_workers}")
        elif conflict:
            raise OperationFailed(*conflict)
        else:
            changes.make(
                f"set {default['name']} to {config.min_workers}..{config.max_workers} nodes",
                lambda: magnum.update_nodegroup(uuid, str(default["uuid"]), patch),
            )
            if dry_run:
                step.planned("would change")
            else:
                # The PATCH puts the cluster in UPDATE_IN_PROGRESS: wait before the next call.
                watch.nodegroup_ready(
                    magnum, uuid, str(default["uuid"]), ui, timeout=timeout, env=env, clock=clock
                )
                step.done("updated")
            if config.driver == "heat":
                ui.warn(
                    "the Heat driver's autoscaler keeps its own flags: run `invoke "
                    f"cluster.autoscaler --nodegroup {default['name']} --min "
                    f"{config.min_workers} --max {config.max_workers} --env {env}`"
                )

    # 4. Extra node groups, each created once.
    for group in config.all_node_groups() if node_groups else []:
        with ui.step(f"node group {group.name}") as step:
            ensure_nodegroup(
                magnum,
                uuid=uuid,
                group=group,
                driver=config.driver,
                changes=changes,
                ui=ui,
                step=step,
                env=env,
                cluster_name=config.name,
                clock=clock,
            )

    # 5. The optional diagnostic load balancer.
    if config.diagnostic_lb:
        from . import diag_lb

        diag_lb.ensure(magnum, live or {}, ui, changes, clock=clock)

    ui.summary(
        [
            "dry run: nothing was changed"
            if dry_run
            else f"next: invoke cluster.kubeconfig --env {env}; invoke cluster.check --env {env}"
        ]
    )
    return uuid


def node_group(
    environment: Environment,
    ui: Console,
    name: str,
    *,
    dry_run: bool = False,
    clock: Clock | None = None,
    connection: Connection | None = None,
) -> None:
    """Step 4 for one extra group of an existing cluster: create it once and wait."""
    settings = environment.settings
    config = settings.cluster
    group = next((g for g in config.all_node_groups() if g.name == name), None)
    if group is None:
        raise OperationFailed(f"no node group {name!r} in the config", "check cluster.node_groups")
    magnum = Magnum(connection or cloud.connect(settings), clock)
    summary = only_one(
        magnum.clusters_named(config.name),
        f"clusters named {config.name!r}",
        "openstack coe cluster delete UUID",
    )
    with ui.step(f"node group {group.name}") as step:
        if summary is None:
            if dry_run:
                step.planned("would be created once the cluster is ready")
                return
            raise OperationFailed(
                f"cluster {config.name} not found",
                f"run `invoke cluster.deploy --env {environment.name}` first",
            )
        ensure_nodegroup(
            magnum,
            uuid=str(summary["uuid"]),
            group=group,
            driver=config.driver,
            changes=Changes(ui, dry_run),
            ui=ui,
            step=step,
            env=environment.name,
            cluster_name=config.name,
            clock=clock,
        )


def _wanted(config: Cluster) -> tuple[int, int]:
    return config.min_workers, config.max_workers


def use_existing(environment: Environment, ui: Console) -> None:
    """Driver 'existing': nothing to create; only the kubeconfig must be there."""
    path = environment.kubeconfig
    with ui.step("cluster") as step:
        if not path.is_file():
            raise BadInput(
                Problem(
                    "cluster.kubeconfig",
                    f"{path} does not exist; driver 'existing' needs the kubeconfig of your "
                    "cluster there (or set cluster.kubeconfig to its path)",
                )
            )
        step.unchanged(f"driver 'existing': no OpenStack calls; tasks use {path}")
    ui.summary([f"next: invoke cluster.check --env {environment.name}"])


def only_one(found: list[Obj], what: str, delete_hint: str) -> Obj | None:
    """None, the one match, or a refusal when Magnum holds several with one name."""
    if len(found) > 1:
        ids = ", ".join(str(item.get("uuid")) for item in found)
        raise OperationFailed(
            f"{len(found)} {what} exist ({ids}); the tool will not guess which one is meant",
            f"delete the extra ones (`{delete_hint}`), then re-run",
        )
    return found[0] if found else None


def refuse_conflicts(
    magnum: Magnum,
    *,
    settings: Settings,
    wanted_template: Obj,
    template: Obj | None,
    live: Obj | None,
    env: str,
) -> None:
    config = settings.cluster
    template_problems = spec.template_differences(wanted_template, template) if template else []
    cluster_problems: list[spec.Difference] = []
    if live is not None:
        template_uuid = str(template["uuid"]) if template else f"{config.template} (not found)"
        cluster_problems = spec.cluster_differences(settings, template_uuid, live)
        if watch.ready(str(live.get("status", ""))):
            for group in config.all_node_groups():
                found = magnum.nodegroup(str(live["uuid"]), group.name)
                if found is not None:
                    cluster_problems += spec.nodegroup_differences(group, found)
    if not template_problems and not cluster_problems:
        return
    lines = [str(problem) for problem in [*template_problems, *cluster_problems]]
    if cluster_problems:
        remedy = (
            "Magnum cannot change these on an existing cluster: set the config back to the "
            f"cloud's values, or delete the cluster (`invoke cluster.delete --yes --env {env}`) "
            "and deploy again; a changed node group can be deleted alone with "
            "`openstack coe nodegroup delete CLUSTER GROUP`"
        )
    else:
        remedy = (
            f"template {config.template} is fixed once made: give cluster.template a new name "
            "(a new template is then created), or delete the old one with "
            f"`openstack coe cluster template delete {config.template}`"
        )
    raise OperationFailed(
        f"the cloud differs from config/{env}.yaml where Magnum cannot change things in place: "
        + "; ".join(lines),
        remedy,
    )


def default_workers(magnum: Magnum, uuid: str) -> Obj:
    for group in magnum.nodegroups(uuid):
        if group.get("is_default") and group.get("role") != "master":
            return magnum.nodegroup(uuid, str(group["uuid"])) or group
    raise OperationFailed(
        "the cluster has no default worker node group",
        "see `openstack coe nodegroup list CLUSTER`; the cluster may need to be recreated",
    )


def describe(group: NodeGroup, driver: str) -> str:
    # Only the heat driver applies taints (as kubelet flags); capi-helm never does.
    shown = group.taints if driver == "heat" else []
    taints = f", taints {', '.join(str(t) for t in shown)}" if shown else ""
    return (
        f"{group.name} (role {group.role}, flavor {group.flavor}, "
        f"{group.min_nodes}..{group.max_nodes} nodes{taints})"
    )


def ensure_nodegroup(
    magnum: Magnum,
    *,
    uuid: str,
    group: NodeGroup,
    driver: str,
    changes: Changes,
    ui: Console,
    step: Step,
    env: str,
    cluster_name: str,
    clock: Clock | None,
) -> None:
    timeout = 30 * 60.0
    live = magnum.nodegroup(uuid, group.name)
    if live is None:
        body = spec.nodegroup_body(group, driver)
        made = changes.make(
            f"create node group {describe(group, driver)}",
            lambda: magnum.create_nodegroup(uuid, body),
        )
        if made is None:
            step.planned("would be created")
            return
        watch.nodegroup_ready(magnum, uuid, group.name, ui, timeout=timeout, env=env, clock=clock)
        step.done("created")
        return

    status = str(live.get("status", ""))
    if not watch.ready(status):
        if changes.dry_run and not status.endswith("_FAILED"):
            step.planned(f"{status}: a real run waits for it")
            return
        live = watch.nodegroup_ready(
            magnum, uuid, group.name, ui, timeout=timeout, env=env, clock=clock
        )
    drift = spec.placement_drift(group, driver, live)
    if drift:
        ui.warn(
            f"node group {group.name}: {drift}; Magnum does not re-label running nodes — delete "
            f"the group (`openstack coe nodegroup delete {uuid} {group.name}`) and deploy again "
            "to apply"
        )
    patch = spec.bounds_patch(live, group.min_nodes, group.max_nodes)
    if not patch:
        step.unchanged(f"{live.get('node_count')} node(s), {group.min_nodes}..{group.max_nodes}")
        return
    conflict = spec.bounds_conflict(live, cluster_name, group.min_nodes, group.max_nodes)
    if conflict:
        raise OperationFailed(*conflict)
    changes.make(
        f"set node group {group.name} to {group.min_nodes}..{group.max_nodes} nodes",
        lambda: magnum.update_nodegroup(uuid, group.name, patch),
    )
    if changes.dry_run:
        step.planned("bounds would change")
        return
    watch.nodegroup_ready(magnum, uuid, group.name, ui, timeout=timeout, env=env, clock=clock)
    step.done(f"bounds {group.min_nodes}..{group.max_nodes}")
    if driver == "heat":
        ui.warn(
            "the Heat driver's autoscaler keeps its own flags: run `invoke cluster.autoscaler "
            f"--nodegroup {group.name} --min {group.min_nodes} --max {group.max_nodes} "
            f"--env {env}`"
        )
