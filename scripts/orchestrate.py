"""`invoke deploy` and `invoke destroy`: the whole stack, in the order it depends on.

deploy is an explicit step graph (`deploy_graph`, run by scripts/stepgraph.py):
cluster with its default workers → kubeconfig → then side by side: the hub release
(after the DNS record when hub.dns.manage) and its health check, monitoring, and the
extra node groups one after the other; the heat autoscaler bounds follow the groups, the
CSI toleration fix and the GPU operator follow the GPU group. So the first login does
not wait for a GPU group's 10-15 minutes. Each side step writes to its own buffer,
printed as one block when it finishes. One failing branch does not stop the others:
all finish, then the command fails with a summary; a re-run resumes.

This is the one place where areas meet; the areas never import each other.
"""

from __future__ import annotations

import contextvars
import io
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import stepgraph
from .core import kube
from .core.changes import Changes
from .core.console import Console
from .core.errors import BadInput, OperationFailed, bad_option
from .core.loading import Environment
from .core.releases import Recovery
from .core.settings import Settings
from .core.waiting import Clock, using

if TYPE_CHECKING:
    from openstack.connection import Connection

Job = Callable[[Console], object]
CSI_TIMEOUT = 600.0


@dataclass(frozen=True)
class JobResult:
    name: str
    output: str
    seconds: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class DeployReport:
    releases: list[JobResult] = field(default_factory=list)
    healthy: bool | None = None
    steps: list[stepgraph.Outcome] = field(default_factory=list)


def buffered_console() -> tuple[Console, io.StringIO]:
    from rich.console import Console as RichConsole

    buffer = io.StringIO()

    def make() -> RichConsole:
        return RichConsole(file=buffer, highlight=False, soft_wrap=True, color_system=None)

    return Console(stream=make(), errors=make()), buffer


def _run_job(name: str, job: Job) -> JobResult:
    console, buffer = buffered_console()
    started = time.monotonic()
    error = ""
    try:
        job(console)
    except BadInput as problem:
        error = "; ".join(str(p) for p in problem.problems)
    except OperationFailed as failure:
        error = failure.cause + (f" — {failure.remedy}" if failure.remedy else "")
    except Exception as unexpected:  # one release's bug must not hide the others' results
        error = f"unexpected {type(unexpected).__name__}: {unexpected}"
    return JobResult(name, console.redact(buffer.getvalue()), time.monotonic() - started, error)


def run_parallel(jobs: dict[str, Job], ui: Console) -> list[JobResult]:
    """Run every job to the end; print each one's output as a block when it finishes."""
    results: list[JobResult] = []
    if not jobs:
        return results
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="release") as pool:
        # Each job in a copy of this context, so the clock `deploy` installed reaches it.
        futures = [
            pool.submit(contextvars.copy_context().run, _run_job, name, job)
            for name, job in jobs.items()
        ]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            mark = "✓" if result.ok else "✗"
            ui.heading(f"{mark} {result.name} ({result.seconds:.1f}s)")
            for line in result.output.rstrip().splitlines():
                ui.print(f"  │ {line}")
            if result.error:
                ui.error(f"{result.name}: {result.error}")
    return results


def release_jobs(
    environment: Environment,
    *,
    dry_run: bool,
    clock: Clock | None,
    recovery: Recovery | None = None,
) -> dict[str, Job]:
    from .gpu import deploy as gpu_deploy
    from .hub import deploy as hub_deploy
    from .monitoring import deploy as monitoring_deploy

    settings = environment.settings
    recovery = recovery or Recovery()
    # `deploy` was asked for explicitly, so a hub restart is not asked about again; the
    # hub's block still says when it restarts.
    jobs: dict[str, Job] = {
        "hub": lambda console: hub_deploy.run(
            environment,
            console,
            hub_deploy.Options(dry_run=dry_run, yes=True, clock=clock, recovery=recovery),
        )
    }
    if settings.monitoring.enabled:
        jobs["monitoring"] = lambda console: monitoring_deploy.run(
            environment, console, dry_run=dry_run, recovery=recovery
        )
    if settings.gpu_enabled:
        jobs["gpu-operator"] = lambda console: gpu_deploy.deploy(
            environment, console, dry_run, recovery=recovery
        )
    return jobs


