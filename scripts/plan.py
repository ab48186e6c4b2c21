"""`invoke plan`: the offline dry run of `invoke deploy`.

Validates the environment, writes every values file and manifest that deploy
would use into build/<env>/ (secrets replaced by markers) and lists, stage by
stage, what deploy would do. It never opens a network connection.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from .core import known_objects, manifests, paths
from .core.console import Console
from .core.loading import Environment
from .core.settings import Settings
from .core.templates import placeholder_secrets, releases, render

STAGES = (
    "OpenStack",
    "Cluster access and fixes",
    "Kubernetes objects",
    "Helm releases (run in parallel)",
    "Verify",
)


@dataclass(frozen=True)
class Action:
    stage: str
    text: str


def cluster_actions(settings: Settings, env: str) -> list[Action]:
    cluster = settings.cluster
    stage = STAGES[0]
    if cluster.driver == "existing":
        return [
            Action(stage, f"none: driver 'existing' uses {cluster.kubeconfig or 'the kubeconfig'}")
        ]
    actions = [
        Action(
            stage,
            f"ensure cluster template {cluster.template!r} (driver {cluster.driver}, "
            f"image {cluster.image}, master {cluster.master_flavor}, "
            f"worker {cluster.worker_flavor})",
        ),
        Action(
            stage,
            f"ensure cluster {cluster.name!r} in cloud {settings.cloud!r}: {cluster.master_count} "
            f"master(s), default-worker autoscaled {cluster.min_workers}..{cluster.max_workers}; "
            f"wait up to {cluster.create_timeout_minutes} min for CREATE_COMPLETE",
        ),
    ]
    for group in cluster.all_node_groups():
        # Only the heat driver applies taints (kubelet flags); capi-helm never does.
        shown = group.taints if cluster.driver == "heat" else []
        taints = f", taints {', '.join(str(t) for t in shown)}" if shown else ""
        actions.append(
            Action(
                stage,
                f"ensure node group {group.name!r} (role {group.role}, flavor {group.flavor}, "
                f"{group.min_nodes}..{group.max_nodes} nodes{taints}), after the default "
                "workers, alongside the hub and monitoring releases",
            )
        )
    if cluster.diagnostic_lb:
        actions.append(
            Action(stage, f"ensure load balancer {cluster.name}_master_in (ports 22, 6443)")
        )
    actions += dns_actions(settings)
    return actions


def dns_actions(settings: Settings) -> list[Action]:
    hub = settings.hub
    if not (hub.dns.manage and hub.domain and hub.floating_ip):
        return []
    return [
        Action(
            STAGES[0],
            f"ensure DNS A record {hub.domain}. → {hub.floating_ip} (ttl {hub.dns.ttl}) in the "
            "project's Designate zone (hub.dns); wait for ACTIVE",
        )
    ]


def access_actions(settings: Settings, env: str) -> list[Action]:
    stage = STAGES[1]
    cluster = settings.cluster
    actions = []
    if cluster.driver != "existing":
        actions.append(Action(stage, f"write kubeconfig {paths.kubeconfig_file(env)} (mode 0600)"))
    if cluster.driver == "heat":
        scaler = known_objects.HEAT_AUTOSCALER
        for group in cluster.all_node_groups():
            actions.append(
                Action(
                    stage,
                    f"patch {scaler.namespace}/{scaler.name}: --nodes={group.min_nodes}:"
                    f"{group.max_nodes}:{group.name}",
                )
            )
    if cluster.gpu.enabled:
        plugins = " or ".join(
            f"{ref.namespace}/{ref.name}" for ref in known_objects.csi_node_plugins(cluster.driver)
        )
        actions.append(
            Action(
                stage,
                f"let {plugins} tolerate the GPU taint, unless it already does (GPU nodes)",
            )
        )
    actions.append(Action(stage, "check nodes Ready and kube-system pods healthy"))
    return actions


def object_actions(settings: Settings) -> list[Action]:
    stage = STAGES[2]
    actions = [
        Action(stage, f"apply {m['kind']} {_name(m)}")
        for _, m in manifests.planned(settings, placeholder_secrets())
    ]
    if settings.monitoring.enabled:
        actions += [
            Action(
                stage,
                f"apply ConfigMap {_name(m)} (Grafana dashboard, folder "
                f"{settings.monitoring.dashboards_folder!r})",
            )
            for m in dashboard_configmaps(settings)
        ]
        actions += [
            Action(stage, f"apply {m['kind']} {_name(m)}") for _, m in alerting_manifests(settings)
        ]
    if settings.hub.floating_ip:
        actions.append(
            Action(
                stage,
                f"check floating IP {settings.hub.floating_ip} exists and is free or on this hub",
            )
        )
    return actions


def release_actions(settings: Settings, build: Path) -> list[Action]:
    from .hub import placeholders

    stage = STAGES[3]
    actions = []
    for release in releases(settings):
        values = build / "values" / f"{release.template}.yaml"
        actions.append(
            Action(
                stage,
                f"helm upgrade --install {release.name} {release.chart.name} "
                f"--repo {release.chart.repo} --version {release.chart.version} "
                f"--namespace {release.namespace} --values {values} "
                "(skipped when the deployed values are equal)",
            )
        )
        if release.template == "jupyterhub":
            for m in placeholders.wanted(settings):
                profile = m["metadata"]["labels"][placeholders.PROFILE_LABEL]
                actions.append(
                    Action(
                        stage,
                        f"then apply StatefulSet {_name(m)} ({m['spec']['replicas']} placeholder "
                        f"pod(s) shaped like profile {profile}'s server, at the chart's "
                        "user-placeholder priority)",
                    )
                )
    blackbox = blackbox_release(settings)
    if blackbox is not None:
        chart = settings.monitoring.blackbox.chart
        actions.append(
            Action(
                stage,
                f"then helm upgrade --install {settings.monitoring.blackbox.release} {chart.name} "
                f"--repo {chart.repo} --version {chart.version} --namespace "
                f"{settings.monitoring.namespace} --values {build / 'values' / blackbox[0]} "
                "(the probe of the hub's public URL, after kube-prometheus-stack)",
            )
        )
    return actions


def verify_actions(settings: Settings) -> list[Action]:
    stage = STAGES[4]
    hub = settings.hub
    actions = [
        Action(stage, f"wait for hub and proxy pods in namespace {hub.namespace}"),
        Action(stage, f"GET {hub.url or 'http://<proxy-public address>/'}hub/api/health"),
    ]
    if hub.auth.type == "native":
        actions.append(
            Action(
                stage,
                "register the admin accounts through a port-forward to the hub pod as soon as "
                "it answers, before the hub's URL is printed (as hub.admins does)",
            )
        )
    if hub.https.mode == "letsencrypt":
        actions.append(
            Action(stage, "report the certificate; if none yet, `invoke hub.ssl-retry` is next")
        )
    return actions


def warnings(settings: Settings) -> list[str]:
    from .hub import placeholders
    from .hub.deploy import SUDO_WARNING

    hub = settings.hub
    found = []
    if hub.sudo:
        found.append(SUDO_WARNING)
    found += placeholders.held_idle(settings)
    if hub.https.mode == "off":
        found.append("hub.https.mode is off: passwords and tokens cross the network in clear")
    if hub.https.mode == "letsencrypt" and not hub.floating_ip:
        found.append(
            "hub.floating_ip is empty: the load balancer gets a random address, so the first "
            "Let's Encrypt order fails until DNS points at it"
        )
    if settings.monitoring.enabled and settings.monitoring.expose == "loadbalancer":
        found.append(
            "monitoring.expose is loadbalancer: Grafana and Prometheus get public addresses"
        )
    if hub.auth.type == "oauth" and not (hub.auth.oauth and hub.auth.oauth.allowed_groups):
        found.append("hub.auth.oauth.allowed_groups is empty: anyone who can sign in gets a server")
    return found


def actions_for(settings: Settings, env: str, build: Path) -> list[Action]:
    return [
        *cluster_actions(settings, env),
        *access_actions(settings, env),
        *object_actions(settings),
        *release_actions(settings, build),
        *verify_actions(settings),
    ]


def write_build(settings: Settings, build: Path) -> list[Path]:
    """Values and manifests with secret markers; the folder is replaced whole each time."""
    if build.exists():
        shutil.rmtree(build)
    written = []
    secrets = placeholder_secrets()
    for release in releases(settings):
        path = build / "values" / f"{release.template}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(release.template, settings, secrets).text, encoding="utf-8")
        written.append(path)
    found = manifests.planned(settings, secrets)
    found += [(f"statefulset-{m['metadata']['name']}.yaml", m) for m in hub_placeholders(settings)]
    if settings.monitoring.enabled:
        found += [
            (f"configmap-{m['metadata']['name']}.yaml", m) for m in dashboard_configmaps(settings)
        ]
    if settings.monitoring.enabled:
        found += alerting_manifests(settings, build.name)
    blackbox = blackbox_release(settings)
    if blackbox is not None:
        path = build / "values" / blackbox[0]
        path.write_text(yaml.safe_dump(blackbox[1], sort_keys=False), encoding="utf-8")
        written.append(path)
    for filename, manifest in found:
        path = build / "manifests" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
        written.append(path)
    return written


def alerting_manifests(
    settings: Settings, env: str = "ENV"
) -> list[tuple[str, manifests.Manifest]]:
    """Alertmanager's Secrets (secrets as markers) and the PrometheusRule, with file names."""
    from .monitoring import alerts, receivers

    found = [
        (f"secret-{m['metadata']['name']}.yaml", m)
        for m in receivers.manifests(settings, placeholder_secrets())
    ]
    found.append((f"prometheusrule-{alerts.RULE_OBJECT}.yaml", alerts.manifest(settings, env)))
    return found


