"""Restarting z2jh's autohttps pod so traefik orders again, and watching that order.

The dangerous step of hub.ssl-retry and the two ways to take it (docs/tls.md, "Retry
issuance" and "Rehearse on the staging server"): delete the pod and let its Deployment
start a fresh one, or, when the ACME server changes or a certificate from the other
server is stored, scale to zero, drop that certificate, switch the server and scale up.
Then traefik's log and the secret tell how the order went.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core import kube, paths
from ...core.changes import Changes
from ...core.errors import OperationFailed
from ...core.helm import Helm
from ...core.loading import Environment
from ...core.private_files import write_private
from ...core.waiting import Backoff, Clock, wait_until
from .acme_log import Outcome, classify_log
from .cert_status import ACME_KEY, ACME_SECRET, Stored, best_for, read_acme_store, stored_json
from .checks import Deployed

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

AUTOHTTPS = "autohttps"
CONTAINER = "traefik"


@dataclass(frozen=True)
class Autohttps:
    """One release's autohttps Deployment, and how long a replacement pod may take."""

    api: ApiClient
    namespace: str
    release: str
    clock: Clock
    replacement_timeout: float = 180.0

    @property
    def selector(self) -> str:
        return f"component={AUTOHTTPS},release={self.release}"


# ------------------------------------------------------------------ restarting traefik


def pod_names(target: Autohttps) -> list[str]:
    """Every autohttps pod, terminating ones included (they may still write the secret)."""
    from kubernetes import client

    core = client.CoreV1Api(target.api)
    pods = kube.call(
        f"list autohttps pods in {target.namespace}",
        lambda: core.list_namespaced_pod(target.namespace, label_selector=target.selector),
    )
    return [pod.metadata.name for pod in pods.items]


def delete_pod(target: Autohttps, changes: Changes) -> str | None:
    """The manual procedure's step: delete the pod, its Deployment starts a fresh one."""
    from kubernetes import client

    namespace = target.namespace
    old = pod_names(target)
    if not old:
        raise OperationFailed(
            f"no autohttps pod in {namespace} (selector {target.selector})",
            "the release runs no Let's Encrypt proxy; redeploy with `invoke hub.deploy`",
        )
    core = client.CoreV1Api(target.api)

    def delete(name: str) -> Callable[[], object]:
        return lambda: kube.call(
            f"delete pod {namespace}/{name}", lambda: core.delete_namespaced_pod(name, namespace)
        )

    for name in old:
        changes.make(
            f"delete pod {namespace}/{name} (its replacement orders the certificate)", delete(name)
        )
    if changes.dry_run:
        return None
    return wait_for_replacement(target, set(old))


def clean_restart(
    target: Autohttps,
    environment: Environment,
    deployed: Deployed,
    stored: Stored | None,
    *,
    wanted_server: str,
    switch: bool,
    changes: Changes,
    helm: Helm,
    now: Callable[[], dt.datetime],
) -> str | None:
    """Scale to zero, drop the other server's certificate, switch server, scale up."""
    hub = environment.settings.hub
    namespace, release, domain = target.namespace, target.release, deployed.domain
    old = set(pod_names(target))
    scale(target, 0, changes)
    if not changes.dry_run:
        wait_until(
            lambda: True if not pod_names(target) else None,
            what="the autohttps pods to stop",
            timeout=target.replacement_timeout,
            clock=target.clock,
            remedy=f"see `kubectl get pods -n {namespace} -l {target.selector}`; then re-run",
        )
    if stored is not None and best_for(domain, stored.certificates) is not None:
        _drop_certificates(target, environment.name, stored, domain, changes=changes, now=now)
    if switch:
        values = copy.deepcopy(deployed.values)
        https = values.setdefault("proxy", {}).setdefault("https", {})
        https.setdefault("letsencrypt", {})["acmeServer"] = wanted_server
        status = helm.status(release, namespace)
        version = status.chart_version if status and status.chart_version else hub.chart.version
        changes.make(
            f"upgrade release {release} (chart {hub.chart.name} {version}) with ACME server "
            f"{wanted_server}",
            lambda: helm.upgrade_install(
                release,
                hub.chart.name,
                repo=hub.chart.repo,
                version=version,
                namespace=namespace,
                values=values,
                wait=False,
            ),
        )
    scale(target, 1, changes)
    if changes.dry_run:
        return None
    return wait_for_replacement(target, old)


def scale(target: Autohttps, replicas: int, changes: Changes) -> None:
    from kubernetes import client

    namespace = target.namespace
    apps = client.AppsV1Api(target.api)
    changes.make(
        f"scale deployment {namespace}/{AUTOHTTPS} to {replicas}",
        lambda: kube.call(
            f"scale deployment {namespace}/{AUTOHTTPS}",
            # Strategic merge (client 35 takes no content type): for one scalar, a merge.
            lambda: apps.patch_namespaced_deployment(
                AUTOHTTPS, namespace, {"spec": {"replicas": replicas}}
            ),
        ),
    )


