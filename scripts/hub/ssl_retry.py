"""hub.ssl-retry: make traefik order the Let's Encrypt certificate again, safely.

The manual procedure: look up the deployed domain, check its DNS from outside,
check port 80, delete the autohttps pod, read traefik's log. Each order that
fails still counts against Let's Encrypt's limit of 5 certificates per week, so
the pod (the dangerous step) is only restarted once every pre-check passed:

1. the deployed release's domain and ACME server (helm get values) match the config;
2. the certificate already stored: a valid one from the wanted server means there
   is nothing to do;
3. the proxy-public load balancer's address (and the pinned floating IP);
4. DNS through external resolvers points at exactly that address;
5. port 80 there reaches traefik's ACME challenge handler;
6. the attempt ledger has room this week (or --force).

Then the autohttps pod is restarted and traefik's log and the secret are watched
until the certificate is stored, a known ACME error appears, or --timeout ends.

Switching between the production and the staging server (--staging rehearses)
needs more than a pod restart: traefik keeps a certificate it already has, even
one from the other server. So the Deployment is scaled to zero first (no old
pod can write the secret back), the other server's certificate is removed from
the stored acme.json (after a local backup), the release is upgraded with the
other ACME server, and the Deployment is scaled back up.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..core import kube, paths
from ..core.changes import Changes
from ..core.console import Console
from ..core.errors import BadInput, OperationFailed, Problem, bad_option
from ..core.helm import Helm
from ..core.loading import Environment
from ..core.private_files import write_private
from ..core.templates import ACME_PRODUCTION, ACME_STAGING
from ..core.waiting import Backoff, Clock, RealClock, wait_until
from .cert_status import (
    ACME_KEY,
    ACME_SECRET,
    RENEWAL_DAYS,
    Certificate,
    Stored,
    best_for,
    from_der,
    read_acme_store,
    stored_json,
)
from .ssl_checks import (
    DEFAULT_RESOLVERS,
    Check,
    Resolver,
    check_dns,
    check_port_80,
    tls_handshake,
)
from .ssl_ledger import Attempt, Ledger, Server, utc_now

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

AUTOHTTPS = "autohttps"
SERVICE = "proxy-public"
CONTAINER = "traefik"
MIN_TIMEOUT, MAX_TIMEOUT = 30, 1800
# Octavia VIPs live in these ranges; a floating IP is then attached in front of them.
_INTERNAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


@dataclass(frozen=True)
class RetryOptions:
    force: bool = False
    staging: bool = False
    timeout: float = 180.0
    dry_run: bool = False
    resolvers: tuple[Resolver, ...] = DEFAULT_RESOLVERS

    def __post_init__(self) -> None:
        if not MIN_TIMEOUT <= self.timeout <= MAX_TIMEOUT:
            raise bad_option(
                "--timeout",
                f"{self.timeout:g} seconds is not allowed; use {MIN_TIMEOUT}-{MAX_TIMEOUT} "
                "(a Let's Encrypt order takes up to a minute or two)",
            )


@dataclass
class Wiring:
    """Where the procedure meets the world; tests point these at loopback servers."""

    api: ApiClient
    helm: Helm
    http_port: int = 80
    https_port: int = 443
    probe_timeout: float = 10.0
    dns_timeout: float = 5.0
    replacement_timeout: float = 180.0
    https_timeout: float = 60.0
    clock: Clock = field(default_factory=RealClock)
    now: Callable[[], dt.datetime] = utc_now
    # A CA bundle to trust for the final handshake (tests trust their own).
    cafile: Path | None = None


OutcomeKind = Literal[
    "obtained",
    "rate-limited",
    "dns",
    "connection",
    "unauthorized",
    "caa",
    "rejected",
    "acme-error",
    "pending",
]


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    message: str
    remedy: str = ""
    certificate: Certificate | None = None


# ------------------------------------------------------------------ traefik's log


@dataclass(frozen=True)
class KnownError:
    kind: OutcomeKind
    # The ACME problem type (RFC 8555 §6.7) Let's Encrypt names in its answer.
    urn: str
    # Wording that identifies the same problem when a message lacks the type.
    phrases: re.Pattern[str]
    summary: str
    remedy: str


KNOWN_ERRORS = (
    KnownError(
        "rate-limited",
        "rateLimited",
        re.compile(r"too many (certificates|failed authorizations)|rate limit", re.I),
        "Let's Encrypt refused the order: rate limit reached",
        "do not retry before {retry_after}: every further order is refused; rehearse "
        "meanwhile with --staging",
    ),
    KnownError(
        "dns",
        "dns",
        re.compile(r"DNS problem", re.I),
        "Let's Encrypt could not resolve {domain} correctly",
        "fix the record ({domain} A {address}) at your DNS provider, wait for its TTL, then "
        "re-run (the pre-check asks public resolvers; Let's Encrypt asks the authoritative ones)",
    ),
    KnownError(
        "connection",
        "connection",
        re.compile(r"connection refused|timeout during connect|no route to host", re.I),
        "Let's Encrypt could not connect to port 80 of {domain}",
        "allow TCP port 80 from anywhere to the load balancer (security group, firewall); "
        "Let's Encrypt connects from several networks, so a source-restricted rule fails",
    ),
    KnownError(
        "unauthorized",
        "unauthorized",
        re.compile(r"invalid response from", re.I),
        "Let's Encrypt reached a server that did not answer the challenge",
        "point every A/AAAA record of {domain} at {address} only, and make sure no proxy in "
        "front of the hub intercepts /.well-known/acme-challenge/",
    ),
    KnownError(
        "caa",
        "caa",
        re.compile(r"CAA record for \S+ prevents issuance", re.I),
        "a CAA record for {domain} forbids Let's Encrypt",
        'add the DNS record `{domain} CAA 0 issue "letsencrypt.org"` (or remove the CAA '
        "records), then re-run",
    ),
    KnownError(
        "rejected",
        "rejectedIdentifier",
        re.compile(r"policy forbids", re.I),
        "Let's Encrypt will not issue for {domain} (its policy forbids the name)",
        "use a domain you control under a public suffix (example.org and *.local are refused)",
    ),
)
GENERIC_ERROR = KnownError(
    "acme-error",
    "",
    re.compile(r"unable to obtain acme certificate|acme: error|cannot get acme client", re.I),
    "traefik could not obtain a certificate for {domain}",
    "read traefik's message (kubectl logs -n NAMESPACE deploy/autohttps -c traefik) and fix "
    "its cause before retrying",
)
_URN = re.compile(r"urn:ietf:params:acme:error:(\w+)")
_ERROR_LEVEL = re.compile(
    r'\bERR\b|\bERROR\b|level=error|"level":\s*"error"|\bFTL\b|level=fatal', re.I
)
# Lines traefik writes at error level that say nothing about our order: the
# challenge look-ups our own port-80 probe caused, and notices about rules
# without host names (the "implicit names" the manual says to ignore).
_HARMLESS = re.compile(
    r"Cannot retrieve the ACME challenge|Error getting challenge for token|"
    r"No domain found in rule|implicit|Account URI does not match",
    re.I,
)
_RETRY_AFTER = re.compile(r"retry after ([0-9-]+[ T][0-9:]+(?: UTC)?)", re.I)
_DETAIL = re.compile(r"urn:ietf:params:acme:error:\w+ :: (.+?)(?:\\n|\"|$)")


def classify_line(line: str) -> KnownError | None:
    """The ACME error this log line reports, if it reports one."""
    if not _ERROR_LEVEL.search(line) or _HARMLESS.search(line):
        return None
    urn = _URN.search(line)
    if urn:
        by_urn = {known.urn: known for known in KNOWN_ERRORS}
        return by_urn.get(urn.group(1), GENERIC_ERROR)
    for known in KNOWN_ERRORS:
        if known.phrases.search(line):
            return known
    return GENERIC_ERROR if GENERIC_ERROR.phrases.search(line) else None


def classify_log(text: str, domain: str, address: str, namespace: str) -> Outcome | None:
    """The first ACME error in traefik's log as an Outcome with its remedy."""
    for line in text.splitlines():
        known = classify_line(line)
        if known is None:
            continue
        retry_after = _RETRY_AFTER.search(line)
        values = {
            "domain": domain,
            "address": address,
            "retry_after": retry_after.group(1) if retry_after else "the time Let's Encrypt names",
        }
        detail = _DETAIL.search(line)
        excerpt = (detail.group(1) if detail else line.strip())[:300]
        remedy = known.remedy.format(**values).replace("NAMESPACE", namespace)
        return Outcome(known.kind, f"{known.summary.format(**values)}: {excerpt}", remedy)
    return None


