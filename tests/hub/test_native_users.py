"""hub.admins, hub.pending, hub.approve and hub.reject against a real JupyterHub with
NativeAuthenticator and configurable-http-proxy on loopback."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import TaskRun
from tests.hub import environments
from tests.support.components import JupyterHubFactory, JupyterHubServer

ENV = "event"
ADMIN = "hubadmin"
Run = Callable[..., TaskRun]


def native_config() -> dict[str, Any]:
    config = environments.example()
    config["cluster"]["driver"] = "existing"
    config["hub"]["domain"] = None
    config["hub"]["floating_ip"] = None
    config["hub"]["https"] = {"mode": "off"}
    config["hub"]["auth"] = {"type": "native", "native": {"admin_users": [ADMIN]}}
    return config


# NativeAuthenticator 1.3.0 (its latest release) times logins with `self.statsd`, which
# JupyterHub 6 removed, so every login there answers 500. z2jh 4.4.0 deploys JupyterHub
# 5.5, where it exists. On JupyterHub 6 the test hub gets a do-nothing timer in its
# place; everything else (forms, xsrf, approval, passwords) stays the real code.
STATSD_SHIM = """
import nativeauthenticator.handlers as _native_handlers

class _NoStatsd:
    def timer(self, *args, **kwargs):
        return self

    def start(self):
        return self

    def stop(self, *args, **kwargs):
        return None

