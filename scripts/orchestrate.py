"""`invoke deploy` and `invoke destroy`: the whole stack, in the order it depends on.

deploy: cluster → kubeconfig → cluster fixes (autoscaler bounds on heat, CSI
toleration for GPU nodes) → the DNS record (hub.dns.manage) → the Helm releases side
by side → health check.
The releases are independent, so they run in parallel threads; each writes to
its own buffer and is printed as one block when it finishes, so the output
stays readable. One failing release does not stop the others: all finish,
then the command fails with a summary.

This is the one place where areas meet; the areas never import each other.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .core import kube
from .core.changes import Changes
from .core.console import Console
from .core.errors import BadInput, OperationFailed, bad_option
from .core.loading import Environment
from .core.releases import Recovery
from .core.waiting import Clock

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
        futures = [pool.submit(_run_job, name, job) for name, job in jobs.items()]
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


def cluster_fixes(
    environment: Environment, ui: Console, *, dry_run: bool, clock: Clock | None
) -> None:
    from .cluster import autoscaler
    from .gpu import fix_csi

    cluster = environment.settings.cluster
    groups = cluster.all_node_groups()
    if cluster.driver == "heat" and groups:
        # The heat driver only tells its autoscaler about default-worker.
        limits = {group.name: (group.min_nodes, group.max_nodes) for group in groups}
        api = kube.api_client(environment.kubeconfig)
        autoscaler.ensure_limits(api, limits, ui, Changes(ui, dry_run))
    if cluster.gpu.enabled:
        fix_csi.fix_csi(environment, ui, dry_run=dry_run, timeout=CSI_TIMEOUT, clock=clock)


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
    from .cluster import deploy as cluster_deploy
    from .cluster import kubeconfig

    report = DeployReport()
    settings = environment.settings

    ui.heading("Stage 1: cluster")
    cluster_deploy.run(environment, ui, dry_run=dry_run, clock=clock, connection=connection)

    ui.heading("Stage 2: cluster access and fixes")
    if dry_run and settings.cluster.driver != "existing" and not environment.kubeconfig.exists():
        ui.print(
            "  dry run stops here: without the cluster there is nothing to inspect; "
            f"`invoke plan --env {environment.name}` lists the remaining actions"
        )
        return report
    kubeconfig.run(environment, ui, dry_run=dry_run, clock=clock, connection=connection)
    cluster_fixes(environment, ui, dry_run=dry_run, clock=clock)

    if settings.hub.dns.manage:
        # hub.dns before the hub release, so Let's Encrypt finds the name pointing at us.
        from .hub import dns as hub_dns

        ui.heading("Stage 2b: DNS record")
        hub_dns.run(environment, ui, dry_run=dry_run, connection=connection, clock=clock)

    ui.heading("Stage 3: releases, in parallel")
    jobs = release_jobs(environment, dry_run=dry_run, clock=clock, recovery=recovery)
    report.releases = run_parallel(jobs, ui)
    failed = [result for result in report.releases if not result.ok]
    if failed:
        ui.summary([f"{r.name}: ✓" if r.ok else f"{r.name}: ✗ {r.error}" for r in report.releases])
        raise OperationFailed(
            f"{len(failed)} of {len(report.releases)} releases failed: "
            + ", ".join(result.name for result in failed),
            "fix the cause shown in its block, then re-run `invoke deploy` "
            "(what already succeeded is left unchanged)",
        )

    if health and not dry_run:
        ui.heading("Stage 4: health")
        from .hub import health as hub_health

        result = hub_health.run(environment, ui, clock=clock)
        report.healthy = result.healthy
        result.raise_if_unhealthy()
    ui.summary(
        [f"{r.name}: ✓ ({r.seconds:.1f}s)" for r in report.releases]
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
