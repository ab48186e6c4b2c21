"""local.up and local.down: the hub on a kind cluster on this machine.

local.up
1. the environment is a local one (driver existing) and docker (running), kind, kubectl
   and helm are here;
2. its secrets file generated when missing (mode 0600);
3. the kind cluster created, or reused when it exists;
4. its kubeconfig exported to the environment's kubeconfig file (mode 0600);
5. cloud-provider-kind running, and the node accepting load-balancer traffic, so the
   hub's LoadBalancer Service gets an address as it would on OpenStack;
6. the storage class for user volumes present (kind's `standard`);
7. the hub deployed by hub.deploy (which waits for its pods and that address), then,
   when asked, kube-prometheus-stack by monitoring.deploy;
8. the port-forward command and the URL to open.

local.down deletes the kind cluster (with --yes) and, once no kind cluster is left,
the cloud-provider-kind container.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import known_objects, kube, loading, paths
from ..core.changes import Changes
from ..core.console import Console
from ..core.environment_files import generate_secrets, save_secrets
from ..core.errors import BadInput, OperationFailed, Problem, bad_option
from ..core.loading import Environment
from ..core.templates import placeholder_secrets
from ..core.waiting import Clock
from . import cloud_provider_kind, kind

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

LOCAL_ENV = "local"
LOCAL_PORT = 8080
# Pod labels set by the Prometheus operator and by the Grafana chart.
MONITORING_PODS = (
    ("the Prometheus pod", "app.kubernetes.io/name=prometheus"),
    ("the Grafana pod", "app.kubernetes.io/name=grafana"),
)
# The first start pulls the images of the whole stack.
MONITORING_TIMEOUT = 900


@dataclass(frozen=True)
class UpOptions:
    name: str = ""
    # None: as monitoring.enabled in the config says.
    monitoring: bool | None = None
    dry_run: bool = False
    clock: Clock | None = None


@dataclass
class UpResult:
    cluster: str
    # What the hub and monitoring deploy to: the configured environment, with its
    # secrets and monitoring.enabled as chosen.
    environment: Environment
    created: bool = False
    # The cluster is ready for the releases (False: a dry run without a cluster).
    ready: bool = False
    monitoring: bool = False
    # The hub's load-balancer address, as hub.deploy reported it.
    address: str | None = None
    lines: list[str] = field(default_factory=list)


def port_forward_command(environment: Environment, local_port: int = LOCAL_PORT) -> str:
    return (
        f"kubectl --kubeconfig {environment.kubeconfig} -n {environment.settings.hub.namespace} "
        f"port-forward svc/{known_objects.Z2JH_PROXY_PUBLIC} {local_port}:80"
    )


def with_monitoring(environment: Environment, enabled: bool) -> Environment:
    """The environment with monitoring.enabled set; the hub's values depend on it too."""
    settings = environment.settings
    if settings.monitoring.enabled == enabled:
        return environment
    monitoring = settings.monitoring.model_copy(update={"enabled": enabled})
    return dataclasses.replace(
        environment, settings=settings.model_copy(update={"monitoring": monitoring})
    )


def require_local(environment: Environment) -> None:
    """Refuse environments that describe a cloud cluster: this would deploy to kind."""
    cluster = environment.settings.cluster
    if cluster.driver != "existing":
        raise BadInput(
            Problem(
                "cluster.driver",
                f"is {cluster.driver!r} in {environment.config_path}; local.up needs "
                "'existing' (the kind cluster is the existing cluster)",
            )
        )


