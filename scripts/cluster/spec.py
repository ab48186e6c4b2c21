"""What the config asks Magnum for: template, cluster and node-group bodies.

Everything here is pure (no API calls), so the planner, deploy and the tests
share one source for labels and for what counts as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.settings import Cluster, NodeGroup, Settings

Obj = dict[str, Any]

DEFAULT_WORKERS = "default-worker"
# Magnum's own default list for the Fedora CoreOS driver; `Priority` is the one
# the GPU operator's priority classes need, so it is written out, not inherited.
ADMISSION_PLUGINS = (
    "NodeRestriction,NamespaceLifecycle,LimitRanger,ServiceAccount,ResourceQuota,"
    "TaintNodesByCondition,Priority,DefaultTolerationSeconds,DefaultStorageClass,"
    "StorageObjectInUseProtection,PersistentVolumeClaimResize,MutatingAdmissionWebhook,"
    "ValidatingAdmissionWebhook,RuntimeClass"
)
# Fields of a template that decide what a cluster looks like; all fixed once a
# cluster uses the template.
TEMPLATE_FIELDS = (
    "coe",
    "image_id",
    "keypair_id",
    "external_network_id",
    "master_flavor_id",
    "flavor_id",
    "network_driver",
    "volume_driver",
    "docker_volume_size",
    "master_lb_enabled",
    "floating_ip_enabled",
    "labels",
)
# Where each template field comes from in config, for error messages.
TEMPLATE_KEYS = {
    "image_id": "cluster.image",
    "keypair_id": "cluster.keypair",
    "external_network_id": "cluster.external_network",
    "master_flavor_id": "cluster.master_flavor",
    "flavor_id": "cluster.worker_flavor",
    "docker_volume_size": "cluster.docker_volume_size",
    "labels": "cluster.driver / image_mirror / kube_tag / autoscaler_tag / extra_labels",
}


def template_labels(settings: Settings) -> dict[str, str]:
    cluster = settings.cluster
    labels: dict[str, str] = {
        "auto_scaling_enabled": "true",
        "auto_healing_enabled": "true",
        # The API endpoint behind Magnum's load balancer, reachable from outside.
        "master_lb_floating_ip_enabled": "true",
    }
    if cluster.driver == "heat":
        labels.update(
            {
                "auto_healing_controller": "magnum-auto-healer",
                "cloud_provider_enabled": "true",
                "cinder_csi_enabled": "true",
                "admission_control_list": ADMISSION_PLUGINS,
            }
        )
        if cluster.image_mirror:
            # Magnum prepends the prefix to image names verbatim.
            labels["container_infra_prefix"] = cluster.image_mirror.rstrip("/") + "/"
        if cluster.kube_tag:
            labels["kube_tag"] = cluster.kube_tag
        if cluster.autoscaler_tag:
            labels["autoscaler_tag"] = cluster.autoscaler_tag
    else:
        storage = settings.hub.storage
        labels.update(
            {
                # kube-prometheus-stack comes from `invoke monitoring.deploy`; the
                # driver's own copy would be a second, unconfigured one.
                "monitoring_enabled": "false",
                "kube_dashboard_enabled": "false",
                "csi_cinder_reclaim_policy": storage.reclaim_policy,
            }
        )
        if storage.availability_zone:
            labels["csi_cinder_availability_zone"] = storage.availability_zone
        if cluster.docker_volume_size:
            # capi-helm nodes keep container images on the root disk.
            labels["boot_volume_size"] = str(cluster.docker_volume_size)
    labels.update(cluster.extra_labels)
    return labels


def ignored_settings(cluster: Cluster) -> list[str]:
    """Settings the chosen driver does not read, so the operator is not surprised."""
    if cluster.driver != "capi-helm":
        return []
    ignored = [
        f"cluster.{key} is ignored by driver capi-helm ({why})"
        for key, why in (
            ("kube_tag", "the Kubernetes version comes from the image's kube_version"),
            ("autoscaler_tag", "the autoscaler runs in Magnum's management cluster"),
            ("image_mirror", "the driver has no container_infra_prefix label"),
        )
        if getattr(cluster, key)
    ]
    return ignored


def template_body(settings: Settings) -> Obj:
    cluster = settings.cluster
    body: Obj = {
        "name": cluster.template,
        "coe": "kubernetes",
        "image_id": cluster.image,
        "keypair_id": cluster.keypair,
        "external_network_id": cluster.external_network,
        "master_flavor_id": cluster.master_flavor,
        "flavor_id": cluster.worker_flavor,
        # Calico: z2jh's NetworkPolicies need a CNI that enforces them.
        "network_driver": "calico",
        "volume_driver": "cinder",
        "docker_volume_size": (
            cluster.docker_volume_size
            if cluster.driver == "heat" and cluster.docker_volume_size
            else None
        ),
        "master_lb_enabled": True,
        # Nodes need no public addresses: the API and services go through LBs.
        "floating_ip_enabled": False,
        "server_type": "vm",
        "public": False,
        "labels": template_labels(settings),
    }
    return body


def cluster_labels(settings: Settings) -> dict[str, str]:
    """The template's labels plus the default workers' bounds.

    Magnum replaces the template's labels with the cluster's when any are given,
    and openstacksdk cannot send merge_labels, so the full set goes on the cluster.
    """
    cluster = settings.cluster
    return {
        **template_labels(settings),
        "min_node_count": str(cluster.min_workers),
        "max_node_count": str(cluster.max_workers),
    }


def cluster_body(settings: Settings, template_uuid: str) -> Obj:
    cluster = settings.cluster
    return {
        "name": cluster.name,
        "cluster_template_id": template_uuid,
        "keypair": cluster.keypair,
        "master_count": cluster.master_count,
        "node_count": cluster.min_workers,
        "master_flavor_id": cluster.master_flavor,
        "flavor_id": cluster.worker_flavor,
        "create_timeout": cluster.create_timeout_minutes,
        "master_lb_enabled": True,
        "labels": cluster_labels(settings),
    }


def nodegroup_body(group: NodeGroup, driver: str) -> Obj:
    body: Obj = {
        "name": group.name,
        "flavor_id": group.flavor,
        "role": group.role,
        "min_node_count": group.min_nodes,
        "max_node_count": group.max_nodes,
        "node_count": group.min_nodes,
    }
    if driver == "heat":
        # The Heat driver has no node_taints/node_labels; kubelet flags do the same,
        # and merge_labels keeps the cluster's labels (kube_tag, ...) for this group.
        body["node_count"] = max(group.min_nodes, 1)  # Heat stacks need one node
        flags = kubelet_flags(group)
        if flags:
            body["labels"] = {"kubelet_options": flags}
            body["merge_labels"] = True
    else:
        if group.labels:
            body["node_labels"] = dict(group.labels)
        if group.taints:
            body["node_taints"] = [
                {"key": t.key, "value": t.value, "effect": t.effect} for t in group.taints
            ]
    return body


def kubelet_flags(group: NodeGroup) -> str:
    flags = []
    if group.taints:
        flags.append("--register-with-taints=" + ",".join(str(t) for t in group.taints))
    if group.labels:
        flags.append("--node-labels=" + ",".join(f"{k}={v}" for k, v in group.labels.items()))
    return " ".join(flags)


# ------------------------------------------------------------------ comparing


@dataclass(frozen=True)
class Difference:
    key: str  # the config key that would have to change
    cloud: object
    config: object

    def __str__(self) -> str:
        return f"{self.key}: {self.cloud!r} in the cloud, {self.config!r} in config"


def template_differences(wanted: Obj, live: Obj) -> list[Difference]:
    found = []
    for name in TEMPLATE_FIELDS:
        ours, theirs = wanted.get(name), live.get(name)
        if name == "labels":
            ours, theirs = _string_map(ours), _string_map(theirs)
            if ours != theirs:
                changed = sorted(k for k in {*ours, *theirs} if ours.get(k) != theirs.get(k))
                found.append(
                    Difference(
                        f"template labels ({TEMPLATE_KEYS['labels']})",
                        {k: theirs.get(k) for k in changed},
                        {k: ours.get(k) for k in changed},
                    )
                )
            continue
        if (ours or None) != (theirs or None):
            found.append(Difference(TEMPLATE_KEYS.get(name, f"template {name}"), theirs, ours))
    return found


def cluster_differences(settings: Settings, template_uuid: str, live: Obj) -> list[Difference]:
    """What Magnum cannot change on an existing cluster."""
    cluster = settings.cluster
    checks = (
        ("cluster.template", live.get("cluster_template_id"), template_uuid),
        ("cluster.worker_flavor", live.get("flavor_id"), cluster.worker_flavor),
        ("cluster.master_flavor", live.get("master_flavor_id"), cluster.master_flavor),
        ("cluster.master_count", live.get("master_count"), cluster.master_count),
        ("cluster.keypair", live.get("keypair"), cluster.keypair),
    )
    return [Difference(key, theirs, ours) for key, theirs, ours in checks if theirs != ours]


def nodegroup_differences(group: NodeGroup, live: Obj) -> list[Difference]:
    """Flavor and role: a node group keeps them for life."""
    prefix = f"node group {group.name}"
    checks = (
        (f"{prefix} flavor", live.get("flavor_id"), group.flavor),
        (f"{prefix} role", live.get("role"), group.role),
    )
    return [Difference(key, theirs, ours) for key, theirs, ours in checks if theirs != ours]


def bounds_patch(live: Obj, min_nodes: int, max_nodes: int) -> list[Obj]:
    """JSON patch for a node group's autoscaling bounds; empty when they match."""
    patch = []
    if live.get("min_node_count") != min_nodes:
        patch.append({"op": "replace", "path": "/min_node_count", "value": min_nodes})
    if live.get("max_node_count") != max_nodes:
        patch.append({"op": "replace", "path": "/max_node_count", "value": max_nodes})
    return patch


