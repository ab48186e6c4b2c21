"""Kubernetes objects the tool creates itself, built as data (never templated text)."""

from __future__ import annotations

from typing import Any

from . import known_objects
from .settings import Secrets, Settings, Storage
from .templates import GRAFANA_SECRET, METRICS_SECRET

Manifest = dict[str, Any]
MANAGED_BY = {"app.kubernetes.io/managed-by": "jhub-openstack"}
# The hub's NetworkPolicy admits pods (and, with interNamespaceAccessLabels: accept,
# namespaces) carrying this label; Prometheus needs both to scrape /hub/metrics.
HUB_ACCESS = {"hub.jupyter.org/network-access-hub": "true"}
# A user PriorityClass may go up to one billion; system classes sit above it.
GPU_PRIORITY_VALUE = 1_000_000_000


def namespace(name: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
    }


def monitoring_namespace(settings: Settings) -> Manifest:
    manifest = namespace(settings.monitoring.namespace)
    manifest["metadata"]["labels"].update(HUB_ACCESS)
    return manifest


def storage_class(storage: Storage, *, default: bool | None = None) -> Manifest:
    """The class for user volumes; `default`: annotate it the cluster default (None: only
    when the config says true, the answer for `auto` needs the live cluster)."""
    if default is None:
        default = storage.default_class is True
    parameters: dict[str, str] = {}
    if storage.availability_zone:
        parameters["availability"] = storage.availability_zone
    if storage.volume_type:
        parameters["type"] = storage.volume_type
    annotations = {known_objects.DEFAULT_CLASS_ANNOTATION: "true"} if default else {}
    manifest: Manifest = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": storage.class_name,
            "labels": dict(MANAGED_BY),
            "annotations": annotations,
        },
        "provisioner": storage.provisioner,
        "reclaimPolicy": storage.reclaim_policy,
        "allowVolumeExpansion": True,
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    if parameters:
        manifest["parameters"] = parameters
    return manifest


def priority_class(name: str) -> Manifest:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
        "value": GPU_PRIORITY_VALUE,
        "globalDefault": False,
        "description": "NVIDIA GPU operator pods, on clusters that keep system-node-critical "
        "to kube-system.",
    }


def secret(name: str, namespace_name: str, data: dict[str, str]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace_name, "labels": dict(MANAGED_BY)},
        "stringData": dict(data),
    }


def grafana_admin_secret(settings: Settings, secrets: Secrets) -> Manifest:
    return secret(
        GRAFANA_SECRET,
        settings.monitoring.namespace,
        {
            "admin-user": settings.monitoring.grafana_admin_user,
            "admin-password": secrets.grafana_admin_password,
        },
    )


def metrics_token_secret(settings: Settings, secrets: Secrets) -> Manifest:
    # Lives beside Prometheus: a ServiceMonitor reads secrets from its own namespace.
    return secret(METRICS_SECRET, settings.monitoring.namespace, {"token": secrets.metrics_token})


def planned(settings: Settings, secrets: Secrets) -> list[tuple[str, Manifest]]:
    """What `deploy` applies before the Helm releases, in order, with file names."""
    found: list[tuple[str, Manifest]] = [
        (f"namespace-{settings.hub.namespace}.yaml", namespace(settings.hub.namespace))
    ]
    if settings.hub.storage.create_class:
        found.append(
            (
                f"storageclass-{settings.hub.storage.class_name}.yaml",
                storage_class(settings.hub.storage),
            )
        )
    if settings.monitoring.enabled:
        found += [
            (f"namespace-{settings.monitoring.namespace}.yaml", monitoring_namespace(settings)),
            (f"secret-{GRAFANA_SECRET}.yaml", grafana_admin_secret(settings, secrets)),
            (f"secret-{METRICS_SECRET}.yaml", metrics_token_secret(settings, secrets)),
        ]
    if settings.gpu_enabled:
        found.append(
            (f"namespace-{settings.gpu.namespace}.yaml", namespace(settings.gpu.namespace))
        )
        if settings.use_priority_class:
            name = settings.gpu.priority_class_name
            found.append((f"priorityclass-{name}.yaml", priority_class(name)))
    return found
