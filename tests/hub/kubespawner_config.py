"""The rendered hub values, loaded the way the z2jh 4.4.0 hub loads them, into a real
KubeSpawner 7.0.0; and the chart's own placeholder pod, as its template builds it.

The hub image of z2jh 4.4.0 (images/hub/requirements.txt: jupyterhub 5.5.0,
jupyterhub-kubespawner 7.0.0) runs the chart's files/hub/jupyterhub_config.py. That file
reads the values Helm merged over the chart's values.yaml (templates/hub/secret.yaml
hands them over whole, with Chart and Release, through toYaml) and sets KubeSpawner's
traits from them. It is not part of this project; what follows is the mapping it
applies, written down as facts with the lines of jupyterhub/zero-to-jupyterhub-k8s at
tag 4.4.0 (jupyterhub/files/hub/jupyterhub_config.py unless another file is named).
Then KubeSpawner's own code does the rest: `load_user_options` applies the chosen
profile, `get_pod_manifest` and `get_pvc_manifest` build what it would create.

Only the placeholder pod is modelled here, not run: no Kubernetes API server runs on
this machine. Its fields follow templates/scheduling/user-placeholder/statefulset.yaml,
templates/scheduling/_scheduling-helpers.tpl and templates/_helpers.tpl at 4.4.0.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from traitlets.config import Config

from tests.support.components import require
from tests.support.contract import JUPYTERHUB, chart_defaults

# ------------------------------------------------------------------ Helm's side


def helm_merge(defaults: Any, ours: Any) -> Any:
    """Our values over the chart's as Helm coalesces them (helm/helm v4.1.4,
    pkg/chart/common/util/coalesce.go lines 201-262): maps merge key by key, anything
    else is replaced, and a null over a default that is set deletes the key."""
    if not isinstance(defaults, dict) or not isinstance(ours, dict):
        return copy.deepcopy(ours)
    out = copy.deepcopy(defaults)
    for key, value in ours.items():
        if value is None and defaults.get(key) is not None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(defaults.get(key), dict):
            out[key] = helm_merge(defaults[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def through_helm(value: Any) -> Any:
    """A value after Helm read it and wrote it back with toYaml: numbers become float64
    (sigs.k8s.io/yaml reads YAML through JSON), and Go's JSON encoder writes a float
    with no fraction as an integer, up to 1e21."""
    if isinstance(value, dict):
        return {key: through_helm(item) for key, item in value.items()}
    if isinstance(value, list):
        return [through_helm(item) for item in value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    number = float(value)
    if number.is_integer() and abs(number) < 1e21:
        return int(number)
    return number


def chart_values(rendered: dict[str, Any]) -> dict[str, Any]:
    """What the hub's get_config reads: Helm's merge of our values over values.yaml."""
    merged = helm_merge(chart_defaults(JUPYTERHUB), rendered)
    assert isinstance(merged, dict)
    return through_helm(merged)  # type: ignore[no-any-return]


def get_config(values: dict[str, Any], key: str, default: Any = None) -> Any:
    """files/hub/z2jh.py lines 93-112: a dotted path, the default where it stops."""
    found: Any = values
    for level in key.split("."):
        if not isinstance(found, dict) or level not in found:
            return default
        found = found[level]
    return found


# ------------------------------------------------------------------ the mapping

# Lines 145-181: set_config_if_not_none(c.KubeSpawner, trait, "singleuser." + key),
# where a key left out there is the trait's name in camelCase (lines 26-32).
SINGLEUSER_TRAITS: dict[str, str] = {
    "pod_name_template": "podNameTemplate",
    "start_timeout": "startTimeout",
    "image_pull_policy": "image.pullPolicy",
    "events_enabled": "events",
    "extra_labels": "extraLabels",
    "extra_annotations": "extraAnnotations",
    "uid": "uid",
    "fs_gid": "fsGid",
    "service_account": "serviceAccountName",
    "storage_extra_labels": "storage.extraLabels",
    "node_selector": "nodeSelector",
    "node_affinity_required": "extraNodeAffinity.required",
    "node_affinity_preferred": "extraNodeAffinity.preferred",
    "pod_affinity_required": "extraPodAffinity.required",
    "pod_affinity_preferred": "extraPodAffinity.preferred",
    "pod_anti_affinity_required": "extraPodAntiAffinity.required",
    "pod_anti_affinity_preferred": "extraPodAntiAffinity.preferred",
    "lifecycle_hooks": "lifecycleHooks",
    "init_containers": "initContainers",
    "extra_containers": "extraContainers",
    "mem_limit": "memory.limit",
    "mem_guarantee": "memory.guarantee",
    "cpu_limit": "cpu.limit",
    "cpu_guarantee": "cpu.guarantee",
    "extra_resource_limits": "extraResource.limits",
    "extra_resource_guarantees": "extraResource.guarantees",
    "environment": "extraEnv",
    "profile_list": "profileList",
    "extra_pod_config": "extraPodConfig",
}

# files/hub/z2jh.py get_name and templates/_helpers-names.tpl at 4.4.0 (with
# fullnameOverride "", values.yaml line 3): lines 279-285 and 252-258.
USER_SCHEDULER = "{release}-user-scheduler"
DEFAULT_PRIORITY = "{release}-default-priority"
PLACEHOLDER_PRIORITY = "{release}-user-placeholder-priority"  # lines 261-267


def _node_purpose(purpose: str) -> dict[str, Any]:
    return {
        "matchExpressions": [
            {"key": "hub.jupyter.org/node-purpose", "operator": "In", "values": [purpose]}
        ]
    }


def kubespawner_config(values: dict[str, Any], *, release: str, namespace: str) -> Config:
    """A traitlets Config holding what jupyterhub_config.py sets from these values."""
    from kubernetes_asyncio import client

    c = Config()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"  # line 41
    # Lines 120-134: common labels; line 136: the namespace of the hub pod.
    labels = {"app.kubernetes.io/name": "jupyterhub", "app": "jupyterhub"}
    labels["app.kubernetes.io/instance"] = labels["release"] = release
    labels["app.kubernetes.io/managed-by"] = "kubespawner"
    c.KubeSpawner.common_labels = labels
    c.KubeSpawner.namespace = namespace
    for trait, key in SINGLEUSER_TRAITS.items():
        found = get_config(values, f"singleuser.{key}")
        if found is not None:
            setattr(c.KubeSpawner, trait, found)
    # Lines 183-189: the image, name and tag joined.
    name = get_config(values, "singleuser.image.name")
    if name:
        tag = get_config(values, "singleuser.image.tag")
        c.KubeSpawner.image = f"{name}:{tag}" if tag else name
    # Lines 196-198: set even when null.
    c.KubeSpawner.allow_privilege_escalation = get_config(
        values, "singleuser.allowPrivilegeEscalation"
    )
    # Lines 215-218.
    if get_config(values, "scheduling.userScheduler.enabled"):
        c.KubeSpawner.scheduler_name = USER_SCHEDULER.format(release=release)
    if get_config(values, "scheduling.podPriority.enabled"):
        c.KubeSpawner.priority_class_name = DEFAULT_PRIORITY.format(release=release)
    # Lines 221-246: node purpose, preferred or required.
    purpose = get_config(values, "scheduling.userPods.nodeAffinity.matchNodePurpose")
    if purpose == "prefer":
        preferred = list(c.KubeSpawner.get("node_affinity_preferred", []))
        c.KubeSpawner.node_affinity_preferred = [
            *preferred,
            {"weight": 100, "preference": _node_purpose("user")},
        ]
    elif purpose == "require":
        required = list(c.KubeSpawner.get("node_affinity_required", []))
        c.KubeSpawner.node_affinity_required = [*required, _node_purpose("user")]
    # Lines 249-253: user-pod tolerations, then singleuser's.
    tolerations = get_config(values, "scheduling.userPods.tolerations", []) + get_config(
        values, "singleuser.extraTolerations", []
    )
    if tolerations:
        c.KubeSpawner.tolerations = tolerations
    volumes, mounts = _storage(c, values)
    c.KubeSpawner.volumes = volumes  # line 361
    c.KubeSpawner.volume_mounts = mounts  # line 362
    # Lines 443-446: an explicit null command is kept (Helm deleted the key then, so
    # it counts as unspecified and KubeSpawner's default, None, stays).
    marker = object()
    command = get_config(values, "singleuser.cmd", marker)
    if command is not marker:
        c.Spawner.cmd = command
    default_url = get_config(values, "singleuser.defaultUrl")  # line 448
    if default_url is not None:
        c.Spawner.default_url = default_url
    # Lines 450-482: an init container that blocks the cloud's metadata server.
    metadata = get_config(values, "singleuser.cloudMetadata")
    if metadata.get("blockWithIptables") is True:
        image = get_config(values, "singleuser.networkTools.image")
        c.KubeSpawner.init_containers = [
            *c.KubeSpawner.get("init_containers", []),
            client.V1Container(
                name="block-cloud-metadata",
                image=f"{image['name']}:{image['tag']}",
                command=[
                    *("iptables", "--append", "OUTPUT", "--protocol", "tcp"),
                    *("--destination", metadata["ip"], "--destination-port", "80"),
                    *("--jump", "DROP"),
                ],
                security_context=client.V1SecurityContext(
                    privileged=True,
                    run_as_user=0,
                    capabilities=client.V1Capabilities(add=["NET_ADMIN"]),
                ),
                resources=get_config(values, "singleuser.networkTools.resources"),
            ),
        ]
    # Lines 500-526: hub.config sections pass through.
    for section, settings in get_config(values, "hub.config", {}).items():
        c[section].update(settings)
    return c


def _storage(c: Config, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    volumes: dict[str, Any] = {}
    mounts: dict[str, Any] = {}
    # Lines 259-291: a PVC per user and its volume, mounted at homeMountPath.
    if get_config(values, "singleuser.storage.type") == "dynamic":
        pvc_name = get_config(values, "singleuser.storage.dynamic.pvcNameTemplate")
        if pvc_name:
            c.KubeSpawner.pvc_name_template = pvc_name
        volume = get_config(values, "singleuser.storage.dynamic.volumeNameTemplate")
        c.KubeSpawner.storage_pvc_ensure = True
        for trait, key in (
            ("storage_class", "dynamic.storageClass"),
            ("storage_access_modes", "dynamic.storageAccessModes"),
            ("storage_capacity", "capacity"),
        ):
            found = get_config(values, f"singleuser.storage.{key}")
            if found is not None:
                setattr(c.KubeSpawner, trait, found)
        volumes = {volume: {"name": volume, "persistentVolumeClaim": {"claimName": "{pvc_name}"}}}
        mounts = {
            volume: {
                "mountPath": get_config(values, "singleuser.storage.homeMountPath"),
                "name": volume,
                "subPath": get_config(values, "singleuser.storage.dynamic.subPath"),
            }
        }
    # Lines 343-359: extra volumes by name, extra mounts by position and name.
    extra_volumes = get_config(values, "singleuser.storage.extraVolumes", {})
    if isinstance(extra_volumes, dict):
        volumes.update(extra_volumes)
    else:
        volumes.update({item["name"]: item for item in extra_volumes})
    extra_mounts = get_config(values, "singleuser.storage.extraVolumeMounts", {})
    if isinstance(extra_mounts, dict):
        mounts.update(extra_mounts)
    else:
        mounts.update({f"{i}-{item['name']}": item for i, item in enumerate(extra_mounts)})
    return volumes, mounts


# ------------------------------------------------------------------ KubeSpawner's side


class HubUser:
    """What KubeSpawner reads of JupyterHub's User: its name, id, URL and server."""

    def __init__(self, name: str) -> None:
        from jupyterhub.objects import Server

        self.name = name
        self.id = 7
        self.server = Server()
        self.escaped_name = name

    @property
    def url(self) -> str:
        return str(self.server.url)


