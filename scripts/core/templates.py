"""Render helm_values/*.j2 from the validated settings and check the result parses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from jinja2 import Environment as Jinja
from jinja2 import FileSystemLoader, StrictUndefined

from . import user_pods
from .errors import OperationFailed
from .gpu_nodes import GPU_RESOURCE
from .paths import ROOT
from .quantities import cores
from .settings import Chart, Profile, Secrets, Settings

TEMPLATES = ROOT / "helm_values"
ACME_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
ACME_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
GRAFANA_SECRET = "grafana-admin"
METRICS_SECRET = "hub-metrics-token"
FOLDER_ANNOTATION = "grafana_folder"
# The user hub.health starts and stops a server for; nobody may sign in as it.
HEALTH_CHECK_USER = "jhub-health-check"
# The pod label naming a user server's profile (its slug).
PROFILE_LABEL = "hub.jupyter.org/profile"
SECRET_KEYS = tuple(Secrets.model_fields)


def marker(key: str) -> str:
    """What a secret looks like in offline output: its name, never its value."""
    return f"«secret:{key}»"


def placeholder_secrets() -> Secrets:
    """Stand-ins that satisfy the model, for rendering without a secrets file."""
    values: dict[str, Any] = {key: marker(key) for key in SECRET_KEYS}
    values["native_admin_passwords"] = {}
    return Secrets.model_construct(None, **values)


@dataclass(frozen=True)
class Rendered:
    name: str
    text: str
    values: dict[str, Any]


def image_name(reference: str) -> str:
    return _split_image(reference)[0]


def image_tag(reference: str) -> str:
    return _split_image(reference)[1]


def _split_image(reference: str) -> tuple[str, str]:
    head, _, tail = reference.rpartition(":")
    if head and "/" not in tail:
        return head, tail
    return reference, "latest"


def profile_entry(profile: Profile, settings: Settings) -> dict[str, Any]:
    """One KubeSpawner profile, with every trait any profile changes set explicitly.

    KubeSpawner applies a profile's kubespawner_override on top of the spawner's
    traits (kubespawner/spawner.py at 7.0.0, _apply_overrides and _load_profile), and
    JupyterHub keeps a spawner whose start failed (jupyterhub/user.py, User.stop): a
    user who retries with another profile would keep what the failed one set. So each
    profile sets them all; a GPU limit is removed with None (recursive_update in
    kubespawner/utils.py deletes a key set to None).
    """
    pod = user_pods.shape(profile, settings)
    entry: dict[str, Any] = {
        "display_name": profile.display_name,
        "description": profile.description,
        "slug": profile.name,
    }
    if profile.default:
        entry["default"] = True
    entry["kubespawner_override"] = {
        **kubespawner_override(pod),
        # KubeSpawner merges dict overrides into singleuser.extraLabels (spawner.py
        # _apply_overrides); kube-state-metrics exports the label, and hub.usage reads it.
        "extra_labels": {PROFILE_LABEL: profile.name},
    }
    return entry


def kubespawner_override(pod: user_pods.PodShape) -> dict[str, Any]:
    """KubeSpawner's traits for one profile's pod, in the units it and Kubernetes share."""
    return {
        "image": pod.image,
        "default_url": pod.default_url,
        "cpu_guarantee": cores(pod.cpu_guarantee),
        "cpu_limit": cores(pod.cpu_limit),
        "mem_guarantee": pod.memory_guarantee,
        "mem_limit": pod.memory_limit,
        "extra_resource_limits": pod.extra_resource_limits() or {GPU_RESOURCE: None},
        "tolerations": pod.tolerations(),
        "node_affinity_required": list(pod.node_affinity_required),
    }


def singleuser_shape(settings: Settings) -> dict[str, Any]:
    """singleuser.* for the default profile: the spawner's starting point and what the
    chart's placeholders and image pullers read (templates/scheduling/user-placeholder/
    statefulset.yaml, templates/image-puller/_helpers-daemonset.tpl at 4.4.0)."""
    pod = user_pods.default_shape(settings)
    return {
        "defaultUrl": pod.default_url,
        "image": {"name": image_name(pod.image), "tag": image_tag(pod.image)},
        "cpu": {"limit": cores(pod.cpu_limit), "guarantee": cores(pod.cpu_guarantee)},
        "memory": {"limit": pod.memory_limit, "guarantee": pod.memory_guarantee},
        "extraResource": {"limits": pod.extra_resource_limits()},
        "extraTolerations": list(pod.extra_tolerations),
        "extraNodeAffinity": {"required": list(pod.node_affinity_required)},
    }


def placeholder_resources(settings: Settings) -> dict[str, Any]:
    """scheduling.userPlaceholder.resources: the default profile's requests and limits in
    the numbers KubeSpawner writes. Set, the chart uses them as they are (statefulset.yaml
    lines 66-68) instead of printing singleuser.memory into the template (lines 69-71),
    where Helm would write a large number of bytes in exponent form."""
    pod = user_pods.default_shape(settings)
    return {"requests": pod.requests(), "limits": pod.limits()}


def context(settings: Settings, secrets: Secrets) -> dict[str, Any]:
    hub = settings.hub
    oauth = hub.auth.oauth
    scopes = list(oauth.scopes) if oauth else []
    if oauth and oauth.groups_scope and oauth.groups_scope not in scopes:
        scopes.append(oauth.groups_scope)
    return {
        "settings": settings,
        "hub": hub,
        "monitoring": settings.monitoring,
        "gpu": settings.gpu,
        "secrets": secrets,
        "default_profile": hub.default_profile,
        "profile_list": [profile_entry(p, settings) for p in hub.enabled_profiles],
        "singleuser_shape": singleuser_shape(settings),
        "placeholder_resources": placeholder_resources(settings),
        # The chart creates its placeholder PriorityClass only with userPlaceholder
        # enabled; the other profiles' placeholders need it too.
        "chart_placeholders": hub.placeholders.enabled or user_pods.placeholder_count(settings) > 0,
        "core_pod_spec": {"affinity": user_pods.core_pod_affinity()},
        "acme_server": ACME_STAGING if hub.https.staging else ACME_PRODUCTION,
        "oauth_callback_url": f"https://{hub.domain}/hub/oauth_callback",
        "oauth_scopes": scopes,
        "grafana_secret": GRAFANA_SECRET,
        "metrics_secret": METRICS_SECRET,
        "folder_annotation": FOLDER_ANNOTATION,
        "health_check_user": HEALTH_CHECK_USER,
        "hub_metrics_path": "/hub/metrics",
        "service_type": (
            "LoadBalancer" if settings.monitoring.expose == "loadbalancer" else "ClusterIP"
        ),
        "storage_class": hub.storage.class_name,
        "use_priority_class": settings.use_priority_class,
        "monitoring_release": settings.monitoring.release,
    }


class _NoAliases(yaml.SafeDumper):
    """Writes a value that appears twice twice, not as an &anchor and *alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def yaml_block(data: Any, indent: int) -> str:
    """A structured value as an indented YAML block, starting on a new line."""
    dumped = yaml.dump(data, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=100)
    pad = " " * indent
    return "\n" + "".join(f"{pad}{line}\n" for line in dumped.splitlines()).rstrip("\n")


