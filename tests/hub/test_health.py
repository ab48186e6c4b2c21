"""hub.health against a real JupyterHub and configurable-http-proxy on loopback.

The hub spawns real single-user servers (jupyter-server, SimpleLocalProcessSpawner, bound
to 127.0.0.1) for the check user; the health-check service gets exactly the scopes the
chart values give it, so these tests also prove that role is enough and no broader.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from invoke.collection import Collection
from invoke.program import Program

from scripts.core.environment_files import generate_secrets, save_secrets
from scripts.core.settings import Secrets, Settings
from scripts.core.templates import render
from scripts.hub import health
from scripts.hub.health_tasks import register
from tests.conftest import ROOT, TaskRun
from tests.hub.conftest import running_hub, use_kubeconfig
from tests.support.components import (
    HubService,
    JupyterHubFactory,
    JupyterHubServer,
    ProgrammableHTTPServer,
    free_port,
    require,
)
from tests.support.fakekube import FakeKube

ENV = "kindlike"
USER = health.CHECK_USER
Run = Callable[..., TaskRun]


def local_config() -> dict[str, Any]:
    """The committed local environment: no domain, dummy sign-in, https off."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "config" / "local.yaml").read_text())
    config["cluster"].pop("kubeconfig")
    return config


def chart_scopes(config: dict[str, Any]) -> list[str]:
    """The health-check role exactly as the hub's Helm values define it."""
    values = render(
        "jupyterhub",
        Settings.model_validate(config),
        Secrets.model_validate(generate_secrets()),
    ).values
    scopes: list[str] = values["hub"]["loadRoles"]["health-check"]["scopes"]
    return scopes


def spawner_config(workdir: Path, cmd: list[str], http_timeout: int = 30) -> str:
    """Real single-user servers on loopback; the options each start asked for are kept."""
    return f"""
import json as _json
import sys as _sys
from pathlib import Path as _Path

c.Spawner.ip = "127.0.0.1"
c.Spawner.cmd = {cmd!r}
# Tests may run as root; jupyter-server refuses that without this flag.
c.Spawner.args = ["--allow-root"]
c.Spawner.http_timeout = {http_timeout}
c.SimpleLocalProcessSpawner.home_dir_template = {str(workdir / "home" / "{username}")!r}

def _record_options(spawner):
    with open({str(workdir / "user_options.jsonl")!r}, "a") as record:
        record.write(_json.dumps(spawner.user_options) + "\\n")

c.Spawner.pre_spawn_hook = _record_options
"""


SINGLEUSER = [sys.executable, "-m", "jupyterhub.singleuser"]


@pytest.fixture
def hub_health(capsys: pytest.CaptureFixture[str]) -> Run:
    """`invoke hub.health ARGS...` in this process, through the registered task."""
    hub = Collection("hub")
    register(hub)
    root = Collection()
    root.add_collection(hub)

    def run(*argv: str) -> TaskRun:
        capsys.readouterr()
        code = 0
        try:
            Program(namespace=root, version="test").run(["invoke", "hub.health", *argv])
        except SystemExit as stop:
            code = int(stop.code or 0)
        captured = capsys.readouterr()
        return TaskRun(code, captured.out, captured.err)

    return run