def prepare(environment: Environment, ui: Console, options: UpOptions) -> UpResult:
    """local.up up to the releases: secrets, kind cluster, load balancers, storage class.

    The hub and monitoring releases are their areas' procedures; scripts/cross_area.py
    runs them between this and `finish`.
    """
    require_local(environment)
    name = kind.checked_name(options.name or environment.settings.cluster.name)
    kind.require_tools("local.up")
    kind.require_docker()
    changes = Changes(ui, options.dry_run)
    cluster = kind.KindCluster(name, environment.kubeconfig)
    result = UpResult(name, environment)

    _ensure_secrets(environment, ui, changes)
    with ui.step(f"kind cluster {name}") as step:
        if kind.exists(cluster):
            step.unchanged("exists, reused")
        else:
            changes.make(
                f"create kind cluster {name} (node image {cluster.node_image})",
                lambda: kind.run(cluster.create(kind.write_config(cluster, paths.build_dir()))),
            )
            result.created = True
    if options.dry_run and (result.created or not environment.kubeconfig.exists()):
        ui.summary(["dry run: without the cluster there is nothing more to compare"])
        return result

    _export_kubeconfig(cluster, ui, changes)
    _ensure_cloud_provider(ui, changes)
    api = kube.api_client(environment.kubeconfig)
    _open_nodes_to_load_balancers(api, cluster, ui, changes, options.clock)
    _check_storage_class(api, environment, ui)

    monitoring = (
        environment.settings.monitoring.enabled
        if options.monitoring is None
        else options.monitoring
    )
    if environment.secrets_path.exists():
        # Generated above, perhaps: read the environment again, with its secrets.
        environment = loading.load(environment.name, require_secrets=True)
        ui.add_secrets(environment.secret_values())
    else:
        # Only in a dry run: the file would have been written by now.
        environment = dataclasses.replace(environment, secrets=placeholder_secrets())
    result.environment = with_monitoring(environment, monitoring)
    result.monitoring = monitoring
    result.ready = True
    return result


def finish(configured: Environment, ui: Console, result: UpResult, options: UpOptions) -> None:
    """After the releases: wait for monitoring's pods, then say how to reach the hub."""
    deployed = result.environment
    name = result.cluster
    if result.monitoring and not options.dry_run:
        api = kube.api_client(deployed.kubeconfig)
        _wait_for_monitoring(api, deployed, ui, options.clock)

    result.lines = _next_steps(deployed, configured, result)
    # hub.deploy has printed the summary of the steps; these are what to do next.
    ui.heading(f"The hub on kind cluster {name}")
    for line in result.lines:
        ui.print(f"  {line}")


def _ensure_secrets(environment: Environment, ui: Console, changes: Changes) -> None:
    path = environment.secrets_path
    with ui.step(f"secrets file {path}") as step:
        if path.exists():
            step.unchanged("exists")
            return
        changes.make(
            f"write generated secrets to {path} (mode 0600)",
            lambda: save_secrets(path, generate_secrets()),
        )
        step.done("generated")


def _export_kubeconfig(cluster: kind.KindCluster, ui: Console, changes: Changes) -> None:
    path = cluster.kubeconfig
    with ui.step(f"kubeconfig {path}") as step:
        before = (path.read_bytes(), path.stat().st_mode) if path.exists() else None

        def export() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            kind.run(cluster.export_kubeconfig())
            # It holds the cluster's admin credentials.
            os.chmod(path, 0o600)

        changes.make(f"export the kubeconfig of kind cluster {cluster.name} to {path}", export)
        if changes.dry_run:
            step.planned("would be exported")
        elif before == (path.read_bytes(), path.stat().st_mode):
            step.unchanged("up to date")


def _ensure_cloud_provider(ui: Console, changes: Changes) -> None:
    container = cloud_provider_kind.CONTAINER
    with ui.step(f"load balancers: container {container}") as step:
        state = cloud_provider_kind.state()
        if state == "running":
            step.unchanged("running")
            return
        command = (
            cloud_provider_kind.start_command()
            if state == "stopped"
            else cloud_provider_kind.run_command()
        )
        verb = "start" if state == "stopped" else "run"
        changes.make(f"{verb} {cloud_provider_kind.IMAGE} as {container}", _docker(command))
        step.done("started" if state == "stopped" else "created")


def _open_nodes_to_load_balancers(
    api: ApiClient,
    cluster: kind.KindCluster,
    ui: Console,
    changes: Changes,
    clock: Clock | None,
) -> None:
    from kubernetes import client

    core = client.CoreV1Api(api)
    label = cloud_provider_kind.EXCLUDE_LABEL
    with ui.step("nodes accept load-balancer traffic") as step:
        try:
            nodes = kube.call("list nodes", core.list_node, clock=clock).items
        except OperationFailed as error:
            # The first API call: a kind cluster whose node container is stopped
            # (after a reboot, say) is still listed by `kind get clusters`.
            raise OperationFailed(
                error.cause,
                f"is its node running? `docker start {cluster.name}-control-plane`; or start "
                f"afresh: `invoke local.down --name {cluster.name} --yes`, then local.up",
            ) from None
        excluded = [node.metadata.name for node in nodes if label in (node.metadata.labels or {})]
        if not excluded:
            step.unchanged()
            return
        for node in excluded:
            changes.make(f"remove the label {label} from node {node}", _unlabel(core, node, label))
        step.done(", ".join(excluded))