RELEASES = ("hub", "monitoring", "gpu-operator")


def autoscaler_bounds(environment: Environment, ui: Console, *, dry_run: bool) -> None:
    """Every node group's bounds in the heat autoscaler's flags: the heat driver only
    tells its autoscaler about default-worker."""
    from .cluster import autoscaler

    groups = environment.settings.cluster.all_node_groups()
    wanted = {group.name: (group.min_nodes, group.max_nodes) for group in groups}
    api = kube.api_client(environment.kubeconfig)
    autoscaler.ensure_limits(api, wanted, ui, Changes(ui, dry_run))


def cluster_fixes(
    environment: Environment, ui: Console, *, dry_run: bool, clock: Clock | None
) -> None:
    """The fixes `deploy` makes once every node group exists, in one go (cluster.replace
    creates its cluster whole, so it needs no step graph): the heat autoscaler's bounds
    for the extra groups and the Cinder CSI toleration for GPU nodes."""
    from .gpu import fix_csi

    cluster = environment.settings.cluster
    if cluster.driver == "heat" and cluster.all_node_groups():
        autoscaler_bounds(environment, ui, dry_run=dry_run)
    if cluster.gpu.enabled:
        fix_csi.fix_csi(environment, ui, dry_run=dry_run, timeout=CSI_TIMEOUT, clock=clock)


def deploy_graph(settings: Settings) -> list[tuple[str, tuple[str, ...]]]:
    """The steps of `deploy` and what each waits for (names only; also the benchmark's input).

    The hub and monitoring need the cluster and its default workers only; the extra node
    groups come up alongside them, one after the other: each node-group operation puts the
    whole cluster in UPDATE_IN_PROGRESS (openstack/magnum master 5a492d64,
    magnum/conductor/handlers/nodegroup_conductor.py, nodegroup_create), and on capi-helm
    every group is a value of the cluster's one Helm release, re-rendered from all groups
    on each create (openstack/magnum-capi-helm a8b82c2, magnum_capi_helm/driver.py,
    create_nodegroup → _update_helm_release), so two at once would race; the
    GPU operator follows the GPU group (its pods need those nodes) and, on heat, the CSI
    toleration fix.
    """
    cluster = settings.cluster
    graph: list[tuple[str, tuple[str, ...]]] = [("cluster", ()), ("access", ("cluster",))]
    previous = "access"
    gpu_group = ""
    groups = cluster.all_node_groups() if cluster.driver != "existing" else []
    # The GPU group first: the GPU operator waits for it, the other groups wait for nothing.
    groups.sort(key=lambda group: not (cluster.gpu.enabled and group.name == cluster.gpu.name))
    for group in groups:
        name = f"node group {group.name}"
        graph.append((name, (previous,)))
        previous = name
        if cluster.gpu.enabled and group.name == cluster.gpu.name:
            gpu_group = name
    if cluster.driver == "heat" and cluster.all_node_groups():
        # The heat autoscaler is told about the groups once they exist.
        graph.append(("autoscaler bounds", (previous,)))
    gpu_after: tuple[str, ...] = (gpu_group,) if gpu_group else ("access",)
    if cluster.gpu.enabled:
        graph.append(("csi fix", gpu_after))
        gpu_after = ("csi fix",)
    hub_after: tuple[str, ...] = ("access",)
    if settings.hub.dns.manage:
        # hub.dns before the hub release, so Let's Encrypt finds the name pointing at us.
        graph.append(("dns", ("access",)))
        hub_after = ("dns",)
    graph.append(("hub", hub_after))
    if settings.monitoring.enabled:
        graph.append(("monitoring", ("access",)))
    if settings.gpu_enabled:
        graph.append(("gpu-operator", gpu_after))
    graph.append(("health", ("hub",)))
    return graph