def blackbox_release(settings: Settings) -> tuple[str, dict[str, object]] | None:
    """The blackbox exporter's values file name and values, when monitoring.deploy adds it."""
    from .monitoring import alerts, probe

    if not (settings.monitoring.enabled and alerts.probed(settings)):
        return None
    return f"{settings.monitoring.blackbox.chart.name}.yaml", probe.values(settings)


def hub_placeholders(settings: Settings) -> list[manifests.Manifest]:
    from .hub import placeholders

    return placeholders.wanted(settings)


def dashboard_configmaps(settings: Settings) -> list[manifests.Manifest]:
    from .monitoring.dashboards import dashboards_configmaps

    return dashboards_configmaps(settings)


def run(environment: Environment, ui: Console) -> list[Action]:
    settings = environment.settings
    build = paths.build_dir() / environment.name
    ui.heading(f"Plan for environment {environment.name!r} ({environment.config_path})")
    if environment.secrets is None:
        ui.print(
            f"  (no secrets file {environment.secrets_path}: fine for a plan; a real deploy "
            "needs one, made by `invoke config.init --env NAME`)"
        )
    written = write_build(settings, build)
    ui.print(f"  wrote {len(written)} files to {build}/ (secrets shown as «secret:NAME»)")
    actions = actions_for(settings, environment.name, build)
    for number, stage in enumerate(STAGES, start=1):
        ui.heading(f"{number}. {stage}")
        for action in (a for a in actions if a.stage == stage):
            ui.print(f"   → {action.text}")
    found = warnings(settings)
    if found:
        ui.heading("Warnings")
        for text in found:
            ui.warn(text)
    _list_placeholders(settings, ui)
    ui.print("\nNothing was changed: plan makes no network call.")
    return actions


def _list_placeholders(settings: Settings, ui: Console) -> None:
    """Documentation-only values: fine for a plan, refused by every task that deploys."""
    from .core.placeholders import find

    found = find(settings)
    if not found:
        return
    ui.heading(f"Placeholders ({len(found)}): replace them before deploy, which refuses them")
    for problem in found:
        ui.print(f"   · {problem}")


def _name(manifest: manifests.Manifest) -> str:
    meta = manifest["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if "namespace" in meta else str(meta["name"])
