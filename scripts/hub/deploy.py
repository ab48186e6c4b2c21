"""hub.deploy: the seed's "Deploying Jupyter hub", as one repeatable command.

1. the floating IP: allocated and free, or already on this hub's load balancer;
2. the storage class for user volumes (Cinder CSI) and the hub's namespace; it is made
   the cluster default only when the cluster has none (capi-helm clusters come with
   one), and the run says which class user volumes and the hub database get;
3. the Let's Encrypt certificate put back from the backup hub.uninstall made;
4. the release compared with the config (core.releases): its last revision deployed,
   the configured chart version, equal values means no upgrade at all, so the hub is
   not restarted; a release left pending by an interrupted helm is shown with its
   history and, with --recover, rolled back first;
5. otherwise the changed keys (secrets masked), a warning about the restart, and
   `helm upgrade --install --wait`;
6. the placeholders of profiles other than the default (placeholders.py);
7. the hub and proxy pods ready; with native sign-in, the admin accounts registered
   at once through a port-forward to the hub pod (hub_tunnel.py), before the hub is
   public, so nobody else can take an admin name first;
8. the load balancer's address, where to go next.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import requests

from ..core import (
    cloud,
    helm,
    known_objects,
    kube,
    manifests,
    paths,
    releases,
    templates,
    values_diff,
)
from ..core.changes import Changes
from ..core.console import Console, Step
from ..core.errors import OperationFailed
from ..core.loading import Environment
from ..core.prompts import Ask, confirm_interruption
from ..core.waiting import Clock, wait_until
from . import admins, floating_ip, hub_tunnel, placeholders
from .hub_web import HubWeb
from .tls import backup as tls_backup
from .urls import authorize_url, public_url

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

HUB_PODS = "component=" + known_objects.Z2JH_HUB_COMPONENT + ",release={release}"
PROXY_PODS = "component=" + known_objects.Z2JH_PROXY_COMPONENT + ",release={release}"
RESTART_WARNING = "hub restarts, about a minute of downtime; running user servers keep running"
SUDO_WARNING = (
    "hub.sudo is true: every user gets passwordless sudo (root) in their server "
    "(GRANT_SUDO, started as root, privilege escalation allowed); they can change "
    "anything in their container and read whatever is mounted into it"
)
# The load balancer comes after the pods; Octavia takes a few minutes to build one.
LOAD_BALANCER_TIMEOUT = 600
# The hub pod is ready when this starts; its API answers within seconds.
HUB_ANSWER_TIMEOUT = 120


@dataclass
class Options:
    dry_run: bool = False
    yes: bool = False
    ask: Ask | None = None
    clock: Clock | None = None
    # How to reach the hub pod's own port (tests replace the Kubernetes stream).
    reach_hub: Callable[[ApiClient, str, str], AbstractContextManager[str]] = hub_tunnel.tunnel
    recovery: releases.Recovery = field(default_factory=releases.Recovery)


@dataclass
class Outcome:
    """What the run did, for the summary and for tests."""

    upgraded: bool = False
    skipped_reason: str = ""
    address: str | None = None
    lines: list[str] = field(default_factory=list)


def run(environment: Environment, ui: Console, options: Options) -> Outcome:
    settings, secrets = environment.settings, environment.secrets
    assert secrets is not None, "hub.deploy loads the environment with its secrets"
    hub = settings.hub
    changes = Changes(ui, dry_run=options.dry_run)
    outcome = Outcome()
    _warn_about_risky_settings(environment, ui)

    # Read-only checks first: a problem stops the run before anything is changed.
    with ui.step(f"floating IP {hub.floating_ip or '(none configured)'}") as step:
        if hub.floating_ip is None:
            step.skipped("the load balancer gets an address from the pool")
        elif settings.cluster.driver == "existing":
            step.skipped("driver 'existing': not checked in OpenStack")
        else:
            state = floating_ip.check(cloud.connect(settings), settings)
            step.unchanged(state.detail)

    api = kube.api_client(environment.kubeconfig)
    _ensure_storage_class(api, environment, ui, changes)
    with ui.step(f"namespace {hub.namespace}") as step:
        _report(step, kube.ensure(api, manifests.namespace(hub.namespace), changes))

    if hub.https.mode == "letsencrypt":
        with ui.step("Let's Encrypt certificate") as step:
            backup = paths.tls_backup_file(environment.name)
            restored = tls_backup.restore(api, hub.namespace, backup, changes)
            if restored == "restored":
                step.done(f"restored from {backup}; no new certificate will be ordered")
            else:
                step.unchanged(
                    "already in the cluster" if restored == "present" else "no backup to restore"
                )

    client = helm.Helm(kubeconfig=environment.kubeconfig)
    wanted = values_diff.normalised(templates.render("jupyterhub", settings, secrets).values)
    spec = releases.Release(
        hub.release, hub.namespace, hub.chart.version, wanted, hub.upgrade_timeout_minutes * 60
    )
    with ui.step(f"compare values with release {hub.release}") as step:
        plan = releases.settle(
            client,
            spec,
            ui,
            changes,
            task=f"invoke hub.deploy --env {environment.name}",
            recovery=options.recovery,
            normalise=values_diff.normalised,
        )
        reason: str | None = None
        if plan.action == "unchanged":
            step.unchanged("unchanged, hub not restarted")
            outcome.skipped_reason = "unchanged"
        else:
            reason = plan.reason
            step.done(reason)
    for line in values_diff.summary(plan.changes):
        ui.print(f"      {line}")

    if reason is not None:
        proceed = True
        if plan.action != "install":
            ui.warn(RESTART_WARNING)
            proceed = options.dry_run or confirm_interruption(
                f"Upgrade {hub.release} now?", yes=options.yes, ask=options.ask
            )
        if not proceed:
            ui.print("Not upgraded; nothing was changed in the release.")
            outcome.skipped_reason = "declined"
            return outcome
        chart = hub.chart
        with ui.step(f"helm upgrade --install {hub.release} ({chart.name} {chart.version})"):
            changes.make(
                f"helm upgrade --install {hub.release} {chart.name} {chart.version} "
                f"in {hub.namespace} (values in a 0600 temporary file)",
                lambda: client.upgrade_install(
                    hub.release,
                    chart.name,
                    repo=chart.repo,
                    version=chart.version,
                    namespace=hub.namespace,
                    values=wanted,
                    wait=True,
                    timeout_seconds=hub.upgrade_timeout_minutes * 60,
                ),
            )
            outcome.upgraded = not options.dry_run

    with ui.step("placeholders of other profiles") as step:
        _report_placeholders(step, placeholders.ensure_all(api, settings, changes))

    if options.dry_run:
        if hub.auth.type == "native":
            ui.print(
                "      would register the admin accounts through a port-forward to the hub "
                "pod, once it is ready"
            )
        ui.summary(["dry run: nothing was changed"])
        return outcome

    timeout = hub.upgrade_timeout_minutes * 60
    with ui.step("hub and proxy ready") as step:
        if not outcome.upgraded:
            step.unchanged("running")
        for what, selector in (("the hub pod", HUB_PODS), ("the proxy pod", PROXY_PODS)):
            with ui.waiting(f"waiting for {what}"):
                kube.wait_for_pods(
                    api,
                    hub.namespace,
                    selector.format(release=hub.release),
                    what=what,
                    timeout=timeout,
                    clock=options.clock,
                )

    admin_lines = _register_admins(environment, ui, api, options)

    with ui.step("load balancer address") as step:
        outcome.address = _wait_for_address(api, environment, options.clock)
        if hub.floating_ip and outcome.address != hub.floating_ip:
            ui.warn(
                f"the load balancer has {outcome.address}, not hub.floating_ip {hub.floating_ip}; "
                "see `invoke lb.doctor`"
            )
        if outcome.upgraded:
            step.done(outcome.address)
        else:
            step.unchanged(outcome.address)

    outcome.lines = _next_steps(environment, outcome.address) + admin_lines
    ui.summary(outcome.lines)
    return outcome


def _report(step: Step, result: kube.Outcome) -> None:
    if result == "unchanged":
        step.unchanged()
    else:
        step.done(result)


def _report_placeholders(step: Step, found: dict[str, placeholders.Outcome]) -> None:
    if not found:
        step.skipped("none configured")
    elif all(outcome == "unchanged" for outcome in found.values()):
        step.unchanged(", ".join(found))
    else:
        step.done(", ".join(f"{name} {outcome}" for name, outcome in found.items()))


def _register_admins(
    environment: Environment, ui: Console, api: ApiClient, options: Options
) -> list[str]:
    """Native sign-in: the configured admins signed up the moment the hub answers."""
    hub = environment.settings.hub
    if hub.auth.type != "native":
        return []
    with options.reach_hub(api, hub.namespace, hub.release) as base:
        with ui.waiting("waiting for the hub to answer on its own port"):
            wait_until(
                lambda: _answers(base),
                what=f"the hub's API through a port-forward to its pod ({base}hub/api/health)",
                timeout=HUB_ANSWER_TIMEOUT,
                remedy=f"see `invoke hub.status --env {environment.name}`, then run "
                f"`invoke hub.admins --env {environment.name}` at once",
                clock=options.clock,
            )
        report = admins.run(environment, ui, HubWeb(base), dry_run=False, summary=False)
    lines = []
    if report.registered:
        lines.append(
            f"admins registered now: {', '.join(report.registered)} (passwords: "
            f"native_admin_passwords in {environment.secrets_path})"
        )
    if report.existing:
        lines.append(f"admins already registered: {', '.join(report.existing)}")
    return lines


def _answers(base: str) -> bool | None:
    try:
        response = requests.get(f"{base}hub/api/health", timeout=10)
    except requests.RequestException:
        return None
    return True if response.status_code == 200 else None


def _warn_about_risky_settings(environment: Environment, ui: Console) -> None:
    hub = environment.settings.hub
    if hub.sudo:
        ui.warn(SUDO_WARNING)
    if hub.https.mode == "off":
        ui.warn("hub.https.mode is off: passwords and tokens cross the network unencrypted")
    native = hub.auth.native
    if hub.auth.type == "native" and native is not None and native.open_signup:
        ui.warn("hub.auth.native.open_signup is true: anyone who signs up can use the hub")


def _ensure_storage_class(
    api: ApiClient, environment: Environment, ui: Console, changes: Changes
) -> None:
    """The class for user volumes, default only when the cluster has no default yet."""
    storage = environment.settings.hub.storage
    others = [name for name in kube.default_storage_classes(api) if name != storage.class_name]
    if not storage.create_class:
        with ui.step(f"storage class {storage.class_name}") as step:
            if storage.class_name not in kube.storage_class_names(api):
                raise OperationFailed(
                    f"StorageClass {storage.class_name} (hub.storage.class_name) does not exist "
                    "and hub.storage.create_class is false: user volumes would stay Pending",
                    "set hub.storage.class_name to one of `kubectl get storageclass`, or "
                    "create_class: true",
                )
            step.unchanged("exists (not managed here: hub.storage.create_class is false)")
    else:
        setting = storage.default_class
        make_default = setting is True or (setting == "auto" and not others)
        with ui.step(f"storage class {storage.class_name}") as step:
            manifest = manifests.storage_class(storage, default=make_default)
            _report(step, kube.ensure(api, manifest, changes))
        if setting is True and others:
            ui.warn(
                f"hub.storage.default_class is true, but {', '.join(others)} is a default "
                "StorageClass too; claims without a class get the newest of them"
            )
    cluster_default = (
        storage.class_name
        if storage.create_class and (storage.default_class is True or not others)
        else (others[0] if others else "none (they stay Pending)")
    )
    if storage.create_class and storage.default_class == "auto" and others:
        why = f"{others[0]} is the cluster default already, so {storage.class_name} is not made one"
        ui.print(f"      {why}")
    ui.print(
        f"      user volumes: StorageClass {storage.class_name} "
        "(singleuser.storage.dynamic.storageClass); claims without a class, like the hub "
        f"database's {known_objects.Z2JH_HUB_DB_CLAIM}: {cluster_default}"
    )


def _wait_for_address(api: ApiClient, environment: Environment, clock: Clock | None) -> str:
    namespace = environment.settings.hub.namespace
    return wait_until(
        lambda: kube.load_balancer_address(api, namespace, floating_ip.PROXY_SERVICE),
        what=f"an external address on Service {namespace}/{floating_ip.PROXY_SERVICE}",
        timeout=LOAD_BALANCER_TIMEOUT,
        remedy="see `invoke lb.doctor` (a stuck Octavia load balancer is the usual cause)",
        clock=clock,
    )


def _next_steps(environment: Environment, address: str) -> list[str]:
    hub = environment.settings.hub
    lines = [f"hub: {public_url(environment.settings, address)}", f"load balancer: {address}"]
    if hub.auth.type == "native":
        lines.append(f"approve sign-ups: {authorize_url(environment.settings, address)}")
    if hub.https.mode == "letsencrypt":
        lines.append(f"certificate: `invoke hub.cert-status --env {environment.name}`")
    return lines