# ------------------------------------------------------------------ deployed release


@dataclass(frozen=True)
class Deployed:
    domain: str
    acme_server: str
    values: dict[str, Any]


def server_label(url: str) -> Server:
    return "staging" if "staging" in url else "production"


def read_deployed(helm: Helm, namespace: str, release: str, domain: str, env: str) -> Deployed:
    """The domain and ACME server the running release was given, checked against the config."""
    values = helm.get_values(release, namespace)
    if values is None:
        raise OperationFailed(
            f"release {release} is not installed in namespace {namespace}",
            f"deploy the hub first: `invoke hub.deploy --env {env}`",
        )
    https = (values.get("proxy") or {}).get("https") or {}
    kind = https.get("type", "letsencrypt")
    if not https.get("enabled") or kind != "letsencrypt":
        state = "disabled" if not https.get("enabled") else f"type {kind!r}"
        raise OperationFailed(
            f"the deployed release {release} has HTTPS {state}, not Let's Encrypt",
            f"deploy the config (hub.https.mode letsencrypt) with `invoke hub.deploy --env {env}`",
        )
    hosts = [str(h).lower() for h in https.get("hosts") or []]
    if hosts != [domain]:
        raise OperationFailed(
            f"the deployed release serves {', '.join(hosts) or 'no domain'}, but the config's "
            f"hub.domain is {domain}",
            f"deploy the config first (`invoke hub.deploy --env {env}`), or correct hub.domain; "
            "ordering for the wrong name would waste an attempt",
        )
    server = str((https.get("letsencrypt") or {}).get("acmeServer") or ACME_PRODUCTION)
    return Deployed(domain, server, values)