@dataclass(frozen=True)
class Spawned:
    """What KubeSpawner would create for one user and one profile."""

    pod: dict[str, Any]
    pvc: dict[str, Any]

    @property
    def container(self) -> dict[str, Any]:
        (notebook,) = [c for c in self.pod["spec"]["containers"] if c["name"] == "notebook"]
        found: dict[str, Any] = notebook
        return found

    @property
    def env(self) -> dict[str, str]:
        return {item["name"]: item.get("value", "") for item in self.container.get("env", [])}


async def _spawn(config: Config, user: str, profile: str | None) -> Spawned:
    from jupyterhub.objects import Hub
    from kubernetes_asyncio.client import ApiClient
    from kubespawner import KubeSpawner

    spawner = KubeSpawner(config=config, user=HubUser(user), hub=Hub(), _mock=True)
    spawner.user_options = {"profile": profile} if profile else {}
    await spawner.load_user_options()
    pod = await spawner.get_pod_manifest()
    pvc = spawner.get_pvc_manifest()
    async with ApiClient() as api:
        return Spawned(api.sanitize_for_serialization(pod), api.sanitize_for_serialization(pvc))


def spawn(
    values: dict[str, Any],
    profile: str | None,
    *,
    user: str = "ann",
    release: str = "jhub",
    namespace: str = "jhub",
) -> Spawned:
    """The pod and claim KubeSpawner builds for `user` choosing `profile` (None: the
    default, as when the hub starts a server through its API without options)."""
    config = kubespawner_config(chart_values(values), release=release, namespace=namespace)
    return asyncio.run(_spawn(config, user, profile))


