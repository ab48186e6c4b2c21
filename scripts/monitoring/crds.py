"""kube-prometheus-stack's CRDs, brought to the chart version before the chart itself.

Helm installs the CRDs of a chart's `crds/` folder once and never upgrades them
(helm/helm v4.1.4 pkg/action/upgrade.go has no CRD step; helm docs "Custom Resource
Definitions"). kube-prometheus-stack puts its ten monitoring.coreos.com CRDs there
(charts/crds/crds/ in kube-prometheus-stack-88.5.3), so after a chart bump the new
Prometheus operator runs against the old CRDs. The chart's UPGRADE.md tells operators
to `kubectl apply --server-side` the new CRDs before every upgrade; this does the same
with `helm show crds` of the configured chart version and a server-side apply, forced as
the chart's own CRD upgrade job does (values.yaml crds.upgradeJob.forceConflicts: true:
"taking ownership from the manager that installed them (e.g. helm)").

It refuses, with the command to run, when another kube-prometheus-stack release in the
cluster owns the CRDs' operator (upgrading them would change that operator's ground),
and when the CRDs cannot be fetched or applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from ..core import known_objects, kube
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import OperationFailed
from ..core.helm import Helm
from ..core.releases import Plan, same_version
from ..core.settings import Settings

if TYPE_CHECKING:
    from pathlib import Path

    from kubernetes.client import ApiClient

FIELD_MANAGER = "jhub-openstack"
# Pods of the chart's operator carry app=<chart name>-operator and release=<release>
# (kube-prometheus-stack-88.5.3 templates/prometheus-operator/deployment.yaml).
OPERATOR_PODS = "app=kube-prometheus-stack-operator"
MARKER_CRD = "prometheuses.monitoring.coreos.com"


@dataclass(frozen=True)
class CrdChange:
    name: str
    live: str | None  # the live operator version, None when the CRD is missing
    wanted: str
    manifest: dict[str, Any]

    def describe(self) -> str:
        before = "missing" if self.live is None else (self.live or "unversioned")
        return f"{self.name} {before} → {self.wanted}"


def command(settings: Settings, kubeconfig: Path) -> str:
    chart = settings.monitoring.chart
    return (
        f"helm show crds {chart.name} --repo {chart.repo} --version {chart.version} | "
        f"kubectl --kubeconfig {kubeconfig} apply --server-side --force-conflicts -f -"
    )


def needed(api: ApiClient, settings: Settings, plan: Plan) -> str | None:
    """Why the CRDs must be brought up to date before this helm run, or None."""
    version = settings.monitoring.chart.version
    running = plan.deployed
    if plan.action == "upgrade" and running is not None:
        if same_version(running.chart_version, version):
            return None
        return f"chart {running.chart_version} → {version}"
    if plan.action in ("install", "upgrade") and _crd_version(api, MARKER_CRD) is not None:
        # Left behind by an earlier install (helm keeps CRDs on uninstall); helm would
        # skip them, so they would stay at the old operator's version.
        return "CRDs of an earlier install are still in the cluster"
    return None


def upgrade(
    api: ApiClient,
    helm: Helm,
    settings: Settings,
    *,
    kubeconfig: Path,
    ui: Console,
    changes: Changes,
    why: str,
) -> list[CrdChange]:
    """Apply the configured chart version's CRDs that differ from the live ones."""
    by_hand = command(settings, kubeconfig)
    other = _other_operator(api, settings)
    if other is not None:
        raise OperationFailed(
            f"the monitoring.coreos.com CRDs must move to chart "
            f"{settings.monitoring.chart.version} ({why}), but {other} runs a Prometheus "
            "operator on them too; not changing them under it",
            f"if that operator can take the new CRDs, apply them: `{by_hand}`; then re-run",
        )
    chart = settings.monitoring.chart
    try:
        text = helm.show_crds(chart.name, repo=chart.repo, version=chart.version)
    except OperationFailed as failure:
        raise OperationFailed(
            f"cannot read the CRDs of {chart.name} {chart.version}: {failure.cause}",
            f"apply them yourself: `{by_hand}`; then re-run",
        ) from None
    found = []
    for manifest in _crds(text):
        name = manifest["metadata"]["name"]
        wanted = _annotation(manifest)
        live = _crd_version(api, name)
        if live is not None and live == wanted and wanted:
            continue
        found.append(CrdChange(name, live, wanted or "chart's", manifest))
    if not found:
        ui.print(f"  CRDs already at chart {chart.version} ({why})")
        return found
    ui.print(f"  CRDs first ({why}), server-side, as the chart's upgrade notes say:")
    for change in found:

        def apply(change: CrdChange = change) -> None:
            try:
                kube.apply_crd(api, change.manifest, field_manager=FIELD_MANAGER)
            except OperationFailed as failure:
                raise OperationFailed(
                    f"applying CRD {change.name} failed: {failure.cause}",
                    f"apply the CRDs yourself: `{by_hand}`; then re-run",
                ) from None

        changes.make(f"apply CRD {change.describe()} (server-side, forced)", apply)
        if not changes.dry_run:
            ui.print(f"    applied CRD {change.describe()}")
    return found


def _crds(text: str) -> list[dict[str, Any]]:
    return [
        document
        for document in yaml.safe_load_all(text)
        if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition"
    ]


def _annotation(manifest: dict[str, Any]) -> str:
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(known_objects.PROMETHEUS_OPERATOR_VERSION_ANNOTATION, ""))


def _crd_version(api: ApiClient, name: str) -> str | None:
    """The live CRD's operator version ("" without the annotation), None when missing."""
    from kubernetes import client

    extensions = client.ApiextensionsV1Api(api)
    found = kube.read_or_none(
        f"read CRD {name}", lambda: extensions.read_custom_resource_definition(name)
    )
    if found is None:
        return None
    annotations = (found.metadata.annotations if found.metadata else None) or {}
    return str(annotations.get(known_objects.PROMETHEUS_OPERATOR_VERSION_ANNOTATION, ""))


def _other_operator(api: ApiClient, settings: Settings) -> str | None:
    from kubernetes import client

    core = client.AppsV1Api(api)
    listed = kube.call(
        "list Prometheus operators",
        lambda: core.list_deployment_for_all_namespaces(label_selector=OPERATOR_PODS),
    )
    for deployment in listed.items:
        labels = deployment.metadata.labels or {}
        namespace = deployment.metadata.namespace
        release = labels.get("release", "")
        mine = (release, namespace) == (
            settings.monitoring.release,
            settings.monitoring.namespace,
        )
        if not mine:
            return f"kube-prometheus-stack release {namespace}/{release or '?'}"
    return None