# ------------------------------------------------------------------ addresses


def expected_address(
    lb: str | None, floating_ip: str | None, namespace: str, env: str
) -> tuple[str | None, Check]:
    """The address DNS must give: the load balancer's, or the floating IP in front of it."""
    name = "load balancer address"
    if lb is None:
        return floating_ip, Check(
            name,
            ok=False,
            detail=f"the Service {namespace}/{SERVICE} has no external address yet",
            fix=(
                f"wait for the load balancer (kubectl get svc -n {namespace} {SERVICE}), or "
                f"diagnose it with `invoke lb.doctor --env {env}`"
            ),
        )
    try:
        lb_ip = ipaddress.ip_address(lb)
    except ValueError:
        if floating_ip:
            return floating_ip, Check(name, ok=True, detail=f"floating IP {floating_ip}")
        return None, Check(
            name,
            ok=False,
            detail=f"the Service {namespace}/{SERVICE} reports a host name ({lb}), not an IP",
            fix="set hub.floating_ip to the public IPv4 address the hub is reached at",
        )
    if floating_ip is None or lb == floating_ip:
        suffix = " (the pinned floating IP)" if floating_ip else ""
        return lb, Check(name, ok=True, detail=f"{SERVICE} has {lb}{suffix}")
    if any(lb_ip in network for network in _INTERNAL_NETWORKS):
        return floating_ip, Check(
            name,
            ok=True,
            detail=(
                f"floating IP {floating_ip} (the load balancer reports its internal address "
                f"{lb}; the floating IP is attached outside Kubernetes)"
            ),
        )
    return lb, Check(
        name,
        ok=False,
        detail=f"{SERVICE} has the external IP {lb}, but hub.floating_ip is {floating_ip}",
        fix=(
            f"the load balancer did not take the pinned floating IP: run `invoke lb.doctor "
            f"--env {env}`; or, if {lb} is the address you want, set hub.floating_ip: {lb} and "
            "point DNS at it"
        ),
    )


# ------------------------------------------------------------------ the procedure


Plan = Literal["nothing", "order", "replace-other-server"]


def plan_for(current: Certificate | None, wanted_staging: bool, now: dt.datetime) -> Plan:
    if current is None:
        return "order"
    if current.staging != wanted_staging:
        return "replace-other-server"
    if current.expired(now) or current.days_left(now) < RENEWAL_DAYS:
        # traefik renews such a certificate when it starts: a restart is the retry.
        return "order"
    return "nothing"