@pytest.fixture
def kubespawner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """KubeSpawner loads a kubeconfig when it is built (kubespawner/clients.py,
    load_config); one that points nowhere will do, as nothing is ever sent."""
    if importlib.util.find_spec("kubespawner") is None:
        require(
            "jupyterhub-kubespawner",
            "Python module `kubespawner` is not importable (pip install -e '.[test]')",
        )
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "none", "user": {"token": "unused"}}],
                "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
                "current-context": "none",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    yield


# ------------------------------------------------------------------ the chart's placeholders


def chart_placeholder_pod(rendered: dict[str, Any], *, release: str = "jhub") -> dict[str, Any]:
    """The pod spec fields of the chart's user-placeholder StatefulSet that decide where
    it goes and what it holds, as templates/scheduling/user-placeholder/statefulset.yaml
    writes them. Quantities are the text the template prints."""
    values = chart_values(rendered)
    spec: dict[str, Any] = {}
    if get_config(values, "scheduling.podPriority.enabled"):  # lines 40-42
        spec["priorityClassName"] = PLACEHOLDER_PRIORITY.format(release=release)
    if get_config(values, "scheduling.userScheduler.enabled"):  # lines 43-45
        spec["schedulerName"] = USER_SCHEDULER.format(release=release)
    if get_config(values, "singleuser.nodeSelector"):  # lines 46-49
        spec["nodeSelector"] = get_config(values, "singleuser.nodeSelector")
    tolerations = get_config(values, "scheduling.userPods.tolerations") + get_config(
        values, "singleuser.extraTolerations"
    )
    if tolerations:  # lines 50-53
        spec["tolerations"] = tolerations
    affinity = _user_affinity(values)
    if affinity:  # lines 54-57
        spec["affinity"] = affinity
    resources = get_config(values, "scheduling.userPlaceholder.resources")
    # Lines 66-71: userPlaceholder.resources as they are, else the singleuser resources.
    spec["resources"] = _as_printed(resources) if resources else _singleuser_resources(values)
    return spec


