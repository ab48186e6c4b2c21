"""`invoke hub.volumes-adopt`: bind users' Cinder volumes from an earlier cluster back to them.

How the volumes are recognised (kubernetes/cloud-provider-openstack v1.35.0):

- the Cinder CSI driver is `cinder.csi.openstack.org` (pkg/csi/cinder/driver.go
  `driverName`); a PersistentVolume's `spec.csi.volumeHandle` is the Cinder volume id
  (controllerserver.go CreateVolume answers `VolumeId: vol.ID`);
- on CreateVolume it writes the volume metadata `cinder.csi.openstack.org/cluster` (the
  plugin's `--cluster` flag, cmd/cinder-csi-plugin/main.go) and, because the chart runs the
  csi-provisioner with `--extra-create-metadata`
  (charts/cinder-csi-plugin/templates/controllerplugin-deployment.yaml), also
  `csi.storage.k8s.io/pvc/name`, `csi.storage.k8s.io/pvc/namespace` and
  `csi.storage.k8s.io/pv/name` (pkg/csi/csi.go `RecognizedCSIProvisionerParams`);
- the node plugin formats and mounts with fsType ext4 unless told otherwise
  (pkg/csi/cinder/nodeserver.go; the chart's `--default-fstype=ext4`).

A user's claim is KubeSpawner's `pvc_name_template`, `claim-{user_server}` (kubespawner
7.0.0 spawner.py), where a username that is a valid DNS label is used as is (slug_scheme
"safe", slugs.py `safe_slug`); other names are hashed, so the user reported here is the
claim name without `claim-`. KubeSpawner reuses a claim that already exists (it tolerates the
409 on create), so a claim bound to the old volume is all the user's next server needs.

Adoption writes only to Kubernetes: a static PersistentVolume (reclaim policy Retain, so a
later re-creation cannot delete the volume) pre-bound by `claimRef` to `claim-<user>` in the
hub namespace, and that claim with `volumeName` set. It never writes to the cloud, never
touches a volume attached to a server or not `available`, and never replaces a claim the
user already has on this cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core import cloud, kube
from ..core.changes import Changes
from ..core.console import Console
from ..core.loading import Environment
from ..core.prompts import confirm_interruption

DRIVER = "cinder.csi.openstack.org"
CLUSTER_KEY = "cinder.csi.openstack.org/cluster"
PVC_NAME_KEY = "csi.storage.k8s.io/pvc/name"
PVC_NAMESPACE_KEY = "csi.storage.k8s.io/pvc/namespace"
PV_NAME_KEY = "csi.storage.k8s.io/pv/name"
CLAIM_PREFIX = "claim-"
FS_TYPE = "ext4"
USERNAME_ANNOTATION = "hub.jupyter.org/username"
ADOPTED_ANNOTATION = "jhub.adopted-from-cluster"


@dataclass(frozen=True)
class Volume:
    """A Cinder volume that held one of this hub's claims (by its CSI metadata)."""

    id: str
    name: str
    size: int
    status: str
    servers: tuple[str, ...]
    volume_type: str
    claim: str
    cluster: str
    pv_name: str

    @property
    def user(self) -> str:
        return user_of(self.claim)


@dataclass(frozen=True)
class Bound:
    """A PersistentVolume of this cluster backed by a Cinder volume."""

    name: str
    handle: str
    claim_namespace: str
    claim_name: str
    reclaim_policy: str
    phase: str


@dataclass(frozen=True)
class Claim:
    name: str
    volume_name: str
    phase: str
    storage: str
    user: str


@dataclass
class Plan:
    adopt: list[Volume]
    done: list[Volume]  # already bound here, claim and all
    resume: list[tuple[Volume, Bound]]  # PV made by an interrupted run, claim missing
    refused: list[tuple[Volume, str]]


def user_of(claim: str) -> str:
    return claim.removeprefix(CLAIM_PREFIX)


def hub_volumes(conn: Any, namespace: str) -> list[Volume]:
    """Every Cinder volume whose CSI metadata says it held a user claim in this namespace."""
    found = cloud.call(
        "list Cinder volumes", lambda: list(conn.block_storage.volumes(details=True))
    )
    out = []
    for v in found:
        meta = dict(v.metadata or {})
        claim = meta.get(PVC_NAME_KEY, "")
        if meta.get(PVC_NAMESPACE_KEY) != namespace or not claim.startswith(CLAIM_PREFIX):
            continue
        out.append(
            Volume(
                id=str(v.id),
                name=str(v.name or ""),
                size=int(v.size or 0),
                status=str(v.status or ""),
                servers=tuple(
                    str(a.get("server_id")) for a in (v.attachments or []) if a.get("server_id")
                ),
                volume_type=str(v.volume_type or ""),
                claim=claim,
                cluster=meta.get(CLUSTER_KEY, ""),
                pv_name=meta.get(PV_NAME_KEY, ""),
            )
        )
    return sorted(out, key=lambda v: (v.claim, v.cluster, v.id))