def write_environment(config_dir: Path, token: str | None, config: dict[str, Any]) -> None:
    (config_dir / f"{ENV}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    if token is not None:
        secrets = generate_secrets()
        secrets["health_check_token"] = token
        save_secrets(config_dir / f"{ENV}.secrets.yaml", secrets)


HubStarter = Callable[..., tuple[JupyterHubServer, Path]]


@pytest.fixture
def start_hub(
    jupyterhub_factory: JupyterHubFactory, config_dir: Path, tmp_path: Path
) -> Iterator[HubStarter]:
    """A hub with the chart's health-check service; the environment holds its token."""
    counter = iter(range(100))

    def start(
        *,
        cmd: list[str] = SINGLEUSER,
        http_timeout: int = 30,
        scopes: list[str] | None = None,
        extra: str = "",
        environment_token: str | None = "",
    ) -> tuple[JupyterHubServer, Path]:
        if cmd == SINGLEUSER and importlib.util.find_spec("jupyter_server") is None:
            require("jupyter-server", "the hub's single-user servers need it (pip install)")
        config = local_config()
        service = HubService("health-check", scopes=scopes or chart_scopes(config))
        workdir = tmp_path / f"spawns-{next(counter)}"
        workdir.mkdir()
        hub = jupyterhub_factory(
            services=[service],
            extra_config=spawner_config(workdir, cmd, http_timeout) + extra,
        )
        token = service.api_token if environment_token == "" else environment_token
        write_environment(config_dir, token, config)
        return hub, workdir

    yield start


def user_model(hub: JupyterHubServer, name: str = USER) -> dict[str, Any] | None:
    response = hub.api("GET", f"users/{name}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    model: dict[str, Any] = response.json()
    return model


def spawn_seconds(out: str) -> float:
    found = re.search(r"was ready in (\d+\.\d)s", out)
    assert found, out
    return float(found.group(1))


# ------------------------------------------------------------------ healthy


def test_a_healthy_hub_starts_and_stops_a_server_on_the_default_profile(
    hub_health: Run, start_hub: HubStarter
) -> None:
    hub, workdir = start_hub()

    result = hub_health("--env", ENV, "--url", hub.url)

    assert result.code == 0, result.out + result.err
    assert f"{hub.url}hub/api/health answered 200" in result.out
    assert f"check user {USER} — created" in result.out
    assert spawn_seconds(result.out) > 0
    assert "stopped in" in result.out
    # The start asked for the configured default profile (KubeSpawner's profile slug).
    recorded = [
        json.loads(line) for line in (workdir / "user_options.jsonl").read_text().splitlines()
    ]
    assert recorded == [{"profile": "default"}]
    # The server really ran, on loopback only, and is gone again.
    assert re.search(rf"http://127\.0\.0\.1:\d+/user/{USER}/", hub.process.log_text())
    model = user_model(hub)
    assert model is not None and model["servers"] == {}
    # The token never reaches the output.
    assert hub.service_tokens["health-check"] not in result.out + result.err


def test_a_second_run_reuses_the_user_and_measures_again(
    hub_health: Run, start_hub: HubStarter
) -> None:
    hub, _ = start_hub()
    assert hub_health("--env", ENV, "--url", hub.url).code == 0

    again = hub_health("--env", ENV, "--url", hub.url)

    assert again.code == 0, again.err
    assert f"check user {USER} — exists" in again.out
    assert spawn_seconds(again.out) > 0


def test_a_server_left_by_an_interrupted_check_is_stopped_first(
    hub_health: Run, start_hub: HubStarter
) -> None:
    hub, _ = start_hub()
    assert hub.api("POST", f"users/{USER}").status_code == 201
    started = hub.api("POST", f"users/{USER}/server", timeout=60)
    assert started.status_code in (201, 202), started.text
    hub.process.wait_for(
        lambda: bool((user_model(hub) or {}).get("servers", {}).get("", {}).get("ready")),
        what="the leftover server",
    )

    result = hub_health("--env", ENV, "--url", hub.url)

    assert result.code == 0, result.out + result.err
    assert "stop the server an earlier check left running" in result.out
    assert spawn_seconds(result.out) > 0
    assert (user_model(hub) or {})["servers"] == {}


def test_no_spawn_asks_the_api_only_and_needs_no_secrets(
    hub_health: Run, start_hub: HubStarter
) -> None:
    hub, _ = start_hub(environment_token=None)

    result = hub_health("--env", ENV, "--url", hub.url, "--no-spawn")

    assert result.code == 0, result.err
    assert f"{hub.url}hub/api/health answered 200" in result.out
    assert user_model(hub) is None


# ------------------------------------------------------------------ the role


def test_the_chart_role_cannot_touch_other_users(start_hub: HubStarter) -> None:
    hub, _ = start_hub()
    token = hub.service_tokens["health-check"]
    assert hub.api("POST", "users/alice").status_code == 201

    for method, path in [
        ("POST", "users/alice/server"),
        ("DELETE", "users/alice/server"),
        ("DELETE", "users/alice"),
        ("GET", "users/alice"),
        ("POST", "users/mallory"),
    ]:
        answer = hub.api(method, path, token=token, timeout=30)
        assert answer.status_code in (403, 404), (method, path, answer.text)
    assert (user_model(hub, "alice") or {})["servers"] == {}
    assert user_model(hub, "mallory") is None


def test_a_role_without_user_admin_is_reported_with_the_redeploy(
    hub_health: Run, start_hub: HubStarter
) -> None:
    hub, _ = start_hub(scopes=[f"read:users!user={USER}", f"servers!user={USER}"])

    result = hub_health("--env", ENV, "--url", hub.url)

    assert result.code == 1
    assert f"the health-check service may not manage the user {USER}" in result.err
    assert "invoke hub.deploy --env kindlike" in result.err
    assert "Traceback" not in result.err
    assert user_model(hub) is None


# ------------------------------------------------------------------ unhealthy


def test_a_refused_token_fails_with_cause_and_remedy(
    hub_health: Run, start_hub: HubStarter
) -> None:
    hub, _ = start_hub(environment_token="f" * 64)

    result = hub_health("--env", ENV, "--url", hub.url)

    assert result.code == 1
    assert "the hub refused the health-check service's token" in result.err
    assert "fix:" in result.err and "invoke hub.deploy --env kindlike" in result.err
    assert "f" * 64 not in result.out + result.err
    assert user_model(hub) is None


def test_a_spawn_that_fails_shows_the_hubs_message(hub_health: Run, start_hub: HubStarter) -> None:
    exits_at_once = [sys.executable, "-c", "raise SystemExit(3)"]
    hub, _ = start_hub(cmd=exits_at_once, http_timeout=3)

    result = hub_health("--env", ENV, "--url", hub.url)

    assert result.code == 1
    assert f"error: the server of {USER} failed to start" in result.err
    # JupyterHub's own words, from the progress stream.
    assert "didn't respond in 3 seconds" in result.err
    assert "logs deploy/hub" in result.err
    assert "Traceback" not in result.err
    assert (user_model(hub) or {})["servers"] == {}


def test_a_spawn_that_never_gets_ready_times_out_and_is_stopped(
    hub_health: Run, start_hub: HubStarter
) -> None:
    never_listens = [sys.executable, "-c", "import time; time.sleep(300)"]
    # slow_spawn_timeout 0: the hub answers the start with 202 at once.
    hub, _ = start_hub(
        cmd=never_listens,
        http_timeout=300,
        extra='c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}\n',
    )

    result = hub_health("--env", ENV, "--url", hub.url, "--timeout", "2")

    assert result.code == 1
    assert f"error: the server of {USER} was not ready after 2s" in result.err
    assert "Spawning server" in result.err
    assert "--timeout" in result.err
    # The half-started server was stopped rather than left holding resources.
    assert (user_model(hub) or {})["servers"] == {}
    assert "Interrupting spawner" in hub.process.log_text()


def test_a_hub_that_is_down_fails_with_where_to_look(hub_health: Run, config_dir: Path) -> None:
    write_environment(config_dir, "0" * 64, local_config())
    url = f"http://127.0.0.1:{free_port()}/"

    result = hub_health("--env", ENV, "--url", url)

    assert result.code == 1
    assert f"error: the hub does not answer at {url}hub/api/health" in result.err
    assert "invoke hub.status --env kindlike" in result.err


def test_a_hub_answering_an_error_is_unhealthy(
    hub_health: Run,
    config_dir: Path,
    http_server_factory: Callable[..., ProgrammableHTTPServer],
) -> None:
    write_environment(config_dir, "0" * 64, local_config())
    server = http_server_factory()
    server.respond("/hub/api/health", 503, body="starting")

    result = hub_health("--env", ENV, "--url", server.url)

    assert result.code == 1
    assert "hub/api/health answered HTTP 503, not 200" in result.err
    assert [request.path for request in server.requests] == ["/hub/api/health"]


# ------------------------------------------------------------------ where the hub is


def test_without_domain_or_url_the_load_balancer_address_is_used(
    hub_health: Run, config_dir: Path, kube: FakeKube
) -> None:
    write_environment(config_dir, "0" * 64, local_config())
    use_kubeconfig(kube, config_dir, ENV)
    running_hub(kube, address="127.0.0.1")

    result = hub_health("--env", ENV, "--no-spawn")

    assert "http://127.0.0.1/hub/api/health" in result.out + result.err


def test_without_an_address_yet_the_port_forward_is_suggested(
    hub_health: Run, config_dir: Path, kube: FakeKube
) -> None:
    write_environment(config_dir, "0" * 64, local_config())
    use_kubeconfig(kube, config_dir, ENV)

    result = hub_health("--env", ENV)

    assert result.code == 1
    assert "Service jhub/proxy-public has no external address" in result.err
    assert "port-forward svc/proxy-public 8080:80" in result.err
    assert "--url http://127.0.0.1:8080/" in result.err


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "soon"], "--timeout"),
        (["--url", "127.0.0.1:8080"], "--url"),
    ],
)
def test_bad_options_exit_2_before_any_request(
    hub_health: Run,
    config_dir: Path,
    http_server_factory: Callable[..., ProgrammableHTTPServer],
    args: list[str],
    option: str,
) -> None:
    write_environment(config_dir, "0" * 64, local_config())
    server = http_server_factory()
    server.respond("*", 200)
    url_args = [] if "--url" in args else ["--url", server.url]

    result = hub_health("--env", ENV, *url_args, *args)

    assert result.code == 2
    assert f"error: option {option}:" in result.err
    assert server.requests == []