def run(
    environment: Environment, ui: Console, options: RetryOptions, wiring: Wiring
) -> Outcome | None:
    """The whole retry; returns the outcome, or None when nothing needed doing (or dry run)."""
    settings, env = environment.settings, environment.name
    hub = settings.hub
    if hub.https.mode != "letsencrypt" or not hub.domain:
        raise BadInput(
            Problem(
                "hub.https.mode",
                f"is {hub.https.mode!r}; hub.ssl-retry only applies to 'letsencrypt' "
                "(with 'secret', install a certificate with `invoke hub.tls-secret`)",
            )
        )
    domain, namespace = hub.domain, hub.namespace
    wanted_staging = options.staging or hub.https.staging
    wanted_server = ACME_STAGING if wanted_staging else ACME_PRODUCTION
    label: Server = "staging" if wanted_staging else "production"
    api, now = wiring.api, wiring.now()
    changes = Changes(ui, options.dry_run)
    ledger = Ledger.for_environment(env)
    ui.heading(f"Let's Encrypt ({label}) for {domain}")

    with ui.step("Deployed release") as step:
        deployed = read_deployed(wiring.helm, namespace, hub.release, domain, env)
        step.done(
            f"{hub.release} serves {domain}, ACME server {server_label(deployed.acme_server)}"
        )

    with ui.step("Stored certificate") as step:
        stored = read_acme_store(api, namespace)
        current = best_for(domain, stored.certificates) if stored else None
        plan = plan_for(current, wanted_staging, now)
        if current is None:
            step.done(f"none for {domain} in {namespace}/{ACME_SECRET}")
        elif plan == "nothing":
            step.unchanged(f"already valid: {current.describe(now)}")
        else:
            step.done(current.describe(now))
    replacing_production = plan == "replace-other-server" and current and not current.staging
    if current is not None and replacing_production and not current.expired(now):
        raise OperationFailed(
            f"a trusted production certificate is in place ({current.describe(now)}); a staging "
            "rehearsal would replace it with an untrusted one",
            "nothing to rehearse: the hub already has its certificate "
            f"(`invoke hub.cert-status --env {env}`)",
        )

    lb = kube.load_balancer_address(api, namespace, SERVICE)
    address, address_check = expected_address(lb, hub.floating_ip, namespace, env)
    if plan == "nothing":
        _verify_https(ui, domain, address, wiring)
        ui.summary([f"nothing to retry; {domain}'s certificate renews automatically"])
        return None

    failures = _pre_checks(
        ui,
        domain=domain,
        address=address,
        address_check=address_check,
        options=options,
        wiring=wiring,
        ledger=ledger,
        label=label,
        now=now,
    )
    if failures:
        raise OperationFailed(
            "pre-checks failed, so the autohttps pod was left alone and no attempt was used: "
            + "; ".join(check.detail for check in failures),
            "; ".join(check.fix for check in failures if check.fix),
        )
    assert address is not None  # a missing address is a failed pre-check

    switch = deployed.acme_server != wanted_server
    attempt: Attempt | None = None
    if not options.dry_run:
        attempt = ledger.record(domain, label, now)
    try:
        with ui.step("Restart autohttps") as step:
            if switch or plan == "replace-other-server":
                pod = _clean_restart(
                    environment,
                    deployed,
                    stored,
                    wanted_server=wanted_server,
                    switch=switch,
                    changes=changes,
                    wiring=wiring,
                )
            else:
                pod = _delete_pod(namespace, hub.release, changes, wiring)
            step.done(f"new pod {pod}" if pod else "dry run")
    except BaseException:
        if attempt is not None:
            ledger.settle(attempt, "restart-failed")
        raise
    if options.dry_run or pod is None or attempt is None:
        ui.summary(["dry run: nothing was changed and no attempt was recorded"])
        return None

    before = current.fingerprint if current else ""
    with ui.step("Let's Encrypt order") as step:
        outcome = _watch_issuance(
            api,
            namespace,
            pod,
            domain=domain,
            address=address,
            wanted_staging=wanted_staging,
            before=before,
            timeout=options.timeout,
            wiring=wiring,
        )
        ledger.settle(attempt, outcome.kind)
        if outcome.kind != "obtained":
            step.detail = outcome.kind
            raise OperationFailed(outcome.message, outcome.remedy)
        assert outcome.certificate is not None
        step.done(outcome.certificate.describe(now))

    _verify_https(ui, domain, address, wiring)
    lines = [f"https://{domain}/ has a {label} certificate"]
    if wanted_staging:
        lines.append(
            f"rehearsal done; order the real one with `invoke hub.ssl-retry --env {env}`"
            + (" after setting hub.https.staging: false" if hub.https.staging else "")
        )
    ui.summary(lines)
    return outcome