def _user_affinity(values: dict[str, Any]) -> dict[str, Any]:
    """templates/scheduling/_scheduling-helpers.tpl lines 1-25 and 58-82 (node affinity;
    the tool sets no pod affinity)."""
    purpose = get_config(values, "scheduling.userPods.nodeAffinity.matchNodePurpose")
    required = [_node_purpose("user")] if purpose == "require" else []
    required += get_config(values, "singleuser.extraNodeAffinity.required")
    preferred = (
        [{"weight": 100, "preference": _node_purpose("user")}] if purpose == "prefer" else []
    )
    preferred += get_config(values, "singleuser.extraNodeAffinity.preferred")
    node: dict[str, Any] = {}
    if required:
        node["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": required}
    if preferred:
        node["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    return {"nodeAffinity": node} if node else {}


def _singleuser_resources(values: dict[str, Any]) -> dict[str, Any]:
    """templates/_helpers.tpl lines 325-363 ("jupyterhub.singleuser.resources"): CPU and
    memory printed with {{ }}, extra resources quoted."""
    found: dict[str, Any] = {}
    for section, kind, extra in (
        ("requests", "guarantee", "guarantees"),
        ("limits", "limit", "limits"),
    ):
        part = {
            name: go_print(get_config(values, f"singleuser.{name}.{kind}"))
            for name in ("cpu", "memory")
            if get_config(values, f"singleuser.{name}.{kind}")
        }
        extras = get_config(values, f"singleuser.extraResource.{extra}") or {}
        part.update({key: str(value) for key, value in extras.items()})
        if part:
            found[section] = part
    return found


def _as_printed(resources: dict[str, Any]) -> dict[str, Any]:
    """toYaml of a resources map: a number as Go's JSON encoder writes a float64 (no
    exponent between 1e-6 and 1e21, so the shortest decimal), a string as it is."""
    return {
        section: {name: _json_number(value) for name, value in part.items()}
        for section, part in resources.items()
    }


def _json_number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return str(value) if isinstance(value, int) else repr(value)


def go_print(value: Any) -> str:
    """What {{ value }} writes for a float64 Helm holds: fmt's %v, which is
    strconv.FormatFloat(value, 'g', -1, 64): the shortest digits, with an exponent of
    at least two digits when it is below -4 or 6 and more (so 1800000000 prints as
    1.8e+09, 0.05 as 0.05, 2 as 2). A string prints as it is."""
    if isinstance(value, str):
        return value
    number = Decimal(repr(float(value))).normalize()
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    power = len(digits) + exponent - 1
    if -4 <= power < 6:
        return format(number, "f")
    text = "".join(map(str, digits))
    mantissa = text[0] + (f".{text[1:]}" if len(text) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"


# ------------------------------------------------------------------ Kubernetes' reading


_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
}


def kubernetes_reads(quantity: Any) -> Decimal:
    """The amount Kubernetes reads from a quantity (apimachinery resource.Quantity: a
    decimal number, then a binary or decimal suffix or a decimal exponent). A test's
    own reading, independent of the tool's parser."""
    text = str(quantity) if not isinstance(quantity, float) else repr(quantity)
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * _SUFFIXES[suffix]
    return Decimal(text)  # plain digits, or an e/E exponent Decimal reads the same way


def kubespawner_reads_bytes(text: str) -> int:
    """How KubeSpawner's ByteSpecification (jupyterhub/traitlets.py at 5.5.0) reads a
    memory string: K, M, G, T as powers of 1024."""
    factors = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    return int(float(text[:-1]) * factors[text[-1]])


def ceil_bytes(amount: Decimal) -> int:
    return math.ceil(amount)
