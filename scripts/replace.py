"""`invoke cluster.replace --to NEW_NAME`: a new cluster from the current config, users' data kept.

Changing the flavours, the Kubernetes version or the driver needs a new Magnum cluster.
The whole replacement is, in order:

1. the new cluster from the current config under the new name, its kubeconfig and fixes;
2. the Helm releases (hub, monitoring, GPU operator) on it;
3. stop users' servers on the old hub: announced, a grace period (--grace seconds), then
   their pods deleted (KubeSpawner's poll sees the pod gone and marks the server stopped);
4. the hub state: hub.backup of the old hub, hub.restore of that file into the new one;
5. every user volume adopted into the new cluster (hub.volumes-adopt, only the volumes
   the old cluster's Cinder CSI driver made);
6. the public address: the old hub's proxy-public Service becomes type ClusterIP, so
   cloud-provider-openstack deletes its load balancer (EnsureLoadBalancerDeleted; with
   `keep-floatingip` the address stays allocated, detached once the VIP port goes); when
   hub.floating_ip is free, the hub release on the new cluster is upgraded with it (and
   hub.dns with hub.dns.manage). A Service patch rather than `helm uninstall`: the old
   hub's release and database stay, so going back is one `hub.deploy` on the old cluster;
7. hub.health against the new hub (sign-in page, a server started and stopped);
8. only with --yes: the old cluster deleted (cluster.delete); without it the run ends
   (exit 0) with the exact command, and the old cluster remains.

Every step must run in order: a user who reaches the new hub before their volume is
adopted gets a new, empty home directory; the new hub has no public address until 6.

Resumable: each finished step is recorded in config/<env>.state/replace.json (0600), so an
interrupted run continues at the step it stopped in; the steps themselves look before they
act (cluster.deploy, the releases, the pods still running, the backup file already taken,
the volumes already bound), so a step interrupted half-way makes nothing twice. On the old
cluster only its user pods are deleted (step 3) and its hub Service loses its load
balancer (step 6); the cluster itself stays until step 8.
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
STEP_STOP = "stop users' servers on the old hub"
STEP_HUB_STATE = "hub state from the old hub into the new one"
STEP_VOLUMES = "users' volumes adopted into the new cluster"
STEP_ADDRESS = "the hub's address moved to the new hub"
STEP_HEALTH = "hub.health on the new hub"
STEP_DELETE = "the old cluster deleted"
STEPS = (
    STEP_CLUSTER,
    STEP_RELEASES,
    STEP_STOP,
    STEP_HUB_STATE,
    STEP_VOLUMES,
    STEP_ADDRESS,
    STEP_HEALTH,
    STEP_DELETE,
)
FLOATING_IP_TIMEOUT = 600.0
DEFAULT_GRACE = 300.0
STOP_TIMEOUT = 600.0
# What the Cinder CSI driver of a heat cluster writes as cinder.csi.openstack.org/cluster:
# magnum stable/2025.2 enable-cinder-csi.sh runs the plugin with --cluster=$(CLUSTER_NAME)
# and sets CLUSTER_NAME to the constant "kubernetes". capi-helm clusters get their
# openstack-cluster release name (capi-helm-charts cluster-addons templates/openstack/
# csi-cinder.yaml clusterID), which magnum-capi-helm records as the cluster's stack_id.
HEAT_CSI_CLUSTER = "kubernetes"


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
    grace: float = DEFAULT_GRACE,
    yes: bool = False,
    clock: Clock | None = None,
    connection: Connection | None = None,
) -> list[str]:
    """The steps done by this run (already done ones are reported, not repeated)."""
    if not grace >= 0:
        raise BadInput(Problem("--grace", f"{grace!r} is not allowed; give seconds, 0 or more"))
    check_options(environment, new_name)
    target = new_environment(environment, new_name)
    final = final_environment(environment, target)
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
        elif dry_run and not target.kubeconfig.exists():
            ui.print(f"  would do this on {new_name} once it exists")
            continue
        elif step == STEP_RELEASES:
            detail = _releases(target, ui, dry_run=dry_run, clock=clock)
        elif step == STEP_STOP:
            detail = stop_servers(environment, ui, grace=grace, dry_run=dry_run, clock=clock)
        elif step == STEP_HUB_STATE:
            detail = _hub_state(environment, target, ui, state, dry_run=dry_run)
        elif step == STEP_VOLUMES:
            detail = _volumes(environment, target, ui, dry_run=dry_run, connection=connection)
        elif step == STEP_ADDRESS:
            detail = move_address(
                environment, final, ui, dry_run=dry_run, clock=clock, connection=connection
            )
        elif step == STEP_HEALTH:
            detail = _health(final, ui, dry_run=dry_run, clock=clock)
        elif not yes and not dry_run:
            _offer_delete(environment, final, ui)
            return done_now
        else:
            detail = _delete_old(
                environment, ui, dry_run=dry_run, clock=clock, connection=connection
            )
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
    ui.summary(
        [
            f"{old} is replaced by {new_name}; set cluster.name: {new_name} and "
            f"cluster.kubeconfig: {target.kubeconfig} in config/{environment.name}.yaml",
        ]
    )
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


def _user_pods(api: Any, namespace: str) -> dict[str, str]:
    """Running user server pods in the hub namespace: pod name → user."""
    from kubernetes import client

    from .core import known_objects, kube

    core = client.CoreV1Api(api)
    selector = f"component={known_objects.SINGLEUSER_COMPONENT}"
    pods = kube.call(
        f"list pods {selector} in {namespace}",
        lambda: core.list_namespaced_pod(namespace, label_selector=selector),
    )
    return {
        p.metadata.name: (p.metadata.annotations or {}).get(USERNAME_ANNOTATION, p.metadata.name)
        for p in pods.items
        if p.metadata.deletion_timestamp is None
    }


# KubeSpawner 7.0.0 spawner.py get_pod_manifest: the annotation naming the pod's user.
USERNAME_ANNOTATION = "hub.jupyter.org/username"


def stop_servers(
    environment: Environment,
    ui: Console,
    *,
    grace: float,
    dry_run: bool,
    clock: Clock | None,
) -> str:
    """Announce, wait the grace period, delete every user pod on the old hub, wait until gone.

    Deleting the pod is what KubeSpawner's own poll notices (the pod is gone, so the
    server has stopped; kubespawner 7.0.0 spawner.py poll), so the old hub's database ends
    up saying every server is stopped before step 4 backs it up.
    """
    from kubernetes import client

    from .core import kube
    from .core.changes import Changes
    from .core.waiting import Backoff, RealClock, wait_until

    clock = clock or RealClock()
    hub = environment.settings.hub
    api = kube.api_client(environment.kubeconfig)
    running = _user_pods(api, hub.namespace)
    if not running:
        return "no user servers were running"
    users = ", ".join(sorted(set(running.values())))
    ui.warn(
        f"ANNOUNCEMENT: the servers of {len(running)} user(s) ({users}) on "
        f"{environment.settings.cluster.name} stop in {grace:.0f}s for the move to the new "
        "cluster; unsaved work is lost; their files are kept"
    )
    if dry_run:
        ui.print(f"  would wait {grace:.0f}s, then delete {len(running)} user pod(s)")
        return "would stop " + users
    if grace:
        with ui.waiting(f"grace period, {grace:.0f}s"):
            clock.sleep(grace)
    core = client.CoreV1Api(api)
    changes = Changes(ui, dry_run)
    for name in sorted(_user_pods(api, hub.namespace)):

        def delete(name: str = name) -> object:
            return kube.read_or_none(
                f"delete pod {hub.namespace}/{name}",
                lambda: core.delete_namespaced_pod(name, hub.namespace),
            )

        changes.make(f"delete user pod {hub.namespace}/{name}", delete)
    wait_until(
        lambda: True if not _user_pods(api, hub.namespace) else None,
        what="the user pods to go",
        timeout=STOP_TIMEOUT,
        remedy="check the pods with `kubectl get pods -n " + hub.namespace + "`, then re-run",
        backoff=Backoff(initial=1.0, factor=1.5, cap=10.0),
        clock=clock,
    )
    return f"stopped the servers of {users}"


def _hub_state(
    environment: Environment,
    target: Environment,
    ui: Console,
    state: dict[str, Any],
    *,
    dry_run: bool,
) -> str:
    """hub.backup of the old hub (once; the file is recorded), hub.restore into the new."""
    from .hub import backup as hub_backup

    recorded = state.get("backup")
    if dry_run:
        ui.print(
            "  would back up the old hub and restore it into the new one"
            + (f" (backup {recorded})" if recorded else "")
        )
        return "dry run"
    if recorded and Path(recorded).exists():
        ui.print(f"  the backup taken earlier: {recorded}")
        source = Path(recorded)
    else:
        source = hub_backup.backup(environment, ui)
        # Recorded at once: an interrupted restore is resumed from this same file.
        state["backup"] = str(source)
        save_state(environment, state)
    hub_backup.restore(target, ui, source=source, yes=True, dry_run=False)
    return f"backup {source} restored into the new hub"


def csi_cluster_id(environment: Environment, connection: Connection | None) -> str:
    """The old cluster as its Cinder CSI driver wrote it into the volumes' metadata."""
    from .cluster.magnum import Magnum
    from .core import cloud

    cluster = environment.settings.cluster
    if cluster.driver == "heat":
        return HEAT_CSI_CLUSTER
    magnum = Magnum(connection or cloud.connect(environment.settings))
    found = magnum.clusters_named(cluster.name)
    if len(found) != 1:
        raise OperationFailed(
            f"{len(found)} clusters named {cluster.name} in Magnum, so the volumes it made "
            "cannot be told apart",
            "adopt them with `invoke hub.volumes-adopt --from-cluster ID` "
            "(`invoke hub.volumes` lists the IDs)",
        )
    full = magnum.cluster(str(found[0]["uuid"])) or {}
    return str(full.get("stack_id") or "")


