"""hub.capacity: how many users fit on a node, and what that means for the node groups.

Pure arithmetic on numbers read elsewhere (capacity_run.py reads flavors or
nodes), in integers — millicores and bytes — so every result can be checked by
hand:

    room on a node   = flavor vCPUs and RAM − RESERVED             (a Magnum cluster)
                     = node allocatable − ADD_ONS                    (driver existing)
    users per node   = min( ⌊room CPU / CPU guarantee⌋,
                            ⌊room memory / memory guarantee⌋,
                            ⌊node GPUs / profile GPUs⌋ if the profile asks for GPUs )
    placeholders     = ⌈users / ready_per⌉   one default-profile server kept ready
                                             for every `ready_per` concurrent logins
    max_node_count   = ⌈(users + placeholders) / users per node⌉   default profile
                     = ⌈(users + its placeholders) / users per node⌉  other profiles
                                             (`placeholders: N` on the profile)
    held by placeholders = ⌈configured placeholders / users per node⌉ nodes, always up

The figures are the pods' own: a profile's requests come from core.user_pods, the
shape KubeSpawner and the placeholders get, in the units Kubernetes reads (1.8G is
1,800,000,000 bytes, 2Gi is 2,147,483,648; docs/configuration.md, "Units").

Guarantees decide how many users share a node (the scheduler packs by requests);
a limit above the room only means users can never reach it, which is worth a
warning; a guarantee above the room means the profile never starts there.

Where a profile can run: GPU profiles only on nodes with GPUs; the others on
every node group that is neither a GPU group (their required node affinity keeps
them off nodes the GPU operator labels, tainted or not) nor tainted otherwise
(other taints are tolerated by no profile).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ..core.quantities import cpu_millicores, memory_bytes
from ..core.settings import Profile as ProfileSettings
from ..core.user_pods import PodShape

MIB = 2**20
GIB = 2**30


@dataclass(frozen=True)
class Resources:
    cpu_milli: int
    memory: int  # bytes


# What a node of a Magnum cluster keeps for itself, per node:
# - SYSTEM: kubelet's system and kube reservations and the eviction threshold (the gap
#   between a flavor and the node's allocatable);
# - ADD_ONS: the pods every node runs (CNI, kube-proxy, the Cinder CSI node plugin, the
#   node exporter), which the scheduler counts against allocatable.
# An estimate, kept round so the arithmetic stays checkable; 0.5 CPU and 1 GiB in all.
SYSTEM = Resources(cpu_milli=200, memory=512 * MIB)
ADD_ONS = Resources(cpu_milli=300, memory=512 * MIB)
RESERVED = Resources(SYSTEM.cpu_milli + ADD_ONS.cpu_milli, SYSTEM.memory + ADD_ONS.memory)

Accepts = Literal["all", "gpu", "none"]


@dataclass(frozen=True)
class NodeShape:
    """One node group: how much room a node of it has for user servers."""

    group: str
    source: str  # where the numbers came from, for the report
    room: Resources
    gpus: int
    accepts: Accepts  # "gpu": only GPU profiles (tainted); "none": tainted otherwise
    max_nodes: int | None  # the configured bound, when there is one
    max_key: str = ""  # the config key that sets it


@dataclass(frozen=True)
class ProfileNeeds:
    name: str
    default: bool
    guarantee: Resources
    limit: Resources
    gpus: int
    # Placeholder pods configured for it (the chart's replicas for the default profile).
    placeholders: int = 0

    @classmethod
    def of(cls, profile: ProfileSettings, placeholders: int | None = None) -> ProfileNeeds:
        return cls(
            name=profile.name,
            default=profile.default,
            guarantee=Resources(
                cpu_millicores(profile.cpu.guarantee), memory_bytes(profile.memory.guarantee)
            ),
            limit=Resources(cpu_millicores(profile.cpu.limit), memory_bytes(profile.memory.limit)),
            gpus=profile.gpus,
            placeholders=profile.placeholders if placeholders is None else placeholders,
        )

    @classmethod
    def from_pod(cls, pod: PodShape, placeholders: int) -> ProfileNeeds:
        """What one pod of the profile requests, as the hub's values give it."""
        return cls(
            name=pod.profile,
            default=pod.default,
            guarantee=Resources(pod.cpu_guarantee, pod.memory_guarantee),
            limit=Resources(pod.cpu_limit, pod.memory_limit),
            gpus=pod.gpus,
            placeholders=placeholders,
        )


