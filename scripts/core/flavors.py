"""What a Nova flavor's extra specs say about GPUs.

Read from openstack/nova master (00a03040), the granular resource request syntax and PCI
passthrough docs:

- `pci_passthrough:alias` = "a100:1,t4:2": that many devices of each alias
  (doc/source/admin/pci-passthrough.rst); with PCI tracking in Placement the alias is
  still how a flavor asks, translated to the alias's resource class, by default
  `CUSTOM_PCI_<vendor_id>_<product_id>` ("If the resource_class field is not specified in
  the alias then it is defaulted by nova to CUSTOM_PCI_<vendor_id>_<product_id>").
- `resources:VGPU=1` asks Placement directly, and the granular form
  `resources1:VGPU=1` + `resources2:VGPU=1` (doc/source/admin/virtual-gpu.rst: "request
  two groups of vGPUs"; doc/source/user/flavors.rst, Granular Resource Request Syntax:
  `resources<N>` or `resources_<suffix>`) asks one GPU per group: the groups add up.
- NVIDIA's PCI vendor id is 10de, so a placement class `CUSTOM_PCI_10DE_*` is an NVIDIA
  device passed through; `PGPU` is the standard class of a physical GPU.
"""

from __future__ import annotations

import re

# resources, resources1, resources_gpu ... : a GPU resource class = a count
_PLACEMENT_GPU = re.compile(r"^resources(?:\d+|_[A-Za-z0-9_-]+)?:(VGPU|PGPU|CUSTOM_PCI_10DE_\w+)$")


def gpus_in_extra_specs(specs: dict[str, str]) -> int:
    """GPUs one server of this flavor gets.

    Aliases and placement requests describe the same devices (with PCI in Placement the
    alias becomes a placement request), so the larger of the two counts wins, not the sum;
    within placement every request group adds its own.
    """
    alias = 0
    for entry in str(specs.get("pci_passthrough:alias", "")).split(","):
        name, _, count = entry.strip().partition(":")
        if name and count.strip().isdigit():
            alias += int(count)
    placement = 0
    for key, value in specs.items():
        if _PLACEMENT_GPU.match(str(key)) and str(value).strip().isdigit():
            placement += int(str(value).strip())
    return max(alias, placement)
