"""Render helm_values/*.j2 from the validated settings and check the result parses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from jinja2 import Environment as Jinja
from jinja2 import FileSystemLoader, StrictUndefined

from .errors import OperationFailed
from .paths import ROOT
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
    """One KubeSpawner profile; the default profile inherits singleuser.* as is."""
    entry: dict[str, Any] = {
        "display_name": profile.display_name,
        "description": profile.description,
        "slug": profile.name,
    }
    # KubeSpawner merges dict overrides into singleuser.extraLabels (spawner.py
    # _apply_overrides); kube-state-metrics exports the label, and hub.usage reads it.
    labels = {"extra_labels": {PROFILE_LABEL: profile.name}}
    if profile.default:
        entry["default"] = True
        entry["kubespawner_override"] = {
            **labels,
            **({"image": profile.image} if profile.image else {}),
        }
        return entry
    override: dict[str, Any] = {
        **labels,
        "cpu_limit": profile.cpu.limit,
        "cpu_guarantee": profile.cpu.guarantee,
        "mem_limit": profile.memory.limit,
        "mem_guarantee": profile.memory.guarantee,
        "extra_resource_limits": {},
    }
    if profile.image:
        override["image"] = profile.image
    if profile.gpus:
        override["extra_resource_limits"] = {"nvidia.com/gpu": str(profile.gpus)}
        taint = settings.cluster.gpu.as_node_group().taints[0]
        override["tolerations"] = [
            {
                "key": taint.key,
                "operator": "Equal",
                "value": taint.value,
                "effect": taint.effect,
            }
        ]
    entry["kubespawner_override"] = override
    return entry


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


def yaml_block(data: Any, indent: int) -> str:
    """A structured value as an indented YAML block, starting on a new line."""
    dumped = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
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