@dataclass(frozen=True)
class Fit:
    """A profile on one node group."""

    profile: str
    group: str
    users_per_node: int
    bound_by: str  # "cpu", "memory" or "gpu": what runs out first
    nodes_needed: int | None = None  # for the target number of users (None: no target)
    # Users a full group holds (max_nodes × users per node), when the group has a bound.
    users_at_max: int | None = None
    # Nodes the profile's configured placeholders keep busy on their own.
    placeholder_nodes: int | None = None


@dataclass
class Plan:
    fits: list[Fit] = field(default_factory=list)
    placeholders: int | None = None
    warnings: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ node shapes


def from_flavor(
    group: str,
    flavor: str,
    *,
    vcpus: int,
    ram_mib: int,
    gpus: int,
    accepts: Accepts,
    max_nodes: int | None,
    max_key: str = "",
) -> NodeShape:
    room = Resources(
        vcpus * 1000 - RESERVED.cpu_milli,
        ram_mib * MIB - RESERVED.memory,
    )
    return NodeShape(
        group,
        f"flavor {flavor}: {vcpus} vCPUs, {ram_mib} MiB, {gpus} GPU(s)",
        _at_least_zero(room),
        gpus,
        accepts,
        max_nodes,
        max_key,
    )


def from_allocatable(
    group: str, *, nodes: int, cpu_milli: int, memory: int, gpus: int, accepts: Accepts
) -> NodeShape:
    """kubelet has already taken SYSTEM off allocatable; the add-on pods still count."""
    room = Resources(cpu_milli - ADD_ONS.cpu_milli, memory - ADD_ONS.memory)
    return NodeShape(
        group,
        f"allocatable of {nodes} node(s): {_cpus(cpu_milli)} CPUs, {_gib(memory)}, {gpus} GPU(s)",
        _at_least_zero(room),
        gpus,
        accepts,
        None,
    )


def gpus_in_extra_specs(specs: dict[str, str]) -> int:
    """GPUs a flavor passes through (aliases, granular VGPU/PGPU and PCI-in-placement
    requests): scripts/core/flavors.py, shared with cluster.deploy's pre-flight."""
    from ..core.flavors import gpus_in_extra_specs as count

    return count(specs)


# ------------------------------------------------------------------ planning