def _jinja() -> Jinja:
    jinja = Jinja(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    jinja.policies["json.dumps_kwargs"] = {"sort_keys": False, "ensure_ascii": False}
    jinja.globals.update(image_name=image_name, image_tag=image_tag)
    jinja.filters["yaml_block"] = yaml_block
    return jinja


def render(chart: str, settings: Settings, secrets: Secrets) -> Rendered:
    """Render helm_values/<chart>.yaml.j2; a result that is not a YAML mapping is a bug."""
    text = _jinja().get_template(f"{chart}.yaml.j2").render(**context(settings, secrets))
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise OperationFailed(
            f"helm_values/{chart}.yaml.j2 rendered invalid YAML: {error}",
            "this is a bug in the template; please report it with the config that caused it",
        ) from None
    if not isinstance(values, dict):
        raise OperationFailed(f"helm_values/{chart}.yaml.j2 did not render a mapping")
    return Rendered(chart, text, values)


@dataclass(frozen=True)
class Release:
    """One Helm release: its values template (helm_values/<template>.yaml.j2) and chart."""

    template: str
    name: str
    namespace: str
    chart: Chart


def releases(settings: Settings) -> list[Release]:
    """The releases this environment installs, in the order they are listed."""
    hub, monitoring, gpu = settings.hub, settings.monitoring, settings.gpu
    found = [Release("jupyterhub", hub.release, hub.namespace, hub.chart)]
    if monitoring.enabled:
        found.append(
            Release(
                "kube-prometheus-stack", monitoring.release, monitoring.namespace, monitoring.chart
            )
        )
    if settings.gpu_enabled:
        found.append(Release("gpu-operator", gpu.release, gpu.namespace, gpu.chart))
    return found
