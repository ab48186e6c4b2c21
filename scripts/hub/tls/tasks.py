"""Task glue for hub.ssl-retry, hub.cert-status and hub.tls-secret (added by register())."""

from __future__ import annotations

from pathlib import Path

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from ...core.options import ENV_HELP
from ...core.runner import procedure

ENV = ENV_HELP  # the shared --env help (core.options)
DRY_RUN = "print what would change and change nothing"


@task(
    help={
        "env": ENV,
        "force": "order even when 4 production attempts fell in the last 7 days",
        "staging": "rehearse with Let's Encrypt's staging server (untrusted, not rate limited)",
        "timeout": "seconds to follow traefik's log for the outcome (30-1800, default 180)",
        "dry-run": "run the checks and print the restart instead of doing it",
        "resolvers": "DNS servers to check the domain with (default 1.1.1.1,8.8.8.8)",
    }
)
@procedure
def ssl_retry(  # noqa: PLR0917 - invoke maps each keyword to an option
    c: Context,
    env: str = "",
    force: bool = False,
    staging: bool = False,
    timeout: int = 180,
    dry_run: bool = False,
    resolvers: str = "",
) -> None:
    """Retry Let's Encrypt issuance after checking DNS, port 80 and this week's attempts."""
    from ...core import kube, session
    from ...core.helm import Helm
    from .checks import parse_resolvers
    from .retry import RetryOptions, Wiring, run

    options = RetryOptions(
        force=force,
        staging=staging,
        timeout=float(timeout),
        dry_run=dry_run,
        resolvers=parse_resolvers(resolvers),
    )
    environment, ui = session.begin(env, require_secrets=False)
    wiring = Wiring(api=kube.api_client(environment.kubeconfig), helm=Helm(environment.kubeconfig))
    run(environment, ui, options, wiring)


@task(
    help={
        "env": ENV,
        "live": "ask the HTTPS endpoint instead of the cluster's secret",
    }
)
@procedure
def cert_status(c: Context, env: str = "", live: bool = False) -> None:
    """Issuer, names, expiry and days left of the hub's certificate; attempts this week."""
    from ...core import session
    from .cert_status import StatusOptions, run

    environment, ui = session.begin(env, require_secrets=False)
    run(environment, ui, StatusOptions(live=live))


@task(
    help={
        "cert": "PEM certificate (the chain may follow the leaf)",
        "key": "PEM private key, unencrypted",
        "env": ENV,
        "dry-run": DRY_RUN,
    }
)
@procedure
def tls_secret(
    c: Context, cert: str = "", key: str = "", env: str = "", dry_run: bool = False
) -> None:
    """Check a certificate and key, then store them as the hub's TLS secret (https mode secret)."""
    from ...core import session
    from ...core.errors import BadInput, Problem
    from . import secret

    missing = [
        Problem(f"option --{name}", "required: a PEM file")
        for name, value in (("cert", cert), ("key", key))
        if not value
    ]
    if missing:
        raise BadInput(missing)
    environment, ui = session.begin(env, require_secrets=False)
    secret.run(environment, ui, Path(cert), Path(key), dry_run=dry_run)


def register(ns: Collection) -> None:
    """Add hub.ssl-retry, hub.cert-status and hub.tls-secret to the hub collection."""
    ns.add_task(ssl_retry, name="ssl-retry")
    ns.add_task(cert_status, name="cert-status")
    ns.add_task(tls_secret, name="tls-secret")
