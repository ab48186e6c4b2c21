"""Before Magnum creates anything: the image and the flavors the config names.

Magnum and its drivers refuse these late: a template needs an image whose `os_distro`
picks a driver (openstack/magnum stable/2026.1 magnum/api/attr_validator.py
validate_image), and magnum-capi-helm reads the image's `kube_version` and `os_distro`
only when the cluster is created, in the conductor, so a missing property turns into a
CREATE_FAILED cluster minutes later (openstack/magnum-capi-helm 1.4.0 a8b82c24,
driver.py _get_image_details / _get_kube_version / _get_os_distro). Flavors are checked
by name, and the GPU flavor's extra specs must name GPUs (core/flavors.py).

Reads only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core import cloud
from ..core.errors import BadInput, Problem
from ..core.flavors import gpus_in_extra_specs
from ..core.settings import Cluster
from ..core.waiting import Clock

if TYPE_CHECKING:
    from openstack.connection import Connection

# Which os_distro each driver boots: magnum-capi-helm Driver.provides (ubuntu, flatcar);
# the heat driver k8s_fedora_coreos_v1 provides fedora-coreos (openstack/magnum
# stable/2026.1 magnum/drivers/k8s_fedora_coreos_v1/driver.py). An image's
# `magnum_driver` property overrides the choice (cluster_template.py post).
DISTROS = {"capi-helm": ("ubuntu", "flatcar"), "heat": ("fedora-coreos",)}
# The compute microversion from which a flavor's extra_specs are part of the flavor
# (openstack/nova nova/api/openstack/compute/flavors.py show/detail: is_supported
# '2.61'); openstacksdk's Flavor asks for it, and find_flavor(get_extra_specs=True) reads
# os-extra_specs when the flavor came without them (policy may hide them).
FLAVOR_EXTRA_SPECS = "2.61"


def image_problems(cluster: Cluster, image: Any) -> list[Problem]:
    """What Magnum or the driver would refuse about this image (None: missing)."""
    key = "cluster.image"
    if image is None:
        return [
            Problem(key, f"no image {cluster.image!r} in the cloud; see `openstack image list`")
        ]
    properties = {**dict(getattr(image, "properties", None) or {})}
    for name in ("os_distro", "kube_version", "magnum_driver"):
        value = getattr(image, name, None) or properties.get(name)
        if value:
            properties[name] = value
    problems = []
    distro = str(properties.get("os_distro") or "")
    if not distro:
        problems.append(
            Problem(
                key,
                f"image {cluster.image!r} has no os_distro property, which Magnum needs to "
                f"pick a driver (allowed for driver {cluster.driver}: "
                f"{', '.join(DISTROS[cluster.driver])})",
            )
        )
    elif not properties.get("magnum_driver") and distro not in DISTROS[cluster.driver]:
        problems.append(
            Problem(
                key,
                f"image {cluster.image!r} has os_distro {distro!r}, which Magnum does not "
                f"give to driver {cluster.driver} (allowed: {', '.join(DISTROS[cluster.driver])})",
            )
        )
    if cluster.driver == "capi-helm" and not properties.get("kube_version"):
        problems.append(
            Problem(
                key,
                f"image {cluster.image!r} has no kube_version property; magnum-capi-helm takes "
                "the Kubernetes version from it and fails the cluster without it (set it with "
                "`openstack image set --property kube_version=v1.32.4 IMAGE`, or pick an "
                "image that has it)",
            )
        )
    return problems


def flavor_keys(cluster: Cluster) -> list[tuple[str, str]]:
    """(config key, flavor name) of every flavor the cluster boots."""
    keys = [
        ("cluster.master_flavor", cluster.master_flavor),
        ("cluster.worker_flavor", cluster.worker_flavor),
    ]
    keys += [
        (f"cluster.node_groups[{i}].flavor", g.flavor) for i, g in enumerate(cluster.node_groups)
    ]
    if cluster.gpu.enabled:
        keys.append(("cluster.gpu.flavor", cluster.gpu.flavor))
    return keys


def check(cluster: Cluster, connection: Connection, clock: Clock | None = None) -> list[str]:
    """Refuse (exit 2) what would fail in Magnum; answers one line per flavor checked."""
    problems: list[Problem] = []
    image = cloud.call(
        f"look up image {cluster.image}",
        lambda: connection.image.find_image(cluster.image, ignore_missing=True),
        clock=clock,
    )
    problems += image_problems(cluster, image)

    seen: dict[str, Any] = {}
    notes = []
    for key, name in flavor_keys(cluster):
        if name not in seen:
            seen[name] = _find_flavor(connection, name, clock)
        flavor = seen[name]
        if flavor is None:
            problems.append(
                Problem(key, f"no flavor {name!r} in the cloud; see `openstack flavor list`")
            )
            continue
        if key == "cluster.gpu.flavor":
            gpus = gpus_in_extra_specs(dict(flavor.extra_specs or {}))
            if gpus < 1:
                problems.append(
                    Problem(
                        key,
                        f"flavor {name!r} names no GPU in its extra specs (pci_passthrough:alias, "
                        "resources[N]:VGPU / PGPU / CUSTOM_PCI_10DE_*); pick a GPU flavor",
                    )
                )
                continue
            notes.append(f"{name}: {gpus} GPU(s) per node")
    if problems:
        raise BadInput(problems)
    return notes


def _find_flavor(connection: Connection, name: str, clock: Clock | None) -> Any:
    return cloud.call(
        f"look up flavor {name}",
        lambda: connection.compute.find_flavor(name, ignore_missing=True, get_extra_specs=True),
        clock=clock,
    )