def _volumes(
    environment: Environment,
    target: Environment,
    ui: Console,
    *,
    dry_run: bool,
    connection: Connection | None,
) -> str:
    from .hub.volumes_adopt import adopt_volumes

    from_cluster = csi_cluster_id(environment, connection)
    if not from_cluster:
        raise OperationFailed(
            f"Magnum reports no stack_id for {environment.settings.cluster.name}",
            "adopt the volumes with `invoke hub.volumes-adopt --from-cluster ID`",
        )
    adopted = adopt_volumes(
        target, ui, from_cluster=from_cluster, dry_run=dry_run, yes=True, connection=connection
    )
    if not adopted:
        return f"no volume of {from_cluster} left to adopt"
    return f"adopted the volumes of {', '.join(adopted)} (from {from_cluster})"


def final_environment(environment: Environment, target: Environment) -> Environment:
    """The new cluster with the hub exactly as configured (floating IP and DNS record)."""
    settings = target.settings.model_copy(update={"hub": environment.settings.hub})
    return dataclasses.replace(target, settings=settings)


def release_old_address(environment: Environment, ui: Console, *, dry_run: bool) -> str:
    """Make the old hub's proxy-public a ClusterIP Service, so its load balancer goes."""
    from kubernetes import client

    from .core import kube
    from .core.changes import Changes
    from .hub.floating_ip import PROXY_SERVICE

    namespace = environment.settings.hub.namespace
    api = kube.api_client(environment.kubeconfig)
    core = client.CoreV1Api(api)
    service = kube.read_or_none(
        f"read Service {namespace}/{PROXY_SERVICE}",
        lambda: core.read_namespaced_service(PROXY_SERVICE, namespace),
    )
    if service is None or service.spec.type != "LoadBalancer":
        return f"{namespace}/{PROXY_SERVICE} on the old cluster has no load balancer"
    # The fields only a LoadBalancer Service may carry go with the type (null removes
    # them in a strategic merge patch); the API server drops the node ports itself.
    patch = {
        "spec": {
            "type": "ClusterIP",
            "loadBalancerIP": None,
            "loadBalancerSourceRanges": None,
            "allocateLoadBalancerNodePorts": None,
            "externalTrafficPolicy": None,
        }
    }
    Changes(ui, dry_run).make(
        f"make Service {namespace}/{PROXY_SERVICE} on the old cluster type ClusterIP "
        "(cloud-provider-openstack deletes its load balancer; the old hub stays)",
        lambda: kube.call(
            f"patch Service {namespace}/{PROXY_SERVICE}",
            lambda: core.patch_namespaced_service(PROXY_SERVICE, namespace, patch),
        ),
    )
    return f"{namespace}/{PROXY_SERVICE} on the old cluster is now ClusterIP"


