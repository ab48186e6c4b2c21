"""Real components for tests: the one place a test asks for dockerd, a registry, Prometheus,
JupyterHub, helm, a DNS server or a programmable HTTP server.

Register the fixtures once, in tests/conftest.py::

    pytest_plugins = ["tests.support.components"]

Design rule (docs/design.md §6): in CI (``CI=true``) a missing component fails the test, so
a broken .ci/run can never pass as "all skipped"; on a developer's machine it skips with the
reason and an install hint.

Every server binds 127.0.0.1 on a free port, lives in a pytest tmp dir and is stopped on
teardown. The classes (``PrometheusFactory``, ``JupyterHubFactory``, ``start_registry``,
``DnsServer``, ``ProgrammableHTTPServer``) do not depend on pytest, so a test module that
wants a module-scoped hub or Prometheus can build its own fixture from them.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import ipaddress
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
import requests
import yaml

from tests.support.processes import (
    LOOPBACK,
    ManagedProcess,
    ProcessStartError,
    free_port,
    loopback_session,
)

if TYPE_CHECKING:
    import docker

__all__ = [
    "AlertmanagerServer",
    "BlackboxServer",
    "DnsEndpoint",
    "DnsServer",
    "HttpResponse",
    "HubService",
    "JupyterHubFactory",
    "JupyterHubServer",
    "ManagedProcess",
    "ProcessFactory",
    "ProgrammableHTTPServer",
    "PrometheusFactory",
    "PrometheusServer",
    "RegistryServer",
    "free_port",
    "in_ci",
    "require",
    "start_alertmanager",
    "start_blackbox",
    "start_registry",
    "which_or_require",
]

# Install hints shown when a component is missing outside CI. .ci/run is the reference.
HINTS: dict[str, str] = {
    "helm": "run `python3 .ci/install_helm.py` (or set JHUB_HELM to a helm 3/4 binary)",
    "prometheus": "apt-get install prometheus",
    "promtool": "apt-get install prometheus (it ships promtool)",
    "docker-registry": "apt-get install docker-registry",
    "dockerd": "apt-get install docker.io, then start `dockerd --storage-driver=vfs` as root",
    "jupyterhub": "pip install -e '.[test]'",
    "jupyterhub-nativeauthenticator": "pip install -e '.[test]'",
    "configurable-http-proxy": "npm install -g configurable-http-proxy",
    "dnslib": "pip install -e '.[test]'",
    "prometheus-alertmanager": "apt-get install prometheus-alertmanager",
    "amtool": "apt-get install prometheus-alertmanager (it ships amtool)",
    "prometheus-blackbox-exporter": "apt-get install prometheus-blackbox-exporter",
}


# ---------------------------------------------------------------------------------------
# require


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def require(name: str, reason: str) -> NoReturn:
    """Report that component ``name`` is missing: fail in CI, skip elsewhere."""
    if in_ci():
        pytest.fail(f"{name} is required in CI: {reason}", pytrace=False)
    hint = HINTS.get(name)
    suffix = f" (install: {hint})" if hint and hint not in reason else ""
    pytest.skip(f"{name} not available: {reason}{suffix}")


def which_or_require(binary: str, hint: str, *, env_var: str | None = None) -> str:
    """Path of ``binary`` (from ``env_var`` when set, else PATH); ``require`` it otherwise."""
    override = os.environ.get(env_var) if env_var else None
    if override:
        if os.access(override, os.X_OK) and Path(override).is_file():
            return override
        require(binary, f"{env_var}={override} is not an executable file; {hint}")
    found = shutil.which(binary)
    if found is None:
        require(binary, f"`{binary}` is not on PATH; {hint}")
    return found


def _require_module(module: str, name: str) -> None:
    if importlib.util.find_spec(module) is None:
        require(name, f"Python module `{module}` is not importable")


# ---------------------------------------------------------------------------------------
# generic processes


class ProcessFactory:
    """Starts ManagedProcesses and stops every one of them on ``close``."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[ManagedProcess] = []

    def __call__(
        self,
        name: str,
        args: Sequence[str | os.PathLike[str]],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        wait_http: str | None = None,
        wait_port: int | None = None,
        timeout: float = 60.0,
    ) -> ManagedProcess:
        log_path = self.log_dir / f"{name}-{len(self.processes)}.log"
        proc = ManagedProcess(name, args, log_path=log_path, env=env, cwd=cwd)
        self.processes.append(proc)
        proc.start()
        if wait_http:
            proc.wait_for_http(wait_http, timeout=timeout)
        if wait_port:
            proc.wait_for_port(wait_port, timeout=timeout)
        return proc

    def close(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        self.processes.clear()


@pytest.fixture
def managed_process(tmp_path: Path) -> Iterator[ProcessFactory]:
    """``managed_process(name, args, env=, cwd=, wait_http=url | wait_port=port)``."""
    factory = ProcessFactory(tmp_path / "logs")
    yield factory
    factory.close()


# ---------------------------------------------------------------------------------------
# helm

HELM_MAJORS = (3, 4)


def helm_major(helm: str) -> int | None:
    try:
        out = subprocess.run(
            [helm, "version", "--short"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"v(\d+)\.\d+", out)
    return int(match.group(1)) if match else None


@pytest.fixture(scope="session")
def helm_binary() -> str:
    """Path to a real helm 3 or 4 (``JHUB_HELM`` or PATH)."""
    helm = which_or_require("helm", HINTS["helm"], env_var="JHUB_HELM")
    major = helm_major(helm)
    if major not in HELM_MAJORS:
        require("helm", f"{helm} reports major version {major}, need one of {HELM_MAJORS}")
    return helm


# ---------------------------------------------------------------------------------------
# Prometheus


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return which_or_require("prometheus", HINTS["prometheus"], env_var="JHUB_PROMETHEUS")


@pytest.fixture(scope="session")
def promtool_bin() -> str:
    return which_or_require("promtool", HINTS["promtool"], env_var="JHUB_PROMTOOL")


ADDRESS_PLACEHOLDER = "$PROMETHEUS_ADDRESS"

DEFAULT_PROMETHEUS_CONFIG = f"""\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["{ADDRESS_PLACEHOLDER}"]
"""


@dataclass
class PrometheusServer:
    url: str  # http://127.0.0.1:PORT (no trailing slash)
    address: str  # 127.0.0.1:PORT
    config_path: Path
    storage_path: Path
    process: ManagedProcess

    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>`` and return ``data``; raise on a non-success answer."""
        with loopback_session() as session:
            response = session.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise AssertionError(f"Prometheus {path} {params} -> {response.status_code}: {body}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; returns the ``result`` list (empty when no series match)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", **params)
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_for_result(self, expr: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll ``expr`` until it returns at least one series (scrapes take a moment)."""
        result: list[dict[str, Any]] = []

        def has_result() -> bool:
            nonlocal result
            result = self.query(expr)
            return bool(result)

        self.process.wait_for(has_result, what=f"a result for {expr!r}", timeout=timeout)
        return result

    def targets(self) -> list[dict[str, Any]]:
        active: list[dict[str, Any]] = self.api("targets")["activeTargets"]
        return active


class PrometheusFactory:
    """Starts Debian's ``prometheus`` on loopback with a given configuration.

    ``config`` is YAML text or a mapping; the text ``$PROMETHEUS_ADDRESS`` in it becomes the
    server's own host:port, so a config can scrape Prometheus itself. ``backfill`` takes
    OpenMetrics text (ending in ``# EOF``) that promtool turns into TSDB blocks before the
    server starts, for querying recorded series at their recorded timestamps.
    """

    def __init__(self, prometheus: str, base_dir: Path, promtool: str | None = None) -> None:
        self.prometheus = prometheus
        self.promtool = promtool
        self.base_dir = base_dir
        self.servers: list[PrometheusServer] = []

    def __call__(
        self,
        config: str | Mapping[str, Any] | None = None,
        *,
        extra_args: Sequence[str] = (),
        backfill: str | None = None,
        timeout: float = 60.0,
    ) -> PrometheusServer:
        index = len(self.servers)
        workdir = self.base_dir / f"prometheus-{index}"
        storage = workdir / "data"
        storage.mkdir(parents=True)
        port = free_port()
        address = f"{LOOPBACK}:{port}"
        text = DEFAULT_PROMETHEUS_CONFIG if config is None else config
        if not isinstance(text, str):
            text = yaml.safe_dump(dict(text), sort_keys=False)
        config_path = workdir / "prometheus.yml"
        config_path.write_text(text.replace(ADDRESS_PLACEHOLDER, address))
        if backfill is not None:
            self._backfill(backfill, workdir, storage)

        process = ManagedProcess(
            "prometheus",
            [
                self.prometheus,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={storage}",
                f"--web.listen-address={address}",
                # Debian's defaults point at /usr/share consoles; tests need neither.
                f"--web.console.templates={workdir}",
                f"--web.console.libraries={workdir}",
                *extra_args,
            ],
            log_path=workdir / "prometheus.log",
            cwd=workdir,
        )
        server = PrometheusServer(
            url=f"http://{address}",
            address=address,
            config_path=config_path,
            storage_path=storage,
            process=process,
        )
        self.servers.append(server)
        process.start()
        process.wait_for_http(f"{server.url}/-/ready", timeout=timeout)
        return server

    def _backfill(self, openmetrics: str, workdir: Path, storage: Path) -> None:
        if self.promtool is None:
            raise ValueError("backfill needs a PrometheusFactory built with promtool")
        source = workdir / "backfill.om"
        source.write_text(openmetrics if openmetrics.endswith("\n") else openmetrics + "\n")
        result = subprocess.run(
            [self.promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(storage)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise ProcessStartError(
                f"promtool backfill failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )

    def close(self) -> None:
        for server in reversed(self.servers):
            server.process.stop()
        self.servers.clear()


@pytest.fixture
def prometheus_factory(
    prometheus_bin: str, promtool_bin: str, tmp_path: Path
) -> Iterator[PrometheusFactory]:
    """``prometheus_factory(config=None, extra_args=(), backfill=None) -> PrometheusServer``."""
    factory = PrometheusFactory(prometheus_bin, tmp_path, promtool=promtool_bin)
    yield factory
    factory.close()


# ---------------------------------------------------------------------------------------
# Alertmanager and the blackbox exporter (Debian's packages)


@pytest.fixture(scope="session")
def alertmanager_bin() -> str:
    return which_or_require(
        "prometheus-alertmanager", HINTS["prometheus-alertmanager"], env_var="JHUB_ALERTMANAGER"
    )


@pytest.fixture(scope="session")
def amtool_bin() -> str:
    return which_or_require("amtool", HINTS["amtool"], env_var="JHUB_AMTOOL")


@pytest.fixture(scope="session")
def blackbox_bin() -> str:
    return which_or_require(
        "prometheus-blackbox-exporter",
        HINTS["prometheus-blackbox-exporter"],
        env_var="JHUB_BLACKBOX_EXPORTER",
    )


@dataclass
class AlertmanagerServer:
    url: str  # http://127.0.0.1:PORT
    config_path: Path
    process: ManagedProcess


def start_alertmanager(binary: str, workdir: Path, config: str) -> AlertmanagerServer:
    """Alertmanager on loopback with ``config`` (YAML text); clustering off.

    ``--cluster.listen-address=`` (empty) disables the gossip listener, which would
    otherwise bind port 9094 on every interface.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "alertmanager.yml"
    config_path.write_text(config)
    address = f"{LOOPBACK}:{free_port()}"
    process = ManagedProcess(
        "alertmanager",
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address={address}",
            "--cluster.listen-address=",
        ],
        log_path=workdir / "alertmanager.log",
        cwd=workdir,
    )
    process.start()
    url = f"http://{address}"
    process.wait_for_http(f"{url}/-/ready", timeout=60)
    return AlertmanagerServer(url, config_path, process)


@dataclass
class BlackboxServer:
    url: str  # http://127.0.0.1:PORT
    address: str
    config_path: Path
    process: ManagedProcess


def start_blackbox(binary: str, workdir: Path, config: str) -> BlackboxServer:
    """The blackbox exporter on loopback with ``config`` (blackbox.yml text)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "blackbox.yml"
    config_path.write_text(config)
    address = f"{LOOPBACK}:{free_port()}"
    process = ManagedProcess(
        "blackbox-exporter",
        [binary, f"--config.file={config_path}", f"--web.listen-address={address}"],
        log_path=workdir / "blackbox.log",
        cwd=workdir,
    )
    process.start()
    url = f"http://{address}"
    process.wait_for_http(f"{url}/-/healthy", timeout=60)
    return BlackboxServer(url, address, config_path, process)


# ---------------------------------------------------------------------------------------
# Docker daemon and registry


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A Docker SDK client whose daemon answers ``ping``.

    Tests never start dockerd themselves: it needs root, a storage driver choice and minutes
    of state, so .ci/run (or the developer) owns it.
    """
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        require("dockerd", "the `docker` Python SDK is not installed")
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except (DockerException, requests.RequestException) as exc:
        require("dockerd", f"no Docker daemon answers ({exc}); {HINTS['dockerd']}")
    try:
        yield client
    finally:
        client.close()


@dataclass
class RegistryServer:
    host: str  # 127.0.0.1:PORT, the prefix for image tags
    url: str  # http://127.0.0.1:PORT
    storage_path: Path
    process: ManagedProcess

    def catalog(self) -> list[str]:
        with loopback_session() as session:
            response = session.get(f"{self.url}/v2/_catalog", timeout=10)
        response.raise_for_status()
        repositories: list[str] = response.json()["repositories"]
        return repositories

    def tags(self, repository: str) -> list[str]:
        with loopback_session() as session:
            response = session.get(f"{self.url}/v2/{repository}/tags/list", timeout=10)
        response.raise_for_status()
        tags: list[str] = response.json().get("tags") or []
        return tags


def registry_binary() -> str:
    override = os.environ.get("JHUB_REGISTRY_BIN")
    if override:
        return which_or_require(
            "docker-registry", HINTS["docker-registry"], env_var="JHUB_REGISTRY_BIN"
        )
    for name in ("docker-registry", "registry"):
        found = shutil.which(name)
        if found:
            return found
    require("docker-registry", "neither `docker-registry` nor `registry` is on PATH")


def start_registry(binary: str, workdir: Path, timeout: float = 60.0) -> RegistryServer:
    """Start Distribution's registry with filesystem storage on 127.0.0.1 (plain HTTP).

    dockerd treats 127.0.0.0/8 registries as insecure-allowed, so push and pull work without
    TLS or daemon configuration.
    """
    storage = workdir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    port = free_port()
    host = f"{LOOPBACK}:{port}"
    config = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": host, "secret": secrets.token_hex(16)},
    }
    config_path = workdir / "config.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    process = ManagedProcess(
        "docker-registry",
        [binary, "serve", str(config_path)],
        log_path=workdir / "registry.log",
        cwd=workdir,
    )
    process.start()
    server = RegistryServer(host=host, url=f"http://{host}", storage_path=storage, process=process)
    try:
        process.wait_for_http(f"{server.url}/v2/", timeout=timeout)
    except BaseException:
        process.stop()
        raise
    return server


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Debian's docker-registry on loopback; ``.host`` is the image tag prefix."""
    server = start_registry(registry_binary(), tmp_path_factory.mktemp("registry"))
    try:
        yield server
    finally:
        server.process.stop()


# ---------------------------------------------------------------------------------------
# JupyterHub


@dataclass
class HubService:
    """A JupyterHub service with a static API token and a role made of ``scopes``."""

    name: str
    scopes: Sequence[str] = ()
    api_token: str = field(default_factory=lambda: secrets.token_hex(32))

    @classmethod
    def metrics(cls, name: str = "metrics") -> HubService:
        return cls(name=name, scopes=["read:metrics"])


ADMIN_SERVICE = "pytest-admin"


@dataclass
class JupyterHubServer:
    url: str  # public (proxy) URL with trailing slash: http://127.0.0.1:PORT/
    api_url: str  # http://127.0.0.1:PORT/hub/api (no trailing slash)
    admin_token: str  # token of a service holding the built-in admin role
    service_tokens: dict[str, str]
    workdir: Path
    config_path: Path
    process: ManagedProcess

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def session(self) -> requests.Session:
        return loopback_session()

    def api(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """Call ``/hub/api/<path>`` with the admin token (or ``token``; ``""`` for none)."""
        use = self.admin_token if token is None else token
        headers = dict(kwargs.pop("headers", {}) or {})
        if use:
            headers["Authorization"] = f"token {use}"
        kwargs.setdefault("timeout", 10)
        with loopback_session() as session:
            return session.request(
                method, f"{self.api_url}/{path.lstrip('/')}", headers=headers, **kwargs
            )

    def metrics(self, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"token {token}"} if token else {}
        with loopback_session() as session:
            return session.get(f"{self.url}hub/metrics", headers=headers, timeout=10)

    def _form_post(
        self, session: requests.Session, page: str, data: Mapping[str, str]
    ) -> requests.Response:
        """GET a hub form page, then POST it back with the page's ``_xsrf`` token."""
        url = f"{self.url}hub/{page}"
        form = session.get(url, timeout=10)
        form.raise_for_status()
        match = re.search(r'name="_xsrf"\s+value="([^"]+)"', form.text)
        xsrf = match.group(1) if match else session.cookies.get("_xsrf", "")
        return session.post(
            url, data={**data, "_xsrf": xsrf or ""}, allow_redirects=False, timeout=30
        )

    def signup(self, username: str, password: str, email: str = "") -> requests.Response:
        """Submit NativeAuthenticator's signup form; its page text tells the outcome."""
        data = {
            "username": username,
            "signup_password": password,
            "signup_password_confirmation": password,
        }
        if email:
            data["email"] = email
        with loopback_session() as session:
            return self._form_post(session, "signup", data)

    def login(self, username: str, password: str) -> tuple[requests.Session, requests.Response]:
        """POST the login form; a success is a redirect that sets a hub login cookie."""
        session = loopback_session()
        response = self._form_post(session, "login", {"username": username, "password": password})
        return session, response

    @staticmethod
    def login_succeeded(response: requests.Response) -> bool:
        return response.status_code in (302, 303) and any(
            cookie.name.startswith("jupyterhub-") and cookie.name != "jupyterhub-session-id"
            for cookie in response.cookies
        )


class JupyterHubFactory:
    """Starts real JupyterHubs (with configurable-http-proxy) on loopback.

    Each hub gets its own directory, sqlite database and cookie secret. Spawning single-user
    servers is not set up (that needs jupyter-server); the hub, proxy, authenticator, REST
    API and /hub/metrics are all real.
    """

    def __init__(self, base_dir: Path, chp: str) -> None:
        self.base_dir = base_dir
        self.chp = chp
        self.hubs: list[JupyterHubServer] = []

    def __call__(
        self,
        *,
        authenticator: str = "dummy",
        admin_users: Sequence[str] = (),
        open_signup: bool = False,
        services: Sequence[HubService] = (),
        authenticate_prometheus: bool = True,
        extra_config: str = "",
        timeout: float = 120.0,
    ) -> JupyterHubServer:
        if authenticator not in ("dummy", "native"):
            raise ValueError(f"authenticator must be 'dummy' or 'native', not {authenticator!r}")
        if authenticator == "native":
            _require_module("nativeauthenticator", "jupyterhub-nativeauthenticator")

        workdir = self.base_dir / f"jupyterhub-{len(self.hubs)}"
        workdir.mkdir(parents=True)
        public_port, hub_port, proxy_api_port = free_port(), free_port(), free_port()
        while len({public_port, hub_port, proxy_api_port}) < 3:
            hub_port, proxy_api_port = free_port(), free_port()

        cookie_secret = workdir / "cookie_secret"
        cookie_secret.write_text(secrets.token_hex(32))
        # JupyterHub refuses a cookie secret file that others can read.
        cookie_secret.chmod(0o600)

        admin = HubService(ADMIN_SERVICE)
        all_services = [admin, *services]
        names = [s.name for s in all_services]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate service names: {names}")
        roles: list[dict[str, Any]] = [{"name": "admin", "services": [ADMIN_SERVICE]}]
        roles += [
            {"name": f"service-{s.name}", "scopes": list(s.scopes), "services": [s.name]}
            for s in services
            if s.scopes
        ]

        settings: dict[str, Any] = {
            "JupyterHub.bind_url": f"http://{LOOPBACK}:{public_port}/",
            "JupyterHub.hub_bind_url": f"http://{LOOPBACK}:{hub_port}",
            "JupyterHub.db_url": f"sqlite:///{workdir / 'jupyterhub.sqlite'}",
            "JupyterHub.cookie_secret_file": str(cookie_secret),
            "JupyterHub.pid_file": str(workdir / "jupyterhub.pid"),
            "JupyterHub.authenticate_prometheus": authenticate_prometheus,
            "JupyterHub.services": [
                {"name": s.name, "api_token": s.api_token} for s in all_services
            ],
            "JupyterHub.load_roles": roles,
            "JupyterHub.spawner_class": "simple",
            "JupyterHub.authenticator_class": authenticator,
            "Authenticator.admin_users": set(admin_users),
            "ConfigurableHTTPProxy.command": [self.chp],
            "ConfigurableHTTPProxy.api_url": f"http://{LOOPBACK}:{proxy_api_port}",
            "ConfigurableHTTPProxy.pid_file": str(workdir / "proxy.pid"),
            "ConfigurableHTTPProxy.auth_token": secrets.token_hex(32),
        }
        if authenticator == "native":
            settings["NativeAuthenticator.open_signup"] = open_signup
            # NativeAuthenticator authorizes users itself (is_authorized); JupyterHub 5's
            # own allow list would otherwise reject every non-admin it lets in.
            settings["NativeAuthenticator.allow_all"] = True
        else:
            settings["DummyAuthenticator.allow_all"] = True

        lines = ["# Generated by tests/support/components.py", "c = get_config()  # noqa"]
        lines += [f"c.{key} = {value!r}" for key, value in settings.items()]
        config_path = workdir / "jupyterhub_config.py"
        config_path.write_text("\n".join(lines) + "\n" + extra_config + "\n")

        process = ManagedProcess(
            "jupyterhub",
            [sys.executable, "-m", "jupyterhub", "-f", str(config_path)],
            log_path=workdir / "jupyterhub.log",
            cwd=workdir,
        )
        # The proxy runs in its own session (JupyterHub's choice), so the group kill on
        # teardown misses it if the hub dies without cleaning up; its pid file does not.
        process.extra_pid_files.append(workdir / "proxy.pid")
        url = f"http://{LOOPBACK}:{public_port}/"
        hub = JupyterHubServer(
            url=url,
            api_url=f"{url}hub/api",
            admin_token=admin.api_token,
            service_tokens={s.name: s.api_token for s in all_services},
            workdir=workdir,
            config_path=config_path,
            process=process,
        )
        self.hubs.append(hub)
        process.start()
        # Through the proxy, so a ready answer also proves the proxy routes to the hub.
        process.wait_for_http(f"{url}hub/api/health", timeout=timeout)
        return hub

    def close(self) -> None:
        for hub in reversed(self.hubs):
            hub.process.stop(timeout=15)
        self.hubs.clear()


@pytest.fixture(scope="session")
def configurable_http_proxy() -> str:
    return which_or_require(
        "configurable-http-proxy", HINTS["configurable-http-proxy"], env_var="JHUB_CHP"
    )


@pytest.fixture
def jupyterhub_factory(configurable_http_proxy: str, tmp_path: Path) -> Iterator[JupyterHubFactory]:
    """``jupyterhub_factory(authenticator="dummy"|"native", admin_users=(), open_signup=False,
    services=(HubService...), authenticate_prometheus=True, extra_config="")``."""
    _require_module("jupyterhub", "jupyterhub")
    factory = JupyterHubFactory(tmp_path, configurable_http_proxy)
    yield factory
    factory.close()


# ---------------------------------------------------------------------------------------
# DNS

DnsRecords = Mapping[str, Mapping[str, str | Sequence[str]]]


def _fqdn(name: str) -> str:
    return name.lower().rstrip(".") + "."


class _RecordResolver:
    """Answers from a dict: ``{"name": {"A": [...], "AAAA": [...], "CNAME": "x"}}``.

    Unknown names get NXDOMAIN; a known name without the asked type gets an empty NOERROR
    answer (NODATA), as a real authoritative server would. ``{"RCODE": "SERVFAIL"}`` makes a
    name fail, for error-path tests.
    """

    def __init__(self, records: DnsRecords, ttl: int) -> None:
        self.ttl = ttl
        self.lock = threading.Lock()
        self.records: dict[str, dict[str, list[str]]] = {}
        self.queries: list[tuple[str, str]] = []
        self.set(records)

    def set(self, records: DnsRecords) -> None:
        normalised = {
            _fqdn(name): {
                rtype.upper(): [values] if isinstance(values, str) else list(values)
                for rtype, values in types.items()
            }
            for name, types in records.items()
        }
        with self.lock:
            self.records = normalised

    def resolve(self, request: Any, handler: Any) -> Any:
        from dnslib import QTYPE, RCODE, RR

        reply = request.reply()
        qname = request.q.qname
        qtype = QTYPE[request.q.qtype]
        name = str(qname).lower()
        with self.lock:
            self.queries.append((name, qtype))
            entry = self.records.get(name)
        if entry is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if "RCODE" in entry:
            reply.header.rcode = getattr(RCODE, entry["RCODE"][0])
            return reply
        for rtype, values in entry.items():
            if rtype == qtype or (rtype == "CNAME" and qtype != "CNAME") or qtype == "ANY":
                for value in values:
                    reply.add_answer(
                        RR(qname, getattr(QTYPE, rtype), rdata=_rdata(rtype, value), ttl=self.ttl)
                    )
        return reply


def _rdata(rtype: str, value: str) -> Any:
    import dnslib

    rdata_class: Callable[[str], Any] | None = {
        "A": dnslib.A,
        "AAAA": dnslib.AAAA,
        "CNAME": dnslib.CNAME,
        "NS": dnslib.NS,
        "PTR": dnslib.PTR,
        "TXT": dnslib.TXT,
    }.get(rtype)
    if rdata_class is None:
        raise ValueError(f"record type {rtype} is not supported by the test DNS server")
    return rdata_class(value)


class DnsEndpoint(tuple[str, int]):
    """``(address, port)`` that also has names."""

    __slots__ = ()

    def __new__(cls, address: str, port: int) -> DnsEndpoint:
        return super().__new__(cls, (address, port))

    @property
    def address(self) -> str:
        return self[0]

    @property
    def port(self) -> int:
        return self[1]


class DnsServer:
    """dnslib on 127.0.0.1, UDP and TCP on the same free port, serving a record dict."""

    def __init__(self, records: DnsRecords, *, ttl: int = 60) -> None:
        from dnslib.server import DNSLogger
        from dnslib.server import DNSServer as LibServer

        self.resolver = _RecordResolver(records, ttl)
        quiet = DNSLogger(log="-request,-reply,-truncated,-data", logf=lambda _msg: None)
        last_error: OSError | None = None
        for _ in range(20):
            port = free_port(udp_too=True)
            try:
                udp = LibServer(self.resolver, address=LOOPBACK, port=port, logger=quiet)
            except OSError as exc:
                last_error = exc
                continue
            try:
                tcp = LibServer(self.resolver, address=LOOPBACK, port=port, tcp=True, logger=quiet)
            except OSError as exc:
                udp.server.server_close()
                last_error = exc
                continue
            break
        else:
            raise RuntimeError(f"could not bind a DNS port on {LOOPBACK}: {last_error}")
        self._servers = [udp, tcp]
        self.endpoint = DnsEndpoint(LOOPBACK, port)
        for server in self._servers:
            server.start_thread()

    @property
    def queries(self) -> list[tuple[str, str]]:
        """(name with trailing dot, type) for every query answered so far."""
        with self.resolver.lock:
            return list(self.resolver.queries)

    def set_records(self, records: DnsRecords) -> None:
        self.resolver.set(records)

    def close(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()


@pytest.fixture
def dns_server_factory() -> Iterator[Callable[..., DnsEndpoint]]:
    """``dns_server_factory(records, ttl=60) -> DnsEndpoint`` (a tuple ``(address, port)``).

    Records: ``{"hub.example.org": {"A": "192.0.2.10", "AAAA": ["2001:db8::10"]}}``. The
    DnsServer behind an endpoint is ``dns_server_factory.servers[endpoint]``.
    """
    _require_module("dnslib", "dnslib")
    servers: dict[DnsEndpoint, DnsServer] = {}

    def start(records: DnsRecords, ttl: int = 60) -> DnsEndpoint:
        server = DnsServer(records, ttl=ttl)
        servers[server.endpoint] = server
        return server.endpoint

    start.servers = servers  # type: ignore[attr-defined]
    yield start
    for server in servers.values():
        server.close()


# ---------------------------------------------------------------------------------------
# programmable HTTP(S) server


@dataclass
class HttpResponse:
    """What the server answers. ``hang=True`` accepts the request and never answers (until
    ``hang_seconds`` pass or the server stops), to provoke client time-outs."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | str = b""
    hang: bool = False
    hang_seconds: float = 60.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection_errors: list[BaseException] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that rejects our certificate or hangs up is what TLS and time-out tests
        # provoke on purpose: record it instead of printing a traceback.
        exc = sys.exc_info()[1]
        if isinstance(exc, ssl.SSLError | ConnectionError | TimeoutError):
            self.connection_errors.append(exc)
            return
        super().handle_error(request, client_address)


class ProgrammableHTTPServer:
    """Threaded HTTP (optionally HTTPS, self-signed) server on loopback.

    ``respond(path, ...)`` programs the answer for an exact path ("*" is the fallback);
    ``requests`` records what arrived, ``connection_errors`` the connections that broke
    (a client rejecting the certificate, for instance). With ``tls=True`` the certificate covers
    ``hostnames`` and 127.0.0.1; ``valid_days`` below zero gives an expired one, and
    ``ca_cert_path`` is the file a client should trust.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        tls: bool = False,
        hostnames: Sequence[str] = ("localhost",),
        valid_days: int = 30,
    ) -> None:
        self.routes: dict[str, HttpResponse] = {"*": HttpResponse(404, body=b"not programmed")}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.ca_cert_path: Path | None = None
        self.httpd = _QuietHTTPServer((LOOPBACK, 0), self._handler_class())
        if tls:
            cert, key = _self_signed_cert(workdir, hostnames, valid_days)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            # Handshake in the request thread: a client that never handshakes must not block
            # the accept loop.
            self.httpd.socket = context.wrap_socket(
                self.httpd.socket, server_side=True, do_handshake_on_connect=False
            )
            self.ca_cert_path = cert
        self.port: int = self.httpd.server_address[1]
        self.host = f"{LOOPBACK}:{self.port}"
        self.url = f"{'https' if tls else 'http'}://{self.host}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    @property
    def connection_errors(self) -> list[BaseException]:
        return list(self.httpd.connection_errors)

    def respond(
        self,
        path: str = "*",
        status: int = 200,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | str = b"",
        hang: bool = False,
        hang_seconds: float = 60.0,
    ) -> None:
        with self._lock:
            self.routes[path] = HttpResponse(status, dict(headers or {}), body, hang, hang_seconds)

    def _route(self, path: str) -> HttpResponse:
        with self._lock:
            return self.routes.get(path.split("?", 1)[0]) or self.routes["*"]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server._record(RecordedRequest(self.command, self.path, dict(self.headers), body))
                spec = server._route(self.path)
                if spec.hang:
                    server._stopping.wait(spec.hang_seconds)
                    self.close_connection = True
                    return
                payload = spec.body.encode() if isinstance(spec.body, str) else spec.body
                headers = {"Server": "pytest-http", "Content-Length": str(len(payload))}
                lowered = {k.lower(): k for k in headers}
                for key, value in spec.headers.items():
                    headers.pop(lowered.get(key.lower(), key), None)
                    headers[key] = value
                self.send_response_only(spec.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # requests are recorded in server.requests instead

        return Handler

    def close(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)


def _self_signed_cert(
    workdir: Path, hostnames: Sequence[str], valid_days: int
) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = dt.datetime.now(dt.UTC)
    if valid_days >= 0:
        not_before, not_after = now - dt.timedelta(minutes=5), now + dt.timedelta(days=valid_days)
    else:
        not_before, not_after = (
            now + dt.timedelta(days=2 * valid_days),
            now + dt.timedelta(days=valid_days),
        )
    alt_names: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    alt_names.append(x509.IPAddress(ipaddress.ip_address(LOOPBACK)))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    workdir.mkdir(parents=True, exist_ok=True)
    cert_path = workdir / f"cert-{secrets.token_hex(4)}.pem"
    key_path = cert_path.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture
def http_server_factory(tmp_path: Path) -> Iterator[Callable[..., ProgrammableHTTPServer]]:
    """``http_server_factory(tls=False, hostnames=("localhost",), valid_days=30)``."""
    servers: list[ProgrammableHTTPServer] = []

    def start(
        *, tls: bool = False, hostnames: Sequence[str] = ("localhost",), valid_days: int = 30
    ) -> ProgrammableHTTPServer:
        server = ProgrammableHTTPServer(
            tmp_path / "http", tls=tls, hostnames=hostnames, valid_days=valid_days
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