def _drop_certificates(
    target: Autohttps,
    env: str,
    stored: Stored,
    domain: str,
    *,
    changes: Changes,
    now: Callable[[], dt.datetime],
) -> None:
    """Remove the domain's certificates from acme.json, keeping a private local backup."""
    namespace = target.namespace
    store = stored_json(stored)
    for resolver in store.values():
        if isinstance(resolver, dict) and resolver.get("Certificates"):
            resolver["Certificates"] = [
                entry for entry in resolver["Certificates"] if domain not in _entry_names(entry)
            ]
    encoded = base64.b64encode(json.dumps(store, indent=2).encode()).decode()
    if not changes.dry_run:
        backup = _backup(env, stored.data[ACME_KEY], now())
        changes.ui.print(f"  kept the previous acme.json in {backup} (mode 0600)")
    from kubernetes import client

    core = client.CoreV1Api(target.api)
    changes.make(
        f"remove {domain}'s certificate from the other ACME server out of "
        f"{namespace}/{ACME_SECRET}",
        lambda: kube.call(
            f"update secret {namespace}/{ACME_SECRET}",
            # Replaces one key of data; strategic merge treats a map key like a merge patch.
            lambda: core.patch_namespaced_secret(
                ACME_SECRET, namespace, {"data": {ACME_KEY: encoded}}
            ),
        ),
    )


def _entry_names(entry: dict[str, Any]) -> set[str]:
    domain = entry.get("domain") or {}
    return {
        str(domain.get("main", "")).lower(),
        *(str(s).lower() for s in domain.get("sans") or []),
    }


def _backup(env: str, encoded: str, now: dt.datetime) -> Path:
    """acme.json holds private keys: created 0600, in the git-ignored state folder."""
    folder = paths.state_dir(env)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"acme-backup-{now:%Y%m%dT%H%M%SZ}.json"
    write_private(path, base64.b64decode(encoded))
    return path


def wait_for_replacement(target: Autohttps, old: set[str]) -> str:
    def probe() -> str | None:
        states = kube.pod_states(target.api, target.namespace, target.selector)
        fresh = [state for state in states if state.name not in old]
        ready = [state.name for state in fresh if state.ready]
        return ready[0] if ready else None

    return wait_until(
        probe,
        what="a new autohttps pod to become ready",
        timeout=target.replacement_timeout,
        clock=target.clock,
        remedy=(
            f"HTTPS is down until one runs: see `kubectl get pods -n {target.namespace} -l "
            f"{target.selector}` and `kubectl describe` the pending pod"
        ),
    )


# ------------------------------------------------------------------ watching the order


def read_traefik_log(api: ApiClient, namespace: str, pod: str) -> str:
    """traefik's log so far; empty while the container has not started."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(api)

    def read() -> str:
        try:
            # Not preloaded: the client would json.loads a log that happens to be JSON.
            response = core.read_namespaced_pod_log(
                pod, namespace, container=CONTAINER, _preload_content=False
            )
        except ApiException as error:
            if error.status in (400, 404):
                return ""
            raise
        return bytes(response.data).decode("utf-8", errors="replace")

    return kube.call(f"read the {CONTAINER} log of pod {namespace}/{pod}", read)


def watch_order(
    target: Autohttps,
    pod: str,
    *,
    domain: str,
    address: str,
    wanted_staging: bool,
    before: str,
    timeout: float,
) -> Outcome:
    """Follow the new pod until the certificate is stored, an ACME error shows, or timeout."""
    api, namespace = target.api, target.namespace

    def probe() -> Outcome | None:
        error = classify_log(read_traefik_log(api, namespace, pod), domain, address, namespace)
        if error is not None:
            return error
        stored = read_acme_store(api, namespace)
        found = best_for(domain, stored.certificates) if stored else None
        if found and found.fingerprint != before and found.staging == wanted_staging:
            return Outcome("obtained", f"certificate obtained for {domain}", certificate=found)
        return None

    try:
        return wait_until(
            probe,
            what=f"traefik's order for {domain}",
            timeout=timeout,
            clock=target.clock,
            backoff=Backoff(initial=3.0, factor=1.5, cap=15.0),
        )
    except OperationFailed as failure:
        if not failure.cause.startswith("timed out"):
            raise
    return Outcome(
        "pending",
        f"no certificate for {domain} after {timeout:.0f}s, and no error in traefik's log",
        "traefik keeps trying by itself: check in a few minutes with `invoke hub.cert-status` "
        "before retrying (each retry may cost one of the week's 5 certificates); "
        f"its log: kubectl logs -n {namespace} {pod} -c {CONTAINER}",
    )