def move_address(
    environment: Environment,
    final: Environment,
    ui: Console,
    *,
    dry_run: bool,
    clock: Clock | None,
    connection: Connection | None,
) -> str:
    from .core import cloud
    from .core.waiting import Backoff, RealClock, wait_until
    from .hub import deploy as hub_deploy
    from .hub import floating_ip

    address = final.settings.hub.floating_ip
    released = release_old_address(environment, ui, dry_run=dry_run)
    ui.print(f"  {released}")
    if address and not dry_run:
        conn = connection or cloud.connect(final.settings)

        def free() -> bool | None:
            try:
                floating_ip.check(conn, final.settings)
            except OperationFailed as still:
                if "is attached to port" in still.cause:
                    return None
                raise
            return True

        with ui.waiting(f"waiting for {address} to leave the old load balancer"):
            wait_until(
                free,
                what=f"floating IP {address} to be released by the old load balancer",
                timeout=FLOATING_IP_TIMEOUT,
                remedy="see the old Service's events (`kubectl describe svc proxy-public`); "
                "re-run cluster.replace once `openstack floating ip show` has no port",
                backoff=Backoff(initial=2.0, factor=1.5, cap=15.0),
                clock=clock or RealClock(),
            )
    if final.settings.hub.dns.manage:
        from .hub import dns as hub_dns

        hub_dns.run(final, ui, dry_run=dry_run, connection=connection, clock=clock)
    hub_deploy.run(final, ui, hub_deploy.Options(dry_run=dry_run, yes=True, clock=clock))
    if address:
        return f"the new hub's load balancer has {address}"
    return "no hub.floating_ip: the new hub keeps its own load balancer's address"


def _health(final: Environment, ui: Console, *, dry_run: bool, clock: Clock | None) -> str:
    from .hub import health as hub_health

    if dry_run:
        ui.print("  would run hub.health on the new hub")
        return "dry run"
    result = hub_health.run(final, ui, clock=clock)
    if not result.healthy:
        raise OperationFailed(
            f"the new hub is not healthy: {result.cause}",
            f"{result.remedy}; then re-run cluster.replace (the old cluster is kept)",
        )
    return "; ".join(result.lines)


def _offer_delete(environment: Environment, final: Environment, ui: Console) -> None:
    old = environment.settings.cluster.name
    ui.print(
        f"  the new hub is healthy; the old cluster {old} remains (its volumes are the "
        "users' and stay either way). Delete it with:\n"
        f"    invoke cluster.replace --env {environment.name} "
        f"--to {final.settings.cluster.name} --yes"
    )


def _delete_old(
    environment: Environment,
    ui: Console,
    *,
    dry_run: bool,
    clock: Clock | None,
    connection: Connection | None,
) -> str:
    from .cluster import delete as cluster_delete

    cluster_delete.run(
        environment, ui, yes=True, dry_run=dry_run, clock=clock, connection=connection
    )
    return f"{environment.settings.cluster.name} deleted"
