"""Dashboards as code: build dashboards/*.json, and ship them as sidecar ConfigMaps.

`build_all` needs grafana-foundation-sdk (a development dependency); shipping
reads the committed JSON only, so deploying needs nothing beyond the runtime
dependencies. Grafana's dashboard sidecar picks up every ConfigMap labelled
grafana_dashboard: "1" and files it under the folder its annotation names.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import kube
from ..core.changes import Changes
from ..core.errors import OperationFailed
from ..core.manifests import MANAGED_BY, Manifest
from ..core.paths import ROOT
from ..core.settings import Settings
from ..core.templates import FOLDER_ANNOTATION

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

DASHBOARD_DIR = ROOT / "dashboards"
NAMES = ("jupyterhub", "gpus", "cluster")
SIDECAR_LABEL = {"grafana_dashboard": "1"}
CONFIGMAP_PREFIX = "jhub-dashboard-"
SDK_HINT = "install the development dependencies: pip install -e '.[test]'"


def builders() -> dict[str, Callable[[], dict[str, Any]]]:
    try:
        from . import cluster_dashboard, gpu_dashboard, jupyterhub_dashboard
    except ImportError as error:
        raise OperationFailed(
            f"cannot build dashboards: {error}", f"grafana-foundation-sdk is needed; {SDK_HINT}"
        ) from None
    return {
        "jupyterhub": jupyterhub_dashboard.build,
        "gpus": gpu_dashboard.build,
        "cluster": cluster_dashboard.build,
    }


@contextmanager
def classic_schema() -> Iterator[None]:
    # The SDK nudges towards the v2 dashboard resource, but the sidecar's file
    # provisioning reads the classic JSON model, so the nudge is noise here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Prefer using dashboardv2", DeprecationWarning)
        yield


def to_text(dashboard: dict[str, Any]) -> str:
    """The committed form: stable key order, so a rebuild without changes is byte-equal."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def build_all() -> dict[str, str]:
    with classic_schema():
        return {name: to_text(build()) for name, build in builders().items()}


def path_of(name: str, directory: Path = DASHBOARD_DIR) -> Path:
    return directory / f"{name}.json"


@dataclass(frozen=True)
class Rebuilt:
    name: str
    path: Path
    changed: bool


def write(directory: Path = DASHBOARD_DIR, *, dry_run: bool = False) -> list[Rebuilt]:
    """Rebuild every dashboard; write only the files whose content changes."""
    results = []
    for name, text in build_all().items():
        path = path_of(name, directory)
        changed = not path.exists() or path.read_text(encoding="utf-8") != text
        if changed and not dry_run:
            directory.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        results.append(Rebuilt(name, path, changed))
    return results


def committed(directory: Path = DASHBOARD_DIR) -> dict[str, str]:
    """The dashboards as committed, by name; a missing file is a broken checkout."""
    found = {}
    for name in NAMES:
        path = path_of(name, directory)
        if not path.is_file():
            raise OperationFailed(
                f"{path} is missing",
                "restore it from git, or rebuild with `invoke monitoring.dashboards --build`",
            )
        text = path.read_text(encoding="utf-8")
        try:
            json.loads(text)
        except ValueError as error:
            raise OperationFailed(
                f"{path} is not valid JSON ({error})",
                "rebuild it with `invoke monitoring.dashboards --build`",
            ) from None
        found[name] = text
    return found


def configmap(name: str, text: str, settings: Settings) -> Manifest:
    monitoring = settings.monitoring
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{CONFIGMAP_PREFIX}{name}",
            "namespace": monitoring.namespace,
            "labels": {**MANAGED_BY, **SIDECAR_LABEL},
            "annotations": {FOLDER_ANNOTATION: monitoring.dashboards_folder},
        },
        "data": {f"{name}.json": text},
    }


def dashboards_configmaps(settings: Settings, directory: Path = DASHBOARD_DIR) -> list[Manifest]:
    """One ConfigMap per committed dashboard, in the monitoring namespace and folder."""
    return [configmap(name, text, settings) for name, text in committed(directory).items()]


def apply(
    api: ApiClient, settings: Settings, changes: Changes, directory: Path = DASHBOARD_DIR
) -> dict[str, kube.Outcome]:
    """Create or update the dashboard ConfigMaps; Grafana reloads them without a restart."""
    return {
        manifest["metadata"]["name"]: kube.ensure(api, manifest, changes)
        for manifest in dashboards_configmaps(settings, directory)
    }
