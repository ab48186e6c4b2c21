"""hub.oauth-check against a local HTTPS server that plays the OpenID provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TaskRun
from tests.hub import environments
from tests.support.components import ProgrammableHTTPServer

ENV = "iam"
DISCOVERY = "/.well-known/openid-configuration"
Run = Callable[..., TaskRun]


@pytest.fixture
def provider(
    http_server_factory: Callable[..., ProgrammableHTTPServer],
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> ProgrammableHTTPServer:
    server = http_server_factory(tls=True)
    assert server.ca_cert_path is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_cert_path))
    config = environments.oauth_letsencrypt()
    config["hub"]["auth"]["oauth"]["issuer"] = server.url
    environments.write(config_dir, ENV, config)
    return server


def openid_configuration(base: str, **changes: Any) -> str:
    document = {
        "issuer": f"{base}/",
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "userinfo_endpoint": f"{base}/userinfo",
        "jwks_uri": f"{base}/jwk",
        "scopes_supported": ["openid", "profile", "email", "groups", "offline_access"],
        "claims_supported": ["sub", "preferred_username", "email", "groups"],
    }
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not None})


def test_a_matching_provider_passes(run_task: Run, provider: ProgrammableHTTPServer) -> None:
    provider.respond(DISCOVERY, body=openid_configuration(provider.url))
    result = run_task("hub.oauth-check", "--env", ENV)
    assert result.code == 0, result.err
    assert f"✓ token_endpoint: provider: {provider.url}/token" in result.out
    assert "✓ scope groups: offered" in result.out
    assert "✓ claim preferred_username: listed" in result.out
    assert "✓ callback URL: https://jupyter.example.org/hub/oauth_callback" in result.out
    assert [r.path for r in provider.requests] == [DISCOVERY]


def test_endpoints_and_scopes_that_differ_fail(
    run_task: Run, provider: ProgrammableHTTPServer
) -> None:
    provider.respond(
        DISCOVERY,
        body=openid_configuration(
            provider.url,
            token_endpoint=f"{provider.url}/oauth2/token",
            scopes_supported=["openid", "profile", "email"],
        ),
    )
    result = run_task("hub.oauth-check", "--env", ENV)
    assert result.code == 1
    assert f"✗ token_endpoint: provider: {provider.url}/oauth2/token" in result.out
    assert "✗ scope groups: not in scopes_supported" in result.out
    assert "disagrees with the hub's settings on: token_endpoint, scope groups" in result.err
    assert "Traceback" not in result.err


def test_a_wrong_issuer_fails(run_task: Run, provider: ProgrammableHTTPServer) -> None:
    provider.respond(
        DISCOVERY, body=openid_configuration(provider.url, issuer="https://other.example")
    )
    result = run_task("hub.oauth-check", "--env", ENV)
    assert result.code == 1
    assert "✗ issuer: provider says https://other.example" in result.out


def test_claims_missing_from_the_listing_only_advise(
    run_task: Run, provider: ProgrammableHTTPServer
) -> None:
    provider.respond(
        DISCOVERY, body=openid_configuration(provider.url, claims_supported=["sub", "email"])
    )
    result = run_task("hub.oauth-check", "--env", ENV)
    assert result.code == 0, result.err
    assert "· claim groups: not in claims_supported" in result.out


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, "not here", "answered HTTP 404"),
        (200, "<html>login</html>", "did not answer with JSON"),
    ],
)
def test_a_broken_discovery_document_is_named(
    run_task: Run, provider: ProgrammableHTTPServer, status: int, body: str, message: str
) -> None:
    provider.respond(DISCOVERY, status, body=body)
    result = run_task("hub.oauth-check", "--env", ENV)
    assert result.code == 1
    assert message in result.err
    assert "hub.auth.oauth.issuer" in result.err


def test_an_unreachable_provider_is_named(run_task: Run, provider: ProgrammableHTTPServer) -> None:
    provider.close()
    result = run_task("hub.oauth-check", "--env", ENV)
    assert result.code == 1
    assert f"cannot fetch {provider.url}{DISCOVERY}" in result.err


def test_other_sign_in_is_bad_input(
    run_task: Run, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The example's documentation values are refused first otherwise (core.placeholders).
    monkeypatch.setenv("JHUB_ALLOW_DOCUMENTATION_VALUES", "1")
    environments.write(config_dir, "native", environments.native_secret())
    result = run_task("hub.oauth-check", "--env", "native")
    assert result.code == 2
    assert "hub.auth.type: hub.oauth-check needs 'oauth' sign-in" in result.err