def cinder_volumes(api: Any) -> dict[str, Bound]:
    """This cluster's Cinder CSI PersistentVolumes by volume handle (the Cinder volume id)."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    listed = kube.call("list PersistentVolumes", core.list_persistent_volume)
    out = {}
    for pv in listed.items:
        csi = pv.spec.csi
        if csi is None or csi.driver != DRIVER:
            continue
        ref = pv.spec.claim_ref
        out[csi.volume_handle] = Bound(
            name=pv.metadata.name,
            handle=csi.volume_handle,
            claim_namespace=(ref.namespace or "") if ref else "",
            claim_name=(ref.name or "") if ref else "",
            reclaim_policy=pv.spec.persistent_volume_reclaim_policy or "",
            phase=(pv.status.phase or "") if pv.status else "",
        )
    return out


def claims(api: Any, namespace: str) -> dict[str, Claim]:
    """The user claims (`claim-*`) in the hub namespace."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    listed = kube.call(
        f"list PersistentVolumeClaims in {namespace}",
        lambda: core.list_namespaced_persistent_volume_claim(namespace),
    )
    out = {}
    for pvc in listed.items:
        name = pvc.metadata.name
        if not name.startswith(CLAIM_PREFIX):
            continue
        annotations = pvc.metadata.annotations or {}
        requests = (pvc.spec.resources.requests or {}) if pvc.spec.resources else {}
        out[name] = Claim(
            name=name,
            volume_name=pvc.spec.volume_name or "",
            phase=(pvc.status.phase or "") if pvc.status else "",
            storage=str(requests.get("storage", "")),
            user=annotations.get(USERNAME_ANNOTATION) or user_of(name),
        )
    return out


def plan(
    volumes: list[Volume],
    bound: dict[str, Bound],
    existing: dict[str, Claim],
    namespace: str,
    from_cluster: str = "",
) -> Plan:
    """Sort the hub's volumes into adopt / already done / resume / refused (with why)."""
    result = Plan([], [], [], [])
    elsewhere: dict[str, list[Volume]] = {}
    for v in volumes:
        here = bound.get(v.id)
        if here is not None:
            if (here.claim_namespace, here.claim_name) != (namespace, v.claim):
                continue  # bound here to something else: not a user volume of this hub now
            claim = existing.get(v.claim)
            if claim is None:
                result.resume.append((v, here))
            elif claim.volume_name in ("", here.name):
                result.done.append(v)
            continue
        if from_cluster and v.cluster != from_cluster:
            continue
        elsewhere.setdefault(v.claim, []).append(v)
    for claim_name, candidates in sorted(elsewhere.items()):
        for v in candidates:
            why = _refusal(v, existing.get(claim_name), candidates)
            if why:
                result.refused.append((v, why))
            else:
                result.adopt.append(v)
    return result


def _refusal(v: Volume, claim: Claim | None, candidates: list[Volume]) -> str:
    if v.servers:
        return f"attached to server {', '.join(v.servers)} (status {v.status})"
    if v.status != "available":
        return f"status {v.status}, not available"
    if claim is not None:
        target = f"bound to {claim.volume_name}" if claim.volume_name else claim.phase or "new"
        return f"{claim.name} already exists on this cluster ({target}); it is never replaced"
    if len(candidates) > 1:
        clusters = ", ".join(sorted({c.cluster or "?" for c in candidates}))
        return (
            f"{len(candidates)} volumes held {v.claim} (clusters {clusters}); "
            "choose one with --from-cluster"
        )
    return ""


def pv_name(v: Volume) -> str:
    # The old PV's name (pvc-<uid>, from the metadata) is unique and recognisable.
    return v.pv_name or f"cinder-{v.id}"


def persistent_volume(v: Volume, namespace: str, storage_class: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": pv_name(v),
            "annotations": {
                # what csi-provisioner sets on the PVs it makes; the driver that owns it
                "pv.kubernetes.io/provisioned-by": DRIVER,
                ADOPTED_ANNOTATION: v.cluster,
            },
        },
        "spec": {
            "capacity": {"storage": f"{v.size}Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": storage_class,
            "volumeMode": "Filesystem",
            "csi": {"driver": DRIVER, "volumeHandle": v.id, "fsType": FS_TYPE},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": namespace,
                "name": v.claim,
            },
        },
    }