def bounds_conflict(
    live: Obj, cluster: str, min_nodes: int, max_nodes: int
) -> tuple[str, str] | None:
    """Cause and remedy when Magnum would refuse these bounds (it keeps node_count within)."""
    count = live.get("node_count")
    if not isinstance(count, int) or min_nodes <= count <= max_nodes:
        return None
    target = min(max(count, min_nodes), max_nodes)
    return (
        f"node group {live.get('name')} has {count} node(s), outside {min_nodes}..{max_nodes}; "
        "Magnum refuses bounds that exclude the current count",
        f"resize it first (`openstack coe cluster resize {cluster} --nodegroup "
        f"{live.get('name')} {target}`), then re-run",
    )


def placement_drift(group: NodeGroup, driver: str, live: Obj) -> str:
    """Labels/taints that differ; Magnum applies them only to new nodes, so we only report."""
    if driver == "heat":
        wanted = kubelet_flags(group)
        have = str((live.get("labels") or {}).get("kubelet_options", ""))
        return "" if wanted == have else f"kubelet_options {have!r} (config: {wanted!r})"
    wanted_taints = sorted((t.key, t.value, t.effect) for t in group.taints)
    have_taints = sorted(
        (str(t.get("key")), str(t.get("value") or ""), str(t.get("effect")))
        for t in live.get("node_taints") or []
    )
    parts = []
    if "node_taints" in live and wanted_taints != have_taints:
        parts.append(f"taints {have_taints} (config: {wanted_taints})")
    if "node_labels" in live and _string_map(live.get("node_labels")) != dict(group.labels):
        parts.append(f"labels {live.get('node_labels')} (config: {dict(group.labels)})")
    return "; ".join(parts)


def _string_map(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}
