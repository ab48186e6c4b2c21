"""hub.health: does the hub answer, and can it start a user server right now?

1. GET <hub>/hub/api/health (the hub's URL is hub.domain, else the proxy-public load
   balancer's address, else --url, e.g. a port-forward);
2. with the token of the hub service `health-check`, make sure the dedicated user
   `jhub-health-check` exists, and stop a server an interrupted earlier check left;
3. start its server on the default profile, wait until it is ready and report how long
   that took (what a user waits for after signing in);
4. stop it again and wait until it is gone.

An unhealthy hub is a result, not an exception: `run` returns it with the cause and the
remedy, so `invoke status` can show it and `invoke hub.health` / `invoke deploy` can fail
with it (`HealthResult.raise_if_unhealthy`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from ..core import kube, templates
from ..core.console import Console
from ..core.errors import BadInput, OperationFailed, Problem, bad_option
from ..core.loading import Environment
from ..core.settings import Settings
from ..core.waiting import Backoff, Clock, RealClock, wait_until
from .floating_ip import PROXY_SERVICE
from .urls import normalise, public_url

CHECK_USER = templates.HEALTH_CHECK_USER
SERVICE = "health-check"
REQUEST_TIMEOUT = 15.0
# JupyterHub holds a start request for up to its slow_spawn_timeout (10 s by default)
# before it answers 202, so this request needs longer than the others.
START_REQUEST_TIMEOUT = 60.0
# Reading the progress stream: events already emitted come at once, then the stream
# goes quiet (keep-alives every 8 s); a short read timeout ends the read there.
PROGRESS_READ_TIMEOUT = 2.0
PROGRESS_MAX_LINES = 200
STOP_TIMEOUT = 300.0


@dataclass
class HealthResult:
    healthy: bool
    spawn_seconds: float | None
    lines: list[str] = field(default_factory=list)
    cause: str = ""
    remedy: str = ""

    def raise_if_unhealthy(self) -> None:
        if not self.healthy:
            raise OperationFailed(self.cause, self.remedy)


def run(
    environment: Environment,
    ui: Console,
    *,
    url: str | None = None,
    spawn: bool = True,
    timeout: float = 600.0,
    clock: Clock | None = None,
) -> HealthResult:
    """Check the hub; bad options raise BadInput before any request is made."""
    if not timeout > 0:
        raise bad_option("--timeout", f"{timeout!r} is not allowed; give seconds above 0")
    base = normalise(url) if url else None
    token = _token(environment) if spawn else None
    lines: list[str] = []
    spawn_seconds: float | None = None
    try:
        base = base or _hub_url(environment)
        with ui.step("hub API health") as step:
            lines.append(_api_health(environment, base))
            step.done(lines[-1])
        if token is not None:
            hub = HubApi(base, token, environment)
            with hub.session:
                spawn_seconds = _spawn_and_stop(
                    hub, environment.settings, ui, lines, timeout=timeout, clock=clock
                )
    except OperationFailed as failure:
        lines.append(f"unhealthy: {failure.cause}")
        return HealthResult(False, spawn_seconds, lines, failure.cause, failure.remedy)
    return HealthResult(True, spawn_seconds, lines)


def _token(environment: Environment) -> str:
    if environment.secrets is None:
        raise BadInput(
            Problem(
                str(environment.secrets_path),
                "not found, and the spawn check needs secrets.health_check_token from it; "
                f"generate it with `invoke config.init --env {environment.name}`, "
                "or check the API only with --no-spawn",
            )
        )
    return environment.secrets.health_check_token


def _hub_url(environment: Environment) -> str:
    """hub.domain when set, else the address of the proxy-public load balancer."""
    settings = environment.settings
    if settings.hub.url:
        return settings.hub.url
    namespace = settings.hub.namespace
    api = kube.api_client(environment.kubeconfig)
    address = kube.load_balancer_address(api, namespace, PROXY_SERVICE)
    if address is None:
        raise OperationFailed(
            f"Service {namespace}/{PROXY_SERVICE} has no external address, so the hub's "
            "URL is unknown",
            f"wait for the load balancer (`invoke lb.doctor --env {environment.name}`), or "
            f"check through a port-forward: `{port_forward_command(environment)}`, then "
            f"`invoke hub.health --env {environment.name} --url http://127.0.0.1:8080/`",
        )
    return public_url(settings, address)


def port_forward_command(environment: Environment) -> str:
    return (
        f"kubectl --kubeconfig {environment.kubeconfig} -n {environment.settings.hub.namespace} "
        f"port-forward svc/{PROXY_SERVICE} 8080:80"
    )


def _api_health(environment: Environment, base: str) -> str:
    target = f"{base}hub/api/health"
    try:
        response = requests.get(target, timeout=REQUEST_TIMEOUT)
    except requests.exceptions.SSLError as error:
        raise OperationFailed(
            f"TLS to {target} failed: {error}",
            f"check the certificate with `invoke hub.cert-status --env {environment.name}`",
        ) from None
    except requests.RequestException as error:
        raise OperationFailed(
            f"the hub does not answer at {target} ({type(error).__name__})",
            f"`invoke hub.status --env {environment.name}` shows its pods and load balancer; "
            "with --url, check that the port-forward still runs",
        ) from None
    if response.status_code != 200:
        raise OperationFailed(
            f"{target} answered HTTP {response.status_code}, not 200",
            f"see the hub's log: `{_kubectl(environment)} logs deploy/hub`",
        )
    return f"{target} answered 200"


def _kubectl(environment: Environment) -> str:
    return f"kubectl --kubeconfig {environment.kubeconfig} -n {environment.settings.hub.namespace}"


# ------------------------------------------------------------------ the REST API


class HubApi:
    """The few /hub/api calls the check makes, as the health-check service."""

    def __init__(self, base: str, token: str, environment: Environment) -> None:
        self.base = base
        self.environment = environment
        self.session = requests.Session()
        # The token travels in a header only; it is never part of a URL or a message.
        self.session.headers["Authorization"] = f"token {token}"

    def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> requests.Response:
        try:
            return self.session.request(
                method, f"{self.base}hub/api/{path}", json=body, timeout=timeout
            )
        except requests.RequestException as error:
            raise OperationFailed(
                f"the hub stopped answering during the check ({method} /hub/api/{path}: "
                f"{type(error).__name__})",
                f"`invoke hub.status --env {self.environment.name}`, then re-run the check",
            ) from None

    def refused(self, response: requests.Response) -> OperationFailed | None:
        """The hub's no to our token or to its scopes, worded for the operator."""
        message = error_message(response)
        env = self.environment.name
        if response.status_code == 403 and "credentials" in message.lower():
            return OperationFailed(
                f"the hub refused the {SERVICE} service's token ({message})",
                f"the hub runs with another secrets.health_check_token than "
                f"{self.environment.secrets_path}; deploy this one with "
                f"`invoke hub.deploy --env {env}`",
            )
        if response.status_code in (403, 404) and (
            "not authorized" in message or "No access" in message
        ):
            return OperationFailed(
                f"the {SERVICE} service may not manage the user {CHECK_USER} ({message})",
                f"its role in the hub's values is out of date; `invoke hub.deploy --env {env}` "
                "renders it again",
            )
        return None

    def user(self) -> dict[str, Any] | None:
        response = self.call("GET", f"users/{CHECK_USER}")
        problem = self.refused(response)
        if problem is not None:
            raise problem
        if response.status_code == 404:
            return None
        model = self._model(response, f"GET /hub/api/users/{CHECK_USER}")
        if "servers" not in model:
            raise OperationFailed(
                f"the {SERVICE} service may not read the servers of {CHECK_USER}",
                f"redeploy its role with `invoke hub.deploy --env {self.environment.name}`",
            )
        return model

    def create_user(self) -> None:
        response = self.call("POST", f"users/{CHECK_USER}")
        problem = self.refused(response)
        if problem is not None:
            raise problem
        # 409: created meanwhile, by a check running in parallel.
        if response.status_code not in (201, 409):
            raise self.unexpected(response, f"POST /hub/api/users/{CHECK_USER}")

    def unexpected(self, response: requests.Response, what: str) -> OperationFailed:
        return OperationFailed(
            f"{what} answered HTTP {response.status_code}: {error_message(response)}",
            f"see the hub's log: `{_kubectl(self.environment)} logs deploy/hub`",
        )

    def _model(self, response: requests.Response, what: str) -> dict[str, Any]:
        if response.status_code != 200:
            raise self.unexpected(response, what)
        try:
            model = response.json()
        except ValueError:
            model = None
        if not isinstance(model, dict):
            raise OperationFailed(f"{what} did not answer a JSON object", "is --url the hub?")
        return model

    def progress_messages(self) -> list[str]:
        """What the spawner reported so far (KubeSpawner: the pod's events), oldest first."""
        messages: list[str] = []
        try:
            with self.session.get(
                f"{self.base}hub/api/users/{CHECK_USER}/server/progress",
                stream=True,
                timeout=(REQUEST_TIMEOUT, PROGRESS_READ_TIMEOUT),
            ) as response:
                if response.status_code != 200:
                    return messages
                for event in _events(response.iter_lines(decode_unicode=True)):
                    message = str(event.get("message") or "").strip()
                    if message and message not in messages:
                        messages.append(message)
                    if event.get("failed") or event.get("ready"):
                        break
        except requests.RequestException:
            pass  # the stream went quiet: everything emitted so far has been read
        return messages


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The JSON events of a text/event-stream, at most PROGRESS_MAX_LINES lines of it."""
    for count, line in enumerate(lines):
        if count >= PROGRESS_MAX_LINES:
            return
        if not line or not line.startswith("data:"):
            continue
        try:
            event = json.loads(line[len("data:") :])
        except ValueError:
            continue
        if isinstance(event, dict):
            yield event


def error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason or ""
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return response.reason or ""


# ------------------------------------------------------------------ spawn and stop


def _spawn_and_stop(
    hub: HubApi,
    settings: Settings,
    ui: Console,
    lines: list[str],
    *,
    timeout: float,
    clock: Clock | None,
) -> float:
    clock = clock or RealClock()
    with ui.step(f"check user {CHECK_USER}") as step:
        model = hub.user()
        if model is None:
            hub.create_user()
            model = hub.user() or {}
            step.done("created")
        else:
            step.unchanged("exists")

    if _default_server(model) is not None:
        with ui.step("stop the server an earlier check left running"):
            _stop(hub, ui, timeout, clock)

    options = spawn_options(settings)
    profile = f" on profile {options['profile']}" if "profile" in options else ""
    with ui.step(f"start a server for {CHECK_USER}{profile}") as step:
        started = clock.monotonic()
        start_error = _request_start(hub, options)
        try:
            with ui.waiting(f"waiting for the server of {CHECK_USER}") as status:
                _wait_until_ready(hub, start_error, timeout, clock, status.update)
        except OperationFailed:
            _stop_quietly(hub, ui, clock)
            raise
        seconds = clock.monotonic() - started
        step.done(f"ready in {seconds:.1f}s")
    lines.append(f"a server for {CHECK_USER}{profile} was ready in {seconds:.1f}s")

    with ui.step(f"stop the server of {CHECK_USER}") as step:
        stopped = _stop(hub, ui, timeout, clock)
        step.done(f"stopped in {stopped:.1f}s")
    lines.append(f"and stopped in {stopped:.1f}s")
    return seconds


def spawn_options(settings: Settings) -> dict[str, str]:
    """KubeSpawner picks a profile by its slug; the chart's slugs are the profile names."""
    if not settings.hub.enabled_profiles:
        return {}
    return {"profile": settings.hub.default_profile.name}


