"""What a user's server pod looks like for each profile: one shape, many readers.

The hub's values (KubeSpawner's traits and the chart's placeholders), the tool's own
placeholders for other profiles, `hub.capacity` and `plan` all take a profile's pod
from here, so they cannot disagree on its bytes, cores, GPUs, tolerations, affinity,
image or first page.

Where a profile's pod may run:
- a GPU profile asks for `nvidia.com/gpu` and tolerates the GPU node group's taint
  (the heat driver sets it; capi-helm cannot, see gpu_nodes.py). The GPU request
  alone already keeps it on nodes whose device plugin advertises GPUs; a required
  affinity to `nvidia.com/gpu.present` would add nothing there and would strand
  GPU users on clusters whose GPUs come from a device plugin without the operator's
  labels (docs/gpu.md, "Keeping CPU pods off GPU nodes");
- every other profile has a required node affinity against the GPU labels, so no
  CPU user (and no CPU placeholder) ever holds a GPU node up on any driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import gpu_nodes, z2jh
from .quantities import cores, cpu_millicores, memory_bytes
from .settings import Profile, Settings

DESKTOP_URL = "/desktop"  # jupyter-remote-desktop-proxy's page (server_extension.py)


@dataclass(frozen=True)
class PodShape:
    """A profile's user pod, in exact units: millicores and bytes."""

    profile: str
    default: bool
    cpu_guarantee: int  # millicores
    cpu_limit: int
    memory_guarantee: int  # bytes
    memory_limit: int
    gpus: int
    image: str
    default_url: str
    desktop: bool
    placeholders: int
    # The profile's own tolerations and required node-affinity terms, on top of what
    # the chart gives every user pod.
    extra_tolerations: list[dict[str, str]] = field(default_factory=list)
    node_affinity_required: list[dict[str, Any]] = field(default_factory=list)

    def requests(self) -> dict[str, Any]:
        """resources.requests as KubeSpawner's make_pod writes them (kubespawner/objects.py
        at 7.0.0 lines 562-567: each one only when it is set and not zero)."""
        found: dict[str, Any] = {"cpu": cores(self.cpu_guarantee)}
        if self.memory_guarantee:
            found["memory"] = self.memory_guarantee
        return found

    def limits(self) -> dict[str, Any]:
        """resources.limits as make_pod writes them (objects.py lines 570-575); a GPU is
        an extended resource, whose request Kubernetes sets equal to its limit."""
        found: dict[str, Any] = {"cpu": cores(self.cpu_limit), "memory": self.memory_limit}
        found.update(self.extra_resource_limits())
        return found

    def extra_resource_limits(self) -> dict[str, str]:
        return {gpu_nodes.GPU_RESOURCE: str(self.gpus)} if self.gpus else {}

    def tolerations(self) -> list[dict[str, str]]:
        """Every toleration of the pod: the profile's, then the chart's user-pod ones."""
        return [*self.extra_tolerations, *(dict(t) for t in z2jh.USER_POD_TOLERATIONS)]

    def node_affinity(self) -> dict[str, Any]:
        """The pod's affinity.nodeAffinity: the profile's required terms and the chart's
        node-purpose preference for user pods."""
        found: dict[str, Any] = {}
        if self.node_affinity_required:
            found["requiredDuringSchedulingIgnoredDuringExecution"] = {
                "nodeSelectorTerms": list(self.node_affinity_required)
            }
        found["preferredDuringSchedulingIgnoredDuringExecution"] = [
            z2jh.node_purpose_preference("user")
        ]
        return found


def gpu_toleration(settings: Settings) -> dict[str, str]:
    """Tolerates the taint of the cluster's GPU node group (where the driver can set one),
    or the usual nvidia.com/gpu=present:NoSchedule on a cluster the tool did not make."""
    gpu = settings.cluster.gpu
    taints = gpu.as_node_group().taints if gpu.enabled else []
    if taints:
        return {
            "key": taints[0].key,
            "operator": "Equal",
            "value": taints[0].value,
            "effect": taints[0].effect,
        }
    key, value, effect = gpu_nodes.GPU_TAINT
    return {"key": key, "operator": "Equal", "value": value, "effect": effect}


def shape(profile: Profile, settings: Settings) -> PodShape:
    singleuser = settings.hub.singleuser
    image = profile.image or (singleuser.desktop_image if profile.desktop else singleuser.image)
    default_url = profile.default_url or (
        DESKTOP_URL if profile.desktop else singleuser.default_url
    )
    gpu = bool(profile.gpus)
    return PodShape(
        profile=profile.name,
        default=profile.default,
        cpu_guarantee=cpu_millicores(profile.cpu.guarantee),
        cpu_limit=cpu_millicores(profile.cpu.limit),
        memory_guarantee=memory_bytes(profile.memory.guarantee),
        memory_limit=memory_bytes(profile.memory.limit),
        gpus=profile.gpus,
        image=image,
        default_url=default_url,
        desktop=profile.desktop,
        placeholders=0 if profile.default else profile.placeholders,
        extra_tolerations=[gpu_toleration(settings)] if gpu else [],
        node_affinity_required=[] if gpu else [gpu_nodes.not_a_gpu_node()],
    )


def shapes(settings: Settings) -> list[PodShape]:
    """The enabled profiles' pods, in the order the hub lists them."""
    return [shape(profile, settings) for profile in settings.hub.enabled_profiles]


def default_shape(settings: Settings) -> PodShape:
    return shape(settings.hub.default_profile, settings)


def core_pod_affinity() -> dict[str, Any]:
    """The affinity of the hub's own pods (hub, proxy, autohttps, user-scheduler): off
    GPU nodes, and the chart's own preference for nodes labelled for core pods."""
    return {
        "nodeAffinity": {
            **gpu_nodes.avoid_gpu_nodes(),
            "preferredDuringSchedulingIgnoredDuringExecution": [
                z2jh.node_purpose_preference("core")
            ],
        }
    }


def placeholder_count(settings: Settings) -> int:
    """Placeholder pods of all profiles but the default one."""
    return sum(pod.placeholders for pod in shapes(settings))