def _pre_checks(
    ui: Console,
    *,
    domain: str,
    address: str | None,
    address_check: Check,
    options: RetryOptions,
    wiring: Wiring,
    ledger: Ledger,
    label: Server,
    now: dt.datetime,
) -> list[Check]:
    """Run every pre-check (all of them, so one run shows every problem)."""
    results = [_show(ui, address_check)]
    if address is not None:
        results.append(
            _show(ui, check_dns(domain, [address], options.resolvers, wiring.dns_timeout))
        )
        results.append(
            _show(ui, check_port_80(domain, address, wiring.http_port, wiring.probe_timeout))
        )
    results.append(
        _show(ui, _ledger_check(ui, ledger, domain, label=label, force=options.force, now=now))
    )
    return [check for check in results if not check.ok]


def _ledger_check(
    ui: Console, ledger: Ledger, domain: str, *, label: Server, force: bool, now: dt.datetime
) -> Check:
    allowance = ledger.allowance(domain, now)
    if label == "staging":
        return Check(
            "attempt ledger",
            ok=True,
            detail=f"staging is not limited ({allowance.used} production attempt(s) this week)",
        )
    try:
        ledger.require_room(domain, now, force)
    except OperationFailed as refused:
        return Check("attempt ledger", ok=False, detail=refused.cause, fix=refused.remedy)
    if allowance.full:
        ui.warn(f"--force: ordering although {allowance.summary()}")
    return Check("attempt ledger", ok=True, detail=allowance.summary())


class _CheckFailed(Exception):
    pass


def _show(ui: Console, check: Check) -> Check:
    """One pre-check as a numbered step: ✓ with what was found, ✗ with the problem."""
    try:
        with ui.step(check.name) as step:
            step.detail = check.detail
            if not check.ok:
                raise _CheckFailed
    except _CheckFailed:
        pass
    for warning in check.warnings:
        ui.warn(warning)
    return check


# ------------------------------------------------------------------ restarting traefik


def _selector(release: str) -> str:
    return f"component={AUTOHTTPS},release={release}"


def _pod_names(api: ApiClient, namespace: str, release: str) -> list[str]:
    """Every autohttps pod, terminating ones included (they may still write the secret)."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    pods = kube.call(
        f"list autohttps pods in {namespace}",
        lambda: core.list_namespaced_pod(namespace, label_selector=_selector(release)),
    )
    return [pod.metadata.name for pod in pods.items]


def _delete_pod(namespace: str, release: str, changes: Changes, wiring: Wiring) -> str | None:
    """The manual procedure's step: delete the pod, its Deployment starts a fresh one."""
    from kubernetes import client

    old = _pod_names(wiring.api, namespace, release)
    if not old:
        raise OperationFailed(
            f"no autohttps pod in {namespace} (selector {_selector(release)})",
            "the release runs no Let's Encrypt proxy; redeploy with `invoke hub.deploy`",
        )
    core = client.CoreV1Api(wiring.api)

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
    return _wait_for_replacement(namespace, release, set(old), wiring)


def _clean_restart(
    environment: Environment,
    deployed: Deployed,
    stored: Stored | None,
    *,
    wanted_server: str,
    switch: bool,
    changes: Changes,
    wiring: Wiring,
) -> str | None:
    """Scale to zero, drop the other server's certificate, switch server, scale up."""
    hub = environment.settings.hub
    namespace, release, domain = hub.namespace, hub.release, deployed.domain
    old = set(_pod_names(wiring.api, namespace, release))
    _scale(namespace, 0, changes, wiring)
    if not changes.dry_run:
        wait_until(
            lambda: True if not _pod_names(wiring.api, namespace, release) else None,
            what="the autohttps pods to stop",
            timeout=wiring.replacement_timeout,
            clock=wiring.clock,
            remedy=f"see `kubectl get pods -n {namespace} -l {_selector(release)}`; then re-run",
        )
    if stored is not None and best_for(domain, stored.certificates) is not None:
        _drop_certificates(environment, stored, domain, changes, wiring)
    if switch:
        values = copy.deepcopy(deployed.values)
        https = values.setdefault("proxy", {}).setdefault("https", {})
        https.setdefault("letsencrypt", {})["acmeServer"] = wanted_server
        status = wiring.helm.status(release, namespace)
        version = status.chart_version if status and status.chart_version else hub.chart.version
        changes.make(
            f"upgrade release {release} (chart {hub.chart.name} {version}) with ACME server "
            f"{wanted_server}",
            lambda: wiring.helm.upgrade_install(
                release,
                hub.chart.name,
                repo=hub.chart.repo,
                version=version,
                namespace=namespace,
                values=values,
                wait=False,
            ),
        )
    _scale(namespace, 1, changes, wiring)
    if changes.dry_run:
        return None
    return _wait_for_replacement(namespace, release, old, wiring)


