"""Install or update the NVIDIA GPU operator: namespace, PriorityClass workaround, release.

The seed's "Priority Class for GPU-operator" section: the operator's pods ask for
system-node-critical, which Kubernetes before 1.17 refuses outside kube-system, so
on such clusters (and on the legacy heat driver, which the seed ran) the operator
and its daemonsets get a user PriorityClass of the highest user value instead.

Like hub.deploy, the release is only upgraded when it is not `deployed`, runs another
chart version, or its values differ from the rendered ones, so a second run changes
nothing (core.releases); a release left pending by an interrupted helm is reported with
its history, and `--recover` rolls it back first.

On capi-helm clusters Magnum's platform add-ons already install the operator
(azimuth-cloud/capi-helm-charts cluster-addons: release nvidia-gpu-operator in
gpu-operator, on by default). The chart's cluster-scoped objects have fixed names
(ClusterRole gpu-operator), so a second release could not even install; the operator
found is used as it is, and said so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import known_objects, kube, manifests, releases, templates
from ..core.changes import Changes
from ..core.console import Console
from ..core.helm import Helm
from ..core.loading import Environment
from ..core.settings import Settings

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# The first release that admits system-node-critical pods in every namespace.
PRIORITY_CLASS_FIXED_IN = (1, 17)
HELM_TIMEOUT_SECONDS = 900
GPU_PRESENT_LABEL = known_objects.GPU_PRESENT_LABEL


@dataclass(frozen=True)
class PriorityDecision:
    use: bool
    reason: str


def kubernetes_version(api: ApiClient) -> tuple[int, int] | None:
    """The API server's (major, minor), or None when it will not say."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        info = client.VersionApi(api).get_code()
    except (ApiException, ValueError):
        # ValueError: an answer the client's model rejects (fields missing).
        return None
    # Managed clusters report minors such as "27+".
    major = re.match(r"\d+", str(info.major or ""))
    minor = re.match(r"\d+", str(info.minor or ""))
    if not major or not minor:
        return None
    return int(major.group()), int(minor.group())


def decide_priority_class(settings: Settings, version: tuple[int, int] | None) -> PriorityDecision:
    setting = settings.gpu.priority_class
    if setting is True:
        return PriorityDecision(True, "gpu.priority_class: true")
    if setting is False:
        return PriorityDecision(False, "gpu.priority_class: false")
    if settings.cluster.driver == "heat":
        return PriorityDecision(True, "auto: the heat driver's clusters need it")
    if version is None:
        return PriorityDecision(False, "auto: Kubernetes version unknown, assuming 1.17 or newer")
    shown = f"{version[0]}.{version[1]}"
    if version < PRIORITY_CLASS_FIXED_IN:
        return PriorityDecision(True, f"auto: Kubernetes {shown} is older than 1.17")
    return PriorityDecision(False, f"auto: Kubernetes {shown} allows system-node-critical")


def with_priority_class(settings: Settings, use: bool) -> Settings:
    """Settings whose priority_class is the decision taken against the live cluster."""
    if settings.use_priority_class == use:
        return settings
    gpu = settings.gpu.model_copy(update={"priority_class": use})
    return settings.model_copy(update={"gpu": gpu})


def foreign_operator(api: ApiClient, settings: Settings) -> str | None:
    """The release that owns the cluster's GPU operator when it is not ours, else None.

    Read from the helm ownership annotations of the chart's fixed-name ClusterRole
    (gpu-operator v26.7.0 templates/clusterrole.yaml; helm pkg/action/validate.go)."""
    from kubernetes import client

    role_ref = known_objects.GPU_OPERATOR_CLUSTER_ROLE
    rbac = client.RbacAuthorizationV1Api(api)
    role = kube.read_or_none(f"read {role_ref}", lambda: rbac.read_cluster_role(role_ref.name))
    if role is None:
        return None
    annotations = (role.metadata.annotations if role.metadata else None) or {}
    owner = annotations.get(known_objects.HELM_RELEASE_NAME_ANNOTATION)
    where = annotations.get(known_objects.HELM_RELEASE_NAMESPACE_ANNOTATION)
    if (owner, where) == (settings.gpu.release, settings.gpu.namespace):
        return None
    if not owner:
        return f"{role_ref} exists and belongs to no helm release"
    return f"helm release {where}/{owner}"