def test_the_spawn_check_needs_the_secrets_file(hub_health: Run, config_dir: Path) -> None:
    write_environment(config_dir, None, local_config())

    result = hub_health("--env", ENV, "--url", "http://127.0.0.1:9/")

    assert result.code == 2
    assert "kindlike.secrets.yaml" in result.err
    assert "--no-spawn" in result.err or "config.init" in result.err


def test_spawn_options_name_the_default_profile() -> None:
    config = local_config()
    config["hub"]["profiles"] = [
        {"name": "small", "display_name": "Small", "cpu": {"limit": 1}},
        {"name": "large", "display_name": "Large", "default": True},
    ]
    assert health.spawn_options(Settings.model_validate(config)) == {"profile": "large"}


def test_run_returns_an_unhealthy_result_for_callers_to_show_or_raise(config_dir: Path) -> None:
    """deploy and status call run() directly: an unhealthy hub is a value, not a crash."""
    from scripts.core import loading
    from scripts.core.console import Console
    from scripts.core.errors import OperationFailed

    write_environment(config_dir, "0" * 64, local_config())
    url = f"http://127.0.0.1:{free_port()}/"

    result = health.run(loading.load(ENV), Console(), url=url)

    assert not result.healthy and result.spawn_seconds is None
    assert result.cause.startswith(f"the hub does not answer at {url}hub/api/health")
    assert result.lines[-1] == f"unhealthy: {result.cause}"
    with pytest.raises(OperationFailed) as raised:
        result.raise_if_unhealthy()
    assert raised.value.remedy == result.remedy


def test_the_check_user_cannot_sign_in_but_is_still_checked(
    hub_health: Run, start_hub: HubStarter
) -> None:
    values = render(
        "jupyterhub",
        Settings.model_validate(local_config()),
        Secrets.model_validate(generate_secrets()),
    ).values
    blocked = values["hub"]["config"]["Authenticator"]["blocked_users"]
    assert blocked == [USER]
    hub, _ = start_hub(extra=f"\nc.Authenticator.blocked_users = {set(blocked)!r}\n")

    assert hub_health("--env", ENV, "--url", hub.url).code == 0
    _, refused = hub.login(USER, "any password")
    assert not hub.login_succeeded(refused)
    _, admitted = hub.login("someone-else", "any password")
    assert hub.login_succeeded(admitted)