def _unlabel(core: Any, node: str, label: str) -> Callable[[], object]:
    # null deletes a key in the merge patch the client sends for a dict body.
    patch = {"metadata": {"labels": {label: None}}}
    return lambda: kube.call(f"label node {node}", lambda: core.patch_node(node, patch))


def _check_storage_class(api: ApiClient, environment: Environment, ui: Console) -> None:
    from kubernetes import client

    storage = client.StorageV1Api(api)
    wanted = environment.settings.hub.storage.class_name
    with ui.step(f"storage class {wanted}") as step:
        if kube.read_or_none(
            f"read StorageClass {wanted}", lambda: storage.read_storage_class(wanted)
        ):
            step.unchanged("present")
            return
        found = kube.call("list storage classes", storage.list_storage_class).items
        names = ", ".join(item.metadata.name for item in found) or "none"
        raise OperationFailed(
            f"the kind cluster has no storage class {wanted!r} (it has: {names})",
            f"set hub.storage.class_name in {environment.config_path} to one of them "
            "(kind installs 'standard')",
        )


def _wait_for_monitoring(
    api: ApiClient, environment: Environment, ui: Console, clock: Clock | None
) -> None:
    """monitoring.deploy does not wait for its pods; a local stack should be usable at once."""
    namespace = environment.settings.monitoring.namespace
    with ui.step("Prometheus and Grafana ready") as step:
        for what, selector in MONITORING_PODS:
            with ui.waiting(f"waiting for {what}"):
                kube.wait_for_pods(
                    api, namespace, selector, what=what, timeout=MONITORING_TIMEOUT, clock=clock
                )
        step.unchanged("ready")


def _next_steps(deployed: Environment, configured: Environment, result: UpResult) -> list[str]:
    lines = [
        f"reach the hub: `{port_forward_command(deployed)}`",
        f"then open http://127.0.0.1:{LOCAL_PORT}/ (dummy sign-in: any name, no password)",
        f"check it: `invoke hub.health --env {deployed.name} "
        f"--url http://127.0.0.1:{LOCAL_PORT}/` while the port-forward runs",
    ]
    address = result.address
    if address:
        lines.append(f"load balancer address {address} (reachable from this machine on Linux)")
    if deployed.settings.monitoring.enabled and not configured.settings.monitoring.enabled:
        lines.append(
            "monitoring is on although the config says off: run other tasks with "
            "JHUB__MONITORING__ENABLED=true (e.g. monitoring.grafana), or hub.deploy "
            "would change the hub back"
        )
    lines.append(f"delete it all: `invoke local.down --name {result.cluster} --yes`")
    return lines


# ------------------------------------------------------------------ down


def down(
    environment: Environment, ui: Console, *, name: str = "", yes: bool, dry_run: bool = False
) -> None:
    name = kind.checked_name(name or environment.settings.cluster.name)
    kind.require_tools("local.down", ("docker", "kind"))
    kind.require_docker()
    cluster = kind.KindCluster(name, environment.kubeconfig)
    present = kind.exists(cluster)
    changes = Changes(ui, dry_run)

    if present:
        ui.heading("local.down deletes:")
        ui.print(
            f"  the kind cluster {name}: the hub, its users' volumes and everything else in it"
        )
        if not yes and not dry_run:
            raise bad_option("--yes", f"required to delete the kind cluster {name}")
    with ui.step(f"kind cluster {name}") as step:
        if not present:
            step.unchanged("not there")
        else:
            changes.make(f"delete kind cluster {name}", lambda: kind.run(cluster.delete()))

    container = cloud_provider_kind.CONTAINER
    with ui.step(f"load balancers: container {container}") as step:
        # In a dry run the cluster is still listed; it would be gone by now.
        remaining = [other for other in kind.clusters() if other != name]
        state = cloud_provider_kind.state()
        if state == "absent":
            step.unchanged("not there")
        elif remaining:
            step.skipped(f"kept: it serves the kind clusters {', '.join(remaining)}")
        else:
            for command in cloud_provider_kind.stop_commands():
                if state == "stopped" and command[1] == "stop":
                    continue
                changes.make(" ".join(command), _docker(command))
    ui.summary(["dry run: nothing was changed"] if dry_run else [])


def _docker(command: list[str]) -> Callable[[], str]:
    return lambda: kind.run(command, cloud_provider_kind.REMEDY)