def deploy_steps(
    environment: Environment,
    *,
    dry_run: bool,
    health: bool,
    clock: Clock | None,
    connection: Connection | None,
    recovery: Recovery | None,
    report: DeployReport,
) -> list[stepgraph.Step]:
    from .cluster import deploy as cluster_deploy
    from .cluster import kubeconfig
    from .gpu import fix_csi

    settings = environment.settings
    jobs = release_jobs(environment, dry_run=dry_run, clock=clock, recovery=recovery)
    groups = {f"node group {g.name}": g.name for g in settings.cluster.all_node_groups()}

    def check_health(console: Console) -> None:
        from .hub import health as hub_health

        if not health or dry_run:
            console.print("  skipped" + (" (dry run)" if dry_run else ""))
            return
        result = hub_health.run(environment, console, clock=clock)
        report.healthy = result.healthy
        result.raise_if_unhealthy()

    def group_action(name: str) -> stepgraph.Action:
        return lambda console: cluster_deploy.node_group(
            environment, console, name, dry_run=dry_run, clock=clock, connection=connection
        )

    actions: dict[str, stepgraph.Action] = {
        "cluster": lambda console: cluster_deploy.run(
            environment,
            console,
            dry_run=dry_run,
            clock=clock,
            connection=connection,
            node_groups=False,
        ),
        "access": lambda console: kubeconfig.run(
            environment, console, dry_run=dry_run, clock=clock, connection=connection
        ),
        "autoscaler bounds": lambda console: autoscaler_bounds(
            environment, console, dry_run=dry_run
        ),
        "csi fix": lambda console: fix_csi.fix_csi(
            environment, console, dry_run=dry_run, timeout=CSI_TIMEOUT, clock=clock
        ),
        "dns": lambda console: _dns(environment, console, dry_run, clock, connection),
        "health": check_health,
        **jobs,
        **{name: group_action(group) for name, group in groups.items()},
    }
    headings = {
        "cluster": "Stage 1: cluster",
        "access": "Stage 2: cluster access",
        "dns": "Stage 2b: DNS record",
    }
    steps = []
    for name, after in deploy_graph(settings):
        heading = headings.get(name, "")
        if name in RELEASES:
            heading = f"Stage 3: releases, in parallel: {name} started"
        elif name.startswith("node group "):
            heading = f"Stage 3: {name} started, alongside the releases"
        trunk = name in ("cluster", "access")
        steps.append(stepgraph.Step(name, actions[name], after, heading=heading, trunk=trunk))
    return steps


def _dns(
    environment: Environment,
    console: Console,
    dry_run: bool,
    clock: Clock | None,
    connection: Connection | None,
) -> None:
    from .hub import dns as hub_dns

    hub_dns.run(environment, console, dry_run=dry_run, connection=connection, clock=clock)


def deploy(
    environment: Environment,
    ui: Console,
    *,
    dry_run: bool = False,
    health: bool = True,
    clock: Clock | None = None,
    connection: Connection | None = None,
    recovery: Recovery | None = None,
) -> DeployReport:
    """Run the step graph of `deploy_graph`; a re-run resumes (every step is idempotent).

    `clock` becomes every wait's and retry's default beneath (core.waiting.using), in
    the step threads too (stepgraph runs each step in a copy of this context)."""
    with using(clock):
        return _deploy(
            environment,
            ui,
            dry_run=dry_run,
            health=health,
            clock=clock,
            connection=connection,
            recovery=recovery,
        )


def _deploy(
    environment: Environment,
    ui: Console,
    *,
    dry_run: bool,
    health: bool,
    clock: Clock | None,
    connection: Connection | None,
    recovery: Recovery | None,
) -> DeployReport:
    report = DeployReport()
    settings = environment.settings
    steps = deploy_steps(
        environment,
        dry_run=dry_run,
        health=health,
        clock=clock,
        connection=connection,
        recovery=recovery,
        report=report,
    )
    if dry_run and settings.cluster.driver != "existing" and not environment.kubeconfig.exists():
        stepgraph.run(steps[:1], ui)
        ui.heading("Stage 2: cluster access")
        ui.print(
            "  dry run stops here: without the cluster there is nothing to inspect; "
            f"`invoke plan --env {environment.name}` lists the remaining actions"
        )
        return report

    outcomes = stepgraph.run(steps, ui)
    report.steps = outcomes
    report.releases = [
        JobResult(o.name, o.output, o.seconds, o.error or ("" if o.ok else o.status))
        for o in outcomes
        if o.name in RELEASES
    ]
    failed = [o for o in outcomes if not o.ok]
    if failed:
        ui.summary([f"{o.name}: ✓" if o.ok else f"{o.name}: ✗ {o.error}" for o in outcomes])
        releases = [o for o in failed if o.name in RELEASES]
        others = [o for o in failed if o.name not in RELEASES]
        parts = []
        if releases:
            parts.append(
                f"{len(releases)} of {len(report.releases)} releases failed: "
                + ", ".join(o.name for o in releases)
            )
        if others:
            parts.append("did not succeed: " + ", ".join(o.name for o in others))
        raise OperationFailed(
            "; ".join(parts),
            "fix the cause shown in its block, then re-run `invoke deploy` "
            "(what already succeeded is left unchanged)",
        )
    ui.summary(
        [f"{o.name}: ✓ ({o.seconds:.1f}s)" for o in outcomes if o.name in RELEASES]
        + (["dry run: nothing was changed"] if dry_run else [])
    )
    return report