def _default_server(model: dict[str, Any]) -> dict[str, Any] | None:
    server = (model.get("servers") or {}).get("")
    return server if isinstance(server, dict) else None


def _request_start(hub: HubApi, options: dict[str, str]) -> str:
    """POST the start; '' or the hub's error, which the wait that follows may explain."""
    path = f"users/{CHECK_USER}/server"
    try:
        response = hub.call("POST", path, body=options, timeout=START_REQUEST_TIMEOUT)
    except OperationFailed as error:
        # A start that outlasts the request still goes on; the wait tells the outcome.
        return error.cause
    problem = hub.refused(response)
    if problem is not None:
        raise problem
    if response.status_code in (201, 202):
        return ""
    if response.status_code == 400:
        raise OperationFailed(
            f"the hub would not start the server of {CHECK_USER}: {error_message(response)}",
            "wait a minute (a stop may still be under way), then re-run the check",
        )
    # JupyterHub 5 can answer 500 to a start that is still under way or that failed
    # later than its slow_spawn_timeout; the user model says which.
    return f"HTTP {response.status_code}: {error_message(response)}"


def _wait_until_ready(
    hub: HubApi,
    start_error: str,
    timeout: float,
    clock: Clock,
    report: Callable[[str], None],
) -> None:
    env = hub.environment

    def ready() -> bool | None:
        server = _default_server(hub.user() or {})
        if server is not None and server.get("ready"):
            return True
        if server is not None and server.get("pending") == "spawn":
            return None
        reason = "; ".join(hub.progress_messages()) or start_error or "the hub gave no reason"
        raise OperationFailed(
            f"the server of {CHECK_USER} failed to start: {reason}",
            f"see the hub's log (`{_kubectl(env)} logs deploy/hub`) and the user pod's "
            f"events (`{_kubectl(env)} get events --sort-by=.lastTimestamp`)",
        )

    try:
        wait_until(
            ready,
            what=f"the server of {CHECK_USER}",
            timeout=timeout,
            backoff=Backoff(initial=0.5, factor=1.5, cap=5.0),
            clock=clock,
            on_poll=lambda elapsed: report(f"{elapsed:.0f}s"),
        )
    except OperationFailed as error:
        if not error.cause.startswith("timed out"):
            raise
        progress = hub.progress_messages()
        raise OperationFailed(
            f"the server of {CHECK_USER} was not ready after {timeout:.0f}s"
            + (f"; the spawner's last words: {'; '.join(progress[-3:])}" if progress else ""),
            "a first start pulls the user image and may need longer (--timeout); otherwise "
            f"see the user pod's events (`{_kubectl(env)} get events "
            "--sort-by=.lastTimestamp`) and whether a node has room (`invoke lb.doctor`, "
            "`invoke cluster.status`)",
        ) from None


