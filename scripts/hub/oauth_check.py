"""hub.oauth-check: does the OpenID provider agree with what the hub will use?

The hub's values derive the authorize, token and userinfo URLs from the issuer
(IRIS IAM's layout) and ask for the configured scopes. This reads the
provider's OpenID configuration and compares, so a typo in the issuer or a
scope the provider does not offer shows up before users meet a broken login.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from ..core.console import Console
from ..core.errors import BadInput, OperationFailed, Problem
from ..core.loading import Environment
from ..core.templates import placeholder_secrets, render

DISCOVERY = "/.well-known/openid-configuration"
TIMEOUT = 15


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    detail: str
    # Advisory findings are printed but do not fail the check.
    advisory: bool = False


def _oauth_values(environment: Environment) -> dict[str, Any]:
    """GenericOAuthenticator's settings exactly as hub.deploy would send them."""
    values = render("jupyterhub", environment.settings, placeholder_secrets()).values
    config: dict[str, Any] = values["hub"]["config"]["GenericOAuthenticator"]
    return config


def fetch_configuration(issuer: str) -> dict[str, Any]:
    url = issuer.rstrip("/") + DISCOVERY
    try:
        response = requests.get(url, timeout=TIMEOUT)
    except requests.RequestException as error:
        raise OperationFailed(
            f"cannot fetch {url}: {type(error).__name__}: {error}",
            "check hub.auth.oauth.issuer and that this machine reaches the provider",
        ) from None
    if response.status_code != 200:
        raise OperationFailed(
            f"{url} answered HTTP {response.status_code}",
            "hub.auth.oauth.issuer must be the provider's issuer URL (without a path to a page)",
        )
    try:
        document = response.json()
    except ValueError:
        raise OperationFailed(
            f"{url} did not answer with JSON", "check hub.auth.oauth.issuer"
        ) from None
    if not isinstance(document, dict):
        raise OperationFailed(f"{url} did not answer with a JSON object")
    return document


def findings(environment: Environment, document: dict[str, Any]) -> list[Finding]:
    oauth = environment.settings.hub.auth.oauth
    assert oauth is not None
    hub = _oauth_values(environment)
    found = []
    issuer = str(document.get("issuer", "")).rstrip("/")
    found.append(
        Finding(
            issuer == oauth.issuer.rstrip("/"),
            "issuer",
            f"provider says {issuer or '(none)'}, config has {oauth.issuer}",
        )
    )
    for ours, theirs in (
        ("authorize_url", "authorization_endpoint"),
        ("token_url", "token_endpoint"),
        ("userdata_url", "userinfo_endpoint"),
    ):
        endpoint = str(document.get(theirs, ""))
        found.append(
            Finding(
                endpoint == hub[ours] and endpoint.startswith("https://"),
                theirs,
                f"provider: {endpoint or '(missing)'}; hub would use {hub[ours]}",
            )
        )
    supported = document.get("scopes_supported")
    for scope in hub["scope"]:
        if isinstance(supported, list):
            found.append(
                Finding(
                    scope in supported,
                    f"scope {scope}",
                    "offered"
                    if scope in supported
                    else f"not in scopes_supported ({', '.join(map(str, supported))})",
                )
            )
    claims = document.get("claims_supported")
    wanted_claims = [oauth.username_claim]
    if oauth.allowed_groups or oauth.admin_groups:
        wanted_claims.append(oauth.groups_claim)
    for claim in wanted_claims:
        if isinstance(claims, list):
            found.append(
                Finding(
                    claim in claims,
                    f"claim {claim}",
                    "listed"
                    if claim in claims
                    else "not in claims_supported; providers "
                    "often omit claims there, so check one login",
                    advisory=True,
                )
            )
    callback = str(hub["oauth_callback_url"])
    domain = environment.settings.hub.domain
    parts = urlsplit(callback)
    found.append(
        Finding(
            parts.scheme == "https" and parts.hostname == domain,
            "callback URL",
            f"{callback}: register exactly this redirect URI with the provider",
        )
    )
    return found


def run(environment: Environment, ui: Console) -> list[Finding]:
    if environment.settings.hub.auth.type != "oauth" or environment.settings.hub.auth.oauth is None:
        raise BadInput(
            Problem(
                "hub.auth.type",
                "hub.oauth-check needs 'oauth' sign-in "
                f"(this environment uses {environment.settings.hub.auth.type!r})",
            )
        )
    issuer = environment.settings.hub.auth.oauth.issuer
    ui.print(f"OpenID configuration of {issuer}")
    results = findings(environment, fetch_configuration(issuer))
    for result in results:
        mark = "✓" if result.ok else ("·" if result.advisory else "✗")
        ui.print(f"{mark} {result.what}: {result.detail}")
    failed = [r.what for r in results if not r.ok and not r.advisory]
    if failed:
        raise OperationFailed(
            f"the provider disagrees with the hub's settings on: {', '.join(failed)}",
            "fix hub.auth.oauth (issuer, scopes) or the client registration at the provider",
        )
    return results
