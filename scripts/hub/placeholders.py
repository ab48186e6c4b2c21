"""Placeholders for profiles other than the default: a GPU node kept warm.

z2jh 4.4.0 makes placeholders for the default profile only: its user-placeholder
StatefulSet takes singleuser's resources (templates/scheduling/user-placeholder/
statefulset.yaml), and the chart has no way to add objects of one's own (no
extraManifests or extraObjects in its values.yaml). So for every profile with
`placeholders: N` the tool keeps a StatefulSet of its own beside the chart's:

- its pods are shaped exactly like that profile's user pod (core.user_pods: the same
  requests and limits, GPUs, tolerations, node affinity and scheduler), so they hold
  the room one user of that profile needs, GPUs included;
- they run at the chart's user-placeholder priority ({release}-user-placeholder-
  priority, created by the chart because the values enable userPlaceholder whenever
  any profile has placeholders), below the default priority of user pods, so a user's
  pod preempts one at once, as it does the chart's own; the evicted placeholder goes
  pending and, at -10 (the autoscaler's default expendable cut-off), makes the
  autoscaler add a node for it;
- an init container pulls the profile's image onto the node the way the chart's image
  pullers do (templates/image-puller/_helpers-daemonset.tpl), so the user who takes
  the room does not wait for a multi-gigabyte pull.

Each StatefulSet carries a hash of what the tool wants; a re-run compares hashes and
replaces the object only when they differ. Placeholders no longer configured are
deleted, and hub.uninstall deletes them all (without the chart's PriorityClass they
would otherwise hold their GPUs for ever).
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import TYPE_CHECKING, Any, Literal

from ..core import kube, z2jh
from ..core.changes import Changes
from ..core.settings import Settings
from ..core.user_pods import PodShape, shapes

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

Manifest = dict[str, Any]
Outcome = Literal["created", "updated", "unchanged", "deleted"]
MANAGED_BY = {"app.kubernetes.io/managed-by": "jhub-openstack"}
# Counted with the chart's own by `hub.status` and the Grafana dashboard, which select
# component=user-placeholder; the chart's StatefulSet selects app=jupyterhub as well,
# which these pods do not carry, so neither controller ever claims the other's pods.
COMPONENT = {"component": "user-placeholder"}
PROFILE_LABEL = "jhub-openstack/placeholder-for"
HASH_ANNOTATION = "jhub-openstack/spec-hash"
OURS = "app.kubernetes.io/managed-by=jhub-openstack,component=user-placeholder"


def name(profile: str) -> str:
    return f"user-placeholder-{profile}"


def statefulset(pod: PodShape, settings: Settings) -> Manifest:
    """The StatefulSet of one profile's placeholders."""
    hub = settings.hub
    selector = {**COMPONENT, "release": hub.release, PROFILE_LABEL: pod.profile}
    spec: dict[str, Any] = {
        "priorityClassName": z2jh.user_placeholder_priority_class(hub.release),
        "tolerations": pod.tolerations(),
        "affinity": {"nodeAffinity": pod.node_affinity()},
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
        "initContainers": [
            {
                "name": "image-pull",
                "image": pod.image,
                "command": list(z2jh.PULL_COMMAND),
                "securityContext": copy.deepcopy(z2jh.NOBODY_SECURITY_CONTEXT),
            }
        ],
        "containers": [
            {
                "name": "pause",
                "image": z2jh.PAUSE_IMAGE,
                "resources": {"requests": pod.requests(), "limits": pod.limits()},
                "securityContext": copy.deepcopy(z2jh.NOBODY_SECURITY_CONTEXT),
            }
        ],
    }
    if hub.user_scheduler:
        spec["schedulerName"] = z2jh.user_scheduler_name(hub.release)
    manifest: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": name(pod.profile),
            "namespace": hub.namespace,
            "labels": {**selector, **MANAGED_BY},
        },
        "spec": {
            "replicas": pod.placeholders,
            "podManagementPolicy": "Parallel",
            "serviceName": name(pod.profile),
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": {**selector, **MANAGED_BY}}, "spec": spec},
        },
    }
    manifest["metadata"]["annotations"] = {HASH_ANNOTATION: _hash(manifest)}
    return manifest


