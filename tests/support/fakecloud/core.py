"""The shared core of the fake cloud: transport, request log, faults, time, service registry.

Nothing here knows a particular OpenStack service. A service module (``magnum.py``,
``octavia.py``…) subclasses :class:`Service`, declares its :class:`Endpoint` and provides the
hooks below; :class:`CloudCore` finds every registered service through the class hierarchy of
``FakeCloud`` (see the package docstring) and dispatches requests to it.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import requests_mock
import urllib3
import yaml

# The one fake clock of the tests and its epoch; `tests.support.fakecloud.FakeClock` is it.
from ..clock import EPOCH, FakeClock

KEYSTONE = "https://keystone.fake.test"
AUTH_URL = f"{KEYSTONE}/v3"
REGION = "RegionOne"
USERNAME, PASSWORD, PROJECT = "demo", "fake-password", "demo"
PROJECT_ID = "5d4e2b1a9c8f4e7d8a6b3c2d1e0f9a8b"
USER_ID = "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# --------------------------------------------------------------------------------------------
# Request log
# --------------------------------------------------------------------------------------------
@dataclass
class LoggedRequest:
    method: str
    service: str  # the Endpoint.name: keystone | magnum | octavia | neutron | nova | ...
    path: str  # full URL path, e.g. "/v1/clusters/<uuid>" or "/v2.0/lbaas/loadbalancers"
    query: dict[str, list[str]]
    body: Any  # parsed JSON or None
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None  # None when an exception (timeout) was raised instead
    fault: str | None = None  # injected fault kind, if any
    applied: bool = True  # whether a mutating request took effect

    @property
    def is_auth(self) -> bool:
        return self.service == "keystone"


class RequestLog(list[LoggedRequest]):
    """Every request seen by the fake, in order (faulted ones included, with ``fault`` set)."""

    def mutating_calls(self) -> list[LoggedRequest]:
        """POST/PUT/PATCH/DELETE to the services (keystone token requests excluded)."""
        return [r for r in self if r.method in MUTATING and not r.is_auth]

    def count(self, method: str | None, path_regex: str = "") -> int:  # type: ignore[override]
        """Requests with ``method`` (``None``/``"*"``: any) whose path matches ``path_regex``."""
        pattern = re.compile(path_regex)
        return sum(
            1
            for r in self
            if (method in (None, "*") or r.method == method.upper()) and pattern.search(r.path)
        )

    def find(self, method: str | None, path_regex: str = "") -> list[LoggedRequest]:
        pattern = re.compile(path_regex)
        return [
            r
            for r in self
            if (method in (None, "*") or r.method == method.upper()) and pattern.search(r.path)
        ]


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------
FAULT_KINDS = ("500", "502", "503", "connect_timeout", "read_timeout")
# What a cloud's API sees through the load balancer in front of it (kolla-ansible and
# openstack-ansible put HAProxy before keystone, magnum, octavia, neutron...) and a flaky
# network: HAProxy's own 502/503/504 pages (haproxy/haproxy src/http.c http_err_msgs,
# commit 50872daa), a connection reset before the request reached the service, and a
# response lost after the service acted on it (read timeout; a 504 is HAProxy's
# `timeout server` firing while the service may still finish the request).
WIRE_FAULTS = ("502", "503", "504", "connection_reset", "read_timeout")
ALL_FAULT_KINDS = (*FAULT_KINDS, "504", "connection_reset")
# HAProxy's built-in error bodies, byte for byte (src/http.c http_err_msgs, commit 50872daa).
HAPROXY_PAGES = {
    502: "<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete"
    " response.\n</body></html>\n",
    503: "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this"
    " request.\n</body></html>\n",
    504: "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n"
    "</body></html>\n",
}


@dataclass
class FaultRule:
    methods: frozenset[str]
    path: re.Pattern[str] | None
    kinds: tuple[str, ...]
    rate: float = 1.0
    times: int | None = None  # None = unlimited
    applied: bool | None = True  # read_timeout on a mutating call: effect applied? None=random

    def matches(self, method: str, path: str) -> bool:
        return (
            method in self.methods
            and (self.path is None or bool(self.path.search(path)))
            and (self.times is None or self.times > 0)
        )


# --------------------------------------------------------------------------------------------
# Requests, replies, routes
# --------------------------------------------------------------------------------------------
class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Req:
    method: str
    path: str  # service-relative, version prefix and trailing slash removed
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass
class _Pending:
    apply: Callable[[], None]
    started: float
    polls: int = 0


Route = tuple[str, re.Pattern[str], Callable[..., Reply]]
SEG = r"([^/]+)"  # one path segment, captured and passed to the handler


def route(method: str, pattern: str, handler: Callable[..., Reply]) -> Route:
    """``handler(req, *groups)`` answers ``method`` on paths fully matching ``pattern``."""
    return method, re.compile(pattern), handler


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Endpoint:
    """Where a service lives: its host, its catalog entry and its version prefixes.

    The catalog URL is ``https://<host><path>``; ``prefixes`` are stripped from request paths
    before routing (a request for exactly a prefix gets the service's version document, a
    request outside every prefix its root document).
    """

    name: str  # key in the request log and in error bodies: "magnum", "nova", ...
    catalog_type: str  # the Keystone catalog type: "container-infra", "compute", ...
    host: str  # e.g. "magnum.fake.test"
    path: str = ""  # suffix of the catalog URL, e.g. "/v1"
    prefixes: tuple[str, ...] = ()
    token_required: bool = True  # False only for the identity service itself
    faults: bool = True  # whether injected faults can hit this service
    root_status: int = 200  # Keystone answers its root document with 300 Multiple Choices

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    @property
    def catalog_url(self) -> str:
        return f"{self.url}{self.path}"


# --------------------------------------------------------------------------------------------
# The core
# --------------------------------------------------------------------------------------------
class CloudCore:
    """Transport, request log, faults and transitions shared by every service.

    Services are the classes in ``type(self).__mro__`` that declare ``ENDPOINT`` in their own
    body (see :meth:`services`); each one's hooks (``setup``, ``routes``, ``negotiate``,
    ``error_body``, ``version_document``, ``root_document``) are taken from that class itself,
    so one service's hook never shadows another's.
    """

    ENDPOINT: ClassVar[Endpoint]
    #: names of the attributes holding this service's state (dicts keyed by id)
    STORES: ClassVar[tuple[str, ...]] = ()
    #: kinds accepted by :meth:`fail_next` for this service
    FAILURE_KINDS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, clock: FakeClock | None = None) -> None:
        # The fake cloud's own clock used to start at 1000 s; kept, so no timestamp moves.
        self.clock = clock or FakeClock(1000.0)
        self.log = RequestLog()
        self.settle_polls: int | None = 2
        self.settle_seconds: float | None = None
        self.tokens: set[str] = set()
        self.injected_faults: list[LoggedRequest] = []
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._failures: list[tuple[str, str | None, str]] = []
        self._fault_rules: list[FaultRule] = []
        self._rng = random.Random(0)
        self._lock = threading.RLock()
        self._private_ips = ipaddress.ip_network("10.0.0.0/24").hosts()
        self._public_ips = ipaddress.ip_network("203.0.113.0/24").hosts()
        for _ in range(9):
            next(self._private_ips)
            next(self._public_ips)
        self._mocker: requests_mock.Mocker | None = None
        self._conn: Any = None
        self._hosts: dict[str, type[CloudCore]] = {
            cls.ENDPOINT.host: cls for cls in self.services()
        }
        self._routes: dict[str, list[Route]] = {}
        for cls in self.services():
            self._hook(cls, "setup")(self)
        for cls in self.services():
            self._routes[cls.ENDPOINT.name] = self._hook(cls, "routes")(self)

    # ---------------------------------------------------------------- the registry
    @classmethod
    def services(cls) -> list[type[CloudCore]]:
        """The registered services, in catalog order (the order of FakeCloud's bases)."""
        return [c for c in cls.__mro__ if "ENDPOINT" in vars(c)]

    @staticmethod
    def _hook(service: type[CloudCore], name: str) -> Any:
        own = vars(service).get(name)
        return own if own is not None else getattr(CloudCore, name)

    def endpoints(self) -> list[Endpoint]:
        return [cls.ENDPOINT for cls in self.services()]

    # Hook defaults; a service overrides the ones it needs in its own class body.
    def setup(self) -> None:
        """Create this service's state (and seed its defaults)."""

    def routes(self) -> list[Route]:
        """This service's routes, matched in order against the service-relative path."""
        return []

    def negotiate(self, req: Req) -> dict[str, str]:
        """Check the request's headers (microversions); return headers to add to the reply."""
        return {}

    def error_body(self, e: ApiError) -> Any:
        """The JSON body of an error reply, in this service's format."""
        return {"error": {"code": e.status, "title": "Error", "message": e.message}}

    def version_document(self, endpoint: Endpoint) -> Any:
        """``GET <prefix>/``: the version document (neutron/octavia style by default)."""
        return {
            "version": {
                "id": "v2.0",
                "status": "CURRENT",
                "links": [{"rel": "self", "href": f"{endpoint.url}/v2.0/"}],
            }
        }

    def root_document(self, endpoint: Endpoint) -> Any:
        """``GET /``: the list of versions (neutron/octavia style by default)."""
        doc = {
            "id": "v2.0",
            "status": "CURRENT",
            "links": [{"rel": "self", "href": f"{endpoint.url}/v2.0/"}],
        }
        return {"versions": [doc]}

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        self._mocker = requests_mock.Mocker(real_http=True, case_sensitive=True)
        self._mocker.start()
        self._mocker.add_matcher(self._match)
        return self

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._mocker is not None:
            self._mocker.stop()
            self._mocker = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- clients
    @property
    def conn(self) -> Any:
        """A real ``openstack.connection.Connection`` to this cloud (built on first use)."""
        if self._conn is None:
            import openstack.config
            import openstack.connection

            region = openstack.config.get_cloud_region(
                load_yaml_config=False,
                load_envvars=False,
                auth_type="password",
                auth=self.auth_dict(),
                region_name=REGION,
                identity_api_version="3",
            )
            self._conn = openstack.connection.Connection(config=region)
        return self._conn

    def auth_dict(self) -> dict[str, str]:
        return {
            "auth_url": AUTH_URL,
            "username": USERNAME,
            "password": PASSWORD,
            "project_name": PROJECT,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        }

    def clouds_yaml(
        self, directory: Path, monkeypatch: pytest.MonkeyPatch | None = None, cloud: str = "fake"
    ) -> Path:
        """Write ``clouds.yaml`` with a cloud ``fake`` pointing here; return its path.

        With ``monkeypatch``, also set ``OS_CLIENT_CONFIG_FILE`` to it and ``OS_CLOUD=fake``
        (and clear other ``OS_*`` auth variables), so ``openstack.connect(cloud="fake")``
        or ``openstack.connect()`` in application code reaches this fake.
        """
        path = Path(directory) / "clouds.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "clouds": {
                        cloud: {
                            "auth": self.auth_dict(),
                            "region_name": REGION,
                            "identity_api_version": 3,
                            "interface": "public",
                        }
                    }
                }
            )
        )
        path.chmod(0o600)
        if monkeypatch is not None:
            for var in (
                "OS_AUTH_URL",
                "OS_USERNAME",
                "OS_PASSWORD",
                "OS_PROJECT_NAME",
                "OS_AUTH_TYPE",
                "OS_APPLICATION_CREDENTIAL_ID",
                "OS_APPLICATION_CREDENTIAL_SECRET",
                "OS_TOKEN",
            ):
                monkeypatch.delenv(var, raising=False)
            monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
            monkeypatch.setenv("OS_CLOUD", cloud)
        return path

    # ---------------------------------------------------------------- test controls
    def inject_faults(
        self,
        rate: float,
        seed: int = 0,
        methods: Iterable[str] = ("GET", "POST", "PUT", "PATCH", "DELETE"),
        *,
        kinds: Iterable[str] = FAULT_KINDS,
        path_regex: str | None = None,
        timeout_applied: bool | None = True,
    ) -> None:
        """Randomly fail ``rate`` of matching service requests (never keystone).

        ``kinds``: ``"500"``, ``"502"``, ``"503"`` (answered, nothing applied),
        ``"connect_timeout"`` (``requests.ConnectTimeout``, nothing applied),
        ``"connection_reset"`` (``requests.ConnectionError`` from a reset, nothing applied),
        ``"read_timeout"`` (``requests.ReadTimeout``) and ``"504"`` (HAProxy's page) — for
        these two, on a mutating call, the effect is applied first when ``timeout_applied``
        is True (the duplicate-creation trap), not applied when False, decided by the seeded
        RNG when None. :data:`WIRE_FAULTS` is the load-balancer-and-network set.
        Deterministic for a given ``seed`` and request sequence. Replaces earlier random
        rules; targeted rules stay.
        """
        self._rng = random.Random(seed)
        self._fault_rules = [r for r in self._fault_rules if r.times is not None]
        self._fault_rules.append(
            FaultRule(
                methods=frozenset(m.upper() for m in methods),
                path=re.compile(path_regex) if path_regex else None,
                kinds=tuple(kinds),
                rate=rate,
                applied=timeout_applied,
            )
        )

    def fail_request(
        self, method: str, path_regex: str, kind: str = "503", times: int = 1, applied: bool = True
    ) -> None:
        """Fail the next ``times`` requests matching ``method`` and ``path_regex`` with ``kind``
        (see :meth:`inject_faults`; ``applied`` matters for ``read_timeout`` only)."""
        if kind not in ALL_FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        self._fault_rules.insert(
            0,
            FaultRule(
                methods=frozenset({method.upper()}),
                path=re.compile(path_regex),
                kinds=(kind,),
                times=times,
                applied=applied,
            ),
        )

    def clear_faults(self) -> None:
        self._fault_rules.clear()

    def fail_next(self, kind: str, reason: str, name: str | None = None) -> None:
        """Make the next operation of ``kind`` (optionally on the object named ``name``) end
        failed with ``reason``. The kinds are the services' ``FAILURE_KINDS`` (Magnum:
        ``cluster`` (CREATE_FAILED), ``cluster_update`` (UPDATE_FAILED), ``cluster_delete``
        (DELETE_FAILED), ``nodegroup`` (CREATE_FAILED), ``nodegroup_update``
        (UPDATE_FAILED); Octavia: ``load_balancer`` (provisioning_status ERROR))."""
        kinds = {k for cls in self.services() for k in vars(cls).get("FAILURE_KINDS", ())}
        if kind not in kinds:
            raise ValueError(f"kind must be one of {sorted(kinds)}")
        self._failures.append((kind, name, reason))

    def settle_all(self) -> None:
        """Complete every pending transition now."""
        with self._lock:
            while self._pending:
                key = next(iter(self._pending))
                self._pending.pop(key).apply()

    def mutating_calls(self) -> list[LoggedRequest]:
        return self.log.mutating_calls()

    def count(self, method: str | None, path_regex: str = "") -> int:
        return self.log.count(method, path_regex)

    def iter_state(self) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
        """(name, store) for every service's state dict, e.g. for debugging dumps."""
        for cls in self.services():
            for name in vars(cls).get("STORES", ()):
                yield name, getattr(self, name)

    # ---------------------------------------------------------------- transitions
    def _take_failure(self, kind: str, name: str | None) -> str | None:
        for i, (k, n, reason) in enumerate(self._failures):
            if k == kind and (n is None or n == name):
                del self._failures[i]
                return reason
        return None

    def _schedule(self, key: tuple[str, str], apply: Callable[[], None]) -> None:
        self._pending[key] = _Pending(apply=apply, started=self.clock.monotonic())

    def _due(self, pending: _Pending) -> bool:
        if self.settle_polls is not None and pending.polls >= self.settle_polls:
            return True
        return (
            self.settle_seconds is not None
            and self.clock.monotonic() - pending.started >= self.settle_seconds
        )

    def _poll(self, key: tuple[str, str]) -> None:
        pending = self._pending.get(key)
        if pending is not None:
            pending.polls += 1
            if self._due(pending):
                del self._pending[key]
                pending.apply()

    def _tick_time(self) -> None:
        for key, pending in list(self._pending.items()):
            if (
                self.settle_seconds is not None
                and key in self._pending
                and (self.clock.monotonic() - pending.started >= self.settle_seconds)
            ):
                del self._pending[key]
                pending.apply()

    def _ts(self) -> str:
        moment = EPOCH + datetime.timedelta(seconds=self.clock.now)
        return moment.strftime("%Y-%m-%dT%H:%M:%S")

    # ---------------------------------------------------------------- transport
    def _match(self, request: Any) -> requests.Response | None:
        url = urlsplit(request.url)
        host = url.hostname or ""
        service = self._hosts.get(host)
        if service is None:
            if host in _LOOPBACK:
                return None  # real_http: let it through
            # Not NoMockAddress: with real_http=True requests-mock sends that request to the
            # real network (requests_mock/mocker.py, _fake_send).
            raise requests.exceptions.ConnectionError(f"the fake cloud has no host {host}")
        with self._lock:
            return self._dispatch(
                service, request, url.path, parse_qs(url.query, keep_blank_values=True)
            )

    def _dispatch(
        self,
        service: type[CloudCore],
        request: Any,
        full_path: str,
        query: dict[str, list[str]],
    ) -> requests.Response:
        endpoint = service.ENDPOINT
        body: Any = None
        if request.body:
            raw = request.body.decode() if isinstance(request.body, bytes) else request.body
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        method = request.method.upper()
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower()
            in {"openstack-api-version", "x-openstack-nova-api-version", "content-type", "accept"}
        }
        entry = LoggedRequest(
            method=method,
            service=endpoint.name,
            path=full_path,
            query=query,
            body=body,
            headers=headers,
        )
        self.log.append(entry)
        self._tick_time()

        fault, applied = self._pick_fault(endpoint, method, full_path)
        if fault is not None:
            entry.fault = fault
            self.injected_faults.append(entry)
        if fault in {"500", "502", "503"}:
            entry.status, entry.applied = int(fault), False
            return self._fault_response(request, service, int(fault))
        if fault == "connect_timeout":
            entry.applied = False
            raise requests.exceptions.ConnectTimeout(f"fakecloud: connect timeout {full_path}")
        if fault == "connection_reset":
            # What requests raises when the peer resets the connection (urllib3's
            # ProtocolError("Connection aborted.", ConnectionResetError(104, ...)) wrapped by
            # requests/adapters.py HTTPAdapter.send as ConnectionError).
            entry.applied = False
            reset = ConnectionResetError(104, "Connection reset by peer")
            raise requests.exceptions.ConnectionError(
                urllib3.exceptions.ProtocolError("Connection aborted.", reset)
            )
        if fault in {"read_timeout", "504"} and not (applied and method in MUTATING):
            entry.applied = False
            if fault == "504":
                entry.status = 504
                return self._fault_response(request, service, 504)
            raise requests.exceptions.ReadTimeout(f"fakecloud: read timeout {full_path}")

        reply = self._serve(
            service, method, full_path, query=query, body=body, headers=request.headers
        )
        entry.status = reply.status
        entry.applied = reply.status < 400
        if fault == "504":
            # HAProxy gave up waiting; the service went on and did it.
            entry.status = 504
            return self._fault_response(request, service, 504)
        if fault == "read_timeout":
            raise requests.exceptions.ReadTimeout(
                f"fakecloud: read timeout after the server applied {method} {full_path}"
            )
        kwargs: dict[str, Any] = {"status_code": reply.status, "headers": dict(reply.headers)}
        if isinstance(reply.body, str):
            kwargs["text"] = reply.body
            kwargs["headers"].setdefault("Content-Type", "text/plain")
        elif reply.body is not None:
            kwargs["json"] = reply.body
            kwargs["headers"].setdefault("Content-Type", "application/json")
        return requests_mock.create_response(request, **kwargs)

    def _pick_fault(self, endpoint: Endpoint, method: str, path: str) -> tuple[str | None, bool]:
        if not endpoint.faults:
            return None, True
        for rule in self._fault_rules:
            if not rule.matches(method, path):
                continue
            if rule.times is not None:
                rule.times -= 1
                return rule.kinds[0], bool(rule.applied)
            if self._rng.random() < rule.rate:
                kind = self._rng.choice(rule.kinds)
                applied = rule.applied if rule.applied is not None else self._rng.random() < 0.5
                return kind, applied
        return None, True

    def _fault_response(
        self, request: Any, service: type[CloudCore], status: int
    ) -> requests.Response:
        if status in HAPROXY_PAGES:
            # The load balancer in front of the API answers, not the service.
            return requests_mock.create_response(
                request,
                status_code=status,
                headers={"Content-Type": "text/html", "Cache-Control": "no-cache"},
                text=HAPROXY_PAGES[status],
            )
        error = ApiError(500, "Internal Server Error (injected)")
        return requests_mock.create_response(
            request,
            status_code=500,
            json=self._hook(service, "error_body")(self, error),
            headers={"Content-Type": "application/json"},
        )

    def _serve(
        self,
        service: type[CloudCore],
        method: str,
        full_path: str,
        *,
        query: dict[str, list[str]],
        body: Any,
        headers: Any,
    ) -> Reply:
        endpoint = service.ENDPOINT
        try:
            token = headers.get("X-Auth-Token")
            if (
                endpoint.token_required
                and full_path.rstrip("/") not in {"", *endpoint.prefixes}
                and token not in self.tokens
            ):
                raise ApiError(401, "The request you have made requires authentication.")
            path = full_path
            for prefix in endpoint.prefixes:
                if path == prefix or path.startswith(prefix + "/"):
                    path = path[len(prefix) :]
                    break
            else:
                if path.rstrip("/") == "":
                    return Reply(
                        endpoint.root_status, self._hook(service, "root_document")(self, endpoint)
                    )
                raise ApiError(404, f"no such path {full_path}")
            path = path.rstrip("/")
            req = Req(
                method=method,
                path=path,
                query=query,
                body=body,
                headers={k: v for k, v in headers.items()},
            )
            # The version document is served behind the same version checks and with the
            # same headers as every other path under the prefix (Magnum's v1 _route).
            extra: dict[str, str] = self._hook(service, "negotiate")(self, req)
            if path == "" and method == "GET":
                document = self._hook(service, "version_document")(self, endpoint)
                return Reply(200, document, headers=dict(extra))
            for route_method, pattern, handler in self._routes[endpoint.name]:
                if route_method != method:
                    continue
                m = pattern.fullmatch(path)
                if m:
                    reply = handler(req, *m.groups())
                    reply.headers = {**extra, **reply.headers}
                    return reply
            raise ApiError(404, f"The resource could not be found: {method} {full_path}")
        except ApiError as e:
            return Reply(e.status, self._hook(service, "error_body")(self, e))

    # ---------------------------------------------------------------- shared helpers
    @staticmethod
    def _filter(
        items: Iterable[dict[str, Any]], req: Req, ignore: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        skip = {
            "fields",
            "limit",
            "marker",
            "sort_key",
            "sort_dir",
            "sort",
            "page_reverse",
            *ignore,
        }
        out = []
        for item in items:
            ok = True
            for key, values in req.query.items():
                if key in skip or key not in item:
                    continue
                actual = item[key]
                wanted = {v.lower() for v in values} if isinstance(actual, bool) else set(values)
                actual_s = (
                    str(actual).lower()
                    if isinstance(actual, bool)
                    else ("" if actual is None else str(actual))
                )
                if actual_s not in wanted:
                    ok = False
                    break
            if ok:
                out.append(item)
        return out

    def _next_private_ip(self) -> str:
        return str(next(self._private_ips))

    def _next_public_ip(self) -> str:
        return str(next(self._public_ips))

    @staticmethod
    def _by_ident(store: dict[str, dict[str, Any]], ident: str, what: str) -> dict[str, Any]:
        if ident in store:
            return store[ident]
        named = [o for o in store.values() if o.get("name") == ident]
        if len(named) > 1:
            raise ApiError(
                409, f"Multiple {what}s exist with same name. Please use the {what} uuid instead."
            )
        if not named:
            raise ApiError(404, f"{what.capitalize()} {ident} could not be found.")
        return named[0]
