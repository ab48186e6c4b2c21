"""hub.ssl-retry: make traefik order the Let's Encrypt certificate again, safely.

Each order that fails still counts against Let's Encrypt's limit of 5 certificates per
week, so the autohttps pod (the dangerous step) is restarted only once every pre-check
passed, and the attempt is in the ledger before it. The steps, in order, and what each
one refuses: docs/tls.md, "Retry issuance: hub.ssl-retry" (and "Rehearse on the staging
server" for the switch between servers). This module runs them top to bottom; the checks
are in checks.py, the restart and the watching in autohttps.py, traefik's log in
acme_log.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ...core import kube
from ...core.changes import Changes
from ...core.console import Console
from ...core.errors import BadInput, OperationFailed, Problem, bad_option
from ...core.helm import Helm
from ...core.loading import Environment
from ...core.templates import ACME_PRODUCTION, ACME_STAGING
from ...core.waiting import Backoff, Clock, RealClock, wait_until
from .acme_log import Outcome
from .autohttps import Autohttps, clean_restart, delete_pod, watch_order
from .cert_status import ACME_SECRET, RENEWAL_DAYS, Certificate, best_for, from_der, read_acme_store
from .checks import (
    DEFAULT_RESOLVERS,
    SERVICE,
    Check,
    Resolver,
    check_dns,
    check_port_80,
    expected_address,
    read_deployed,
    server_label,
    tls_handshake,
)
from .ledger import Attempt, Ledger, Server, utc_now

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

MIN_TIMEOUT, MAX_TIMEOUT = 30, 1800


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
    target = Autohttps(api, namespace, hub.release, wiring.clock, wiring.replacement_timeout)
    try:
        with ui.step("Restart autohttps") as step:
            if switch or plan == "replace-other-server":
                pod = clean_restart(
                    target,
                    environment,
                    deployed,
                    stored,
                    wanted_server=wanted_server,
                    switch=switch,
                    changes=changes,
                    helm=wiring.helm,
                    now=wiring.now,
                )
            else:
                pod = delete_pod(target, changes)
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
        outcome = watch_order(
            target,
            pod,
            domain=domain,
            address=address,
            wanted_staging=wanted_staging,
            before=before,
            timeout=options.timeout,
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