def _scale(namespace: str, replicas: int, changes: Changes, wiring: Wiring) -> None:
    from kubernetes import client

    apps = client.AppsV1Api(wiring.api)
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
    environment: Environment, stored: Stored, domain: str, changes: Changes, wiring: Wiring
) -> None:
    """Remove the domain's certificates from acme.json, keeping a private local backup."""
    namespace = environment.settings.hub.namespace
    store = stored_json(stored)
    for resolver in store.values():
        if isinstance(resolver, dict) and resolver.get("Certificates"):
            resolver["Certificates"] = [
                entry for entry in resolver["Certificates"] if domain not in _entry_names(entry)
            ]
    encoded = base64.b64encode(json.dumps(store, indent=2).encode()).decode()
    if not changes.dry_run:
        backup = _backup(environment.name, stored.data[ACME_KEY], wiring.now())
        changes.ui.print(f"  kept the previous acme.json in {backup} (mode 0600)")
    from kubernetes import client

    core = client.CoreV1Api(wiring.api)
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


def _wait_for_replacement(namespace: str, release: str, old: set[str], wiring: Wiring) -> str:
    def probe() -> str | None:
        states = kube.pod_states(wiring.api, namespace, _selector(release))
        fresh = [state for state in states if state.name not in old]
        ready = [state.name for state in fresh if state.ready]
        return ready[0] if ready else None

    return wait_until(
        probe,
        what="a new autohttps pod to become ready",
        timeout=wiring.replacement_timeout,
        clock=wiring.clock,
        remedy=(
            f"HTTPS is down until one runs: see `kubectl get pods -n {namespace} -l "
            f"{_selector(release)}` and `kubectl describe` the pending pod"
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


def _watch_issuance(
    api: ApiClient,
    namespace: str,
    pod: str,
    *,
    domain: str,
    address: str,
    wanted_staging: bool,
    before: str,
    timeout: float,
    wiring: Wiring,
) -> Outcome:
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
            clock=wiring.clock,
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


def _verify_https(ui: Console, domain: str, address: str | None, wiring: Wiring) -> None:
    """A TLS handshake with the domain, as a browser would make it, shows what is served."""
    seen: list[str] = []

    def probe() -> tuple[Certificate, bool, str] | None:
        try:
            shake = tls_handshake(
                domain, address, wiring.https_port, wiring.probe_timeout, wiring.cafile
            )
        except OperationFailed as failure:
            seen.append(failure.cause)
            return None
        certificate = from_der(shake.der)
        if certificate.traefik_default or not certificate.covers(domain):
            seen.append(f"presents {certificate.subject} from {certificate.issuer}")
            return None
        return certificate, shake.trusted, shake.trust_error

    with ui.step(f"HTTPS at {domain}") as step:
        try:
            certificate, trusted, why = wait_until(
                probe,
                what=f"https://{domain}/ to present its certificate",
                timeout=wiring.https_timeout,
                clock=wiring.clock,
                backoff=Backoff(initial=2.0, factor=1.5, cap=10.0),
            )
        except OperationFailed:
            raise OperationFailed(
                f"https://{domain}/ does not present a certificate for {domain}: "
                f"{seen[-1] if seen else 'no answer'}",
                "traefik loads a stored certificate within seconds; look at its log "
                "(kubectl logs deploy/autohttps -c traefik) and `invoke hub.cert-status --live`",
            ) from None
        now = wiring.now()
        step.done(certificate.describe(now))
    if not trusted:
        note = "expected for a staging certificate" if certificate.staging else "check the chain"
        ui.warn(f"this machine does not trust it ({why}); {note}")