def deploy(
    environment: Environment,
    ui: Console,
    dry_run: bool,
    helm: Helm | None = None,
    recovery: releases.Recovery | None = None,
) -> None:
    settings = environment.settings
    gpu = settings.gpu
    changes = Changes(ui, dry_run)

    if not settings.gpu_enabled:
        with ui.step("GPU operator") as step:
            step.skipped("cluster.gpu.enabled is false and no enabled profile asks for GPUs")
        ui.summary()
        return

    api = kube.api_client(environment.kubeconfig)
    helm = helm or Helm(kubeconfig=environment.kubeconfig)

    owner = foreign_operator(api, settings)
    if owner is not None:
        with ui.step("GPU operator") as step:
            platform = (
                " (Magnum's capi-helm add-ons install it on every cluster)"
                if settings.cluster.driver == "capi-helm"
                else ""
            )
            step.unchanged(f"already installed as {owner}{platform}; not installing a second one")
        if gpu.driver.custom:
            ui.warn(
                f"gpu.driver.custom is true, but the operator of {owner} is not this tool's: "
                "its driver comes from that release's values"
            )
        ui.summary(
            [f"GPU nodes, driver and operator pods: invoke gpu.status --env {environment.name}"]
        )
        return

    with ui.step(f"Namespace {gpu.namespace}") as step:
        outcome = kube.ensure(api, manifests.namespace(gpu.namespace), changes)
        _mark(step, outcome, dry_run)

    decision = decide_priority_class(settings, _version_when_needed(api, settings))
    with ui.step(f"PriorityClass {gpu.priority_class_name}") as step:
        if decision.use:
            outcome = kube.ensure(api, manifests.priority_class(gpu.priority_class_name), changes)
            _mark(step, outcome, dry_run, decision.reason)
        else:
            step.skipped(f"not needed ({decision.reason})")

    _warn_about_nodes(api, settings, ui)

    effective = with_priority_class(settings, decision.use)
    secrets = environment.secrets or templates.placeholder_secrets()
    values = templates.render("gpu-operator", effective, secrets).values
    chart = gpu.chart
    wanted = releases.Release(
        gpu.release, gpu.namespace, chart.version, values, HELM_TIMEOUT_SECONDS
    )
    with ui.step(f"Release {gpu.release} ({chart.name} {chart.version})") as step:
        plan = releases.settle(
            helm,
            wanted,
            ui,
            changes,
            task=f"invoke gpu.deploy --env {environment.name}",
            recovery=recovery or releases.Recovery(),
        )
        if plan.action == "unchanged":
            step.unchanged(releases.unchanged_detail(plan, chart.version))
        else:
            changed = [c.path for c in plan.changes][:6]
            what = "install" if plan.action == "install" else f"upgrade ({plan.reason})"
            if changed:
                what += f" at {', '.join(changed)}"
            changes.make(
                f"helm {what} {gpu.release} from {chart.repo} (values in a private temp file)",
                lambda: helm.upgrade_install(
                    gpu.release,
                    chart.name,
                    repo=chart.repo,
                    version=chart.version,
                    namespace=gpu.namespace,
                    values=values,
                    timeout_seconds=HELM_TIMEOUT_SECONDS,
                ),
            )
            if dry_run:
                step.planned(what)
            else:
                step.done(what)

    lines = [
        f"GPU nodes, driver and operator pods: invoke gpu.status --env {environment.name}",
    ]
    if settings.cluster.driver == "heat":
        lines.append(
            "Cinder volumes on tainted GPU nodes (heat clusters): "
            f"invoke gpu.fix-csi --env {environment.name}"
        )
    if dry_run:
        lines.insert(0, f"dry run: {len(changes.made)} change(s) listed, none made")
    ui.summary(lines)


def _version_when_needed(api: ApiClient, settings: Settings) -> tuple[int, int] | None:
    # Only `auto` on a non-heat cluster depends on the version; don't ask otherwise.
    if settings.gpu.priority_class != "auto" or settings.cluster.driver == "heat":
        return None
    return kubernetes_version(api)


def _mark(step: Any, outcome: kube.Outcome, dry_run: bool, reason: str = "") -> None:
    suffix = f" ({reason})" if reason else ""
    if outcome == "unchanged":
        step.unchanged(f"exists{suffix}")
    elif dry_run:
        step.planned(f"would be {outcome}{suffix}")
    else:
        step.done(f"{outcome}{suffix}")


def _warn_about_nodes(api: ApiClient, settings: Settings, ui: Console) -> None:
    """A custom Fedora driver only fits Fedora CoreOS GPU nodes of the same release.

    The operator derives the image tag from each node's os-release, so a mismatch
    ends in ImagePullBackOff on that node; say so now, with the command that helps.
    """
    driver = settings.gpu.driver
    if not driver.custom:
        return
    from kubernetes import client

    core = client.CoreV1Api(api)
    nodes = kube.call(
        "list GPU nodes",
        lambda: core.list_node(label_selector=f"{GPU_PRESENT_LABEL}=true"),
    )
    for node in nodes.items:
        info = node.status.node_info if node.status else None
        image = str(info.os_image if info else "")
        match = re.search(r"Fedora CoreOS (\d+)", image)
        name = node.metadata.name
        if match is None:
            ui.warn(
                f"GPU node {name} runs {image or 'an unknown OS'}, but gpu.driver.custom is true "
                "(a Fedora CoreOS driver); set gpu.driver.custom: false to let the operator "
                "pick its own driver for this OS"
            )
        elif match.group(1) != driver.fedora_version:
            ui.warn(
                f"GPU node {name} runs Fedora CoreOS {match.group(1)}, the driver image is for "
                f"Fedora {driver.fedora_version}; the operator will look for "
                f"{driver.registry}/{driver.image}:{driver.version}-fedora{match.group(1)}: "
                f"build it with `invoke gpu.build-driver --fedora-version {match.group(1)}`"
            )