def wanted(settings: Settings) -> list[Manifest]:
    return [statefulset(pod, settings) for pod in shapes(settings) if pod.placeholders]


def held_idle(settings: Settings) -> list[str]:
    """What the placeholders keep from users at all times, one line per profile."""
    lines = []
    for pod in shapes(settings):
        if not pod.placeholders:
            continue
        held = f"{pod.placeholders * pod.gpus} GPU(s), " if pod.gpus else ""
        lines.append(
            f"profile {pod.profile}: {pod.placeholders} placeholder pod(s) hold {held}"
            f"{pod.placeholders * pod.cpu_guarantee / 1000:g} CPU and "
            f"{pod.placeholders * pod.memory_guarantee / 10**9:g} GB idle until a user "
            "takes one"
        )
    return lines


def ensure_all(api: ApiClient, settings: Settings, changes: Changes) -> dict[str, Outcome]:
    """Each profile's placeholders as configured; those no longer configured deleted."""
    from kubernetes import client

    apps = client.AppsV1Api(api)
    namespace = settings.hub.namespace
    found: dict[str, Outcome] = {}
    manifests = wanted(settings)
    for manifest in manifests:
        found[manifest["metadata"]["name"]] = _ensure(apps, manifest, changes)
    keep = set(found)
    listed = kube.call(
        f"list placeholder StatefulSets in {namespace}",
        lambda: apps.list_namespaced_stateful_set(namespace, label_selector=OURS),
    )
    for item in listed.items:
        if item.metadata.name not in keep:
            found[item.metadata.name] = _delete(
                apps, namespace, item.metadata.name, changes, "its profile has no placeholders now"
            )
    return found


def remove_all(api: ApiClient, settings: Settings, changes: Changes) -> list[str]:
    """Delete every placeholder StatefulSet the tool made in the hub's namespace."""
    from kubernetes import client

    apps = client.AppsV1Api(api)
    namespace = settings.hub.namespace
    listed = kube.call(
        f"list placeholder StatefulSets in {namespace}",
        lambda: apps.list_namespaced_stateful_set(namespace, label_selector=OURS),
    )
    names = [item.metadata.name for item in listed.items]
    for found in names:
        _delete(apps, namespace, found, changes, "the hub goes")
    return names


def _ensure(apps: Any, manifest: Manifest, changes: Changes) -> Outcome:
    meta = manifest["metadata"]
    label = f"StatefulSet {meta['namespace']}/{meta['name']}"
    live = kube.read_or_none(
        f"read {label}", lambda: apps.read_namespaced_stateful_set(meta["name"], meta["namespace"])
    )
    pods = manifest["spec"]["replicas"]
    if live is None:
        changes.make(
            f"create {label} ({pods} pod(s))",
            lambda: kube.call(
                f"create {label}",
                kube.create_once(
                    lambda: apps.create_namespaced_stateful_set(meta["namespace"], body=manifest)
                ),
            ),
        )
        return "created"
    if (live.metadata.annotations or {}).get(HASH_ANNOTATION) == meta["annotations"][
        HASH_ANNOTATION
    ]:
        return "unchanged"
    # Replaced whole: every field is ours, and a merge patch would keep resources or
    # tolerations the profile no longer has. Selector and serviceName never change.
    body = copy.deepcopy(manifest)
    body["metadata"]["resourceVersion"] = live.metadata.resource_version
    changes.make(
        f"replace {label} ({pods} pod(s), shape or count changed)",
        lambda: kube.call(
            f"replace {label}",
            lambda: apps.replace_namespaced_stateful_set(meta["name"], meta["namespace"], body),
        ),
    )
    return "updated"


def _delete(apps: Any, namespace: str, found: str, changes: Changes, why: str) -> Outcome:
    label = f"StatefulSet {namespace}/{found}"
    changes.make(
        f"delete {label} ({why})",
        lambda: kube.call(
            f"delete {label}", lambda: apps.delete_namespaced_stateful_set(found, namespace)
        ),
    )
    return "deleted"


def _hash(manifest: Manifest) -> str:
    text = json.dumps({"metadata": manifest["metadata"], "spec": manifest["spec"]}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