def destroy(
    environment: Environment,
    ui: Console,
    *,
    yes: bool,
    dry_run: bool = False,
    clock: Clock | None = None,
    connection: Connection | None = None,
    backup: bool = True,
) -> None:
    """Hub (hub.backup and certificate first), monitoring, GPU operator, load balancers, cluster."""
    with using(clock):
        _destroy(
            environment,
            ui,
            yes=yes,
            dry_run=dry_run,
            clock=clock,
            connection=connection,
            backup=backup,
        )


def _destroy(
    environment: Environment,
    ui: Console,
    *,
    yes: bool,
    dry_run: bool,
    clock: Clock | None,
    connection: Connection | None,
    backup: bool,
) -> None:
    from .cluster import delete as cluster_delete
    from .hub import uninstall as hub_uninstall

    settings = environment.settings
    keeps_cluster = settings.cluster.driver == "existing"
    ui.heading(f"destroy --env {environment.name} removes:")
    ui.print(
        f"  the hub release {settings.hub.release} (its certificate is backed up first"
        + (", and a hub.backup of its database and session secrets)" if backup else ")")
    )
    others = _optional_releases(environment)
    for name, namespace in others:
        ui.print(f"  the release {name} in namespace {namespace}")
    if keeps_cluster:
        ui.print("  (driver 'existing': the cluster itself is kept)")
    else:
        ui.print(
            f"  the cluster {settings.cluster.name}, its load balancers and their floating IPs"
        )
        ui.print(
            f"  (the pinned floating IP {settings.hub.floating_ip} is kept)"
            if settings.hub.floating_ip
            else ""
        )
    if not yes and not dry_run:
        raise bad_option("--yes", "required to destroy the above (or --dry-run to list it)")

    if environment.kubeconfig.exists():
        hub_uninstall.run(environment, ui, dry_run=dry_run, yes=True, backup=backup)
        uninstall_releases(environment, ui, others, dry_run=dry_run)
    else:
        ui.print(f"  no kubeconfig at {environment.kubeconfig}: the releases go with the cluster")
    if not keeps_cluster:
        cluster_delete.run(
            environment, ui, yes=True, dry_run=dry_run, clock=clock, connection=connection
        )


def uninstall_releases(
    environment: Environment, ui: Console, found: list[tuple[str, str]], *, dry_run: bool
) -> None:
    from .core import helm

    client = helm.Helm(kubeconfig=environment.kubeconfig)
    changes = Changes(ui, dry_run)
    for name, namespace in found:
        with ui.step(f"helm uninstall {name}") as step:
            if client.status(name, namespace) is None:
                step.unchanged("not installed")
                continue

            def remove(name: str = name, namespace: str = namespace) -> bool:
                return client.uninstall(name, namespace)

            changes.make(f"helm uninstall {name} --namespace {namespace}", remove)


def _optional_releases(environment: Environment) -> list[tuple[str, str]]:
    settings = environment.settings
    found = []
    if settings.monitoring.enabled:
        if settings.monitoring.blackbox.enabled:
            # monitoring.deploy's second release (scripts/monitoring/probe.py).
            found.append((settings.monitoring.blackbox.release, settings.monitoring.namespace))
        found.append((settings.monitoring.release, settings.monitoring.namespace))
    if settings.gpu_enabled:
        found.append((settings.gpu.release, settings.gpu.namespace))
    return found