def _stop(hub: HubApi, ui: Console, timeout: float, clock: Clock) -> float:
    """Stop the check user's server and wait until the hub no longer lists it."""
    started = clock.monotonic()
    path = f"users/{CHECK_USER}/server"
    response = hub.call("DELETE", path)
    problem = hub.refused(response)
    if problem is not None:
        raise problem
    if response.status_code not in (202, 204):
        raise hub.unexpected(response, f"DELETE /hub/api/{path}")

    def gone() -> bool | None:
        return True if _default_server(hub.user() or {}) is None else None

    with ui.waiting(f"waiting for the server of {CHECK_USER} to stop") as status:
        wait_until(
            gone,
            what=f"the server of {CHECK_USER} to stop",
            timeout=min(timeout, STOP_TIMEOUT),
            remedy=f"see the hub's log: `{_kubectl(hub.environment)} logs deploy/hub`",
            backoff=Backoff(initial=0.5, factor=1.5, cap=5.0),
            clock=clock,
            on_poll=lambda elapsed: status.update(f"{elapsed:.0f}s"),
        )
    return clock.monotonic() - started


def _stop_quietly(hub: HubApi, ui: Console, clock: Clock) -> None:
    """After a failed start: do not leave a half-started server holding a node's room."""
    try:
        _stop(hub, ui, STOP_TIMEOUT, clock)
    except OperationFailed as error:
        ui.warn(f"could not stop the server of {CHECK_USER}: {error.cause}")
