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
    # capi-helm: no node_labels/node_taints. Released Magnum (stable/2026.1, API 1.12)
    # answers them with 400 (WSME "Unknown attribute"), python-magnumclient 4.x refuses
    # them before sending, and magnum-capi-helm never applies them even where Magnum
    # master (1.14) stores them (driver.py _process_node_groups). GPU nodes are told
    # apart by the GPU operator's labels instead (core/gpu_nodes.py, docs/gpu.md).
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


def default_bounds_from_labels(driver: str, cluster: Obj) -> tuple[int, int] | None:
    """The default workers' autoscaling bounds when the cluster's labels decide them.

    On capi-helm the cluster labels min_node_count/max_node_count override the default
    worker group's own fields (openstack/magnum-capi-helm 1.4.0 a8b82c24, driver.py
    _get_node_counts: "We still want to be able to override the default node group
    values with labels"), and Magnum cannot change a cluster's labels afterwards
    (openstack/magnum stable/2026.1 magnum/api/validation.py
    cluster_update_allowed_properties: node_count, health_status, health_status_reason).
    A PATCH of the group's min/max is accepted and changes nothing the autoscaler sees.
    None: the node group's own fields decide (heat, or no such labels).
    """
    if driver != "capi-helm":
        return None
    labels = cluster.get("labels") or {}
    low, high = str(labels.get("min_node_count", "")), str(labels.get("max_node_count", ""))
    if not (low.isdigit() and high.isdigit()):
        return None
    return int(low), int(high)


def fixed_bounds_refusal(
    fixed: tuple[int, int], wanted: tuple[int, int], env: str, source: str
) -> tuple[str, str]:
    """Cause and remedy when capi-helm's label-fixed bounds differ from what is asked."""
    cause = (
        f"the default workers scale {fixed[0]}..{fixed[1]}, set by the cluster labels "
        f"min_node_count/max_node_count when the cluster was made; {source} asks for "
        f"{wanted[0]}..{wanted[1]}. On driver capi-helm those labels override the node "
        "group's own bounds and Magnum cannot change a cluster's labels, so a node-group "
        "update would report success and change nothing"
    )
    remedy = (
        f"keep cluster.min_workers: {fixed[0]} and cluster.max_workers: {fixed[1]} in "
        f"config/{env}.yaml and add capacity as a node group (cluster.node_groups, whose "
        "bounds can change), or recreate the cluster with the new bounds "
        f"(`invoke cluster.delete --yes --env {env}`, then `invoke cluster.deploy --env {env}`)"
    )
    return cause, remedy


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
    # capi-helm applies no node-group labels or taints (see nodegroup_body): nothing
    # there can drift.
    return ""


def _string_map(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}