def claim_manifest(v: Volume, namespace: str, storage_class: str, volume: str) -> dict[str, Any]:
    # Labels and annotation as KubeSpawner 7.0.0 get_pvc_manifest sets them, so the hub
    # treats the claim as the user's own.
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": v.claim,
            "namespace": namespace,
            "labels": {
                "app": "jupyterhub",
                "component": "singleuser-storage",
                "heritage": "jupyterhub",
                "hub.jupyter.org/username": v.user,
            },
            "annotations": {USERNAME_ANNOTATION: v.user, ADOPTED_ANNOTATION: v.cluster},
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": f"{v.size}Gi"}},
            "storageClassName": storage_class,
            "volumeMode": "Filesystem",
            "volumeName": volume,
        },
    }


def show_refused(ui: Console, refused: list[tuple[Volume, str]]) -> None:
    if not refused:
        return
    ui.warn(f"{len(refused)} volume(s) left alone (nothing of theirs was changed):")
    for v, why in refused:
        ui.print(f"    {v.user}: volume {v.id} ({v.size} GiB, from {v.cluster or '?'}): {why}")


def _creator(core: Any, manifest: dict[str, Any]) -> Callable[[], Any]:
    """The create call for a PersistentVolume or a claim, bound to its manifest now."""
    meta = manifest["metadata"]
    if manifest["kind"] == "PersistentVolume":
        return lambda: kube.call(
            f"create PersistentVolume {meta['name']}",
            lambda: core.create_persistent_volume(manifest),
        )
    return lambda: kube.call(
        f"create PersistentVolumeClaim {meta['namespace']}/{meta['name']}",
        lambda: core.create_namespaced_persistent_volume_claim(meta["namespace"], manifest),
    )


def adopt_volumes(
    environment: Environment,
    ui: Console,
    *,
    from_cluster: str = "",
    dry_run: bool = False,
    yes: bool = False,
    connection: Any = None,
    api: Any = None,
) -> list[str]:
    """Bind each retained volume back to its user's claim; the usernames adopted."""
    settings = environment.settings
    namespace = settings.hub.namespace
    storage_class = settings.hub.storage.class_name
    conn = connection or cloud.connect(settings)
    api = api or kube.api_client(environment.kubeconfig)
    from kubernetes import client

    core = client.CoreV1Api(api)
    with ui.step(f"users' volumes of namespace {namespace}") as step:
        volumes = hub_volumes(conn, namespace)
        todo = plan(volumes, cinder_volumes(api), claims(api, namespace), namespace, from_cluster)
        step.done(
            f"{len(volumes)} in Cinder; {len(todo.adopt) + len(todo.resume)} to adopt, "
            f"{len(todo.done)} already bound, {len(todo.refused)} left alone"
        )
    show_refused(ui, todo.refused)
    if not todo.adopt and not todo.resume:
        ui.print("  nothing to adopt")
        return []
    changes = Changes(ui, dry_run)
    names = sorted({v.user for v in todo.adopt} | {v.user for v, _ in todo.resume})
    if not dry_run and not confirm_interruption(
        f"Bind {len(names)} user volume(s) to claims in {namespace} ({', '.join(names)})",
        yes=yes,
    ):
        ui.print("  nothing changed")
        return []
    adopted: list[str] = []
    for v, here in todo.resume:
        with ui.step(f"claim {v.claim} → {here.name}") as step:
            manifest = claim_manifest(v, namespace, storage_class, here.name)
            changes.make(
                f"create PersistentVolumeClaim {namespace}/{v.claim} bound to {here.name}",
                _creator(core, manifest),
            )
            (step.planned if dry_run else step.done)(f"volume {v.id}")
        adopted.append(v.user)
    for v in todo.adopt:
        name = pv_name(v)
        with ui.step(f"volume {v.id} → {namespace}/{v.claim}") as step:
            pv = persistent_volume(v, namespace, storage_class)
            pvc = claim_manifest(v, namespace, storage_class, name)
            changes.make(
                f"create PersistentVolume {name} (Cinder volume {v.id}, {v.size} GiB, Retain)",
                _creator(core, pv),
            )
            changes.make(
                f"create PersistentVolumeClaim {namespace}/{v.claim} bound to {name}",
                _creator(core, pvc),
            )
            (step.planned if dry_run else step.done)(f"{v.user}, {v.size} GiB")
        adopted.append(v.user)
    return sorted(set(adopted))