def users_per_node(needs: ProfileNeeds, node: NodeShape) -> tuple[int, str]:
    """How many servers of this profile one node holds, and what runs out first."""
    counts = [(node.room.cpu_milli // needs.guarantee.cpu_milli, "cpu")]
    # A memory guarantee of 0 is allowed (Kubernetes then reserves nothing).
    if needs.guarantee.memory:
        counts.append((node.room.memory // needs.guarantee.memory, "memory"))
    if needs.gpus:
        counts.append((node.gpus // needs.gpus, "gpu"))
    # On a tie the listed order decides: cpu, memory, then gpu.
    return min(counts, key=lambda pair: pair[0])


def runs_on(needs: ProfileNeeds, node: NodeShape) -> bool:
    if node.accepts == "none":
        return False
    if needs.gpus:
        return node.gpus > 0
    return node.accepts == "all"


def plan(
    profiles: Iterable[ProfileNeeds],
    nodes: list[NodeShape],
    *,
    users: int = 0,
    ready_per: int = 10,
) -> Plan:
    """Users per node for each profile on each node group it can run on, and, for a
    target number of concurrent `users`, the placeholders and max_node_count."""
    result = Plan()
    if users:
        result.placeholders = _ceil(users, ready_per)
    for needs in profiles:
        places = [node for node in nodes if runs_on(needs, node)]
        if not places:
            result.warnings.append(
                f"profile {needs.name} asks for {needs.gpus} GPU(s) and no node group has GPUs: "
                "it can never start"
                if needs.gpus
                else f"profile {needs.name} has no untainted node group to run on: "
                "it can never start"
            )
            continue
        fits = [_fit(needs, node, users, result) for node in places]
        result.fits += fits
        if not any(fit.users_per_node for fit in fits):
            result.warnings.append(
                f"profile {needs.name} fits no node group (see above): it can never start"
            )
    return result


def _fit(needs: ProfileNeeds, node: NodeShape, users: int, result: Plan) -> Fit:
    count, bound_by = users_per_node(needs, node)
    result.warnings += _limits_above_room(needs, node)
    nodes_needed = None
    placeholder_nodes = None
    if count and needs.placeholders:
        placeholder_nodes = _ceil(needs.placeholders, count)
        if node.max_nodes is not None and placeholder_nodes > node.max_nodes:
            result.warnings.append(
                f"the {needs.placeholders} placeholders of profile {needs.name} alone need "
                f"{placeholder_nodes} {node.group} nodes; {node.max_key or 'its max_node_count'} "
                f"is {node.max_nodes}"
            )
    if users and count:
        held = (result.placeholders or 0) if needs.default else needs.placeholders
        nodes_needed = _ceil(users + held, count)
        if node.max_nodes is not None and nodes_needed > node.max_nodes:
            result.warnings.append(
                f"{users} users of profile {needs.name} on {node.group} need "
                f"{nodes_needed} nodes; {node.max_key or 'its max_node_count'} is "
                f"{node.max_nodes}"
            )
    users_at_max = count * node.max_nodes if node.max_nodes is not None else None
    return Fit(
        needs.name, node.group, count, bound_by, nodes_needed, users_at_max, placeholder_nodes
    )


def _limits_above_room(needs: ProfileNeeds, node: NodeShape) -> list[str]:
    found = []
    pairs = (
        ("CPU", needs.guarantee.cpu_milli, needs.limit.cpu_milli, node.room.cpu_milli, _cpus),
        ("memory", needs.guarantee.memory, needs.limit.memory, node.room.memory, _gib),
    )
    for what, guarantee, limit, room, show in pairs:
        if guarantee > room:
            found.append(
                f"profile {needs.name} never fits a {node.group} node: its {what} guarantee "
                f"{show(guarantee)} is above the {show(room)} a node has for users"
            )
        elif limit > room:
            found.append(
                f"profile {needs.name} on {node.group}: its {what} limit {show(limit)} is "
                f"above the {show(room)} a node has for users; it can never use all of it"
            )
    if needs.gpus and needs.gpus > node.gpus:
        found.append(
            f"profile {needs.name} never fits a {node.group} node: it asks for {needs.gpus} "
            f"GPUs and a node has {node.gpus}"
        )
    return found


# ------------------------------------------------------------------ report


def report(
    plan_: Plan,
    nodes: list[NodeShape],
    *,
    users: int,
    ready_per: int,
    needs: Iterable[ProfileNeeds] = (),
) -> list[str]:
    lines = [
        "Node groups (room for user servers after the per-node reservation of "
        f"{_cpus(RESERVED.cpu_milli)} CPU and {_gib(RESERVED.memory)}):"
    ]
    for node in nodes:
        bound = f", up to {node.max_nodes} nodes" if node.max_nodes is not None else ""
        only = {"all": "", "gpu": ", GPU profiles only", "none": ", tainted: no profile"}
        lines.append(
            f"  {node.group}: {_cpus(node.room.cpu_milli)} CPUs, {_gib(node.room.memory)}, "
            f"{node.gpus} GPU(s){bound}{only[node.accepts]}  ({node.source})"
        )
    lines.append(
        f"Users per node, and the max_node_count if all {users} users chose that profile:"
        if users
        else "Users per node:"
    )
    for fit in plan_.fits:
        line = f"  {fit.profile} on {fit.group}: {fit.users_per_node} (by {fit.bound_by})"
        if fit.nodes_needed is not None:
            line += f"; {users} users need max_node_count {fit.nodes_needed}"
        elif fit.users_at_max is not None:
            line += f"; {fit.users_at_max} users at the configured maximum"
        if fit.placeholder_nodes is not None:
            line += f"; its placeholders keep {fit.placeholder_nodes} node(s) up"
        lines.append(line)
    if plan_.placeholders is not None:
        lines.append(
            f"Placeholders: {plan_.placeholders} keep one default-profile server ready per "
            f"{ready_per} of {users} concurrent logins (counted in the default profile's "
            "max_node_count above)"
        )
    else:
        lines.append("Pass --users N for the placeholders and max_node_count N users need.")
    for profile in needs:
        if profile.placeholders and not profile.default:
            gpus = profile.placeholders * profile.gpus
            lines.append(
                f"Placeholders of profile {profile.name}: {profile.placeholders} pod(s) shaped "
                f"like its server, holding {gpus} GPU(s), "
                f"{_cpus(profile.placeholders * profile.guarantee.cpu_milli)} CPU and "
                f"{_gib(profile.placeholders * profile.guarantee.memory)} idle for its next users"
            )
    return lines


# ------------------------------------------------------------------ helpers


def _ceil(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _at_least_zero(resources: Resources) -> Resources:
    return Resources(max(resources.cpu_milli, 0), max(resources.memory, 0))


def _cpus(milli: int) -> str:
    return f"{milli / 1000:g}"


def _gib(size: int) -> str:
    return f"{size / GIB:.2f} GiB"