_native_handlers.LoginHandler.statsd = _NoStatsd()
"""


def jupyterhub_major() -> int:
    import jupyterhub

    return int(jupyterhub.__version__.split(".")[0])


@pytest.fixture
def hub(jupyterhub_factory: JupyterHubFactory) -> JupyterHubServer:
    shim = STATSD_SHIM if jupyterhub_major() >= 6 else ""
    return jupyterhub_factory(authenticator="native", admin_users=(ADMIN,), extra_config=shim)


@pytest.fixture
def secrets_path(config_dir: Path) -> Path:
    environments.write(config_dir, ENV, native_config())
    return config_dir / f"{ENV}.secrets.yaml"


def stored_passwords(path: Path) -> dict[str, str]:
    return dict(yaml.safe_load(path.read_text())["native_admin_passwords"] or {})


def signup_posts(hub: JupyterHubServer) -> int:
    return hub.process.log_text().count("POST /hub/signup")


def logs_in(hub: JupyterHubServer, name: str, password: str) -> bool:
    _, response = hub.login(name, password)
    return hub.login_succeeded(response)


def test_admins_are_registered_once_and_can_log_in(
    run_task: Run, hub: JupyterHubServer, secrets_path: Path
) -> None:
    first = run_task("hub.admins", "--env", ENV, "--url", hub.url)
    assert first.code == 0, first.err
    assert f"registered now: {ADMIN}" in first.out
    password = stored_passwords(secrets_path)[ADMIN]
    assert len(password) >= 32
    assert password not in first.out + first.err
    assert stat.S_IMODE(secrets_path.stat().st_mode) == 0o600
    assert logs_in(hub, ADMIN, password)
    assert not logs_in(hub, ADMIN, password + "x")
    assert signup_posts(hub) == 1

    before = secrets_path.read_bytes()
    second = run_task("hub.admins", "--env", ENV, "--url", hub.url)
    assert second.code == 0, second.err
    assert f"already registered: {ADMIN}" in second.out
    assert secrets_path.read_bytes() == before
    assert signup_posts(hub) == 1


def test_dry_run_signs_nobody_up(run_task: Run, hub: JupyterHubServer, secrets_path: Path) -> None:
    result = run_task("hub.admins", "--env", ENV, "--url", hub.url, "--dry-run")
    assert result.code == 0, result.err
    assert f"would sign up {ADMIN}" in result.out
    assert stored_passwords(secrets_path) == {}
    assert signup_posts(hub) == 0


def test_an_admin_name_someone_else_registered_is_reported(
    run_task: Run, hub: JupyterHubServer, secrets_path: Path
) -> None:
    assert "successful" in hub.signup(ADMIN, "an-intruders-passphrase-42").text
    result = run_task("hub.admins", "--env", ENV, "--url", hub.url)
    assert result.code == 1
    assert "someone else may hold admin rights" in result.err
    assert "Traceback" not in result.err


def test_a_sign_up_is_pending_then_approved_then_logs_in(
    run_task: Run, hub: JupyterHubServer, secrets_path: Path
) -> None:
    assert run_task("hub.admins", "--env", ENV, "--url", hub.url).code == 0
    carol = "a-long-passphrase-for-carol"
    assert "sent to the admin" in hub.signup("carol", carol).text
    assert not logs_in(hub, "carol", carol)

    listed = run_task("hub.pending", "--env", ENV, "--url", hub.url)
    assert listed.code == 0, listed.err
    assert "1 sign-up(s) waiting for approval" in listed.out
    assert "  carol" in listed.out

    approved = run_task("hub.approve", "--names", "carol", "--env", ENV, "--url", hub.url)
    assert approved.code == 0, approved.err
    assert logs_in(hub, "carol", carol)
    assert "No sign-ups are waiting" in run_task("hub.pending", "--env", ENV, "--url", hub.url).out

    # Approval is a toggle in NativeAuthenticator; a repeat must not flip it back.
    again = run_task("hub.approve", "--names", "carol", "--env", ENV, "--url", hub.url)
    assert again.code == 0, again.err
    assert "already approved" in again.out
    assert logs_in(hub, "carol", carol)


def test_approve_all_and_unknown_names(
    run_task: Run, hub: JupyterHubServer, secrets_path: Path
) -> None:
    assert run_task("hub.admins", "--env", ENV, "--url", hub.url).code == 0
    for name in ("dan", "erin"):
        hub.signup(name, f"passphrase-of-{name}-123")

    unknown = run_task("hub.approve", "--names", "dan,zed", "--env", ENV, "--url", hub.url)
    assert unknown.code == 2
    assert "option --names zed: no sign-up by that name; waiting: dan, erin" in unknown.err
    assert not logs_in(hub, "dan", "passphrase-of-dan-123")

    every = run_task("hub.approve", "--all", "--env", ENV, "--url", hub.url)
    assert every.code == 0, every.err
    assert logs_in(hub, "dan", "passphrase-of-dan-123")
    assert logs_in(hub, "erin", "passphrase-of-erin-123")


def test_reject_deletes_a_waiting_sign_up_only_when_confirmed(
    run_task: Run, hub: JupyterHubServer, secrets_path: Path
) -> None:
    assert run_task("hub.admins", "--env", ENV, "--url", hub.url).code == 0
    hub.signup("mallory", "passphrase-of-mallory-1")

    unconfirmed = run_task("hub.reject", "--names", "mallory", "--env", ENV, "--url", hub.url)
    assert unconfirmed.code == 2
    assert "option --yes" in unconfirmed.err
    assert "mallory" in run_task("hub.pending", "--env", ENV, "--url", hub.url).out

    rejected = run_task("hub.reject", "--names", "mallory", "--env", ENV, "--url", hub.url, "--yes")
    assert rejected.code == 0, rejected.err
    assert "No sign-ups are waiting" in run_task("hub.pending", "--env", ENV, "--url", hub.url).out
    # Gone for good: the name can be signed up afresh.
    assert "sent to the admin" in hub.signup("mallory", "another-passphrase-2").text


def test_pending_without_registered_admins_says_what_to_run(
    run_task: Run, hub: JupyterHubServer, secrets_path: Path
) -> None:
    result = run_task("hub.pending", "--env", ENV, "--url", hub.url)
    assert result.code == 1
    assert f"invoke hub.admins --env {ENV}" in result.err


def test_native_tasks_refuse_other_sign_in_before_any_request(
    run_task: Run, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The example's documentation values are refused first otherwise (core.placeholders).
    monkeypatch.setenv("JHUB_ALLOW_DOCUMENTATION_VALUES", "1")
    environments.write(config_dir, "oauth", environments.oauth_letsencrypt())
    for task in ("hub.admins", "hub.pending", "hub.authorize-url"):
        result = run_task(task, "--env", "oauth", "--url", "http://127.0.0.1:9/")
        if task == "hub.authorize-url":
            result = run_task(task, "--env", "oauth")
        assert result.code == 2, (task, result.err)
        assert "hub.auth.type" in result.err
    assert run_task("hub.approve", "--env", "oauth").code == 2


def test_authorize_url(run_task: Run, config_dir: Path) -> None:
    environments.write(config_dir, "native", environments.native_secret())
    result = run_task("hub.authorize-url", "--env", "native")
    assert result.code == 0, result.err
    assert result.out.strip() == "https://jupyter.example.org/hub/authorize"
