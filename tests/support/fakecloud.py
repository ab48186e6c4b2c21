"""A stateful fake OpenStack cloud at the HTTP layer, behind the REAL SDKs.

``requests_mock`` intercepts every ``requests`` transport (keystoneauth, hence openstacksdk and
python-magnumclient, whatever Session they build) and a single matcher dispatches the requests
for the fake hosts to in-memory services:

=================  ==================================  =========================================
service            catalog endpoint                    served
=================  ==================================  =========================================
identity           https://keystone.fake.test/v3       discovery, ``POST /v3/auth/tokens``
container-infra    https://magnum.fake.test/v1         clustertemplates, clusters (+ resize),
                                                       nodegroups, certificates
load-balancer      https://octavia.fake.test           loadbalancers, listeners, pools, members
network            https://neutron.fake.test           networks, subnets, ports, floatingips
compute            https://nova.fake.test/v2.1         flavors, servers
=================  ==================================  =========================================

Requests to loopback hosts pass through to the real network (so real local components still
work while the fake is active); any other host is a ``ConnectionError``.

Fidelity notes (checked against the upstream sources, July 2026) that application code must
respect because the real services behave the same way:

* Magnum without an ``OpenStack-API-Version`` header serves microversion **1.1**; node groups
  need 1.9 and resize 1.7, otherwise **406**. ``magnumclient.client.Client("1", session=s)``
  sends no header (its ``api_version`` defaults to ``None``), so pass ``api_version="latest"``
  (what the ``openstack coe`` CLI does); :attr:`FakeCloud.magnum` does.
* Magnum list responses are summaries: ``GET /clusters`` has no ``status_reason``,
  ``api_address``, ``master_addresses``…; ``GET /clusters/{id}/nodegroups`` has no
  ``min_node_count``/``max_node_count``/``labels``. GET the single object for those.
* Magnum accepts a name wherever an id goes, so openstacksdk's ``find_cluster("name")``
  succeeds on ``GET /clusters/name`` and the returned resource keeps ``.id == "name"``; use
  ``.uuid`` for the real id.
* ``POST /clusters`` answers 202 with only ``{"uuid": …}``; names are not unique (a retried
  create makes a second cluster, and a GET by that name then answers 409).
* ``PATCH /clusters/{id}`` accepts only ``node_count``/``health_status*`` (else 400), and,
  like Magnum's asynchronous conductor, silently ignores the change unless the cluster is in
  a ``*_COMPLETE`` state. Node-group PATCH accepts ``min_node_count``, ``max_node_count``,
  ``node_labels``, ``node_taints`` only; creating a node group needs the cluster's
  ``api_address`` (409 before CREATE_COMPLETE) and validates min <= node_count <= max.
* Octavia: a load balancer that is not ``ACTIVE`` is immutable (409 on child changes or
  delete); deleting one with listeners or pools needs ``cascade=true`` (else 400).

Time: transitions (``*_IN_PROGRESS`` → ``*_COMPLETE``/``*_FAILED``, Octavia ``PENDING_*`` →
``ACTIVE``/``ERROR``/gone) complete after :attr:`FakeCloud.settle_polls` GETs that return the
object (its own GET or a list including it) and/or :attr:`FakeCloud.settle_seconds` on
:attr:`FakeCloud.clock`; with both ``None`` nothing settles until :meth:`FakeCloud.settle_all`.
"""

from __future__ import annotations

import copy
import datetime
import ipaddress
import itertools
import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import jsonpatch
import pytest
import requests
import requests_mock
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEYSTONE = "https://keystone.fake.test"
MAGNUM = "https://magnum.fake.test"
OCTAVIA = "https://octavia.fake.test"
NEUTRON = "https://neutron.fake.test"
NOVA = "https://nova.fake.test"
AUTH_URL = f"{KEYSTONE}/v3"
REGION = "RegionOne"
USERNAME, PASSWORD, PROJECT = "demo", "fake-password", "demo"
PROJECT_ID = "5d4e2b1a9c8f4e7d8a6b3c2d1e0f9a8b"
USER_ID = "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"

_HOSTS = {
    "keystone.fake.test": "keystone",
    "magnum.fake.test": "magnum",
    "octavia.fake.test": "octavia",
    "neutron.fake.test": "neutron",
    "nova.fake.test": "nova",
}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_PREFIXES = {
    "keystone": ("/v3",),
    "magnum": ("/v1",),
    "octavia": ("/v2.0", "/v2"),
    "neutron": ("/v2.0",),
    "nova": ("/v2.1",),
}
MAGNUM_MIN, MAGNUM_MAX = (1, 1), (1, 14)
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


# --------------------------------------------------------------------------------------------
# Clock
# --------------------------------------------------------------------------------------------
class FakeClock:
    """Injectable time: ``sleep`` only advances it. ``sleeps`` records every requested sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return _EPOCH.timestamp() + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --------------------------------------------------------------------------------------------
# Request log
# --------------------------------------------------------------------------------------------
@dataclass
class LoggedRequest:
    method: str
    service: str  # keystone | magnum | octavia | neutron | nova
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

    def count(self, method: str | None, path_regex: str = "") -> int:
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
# Internals
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


def _new_id() -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------------------------
# The fake cloud
# --------------------------------------------------------------------------------------------
class FakeCloud:
    """In-memory Keystone, Magnum, Octavia, Neutron and Nova; see the module docstring."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.log = RequestLog()
        self.settle_polls: int | None = 2
        self.settle_seconds: float | None = None
        # State: the API representations, keyed by id (uuid for Magnum).
        self.templates: dict[str, dict[str, Any]] = {}
        self.clusters: dict[str, dict[str, Any]] = {}
        self.nodegroups: dict[str, dict[str, Any]] = {}
        self.load_balancers: dict[str, dict[str, Any]] = {}
        self.listeners: dict[str, dict[str, Any]] = {}
        self.pools: dict[str, dict[str, Any]] = {}
        self.members: dict[str, dict[str, Any]] = {}
        self.networks: dict[str, dict[str, Any]] = {}
        self.subnets: dict[str, dict[str, Any]] = {}
        self.ports: dict[str, dict[str, Any]] = {}
        self.floating_ips: dict[str, dict[str, Any]] = {}
        self.flavors: dict[str, dict[str, Any]] = {}
        self.servers: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.injected_faults: list[LoggedRequest] = []
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._failures: list[tuple[str, str | None, str]] = []
        self._fault_rules: list[FaultRule] = []
        self._rng = random.Random(0)
        self._cas: dict[str, tuple[ec.EllipticCurvePrivateKey, x509.Certificate]] = {}
        self._lock = threading.RLock()
        self._ng_ids = itertools.count(1)
        self._private_ips = ipaddress.ip_network("10.0.0.0/24").hosts()
        self._public_ips = ipaddress.ip_network("203.0.113.0/24").hosts()
        for _ in range(9):
            next(self._private_ips)
            next(self._public_ips)
        self._mocker: requests_mock.Mocker | None = None
        self._conn: Any = None
        self._magnum: Any = None
        self._routes = self._build_routes()
        self._seed_defaults()

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> FakeCloud:
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

    def __enter__(self) -> FakeCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

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

    @property
    def magnum(self) -> Any:
        """A real magnumclient v1 ``Client`` on :attr:`conn`'s session, ``api_version=latest``."""
        if self._magnum is None:
            from magnumclient import client as magnum_client

            self._magnum = magnum_client.Client(
                "1", session=self.conn.session, api_version="latest", region_name=REGION
            )
        return self._magnum

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
        ``"connect_timeout"`` (``requests.ConnectTimeout``, nothing applied) and
        ``"read_timeout"`` (``requests.ReadTimeout``; for a mutating call the effect is applied
        first when ``timeout_applied`` is True — the duplicate-creation trap —, not applied
        when False, decided by the seeded RNG when None). Deterministic for a given ``seed``
        and request sequence. Replaces earlier random rules; targeted rules stay.
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
        if kind not in FAULT_KINDS:
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
        failed with ``reason``. Kinds: ``cluster`` (CREATE_FAILED), ``cluster_update``
        (UPDATE_FAILED), ``cluster_delete`` (DELETE_FAILED), ``nodegroup`` (CREATE_FAILED),
        ``load_balancer`` (provisioning_status ERROR)."""
        kinds = {"cluster", "cluster_update", "cluster_delete", "nodegroup", "load_balancer"}
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
        moment = _EPOCH + datetime.timedelta(seconds=self.clock.now)
        return moment.strftime("%Y-%m-%dT%H:%M:%S")

    # ---------------------------------------------------------------- transport
    def _match(self, request: Any) -> requests.Response | None:
        url = urlsplit(request.url)
        host = url.hostname or ""
        service = _HOSTS.get(host)
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
        self, service: str, request: Any, full_path: str, query: dict[str, list[str]]
    ) -> requests.Response:
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
            method=method, service=service, path=full_path, query=query, body=body, headers=headers
        )
        self.log.append(entry)
        self._tick_time()

        fault, applied = self._pick_fault(service, method, full_path)
        if fault is not None:
            entry.fault = fault
            self.injected_faults.append(entry)
        if fault in {"500", "502", "503"}:
            entry.status, entry.applied = int(fault), False
            return self._fault_response(request, service, int(fault))
        if fault == "connect_timeout":
            entry.applied = False
            raise requests.exceptions.ConnectTimeout(f"fakecloud: connect timeout {full_path}")
        if fault == "read_timeout" and not (applied and method in MUTATING):
            entry.applied = False
            raise requests.exceptions.ReadTimeout(f"fakecloud: read timeout {full_path}")

        reply = self._serve(
            service, method, full_path, query=query, body=body, headers=request.headers
        )
        entry.status = reply.status
        entry.applied = reply.status < 400
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

    def _pick_fault(self, service: str, method: str, path: str) -> tuple[str | None, bool]:
        if service == "keystone":
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

    def _fault_response(self, request: Any, service: str, status: int) -> requests.Response:
        if status in (502, 503):
            title = {502: "502 Bad Gateway", 503: "503 Service Unavailable"}[status]
            return requests_mock.create_response(
                request,
                status_code=status,
                headers={"Content-Type": "text/html"},
                text=f"<html><body><h1>{title}</h1>\nThe server is temporarily unable to"
                " service your request.\n</body></html>\n",
            )
        error = ApiError(500, "Internal Server Error (injected)")
        return requests_mock.create_response(
            request,
            status_code=500,
            json=self._error_body(service, error),
            headers={"Content-Type": "application/json"},
        )

    def _serve(
        self,
        service: str,
        method: str,
        full_path: str,
        *,
        query: dict[str, list[str]],
        body: Any,
        headers: Any,
    ) -> Reply:
        try:
            if service == "keystone":
                return self._keystone(method, full_path, body)
            token = headers.get("X-Auth-Token")
            if full_path.rstrip("/") not in {"", *_PREFIXES[service]} and token not in self.tokens:
                raise ApiError(401, "The request you have made requires authentication.")
            path = full_path
            for prefix in _PREFIXES[service]:
                if path == prefix or path.startswith(prefix + "/"):
                    path = path[len(prefix) :]
                    break
            else:
                if path.rstrip("/") == "":
                    return Reply(200, self._root_document(service))
                raise ApiError(404, f"no such path {full_path}")
            path = path.rstrip("/")
            if path == "" and method == "GET":
                return Reply(200, self._version_document(service))
            req = Req(
                method=method,
                path=path,
                query=query,
                body=body,
                headers={k: v for k, v in headers.items()},
            )
            extra: dict[str, str] = {}
            if service == "magnum":
                version = self._magnum_version(req)
                extra = {
                    "OpenStack-API-Version": f"container-infra {version[0]}.{version[1]}",
                    "OpenStack-API-Minimum-Version": "container-infra 1.1",
                    "OpenStack-API-Maximum-Version": "container-infra 1.14",
                }
                req.headers["_version"] = f"{version[0]}.{version[1]}"
            elif service == "nova":
                requested = headers.get("OpenStack-API-Version", "compute 2.1")
                extra = {
                    "OpenStack-API-Version": requested,
                    "X-OpenStack-Nova-API-Version": requested.split()[-1],
                }
            for route_method, pattern, handler in self._routes[service]:
                if route_method != method:
                    continue
                m = pattern.fullmatch(path)
                if m:
                    reply = handler(req, *m.groups())
                    reply.headers = {**extra, **reply.headers}
                    return reply
            raise ApiError(404, f"The resource could not be found: {method} {full_path}")
        except ApiError as e:
            return Reply(e.status, self._error_body(service, e))

    @staticmethod
    def _error_body(service: str, e: ApiError) -> Any:
        if service == "magnum":
            return {
                "errors": [
                    {
                        "request_id": f"req-{uuid.uuid4()}",
                        "code": "client" if e.status < 500 else "server",
                        "status": e.status,
                        "title": e.message,
                        "detail": e.message,
                        "links": [],
                    }
                ]
            }
        if service == "octavia":
            return {
                "faultcode": "Client" if e.status < 500 else "Server",
                "faultstring": e.message,
                "debuginfo": None,
            }
        if service == "neutron":
            return {
                "NeutronError": {"type": e.kind or "HTTPError", "message": e.message, "detail": ""}
            }
        if service == "nova":
            key = {
                400: "badRequest",
                401: "unauthorized",
                403: "forbidden",
                404: "itemNotFound",
                409: "conflictingRequest",
            }.get(e.status, "computeFault")
            return {key: {"code": e.status, "message": e.message}}
        return {"error": {"code": e.status, "title": "Error", "message": e.message}}

    def _root_document(self, service: str) -> Any:
        if service == "magnum":
            return {"versions": [self._version_document("magnum")], "name": "OpenStack Magnum API"}
        if service == "nova":
            return {"versions": [self._version_document("nova")["version"]]}
        if service == "keystone":
            return {"versions": {"values": [self._version_document("keystone")["version"]]}}
        doc = {
            "id": "v2.0",
            "status": "CURRENT",
            "links": [{"rel": "self", "href": f"https://{service}.fake.test/v2.0/"}],
        }
        return {"versions": [doc]}

    def _version_document(self, service: str) -> Any:
        if service == "keystone":
            media = "application/vnd.openstack.identity-v3+json"
            return {
                "version": {
                    "id": "v3.14",
                    "status": "stable",
                    "updated": "2020-04-07T00:00:00Z",
                    "links": [{"rel": "self", "href": f"{AUTH_URL}/"}],
                    "media-types": [{"base": "application/json", "type": media}],
                }
            }
        if service == "magnum":
            return {
                "id": "v1",
                "status": "CURRENT",
                "min_version": "1.1",
                "max_version": "1.14",
                "links": [{"rel": "self", "href": f"{MAGNUM}/v1/"}],
            }
        if service == "nova":
            return {
                "version": {
                    "id": "v2.1",
                    "status": "CURRENT",
                    "version": "2.96",
                    "min_version": "2.1",
                    "updated": "2013-07-23T11:33:21Z",
                    "links": [{"rel": "self", "href": f"{NOVA}/v2.1/"}],
                }
            }
        return {
            "version": {
                "id": "v2.0",
                "status": "CURRENT",
                "links": [{"rel": "self", "href": f"https://{service}.fake.test/v2.0/"}],
            }
        }

    # ---------------------------------------------------------------- keystone
    def _keystone(self, method: str, path: str, body: Any) -> Reply:
        path = path.rstrip("/")
        if method == "GET" and path in {"", "/"}:
            return Reply(300, self._root_document("keystone"))
        if method == "GET" and path == "/v3":
            return Reply(200, self._version_document("keystone"))
        if method == "POST" and path == "/v3/auth/tokens":
            identity = (body or {}).get("auth", {}).get("identity", {})
            if "password" in identity.get("methods", []):
                user = identity.get("password", {}).get("user", {})
                if user.get("name") != USERNAME or user.get("password") != PASSWORD:
                    raise ApiError(401, "The request you have made requires authentication.")
            token = uuid.uuid4().hex
            self.tokens.add(token)
            return Reply(201, self._token_body(), {"X-Subject-Token": token})
        raise ApiError(404, f"not found: {method} {path}")

    def _token_body(self) -> dict[str, Any]:
        def svc(stype: str, name: str, url: str) -> dict[str, Any]:
            return {
                "type": stype,
                "name": name,
                "id": uuid.uuid5(uuid.NAMESPACE_URL, url).hex,
                "endpoints": [
                    {
                        "id": uuid.uuid5(uuid.NAMESPACE_URL, url + i).hex,
                        "interface": i,
                        "region": REGION,
                        "region_id": REGION,
                        "url": url,
                    }
                    for i in ("public", "internal")
                ],
            }

        return {
            "token": {
                "methods": ["password"],
                "expires_at": "2099-01-01T00:00:00.000000Z",
                "issued_at": "2026-01-01T00:00:00.000000Z",
                "audit_ids": [uuid.uuid4().hex[:22]],
                "user": {
                    "id": USER_ID,
                    "name": USERNAME,
                    "domain": {"id": "default", "name": "Default"},
                },
                "project": {
                    "id": PROJECT_ID,
                    "name": PROJECT,
                    "domain": {"id": "default", "name": "Default"},
                },
                "roles": [
                    {"id": uuid.uuid4().hex, "name": "member"},
                    {"id": uuid.uuid4().hex, "name": "load-balancer_member"},
                ],
                "catalog": [
                    svc("identity", "keystone", AUTH_URL),
                    svc("container-infra", "magnum", f"{MAGNUM}/v1"),
                    svc("load-balancer", "octavia", OCTAVIA),
                    svc("network", "neutron", NEUTRON),
                    svc("compute", "nova", f"{NOVA}/v2.1"),
                ],
            }
        }

    # ---------------------------------------------------------------- routes
    def _build_routes(self) -> dict[str, list[Route]]:
        def r(method: str, pattern: str, handler: Callable[..., Reply]) -> Route:
            return method, re.compile(pattern), handler

        seg = r"([^/]+)"
        return {
            "magnum": [
                r("GET", r"/clustertemplates(?:/detail)?", self._ct_list),
                r("POST", r"/clustertemplates", self._ct_create),
                r("GET", rf"/clustertemplates/{seg}", self._ct_get),
                r("PATCH", rf"/clustertemplates/{seg}", self._ct_patch),
                r("DELETE", rf"/clustertemplates/{seg}", self._ct_delete),
                r("GET", r"/clusters", self._cl_list),
                r("GET", r"/clusters/detail", self._cl_list_detail),
                r("POST", r"/clusters", self._cl_create),
                r("GET", rf"/clusters/{seg}", self._cl_get),
                r("PATCH", rf"/clusters/{seg}", self._cl_patch),
                r("DELETE", rf"/clusters/{seg}", self._cl_delete),
                r("POST", rf"/clusters/{seg}/actions/resize", self._cl_resize),
                r("GET", rf"/clusters/{seg}/nodegroups", self._ng_list),
                r("POST", rf"/clusters/{seg}/nodegroups", self._ng_create),
                r("GET", rf"/clusters/{seg}/nodegroups/{seg}", self._ng_get),
                r("PATCH", rf"/clusters/{seg}/nodegroups/{seg}", self._ng_patch),
                r("DELETE", rf"/clusters/{seg}/nodegroups/{seg}", self._ng_delete),
                r("GET", rf"/certificates/{seg}", self._cert_get),
                r("POST", r"/certificates", self._cert_sign),
            ],
            "octavia": [
                r("GET", r"/lbaas/loadbalancers", self._lb_list),
                r("POST", r"/lbaas/loadbalancers", self._lb_create),
                r("GET", rf"/lbaas/loadbalancers/{seg}", self._lb_get),
                r("PUT", rf"/lbaas/loadbalancers/{seg}", self._lb_update),
                r("DELETE", rf"/lbaas/loadbalancers/{seg}", self._lb_delete),
                r("GET", r"/lbaas/listeners", self._lis_list),
                r("POST", r"/lbaas/listeners", self._lis_create),
                r("GET", rf"/lbaas/listeners/{seg}", self._lis_get),
                r("DELETE", rf"/lbaas/listeners/{seg}", self._lis_delete),
                r("GET", r"/lbaas/pools", self._pool_list),
                r("POST", r"/lbaas/pools", self._pool_create),
                r("GET", rf"/lbaas/pools/{seg}", self._pool_get),
                r("DELETE", rf"/lbaas/pools/{seg}", self._pool_delete),
                r("GET", rf"/lbaas/pools/{seg}/members", self._mem_list),
                r("POST", rf"/lbaas/pools/{seg}/members", self._mem_create),
                r("GET", rf"/lbaas/pools/{seg}/members/{seg}", self._mem_get),
                r("DELETE", rf"/lbaas/pools/{seg}/members/{seg}", self._mem_delete),
            ],
            "neutron": [
                r("GET", r"/networks", self._net_list),
                r("GET", rf"/networks/{seg}", self._net_get),
                r("GET", r"/subnets", self._subnet_list),
                r("GET", rf"/subnets/{seg}", self._subnet_get),
                r("GET", r"/ports", self._port_list),
                r("POST", r"/ports", self._port_create),
                r("GET", rf"/ports/{seg}", self._port_get),
                r("DELETE", rf"/ports/{seg}", self._port_delete),
                r("GET", r"/floatingips", self._fip_list),
                r("POST", r"/floatingips", self._fip_create),
                r("GET", rf"/floatingips/{seg}", self._fip_get),
                r("PUT", rf"/floatingips/{seg}", self._fip_update),
                r("DELETE", rf"/floatingips/{seg}", self._fip_delete),
            ],
            "nova": [
                r("GET", r"/flavors", self._flavor_list_summary),
                r("GET", r"/flavors/detail", self._flavor_list),
                r("GET", rf"/flavors/{seg}", self._flavor_get),
                r("GET", r"/servers", self._server_list_summary),
                r("GET", r"/servers/detail", self._server_list),
                r("GET", rf"/servers/{seg}", self._server_get),
            ],
        }

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

    # ================================================================= Magnum
    def _magnum_version(self, req: Req) -> tuple[int, int]:
        header = req.headers.get("OpenStack-API-Version")
        if not header:
            return MAGNUM_MIN
        try:
            service, value = header.split()
        except ValueError as e:
            raise ApiError(406, "Invalid service type for OpenStack-API-Version header") from e
        if service not in {
            "container-infra",
            "container-infrastructure",
            "container-infrastructure-management",
        }:
            raise ApiError(406, "Invalid service type for OpenStack-API-Version header")
        if value.lower() == "latest":
            return MAGNUM_MAX
        try:
            major, minor = (int(x) for x in value.split("."))
        except ValueError as e:
            raise ApiError(406, "Invalid value for OpenStack-API-Version header") from e
        if not MAGNUM_MIN <= (major, minor) <= MAGNUM_MAX:
            raise ApiError(
                406,
                f"Version {value} was requested but the minor version is not "
                "supported by this service. The supported version range is: "
                "[1.1, 1.14].",
            )
        return major, minor

    @staticmethod
    def _ver(req: Req) -> tuple[int, int]:
        major, minor = (int(x) for x in req.headers["_version"].split("."))
        return major, minor

    def _require(self, req: Req, minimum: tuple[int, int], api: str) -> None:
        major, minor = self._ver(req)
        if (major, minor) < minimum:
            raise ApiError(
                406,
                f"Version {major}.{minor} was requested but the requested API "
                f"{api} is not supported for this version.",
            )

    @staticmethod
    def _links(kind: str, ident: str) -> list[dict[str, str]]:
        return [
            {"href": f"{MAGNUM}/v1/{kind}/{ident}", "rel": "self"},
            {"href": f"{MAGNUM}/{kind}/{ident}", "rel": "bookmark"},
        ]

    def _flavor_exists(self, ident: str | None) -> bool:
        return ident is None or any(
            f["id"] == ident or f["name"] == ident for f in self.flavors.values()
        )

    def _network_exists(self, ident: str | None) -> bool:
        return ident is None or any(
            n["id"] == ident or n["name"] == ident for n in self.networks.values()
        )

    # -- cluster templates
    _CT_DEFAULTS: ClassVar[dict[str, Any]] = {
        "image_id": None,
        "flavor_id": None,
        "master_flavor_id": None,
        "keypair_id": None,
        "external_network_id": None,
        "fixed_network": None,
        "fixed_subnet": None,
        "dns_nameserver": None,
        "network_driver": "calico",
        "volume_driver": "cinder",
        "docker_volume_size": None,
        "docker_storage_driver": None,
        "apiserver_port": None,
        "http_proxy": None,
        "https_proxy": None,
        "no_proxy": None,
        "labels": {},
        "server_type": "vm",
        "insecure_registry": None,
        "public": False,
        "hidden": False,
        "registry_enabled": False,
        "tls_disabled": False,
        "master_lb_enabled": False,
        "floating_ip_enabled": True,
        "tags": None,
        "driver": None,
        "cluster_distro": "ubuntu",
    }

    def add_template(self, name: str, **fields: Any) -> dict[str, Any]:
        """Seed a cluster template (no request logged); returns the stored dict."""
        ident = fields.pop("uuid", None) or _new_id()
        template = {
            **copy.deepcopy(self._CT_DEFAULTS),
            "coe": "kubernetes",
            "image_id": "ubuntu-2204-kube-v1.31.4",
            "flavor_id": "m1.medium",
            "master_flavor_id": "m1.medium",
            "external_network_id": "public",
            "driver": "k8s_capi_helm_v1",
            **fields,
            "uuid": ident,
            "name": name,
            "project_id": PROJECT_ID,
            "user_id": USER_ID,
            "created_at": self._ts(),
            "updated_at": None,
            "links": self._links("clustertemplates", ident),
        }
        self.templates[ident] = template
        return template

    def _ct_list(self, req: Req) -> Reply:
        return Reply(200, {"clustertemplates": copy.deepcopy(list(self.templates.values()))})

    def _ct_get(self, req: Req, ident: str) -> Reply:
        return Reply(200, copy.deepcopy(self._by_ident(self.templates, ident, "clustertemplate")))

    def _ct_create(self, req: Req) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        for mandatory in ("coe", "image_id"):
            if not body.get(mandatory):
                raise ApiError(
                    400,
                    f"Invalid input for field/attribute {mandatory}. "
                    "Value: None. Mandatory field missing.",
                )
        for key in ("flavor_id", "master_flavor_id"):
            if not self._flavor_exists(body.get(key)):
                raise ApiError(400, f"Unable to find flavor {body[key]}.")
        if not self._network_exists(body.get("external_network_id")):
            raise ApiError(400, f"Unable to find network {body['external_network_id']}.")
        name = body.pop("name", None) or f"template-{uuid.uuid4().hex[:8]}"
        known = {*self._CT_DEFAULTS, "coe"}
        template = self.add_template(name, **{k: v for k, v in body.items() if k in known})
        return Reply(201, copy.deepcopy(template))

    def _ct_patch(self, req: Req, ident: str) -> Reply:
        template = self._by_ident(self.templates, ident, "clustertemplate")
        patched = self._json_patch(
            template,
            req.body,
            internal={
                "/uuid",
                "/id",
                "/links",
                "/created_at",
                "/updated_at",
                "/project_id",
                "/user_id",
            },
        )
        for key in ("flavor_id", "master_flavor_id"):
            if not self._flavor_exists(patched.get(key)):
                raise ApiError(400, f"Unable to find flavor {patched[key]}.")
        template.clear()
        template.update(patched, updated_at=self._ts())
        return Reply(200, copy.deepcopy(template))

    def _ct_delete(self, req: Req, ident: str) -> Reply:
        template = self._by_ident(self.templates, ident, "clustertemplate")
        if any(c["cluster_template_id"] == template["uuid"] for c in self.clusters.values()):
            raise ApiError(
                400,
                f"ClusterTemplate {template['uuid']} is referenced by one or multiple clusters.",
            )
        del self.templates[template["uuid"]]
        return Reply(204)

    @staticmethod
    def _json_patch(
        obj: dict[str, Any], patch: Any, internal: set[str], allowed: set[str] | None = None
    ) -> dict[str, Any]:
        if not isinstance(patch, list):
            raise ApiError(400, "Invalid input: a JSON patch (list of operations) is required")
        for op in patch:
            path = op.get("path", "") if isinstance(op, dict) else ""
            top = "/" + path.lstrip("/").split("/")[0]
            if top in internal or (allowed is not None and top not in allowed):
                raise ApiError(400, f"'{path}' is an internal attribute and can not be updated")
        try:
            result: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(obj), patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
            raise ApiError(400, f"Couldn't apply patch '{patch}'. Reason: {e}") from e
        return result

    # -- clusters
    _CLUSTER_SUMMARY = (
        "uuid",
        "name",
        "cluster_template_id",
        "keypair",
        "docker_volume_size",
        "labels",
        "node_count",
        "status",
        "master_flavor_id",
        "flavor_id",
        "create_timeout",
        "master_count",
        "health_status",
        "links",
    )

    def _cluster_view(self, cluster: dict[str, Any], summary: bool = False) -> dict[str, Any]:
        groups = [ng for ng in self.nodegroups.values() if ng["cluster_id"] == cluster["uuid"]]
        view = copy.deepcopy(cluster)
        if groups:
            workers = [ng for ng in groups if ng["role"] != "master"]
            masters = [ng for ng in groups if ng["role"] == "master"]
            view["node_count"] = sum(ng["node_count"] for ng in workers)
            view["master_count"] = sum(ng["node_count"] for ng in masters)
            view["node_addresses"] = [a for ng in workers for a in ng["node_addresses"]]
            view["master_addresses"] = [a for ng in masters for a in ng["node_addresses"]]
        if summary:
            view = {k: view.get(k) for k in self._CLUSTER_SUMMARY}
        return view

    def _cluster(self, ident: str) -> dict[str, Any]:
        return self._by_ident(self.clusters, ident, "cluster")

    def _cl_list(self, req: Req) -> Reply:
        for cluster in list(self.clusters.values()):
            self._poll(("cluster", cluster["uuid"]))
        return Reply(
            200, {"clusters": [self._cluster_view(c, summary=True) for c in self.clusters.values()]}
        )

    def _cl_list_detail(self, req: Req) -> Reply:
        for cluster in list(self.clusters.values()):
            self._poll(("cluster", cluster["uuid"]))
        return Reply(200, {"clusters": [self._cluster_view(c) for c in self.clusters.values()]})

    def _cl_get(self, req: Req, ident: str) -> Reply:
        cluster = self._cluster(ident)
        self._poll(("cluster", cluster["uuid"]))
        if cluster["uuid"] not in self.clusters:  # the poll completed a deletion
            raise ApiError(404, f"Cluster {ident} could not be found.")
        return Reply(200, self._cluster_view(cluster))

    def add_cluster(
        self,
        name: str,
        template: str | None = None,
        *,
        status: str = "CREATE_COMPLETE",
        node_count: int = 1,
        master_count: int = 1,
        labels: dict[str, Any] | None = None,
        status_reason: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Seed a cluster (no request logged) with its default node groups; returns it.

        ``template``: name or uuid (default: the first template, created if none). ``status``:
        ``CREATE_COMPLETE`` (api_address, nodes and Nova servers exist), ``CREATE_IN_PROGRESS``
        (settles like a created one) or any other status, stored as is. ``labels`` default to
        the template's. ``fields``: other create fields (``flavor_id``, ``master_flavor_id``,
        ``keypair``, ``master_lb_enabled``, ``floating_ip_enabled``, ``fixed_network``…).
        """
        if template is None:
            tmpl = next(iter(self.templates.values()), None) or self.add_template("k8s-template")
        else:
            tmpl = self._by_ident(self.templates, template, "clustertemplate")
        cluster = self._new_cluster(
            {
                "name": name,
                "cluster_template_id": tmpl["uuid"],
                "node_count": node_count,
                "master_count": master_count,
                "labels": labels,
                **fields,
            },
            tmpl,
        )
        if status == "CREATE_COMPLETE":
            self._complete_cluster(cluster["uuid"], None)
        elif status == "CREATE_IN_PROGRESS":
            self._schedule(
                ("cluster", cluster["uuid"]), lambda: self._complete_cluster(cluster["uuid"], None)
            )
        else:
            cluster.update(status=status, status_reason=status_reason)
            for ng in self._groups(cluster["uuid"]):
                ng.update(status=status, status_reason=status_reason)
        if status_reason is not None:
            cluster["status_reason"] = status_reason
        return cluster

    def _new_cluster(self, body: dict[str, Any], tmpl: dict[str, Any]) -> dict[str, Any]:
        ident = _new_id()
        labels = body.get("labels")
        if labels is None:
            labels = copy.deepcopy(tmpl["labels"])
        elif body.get("merge_labels"):
            labels = {**tmpl["labels"], **labels}
        stack = _new_id()
        cluster = {
            "uuid": ident,
            "name": body.get("name") or f"cluster-{uuid.uuid4().hex[:8]}",
            "cluster_template_id": tmpl["uuid"],
            "keypair": body.get("keypair", tmpl["keypair_id"]),
            "node_count": body.get("node_count", 1),
            "master_count": body.get("master_count", 1),
            "docker_volume_size": body.get("docker_volume_size", tmpl["docker_volume_size"]),
            "labels": labels,
            "labels_overridden": {},
            "labels_added": {},
            "labels_skipped": {},
            "master_flavor_id": body.get("master_flavor_id") or tmpl["master_flavor_id"],
            "flavor_id": body.get("flavor_id") or tmpl["flavor_id"],
            "create_timeout": body.get("create_timeout", 60),
            "links": self._links("clusters", ident),
            "stack_id": stack,
            "cluster_id": stack,
            "status": "CREATE_IN_PROGRESS",
            "status_reason": None,
            "health_status": None,
            "health_status_reason": {},
            "discovery_url": None,
            "api_address": None,
            "coe_version": None,
            "container_version": None,
            "project_id": PROJECT_ID,
            "user_id": USER_ID,
            "node_addresses": [],
            "master_addresses": [],
            "faults": {},
            "fixed_network": body.get("fixed_network", tmpl["fixed_network"]),
            "fixed_subnet": body.get("fixed_subnet", tmpl["fixed_subnet"]),
            "floating_ip_enabled": body.get("floating_ip_enabled", tmpl["floating_ip_enabled"]),
            "master_lb_enabled": body.get("master_lb_enabled", tmpl["master_lb_enabled"]),
            "merge_labels": bool(body.get("merge_labels", False)),
            "created_at": self._ts(),
            "updated_at": None,
        }
        self.clusters[ident] = cluster
        for role, ng_name, count, flavor in (
            ("master", "default-master", cluster["master_count"], cluster["master_flavor_id"]),
            ("worker", "default-worker", cluster["node_count"], cluster["flavor_id"]),
        ):
            self._new_nodegroup(
                cluster,
                {
                    "name": ng_name,
                    "role": role,
                    "node_count": count,
                    "flavor_id": flavor,
                    "min_node_count": int(labels.get("min_node_count", 0))
                    if role == "worker"
                    else 0,
                    "max_node_count": int(labels["max_node_count"])
                    if role == "worker" and labels.get("max_node_count") is not None
                    else None,
                },
                is_default=True,
            )
        return cluster

    def _groups(self, cluster_uuid: str) -> list[dict[str, Any]]:
        return [ng for ng in self.nodegroups.values() if ng["cluster_id"] == cluster_uuid]

    def _complete_cluster(self, ident: str, reason: str | None) -> None:
        cluster = self.clusters.get(ident)
        if cluster is None:
            return
        cluster["updated_at"] = self._ts()
        if reason is not None:
            cluster.update(
                status="CREATE_FAILED", status_reason=reason, faults={"default-master": reason}
            )
            for ng in self._groups(ident):
                ng.update(status="CREATE_FAILED", status_reason=reason)
            return
        cluster.update(
            status="CREATE_COMPLETE",
            status_reason="Stack CREATE completed successfully",
            health_status="HEALTHY",
            api_address=f"https://{self._next_public_ip()}:6443",
            coe_version=str(cluster["labels"].get("kube_tag", "v1.31.4")),
            container_version="1.7.22",
            discovery_url=None,
        )
        for ng in self._groups(ident):
            ng.update(status="CREATE_COMPLETE", status_reason="Stack CREATE completed successfully")
            self._sync_servers(cluster, ng)

    def _sync_servers(self, cluster: dict[str, Any], ng: dict[str, Any]) -> None:
        prefix = f"{cluster['name']}-{cluster['uuid'][:6]}-{ng['name']}-"
        mine = sorted(
            (s for s in self.servers.values() if s["name"].startswith(prefix)),
            key=lambda s: s["name"],
        )
        while len(mine) > ng["node_count"]:
            gone = mine.pop()
            del self.servers[gone["id"]]
        index = len(mine)
        while len(mine) < ng["node_count"]:
            while any(s["name"] == f"{prefix}{index}" for s in mine):
                index += 1
            mine.append(
                self.add_server(
                    f"{prefix}{index}",
                    flavor=ng["flavor_id"],
                    metadata={"magnum_cluster": cluster["uuid"], "magnum_nodegroup": ng["name"]},
                )
            )
        ng["node_addresses"] = [s["addresses"]["private"][0]["addr"] for s in mine]

    def _cl_create(self, req: Req) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        if not body.get("cluster_template_id"):
            raise ApiError(
                400,
                "Invalid input for field/attribute cluster_template_id. "
                "Value: None. Mandatory field missing.",
            )
        tmpl = self._by_ident(self.templates, body["cluster_template_id"], "clustertemplate")
        for key in ("flavor_id", "master_flavor_id"):
            if not self._flavor_exists(body.get(key)):
                raise ApiError(400, f"Unable to find flavor {body[key]}.")
        if body.get("node_count", 1) < 0 or body.get("master_count", 1) < 1:
            raise ApiError(400, "Invalid node_count/master_count")
        cluster = self._new_cluster(body, tmpl)
        reason = self._take_failure("cluster", cluster["name"])
        self._schedule(
            ("cluster", cluster["uuid"]), lambda: self._complete_cluster(cluster["uuid"], reason)
        )
        return Reply(202, {"uuid": cluster["uuid"]})

    def _cl_patch(self, req: Req, ident: str) -> Reply:
        cluster = self._cluster(ident)
        view = self._cluster_view(cluster)
        patched = self._json_patch(
            view,
            req.body,
            internal=set(),
            allowed={"/node_count", "/health_status", "/health_status_reason"},
        )
        if self._ver(req) < (1, 10) and patched["node_count"] == 0:
            raise ApiError(400, "Resizing a cluster to zero nodes is not supported.")
        if patched["node_count"] != view["node_count"]:
            self._update_worker_count(cluster, None, patched["node_count"])
        cluster["health_status"] = patched.get("health_status")
        return Reply(202, {"uuid": cluster["uuid"]})

    _UPDATABLE = (
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "RESUME_COMPLETE",
        "RESTORE_COMPLETE",
        "ROLLBACK_COMPLETE",
        "SNAPSHOT_COMPLETE",
        "CHECK_COMPLETE",
        "ADOPT_COMPLETE",
    )

    def _update_worker_count(
        self, cluster: dict[str, Any], nodegroup: str | None, count: int
    ) -> None:
        if cluster["status"] not in self._UPDATABLE:
            return  # Magnum's conductor refuses asynchronously: the API said 202, nothing moves
        groups = self._groups(cluster["uuid"])
        if nodegroup is None:
            target = next(ng for ng in groups if ng["is_default"] and ng["role"] != "master")
        else:
            target = self._by_ident({ng["uuid"]: ng for ng in groups}, nodegroup, "nodegroup")
        too_many = target["max_node_count"] is not None and count > target["max_node_count"]
        if too_many or count < target["min_node_count"]:
            raise ApiError(
                400,
                f"Resizing {target['name']} outside the allowed range: "
                f"min_node_count = {target['min_node_count']}, "
                f"max_node_count = {target['max_node_count']}",
            )
        cluster["status"] = "UPDATE_IN_PROGRESS"
        target["status"] = "UPDATE_IN_PROGRESS"
        reason = self._take_failure("cluster_update", cluster["name"])

        def done() -> None:
            if reason is not None:
                cluster.update(status="UPDATE_FAILED", status_reason=reason)
                target.update(status="UPDATE_FAILED", status_reason=reason)
                return
            target["node_count"] = count
            self._sync_servers(cluster, target)
            cluster.update(
                status="UPDATE_COMPLETE", status_reason="Stack UPDATE completed successfully"
            )
            target.update(status="UPDATE_COMPLETE", status_reason=None)

        self._schedule(("cluster", cluster["uuid"]), done)

    def _cl_resize(self, req: Req, ident: str) -> Reply:
        self._require(req, (1, 7), "post")
        cluster = self._cluster(ident)
        body = req.body if isinstance(req.body, dict) else {}
        if "node_count" not in body:
            raise ApiError(400, "Mandatory field missing: node_count")
        self._update_worker_count(cluster, body.get("nodegroup"), int(body["node_count"]))
        return Reply(202, {"uuid": cluster["uuid"]})

    def _cl_delete(self, req: Req, ident: str) -> Reply:
        cluster = self._cluster(ident)
        cluster["status"] = "DELETE_IN_PROGRESS"
        reason = self._take_failure("cluster_delete", cluster["name"])

        def done() -> None:
            if reason is not None:
                cluster.update(status="DELETE_FAILED", status_reason=reason)
                return
            for ng in self._groups(cluster["uuid"]):
                ng["node_count"] = 0
                self._sync_servers(cluster, ng)
                del self.nodegroups[ng["uuid"]]
            self.clusters.pop(cluster["uuid"], None)
            self._cas.pop(cluster["uuid"], None)

        self._schedule(("cluster", cluster["uuid"]), done)
        return Reply(204)

    # -- node groups
    _NG_SUMMARY = (
        "uuid",
        "name",
        "flavor_id",
        "node_count",
        "role",
        "is_default",
        "image_id",
        "status",
        "stack_id",
    )

    def _new_nodegroup(
        self, cluster: dict[str, Any], body: dict[str, Any], is_default: bool = False
    ) -> dict[str, Any]:
        tmpl = self.templates.get(cluster["cluster_template_id"], {})
        labels = body.get("labels")
        if labels is None:
            labels = copy.deepcopy(cluster["labels"])
        elif body.get("merge_labels"):
            labels = {**cluster["labels"], **labels}
        ident = _new_id()
        ng = {
            "id": next(self._ng_ids),
            "uuid": ident,
            "name": body["name"],
            "cluster_id": cluster["uuid"],
            "project_id": PROJECT_ID,
            "docker_volume_size": body.get("docker_volume_size"),
            "labels": labels,
            "labels_overridden": {},
            "labels_added": {},
            "labels_skipped": {},
            "links": [
                {
                    "href": f"{MAGNUM}/v1/clusters/{cluster['uuid']}/nodegroups/{ident}",
                    "rel": "self",
                }
            ],
            "flavor_id": body.get("flavor_id") or cluster["flavor_id"],
            "image_id": body.get("image_id") or tmpl.get("image_id"),
            "node_addresses": [],
            "node_count": body.get("node_count", 1),
            "role": body.get("role", "worker"),
            "min_node_count": body.get("min_node_count", 0),
            "max_node_count": body.get("max_node_count"),
            "is_default": is_default,
            "stack_id": cluster["stack_id"],
            "status": "CREATE_IN_PROGRESS",
            "status_reason": None,
            "version": None,
            "merge_labels": bool(body.get("merge_labels", False)),
            "node_labels": body.get("node_labels") or {},
            "node_taints": body.get("node_taints") or [],
            "created_at": self._ts(),
            "updated_at": None,
        }
        self.nodegroups[ident] = ng
        return ng

    @staticmethod
    def _validate_counts(ng: dict[str, Any]) -> None:
        lo, hi, n = ng["min_node_count"], ng["max_node_count"], ng["node_count"]
        if hi is not None and hi < lo:
            raise ApiError(
                400,
                f"Nodegroup {ng['name']} has invalid input for max_node_count:"
                f" min_node_count ({lo}) should be less or equal to"
                f" max_node_count ({hi})",
            )
        if hi is not None and n > hi:
            raise ApiError(
                400,
                f"Nodegroup {ng['name']} has invalid input for max_node_count:"
                f" node_count ({n}) should be less or equal to"
                f" max_node_count ({hi})",
            )
        if lo > n:
            raise ApiError(
                400,
                f"Nodegroup {ng['name']} has invalid input for min_node_count:"
                f" min_node_count ({lo}) should be less or equal to"
                f" node_count ({n})",
            )

    def _nodegroup(self, cluster: dict[str, Any], ident: str) -> dict[str, Any]:
        groups = {ng["uuid"]: ng for ng in self._groups(cluster["uuid"])}
        for ng in groups.values():
            if str(ng["id"]) == ident:
                return ng
        return self._by_ident(groups, ident, "nodegroup")

    def _ng_list(self, req: Req, cluster_ident: str) -> Reply:
        self._require(req, (1, 9), "get_all")
        cluster = self._cluster(cluster_ident)
        groups = self._groups(cluster["uuid"])
        for ng in groups:
            self._poll(("nodegroup", ng["uuid"]))
        role = req.q("role")
        groups = [ng for ng in self._groups(cluster["uuid"]) if role is None or ng["role"] == role]
        return Reply(200, {"nodegroups": [{k: ng[k] for k in self._NG_SUMMARY} for ng in groups]})

    def _ng_get(self, req: Req, cluster_ident: str, ident: str) -> Reply:
        self._require(req, (1, 9), "get_one")
        cluster = self._cluster(cluster_ident)
        ng = self._nodegroup(cluster, ident)
        self._poll(("nodegroup", ng["uuid"]))
        if ng["uuid"] not in self.nodegroups:
            raise ApiError(404, f"Nodegroup {ident} could not be found.")
        return Reply(200, copy.deepcopy(ng))

    def _ng_create(self, req: Req, cluster_ident: str) -> Reply:
        self._require(req, (1, 9), "post")
        cluster = self._cluster(cluster_ident)
        body = req.body if isinstance(req.body, dict) else {}
        if not cluster.get("api_address"):
            raise ApiError(409, "Cluster API address is not available yet")
        if not body.get("name"):
            raise ApiError(400, "Invalid input for field/attribute name. Mandatory field missing.")
        if any(ng["name"] == body["name"] for ng in self._groups(cluster["uuid"])):
            raise ApiError(
                409,
                f"A node group with name {body['name']} already exists in the "
                f"cluster {cluster['name']}.",
            )
        if body.get("role") == "master":
            raise ApiError(400, "Creating master nodegroups is currently not supported.")
        if not self._flavor_exists(body.get("flavor_id")):
            raise ApiError(400, f"Unable to find flavor {body['flavor_id']}.")
        probe = {
            "name": body["name"],
            "node_count": body.get("node_count", 1),
            "min_node_count": body.get("min_node_count", 0),
            "max_node_count": body.get("max_node_count"),
        }
        self._validate_counts(probe)
        ng = self._new_nodegroup(cluster, body)
        reason = self._take_failure("nodegroup", ng["name"])

        def done() -> None:
            if ng["uuid"] not in self.nodegroups:
                return
            if reason is not None:
                ng.update(status="CREATE_FAILED", status_reason=reason)
                return
            ng.update(status="CREATE_COMPLETE", status_reason=None)
            self._sync_servers(cluster, ng)

        self._schedule(("nodegroup", ng["uuid"]), done)
        return Reply(202, copy.deepcopy(ng))

    def _ng_patch(self, req: Req, cluster_ident: str, ident: str) -> Reply:
        self._require(req, (1, 9), "patch")
        cluster = self._cluster(cluster_ident)
        ng = self._nodegroup(cluster, ident)
        allowed = {"/min_node_count", "/max_node_count"}
        if self._ver(req) >= (1, 14):
            allowed |= {"/node_labels", "/node_taints"}
        patched = self._json_patch(ng, req.body, internal=set(), allowed=allowed)
        self._validate_counts(patched)
        ng.update(patched, status="UPDATE_IN_PROGRESS", updated_at=self._ts())

        def done() -> None:
            if ng["uuid"] in self.nodegroups:
                ng.update(status="UPDATE_COMPLETE", status_reason=None)

        self._schedule(("nodegroup", ng["uuid"]), done)
        return Reply(202, copy.deepcopy(ng))

    def _ng_delete(self, req: Req, cluster_ident: str, ident: str) -> Reply:
        self._require(req, (1, 9), "delete")
        cluster = self._cluster(cluster_ident)
        ng = self._nodegroup(cluster, ident)
        if ng["is_default"]:
            raise ApiError(400, "Deleting a default nodegroup is not supported.")
        ng["status"] = "DELETE_IN_PROGRESS"

        def done() -> None:
            ng["node_count"] = 0
            self._sync_servers(cluster, ng)
            self.nodegroups.pop(ng["uuid"], None)

        self._schedule(("nodegroup", ng["uuid"]), done)
        return Reply(204)

    # -- certificates
    def ca(self, cluster_uuid: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """The cluster's CA (generated on first use): private key and certificate."""
        if cluster_uuid not in self._cas:
            name = self.clusters[cluster_uuid]["name"]
            key = ec.generate_private_key(ec.SECP256R1())
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
            now = datetime.datetime.now(tz=datetime.UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=True,
                        crl_sign=True,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .sign(key, hashes.SHA256())
            )
            self._cas[cluster_uuid] = (key, cert)
        return self._cas[cluster_uuid]

    def ca_pem(self, cluster_uuid: str) -> str:
        return self.ca(cluster_uuid)[1].public_bytes(serialization.Encoding.PEM).decode()

    def _cert_get(self, req: Req, ident: str) -> Reply:
        cluster = self._cluster(ident)
        return Reply(
            200,
            {
                "cluster_uuid": cluster["uuid"],
                "pem": self.ca_pem(cluster["uuid"]),
                "links": self._links("certificates", cluster["uuid"]),
            },
        )

    def _cert_sign(self, req: Req) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        cluster = self._cluster(str(body.get("cluster_uuid") or body.get("bay_uuid") or ""))
        try:
            csr = x509.load_pem_x509_csr(str(body.get("csr", "")).encode())
        except ValueError as e:
            raise ApiError(400, f"Invalid CSR: {e}") from e
        if not csr.is_signature_valid:
            raise ApiError(400, "Invalid CSR: bad signature")
        key, ca_cert = self.ca(cluster["uuid"])
        now = datetime.datetime.now(tz=datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(ca_cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(key, hashes.SHA256())
        )
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        return Reply(
            201,
            {
                "cluster_uuid": cluster["uuid"],
                "csr": body["csr"],
                "pem": pem,
                "links": self._links("certificates", cluster["uuid"]),
            },
        )

    # ================================================================= Octavia
    def _lb(self, ident: str) -> dict[str, Any]:
        if ident not in self.load_balancers:
            raise ApiError(404, f"Load Balancer {ident} not found.")
        return self.load_balancers[ident]

    def _lb_poll(self, lb_id: str) -> None:
        self._poll(("lb", lb_id))

    def _lb_mutable(self, lb: dict[str, Any]) -> None:
        if lb["provisioning_status"] != "ACTIVE":
            raise ApiError(409, f"Load Balancer {lb['id']} is immutable and cannot be updated.")

    def _lb_settle(self, lb_id: str, error: str | None = None) -> None:
        """Finish the pending operation on a load balancer and its children."""
        lb = self.load_balancers.get(lb_id)
        if lb is None:
            return
        if lb["provisioning_status"] == "PENDING_DELETE":
            self._lb_purge(lb)
            return
        for store in (self.listeners, self.pools, self.members):
            for child in list(store.values()):
                if child.get("_lb") != lb_id:
                    continue
                if child["provisioning_status"] == "PENDING_DELETE":
                    self._drop_child(store, child)
                elif child["provisioning_status"].startswith("PENDING"):
                    child["provisioning_status"] = "ACTIVE"
                    child["operating_status"] = "NO_MONITOR" if store is self.members else "ONLINE"
        if error:
            lb.update(provisioning_status="ERROR", operating_status="ERROR")
        else:
            lb.update(provisioning_status="ACTIVE", operating_status="ONLINE")
        lb["updated_at"] = self._ts()

    def _drop_child(self, store: dict[str, dict[str, Any]], child: dict[str, Any]) -> None:
        store.pop(child["id"], None)
        lb = self.load_balancers.get(child["_lb"])
        if store is self.listeners and lb:
            lb["listeners"] = [x for x in lb["listeners"] if x["id"] != child["id"]]
        if store is self.pools:
            if lb:
                lb["pools"] = [x for x in lb["pools"] if x["id"] != child["id"]]
            for listener in self.listeners.values():
                if listener["default_pool_id"] == child["id"]:
                    listener["default_pool_id"] = None
            for member in [m for m in self.members.values() if m["_pool"] == child["id"]]:
                self.members.pop(member["id"], None)
        if store is self.members and child["_pool"] in self.pools:
            pool = self.pools[child["_pool"]]
            pool["members"] = [x for x in pool["members"] if x["id"] != child["id"]]

    def _lb_purge(self, lb: dict[str, Any]) -> None:
        for store in (self.members, self.pools, self.listeners):
            for child in [c for c in store.values() if c.get("_lb") == lb["id"]]:
                store.pop(child["id"], None)
        port = self.ports.pop(lb["vip_port_id"], None)
        if port is not None:
            self._port_gone(port["id"])
        self.load_balancers.pop(lb["id"], None)

    @staticmethod
    def _public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}

    def add_load_balancer(
        self,
        name: str,
        *,
        description: str = "",
        vip_address: str | None = None,
        listeners: Iterable[tuple[str, int]] = (),
        members: Iterable[str] = (),
        member_port: int | None = None,
        provisioning_status: str = "ACTIVE",
    ) -> dict[str, Any]:
        """Seed an LB with one listener + pool per ``(protocol, port)`` and the ``members``
        addresses in every pool (port ``member_port`` or the listener's). No request logged."""
        lb = self._new_lb(
            {
                "name": name,
                "description": description,
                "vip_address": vip_address,
                "vip_subnet_id": self._subnet_named("private-subnet")["id"],
            }
        )
        lb.update(provisioning_status=provisioning_status, operating_status="ONLINE")
        member_list = list(members)
        for protocol, port in listeners:
            listener = self._new_listener(
                lb, {"protocol": protocol, "protocol_port": port, "name": f"{name}-{port}"}
            )
            pool = self._new_pool(
                lb,
                {
                    "protocol": protocol,
                    "lb_algorithm": "ROUND_ROBIN",
                    "listener_id": listener["id"],
                    "name": f"{name}-{port}",
                },
            )
            for address in member_list:
                self._new_member(pool, {"address": address, "protocol_port": member_port or port})
        for store in (self.listeners, self.pools, self.members):
            for child in store.values():
                if child["_lb"] == lb["id"]:
                    child["provisioning_status"] = "ACTIVE"
        return lb

    def _new_lb(self, body: dict[str, Any]) -> dict[str, Any]:
        subnet = None
        if body.get("vip_subnet_id"):
            subnet = self.subnets.get(body["vip_subnet_id"])
            if subnet is None:
                raise ApiError(
                    400, f"Validation failure: Subnet {body['vip_subnet_id']} not found."
                )
        elif body.get("vip_network_id"):
            net = self.networks.get(body["vip_network_id"])
            if net is None:
                raise ApiError(
                    400, f"Validation failure: Network {body['vip_network_id']} not found."
                )
            subnet = self.subnets[net["subnets"][0]]
        elif not body.get("vip_port_id"):
            raise ApiError(
                400,
                "Validation failure: VIP must contain one of: vip_port_id, "
                "vip_network_id, vip_subnet_id.",
            )
        ident = _new_id()
        if body.get("vip_port_id"):
            port = self.ports.get(body["vip_port_id"])
            if port is None:
                raise ApiError(400, f"Validation failure: Port {body['vip_port_id']} not found.")
        else:
            assert subnet is not None
            port = self._new_port(
                {
                    "name": f"octavia-lb-{ident}",
                    "network_id": subnet["network_id"],
                    "device_owner": "Octavia",
                    "device_id": f"lb-{ident}",
                    "ip_address": body.get("vip_address"),
                }
            )
        ip = port["fixed_ips"][0]
        lb = {
            "id": ident,
            "name": body.get("name", ""),
            "description": body.get("description", ""),
            "provisioning_status": "PENDING_CREATE",
            "operating_status": "OFFLINE",
            "admin_state_up": body.get("admin_state_up", True),
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "created_at": self._ts(),
            "updated_at": None,
            "vip_address": ip["ip_address"],
            "vip_port_id": port["id"],
            "vip_subnet_id": ip["subnet_id"],
            "vip_network_id": port["network_id"],
            "vip_qos_policy_id": None,
            "vip_sg_ids": None,
            "additional_vips": [],
            "listeners": [],
            "pools": [],
            "provider": body.get("provider") or "amphora",
            "flavor_id": body.get("flavor_id"),
            "availability_zone": None,
            "tags": body.get("tags", []),
        }
        self.load_balancers[ident] = lb
        return lb

    def _lb_list(self, req: Req) -> Reply:
        for lb_id in list(self.load_balancers):
            self._lb_poll(lb_id)
        items = self._filter(self.load_balancers.values(), req)
        return Reply(
            200, {"loadbalancers": [self._public(x) for x in items], "loadbalancers_links": []}
        )

    def _lb_get(self, req: Req, ident: str) -> Reply:
        self._lb(ident)
        self._lb_poll(ident)
        return Reply(200, {"loadbalancer": self._public(self._lb(ident))})

    def _lb_create(self, req: Req) -> Reply:
        body = (req.body or {}).get("loadbalancer") if isinstance(req.body, dict) else None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input: missing 'loadbalancer'")
        lb = self._new_lb(body)
        reason = self._take_failure("load_balancer", lb["name"])
        self._schedule(("lb", lb["id"]), lambda: self._lb_settle(lb["id"], reason))
        return Reply(201, {"loadbalancer": self._public(lb)})

    def _lb_update(self, req: Req, ident: str) -> Reply:
        lb = self._lb(ident)
        self._lb_mutable(lb)
        body = (req.body or {}).get("loadbalancer", {}) if isinstance(req.body, dict) else {}
        for key in ("name", "description", "admin_state_up", "tags"):
            if key in body:
                lb[key] = body[key]
        lb["provisioning_status"] = "PENDING_UPDATE"
        self._schedule(("lb", lb["id"]), lambda: self._lb_settle(lb["id"]))
        return Reply(200, {"loadbalancer": self._public(lb)})

    def _lb_delete(self, req: Req, ident: str) -> Reply:
        lb = self._lb(ident)
        if lb["provisioning_status"] != "ERROR":
            self._lb_mutable(lb)
        cascade = (req.q("cascade") or "").lower() in {"true", "1", "yes"}
        if (lb["listeners"] or lb["pools"]) and not cascade:
            raise ApiError(400, f"Cannot delete Load Balancer {lb['id']} - it has children")
        lb["provisioning_status"] = "PENDING_DELETE"
        self._schedule(("lb", lb["id"]), lambda: self._lb_settle(lb["id"]))
        return Reply(204)

    def _child_lb(self, body: dict[str, Any]) -> dict[str, Any]:
        lb_id = body.get("loadbalancer_id")
        if not lb_id and body.get("listener_id") in self.listeners:
            lb_id = self.listeners[body["listener_id"]]["_lb"]
        if not lb_id:
            raise ApiError(400, "Validation failure: loadbalancer_id or listener_id is required.")
        return self._lb(lb_id)

    def _start_child_change(self, lb: dict[str, Any]) -> None:
        lb["provisioning_status"] = "PENDING_UPDATE"
        self._schedule(("lb", lb["id"]), lambda: self._lb_settle(lb["id"]))

    def _new_listener(self, lb: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if any(
            x["protocol_port"] == body.get("protocol_port") and x["_lb"] == lb["id"]
            for x in self.listeners.values()
        ):
            raise ApiError(
                409,
                "Another Listener on this Load Balancer is already using "
                f"protocol_port {body.get('protocol_port')}",
            )
        ident = _new_id()
        listener = {
            "id": ident,
            "name": body.get("name", ""),
            "description": body.get("description", ""),
            "provisioning_status": "PENDING_CREATE",
            "operating_status": "OFFLINE",
            "admin_state_up": True,
            "protocol": body.get("protocol"),
            "protocol_port": body.get("protocol_port"),
            "connection_limit": -1,
            "default_tls_container_ref": None,
            "sni_container_refs": [],
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "default_pool_id": body.get("default_pool_id"),
            "l7policies": [],
            "insert_headers": {},
            "created_at": self._ts(),
            "updated_at": None,
            "loadbalancers": [{"id": lb["id"]}],
            "timeout_client_data": 50000,
            "timeout_member_connect": 5000,
            "timeout_member_data": 50000,
            "timeout_tcp_inspect": 0,
            "tags": [],
            "allowed_cidrs": body.get("allowed_cidrs"),
            "tls_ciphers": None,
            "tls_versions": None,
            "alpn_protocols": None,
            "_lb": lb["id"],
        }
        self.listeners[ident] = listener
        lb["listeners"].append({"id": ident})
        return listener

    def _lis_list(self, req: Req) -> Reply:
        for listener in list(self.listeners.values()):
            self._lb_poll(listener["_lb"])
        items = self._filter(self.listeners.values(), req)
        lb_id = req.q("loadbalancer_id")
        items = [x for x in items if lb_id is None or x["_lb"] == lb_id]
        return Reply(200, {"listeners": [self._public(x) for x in items], "listeners_links": []})

    def _lis_get(self, req: Req, ident: str) -> Reply:
        if ident not in self.listeners:
            raise ApiError(404, f"Listener {ident} not found.")
        self._lb_poll(self.listeners[ident]["_lb"])
        if ident not in self.listeners:
            raise ApiError(404, f"Listener {ident} not found.")
        return Reply(200, {"listener": self._public(self.listeners[ident])})

    def _lis_create(self, req: Req) -> Reply:
        body = (req.body or {}).get("listener") if isinstance(req.body, dict) else None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input: missing 'listener'")
        lb = self._child_lb(body)
        self._lb_mutable(lb)
        listener = self._new_listener(lb, body)
        self._start_child_change(lb)
        return Reply(201, {"listener": self._public(listener)})

    def _lis_delete(self, req: Req, ident: str) -> Reply:
        if ident not in self.listeners:
            raise ApiError(404, f"Listener {ident} not found.")
        listener = self.listeners[ident]
        lb = self._lb(listener["_lb"])
        self._lb_mutable(lb)
        listener["provisioning_status"] = "PENDING_DELETE"
        self._start_child_change(lb)
        return Reply(204)

    def _new_pool(self, lb: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        ident = _new_id()
        listener_id = body.get("listener_id")
        pool = {
            "id": ident,
            "name": body.get("name", ""),
            "description": body.get("description", ""),
            "provisioning_status": "PENDING_CREATE",
            "operating_status": "OFFLINE",
            "admin_state_up": True,
            "protocol": body.get("protocol"),
            "lb_algorithm": body.get("lb_algorithm", "ROUND_ROBIN"),
            "session_persistence": None,
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "loadbalancers": [{"id": lb["id"]}],
            "listeners": [{"id": listener_id}] if listener_id else [],
            "members": [],
            "healthmonitor_id": None,
            "created_at": self._ts(),
            "updated_at": None,
            "tags": [],
            "tls_enabled": False,
            "tls_ciphers": None,
            "tls_versions": None,
            "alpn_protocols": None,
            "ca_tls_container_ref": None,
            "crl_container_ref": None,
            "_lb": lb["id"],
        }
        self.pools[ident] = pool
        lb["pools"].append({"id": ident})
        if listener_id in self.listeners:
            self.listeners[listener_id]["default_pool_id"] = ident
        return pool

    def _pool_list(self, req: Req) -> Reply:
        for pool in list(self.pools.values()):
            self._lb_poll(pool["_lb"])
        items = self._filter(self.pools.values(), req)
        lb_id = req.q("loadbalancer_id")
        items = [x for x in items if lb_id is None or x["_lb"] == lb_id]
        return Reply(200, {"pools": [self._public(x) for x in items], "pools_links": []})

    def _pool_get(self, req: Req, ident: str) -> Reply:
        if ident not in self.pools:
            raise ApiError(404, f"Pool {ident} not found.")
        self._lb_poll(self.pools[ident]["_lb"])
        if ident not in self.pools:
            raise ApiError(404, f"Pool {ident} not found.")
        return Reply(200, {"pool": self._public(self.pools[ident])})

    def _pool_create(self, req: Req) -> Reply:
        body = (req.body or {}).get("pool") if isinstance(req.body, dict) else None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input: missing 'pool'")
        lb = self._child_lb(body)
        self._lb_mutable(lb)
        pool = self._new_pool(lb, body)
        self._start_child_change(lb)
        return Reply(201, {"pool": self._public(pool)})

    def _pool_delete(self, req: Req, ident: str) -> Reply:
        if ident not in self.pools:
            raise ApiError(404, f"Pool {ident} not found.")
        pool = self.pools[ident]
        lb = self._lb(pool["_lb"])
        self._lb_mutable(lb)
        pool["provisioning_status"] = "PENDING_DELETE"
        self._start_child_change(lb)
        return Reply(204)

    def _new_member(self, pool: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("address") or body.get("protocol_port") is None:
            raise ApiError(400, "Validation failure: address and protocol_port are required.")
        ident = _new_id()
        member = {
            "id": ident,
            "name": body.get("name", ""),
            "operating_status": "OFFLINE",
            "provisioning_status": "PENDING_CREATE",
            "admin_state_up": True,
            "address": body["address"],
            "protocol_port": body["protocol_port"],
            "weight": body.get("weight", 1),
            "backup": False,
            "subnet_id": body.get("subnet_id"),
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "created_at": self._ts(),
            "updated_at": None,
            "monitor_address": None,
            "monitor_port": None,
            "tags": [],
            "_lb": pool["_lb"],
            "_pool": pool["id"],
        }
        self.members[ident] = member
        pool["members"].append({"id": ident})
        return member

    def _pool(self, ident: str) -> dict[str, Any]:
        if ident not in self.pools:
            raise ApiError(404, f"Pool {ident} not found.")
        return self.pools[ident]

    def _mem_list(self, req: Req, pool_id: str) -> Reply:
        pool = self._pool(pool_id)
        self._lb_poll(pool["_lb"])
        items = self._filter((m for m in self.members.values() if m["_pool"] == pool_id), req)
        return Reply(200, {"members": [self._public(x) for x in items], "members_links": []})

    def _mem_get(self, req: Req, pool_id: str, ident: str) -> Reply:
        self._pool(pool_id)
        member = self.members.get(ident)
        if member is None or member["_pool"] != pool_id:
            raise ApiError(404, f"Member {ident} not found.")
        self._lb_poll(member["_lb"])
        return Reply(200, {"member": self._public(member)})

    def _mem_create(self, req: Req, pool_id: str) -> Reply:
        pool = self._pool(pool_id)
        body = (req.body or {}).get("member") if isinstance(req.body, dict) else None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input: missing 'member'")
        lb = self._lb(pool["_lb"])
        self._lb_mutable(lb)
        member = self._new_member(pool, body)
        self._start_child_change(lb)
        return Reply(201, {"member": self._public(member)})

    def _mem_delete(self, req: Req, pool_id: str, ident: str) -> Reply:
        self._pool(pool_id)
        member = self.members.get(ident)
        if member is None or member["_pool"] != pool_id:
            raise ApiError(404, f"Member {ident} not found.")
        lb = self._lb(member["_lb"])
        self._lb_mutable(lb)
        member["provisioning_status"] = "PENDING_DELETE"
        self._start_child_change(lb)
        return Reply(204)

    # ================================================================= Neutron
    def _seed_defaults(self) -> None:
        public = self._add_network(
            "public", external=True, cidr="203.0.113.0/24", subnet_name="public-subnet"
        )
        self._add_network(
            "private", external=False, cidr="10.0.0.0/24", subnet_name="private-subnet"
        )
        self.public_network_id: str = public["id"]
        for name, vcpus, ram, disk, extra in (
            ("m1.small", 1, 2048, 20, {}),
            ("m1.medium", 2, 4096, 40, {}),
            ("m1.large", 4, 8192, 80, {}),
            ("m1.xlarge", 8, 16384, 160, {}),
            (
                "g1.large.a100",
                16,
                65536,
                100,
                {"pci_passthrough:alias": "a100:1", "resources:PGPU": "1"},
            ),
        ):
            self.add_flavor(name, vcpus=vcpus, ram=ram, disk=disk, extra_specs=extra)

    def _add_network(
        self, name: str, *, external: bool, cidr: str, subnet_name: str
    ) -> dict[str, Any]:
        net_id, subnet_id = _new_id(), _new_id()
        net = {
            "id": net_id,
            "name": name,
            "status": "ACTIVE",
            "router:external": external,
            "subnets": [subnet_id],
            "admin_state_up": True,
            "shared": False,
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "mtu": 1500,
            "description": "",
            "availability_zones": ["nova"],
            "availability_zone_hints": [],
            "tags": [],
            "is_default": external,
            "port_security_enabled": True,
            "ipv4_address_scope": None,
            "ipv6_address_scope": None,
            "qos_policy_id": None,
            "revision_number": 1,
            "created_at": self._ts() + "Z",
            "updated_at": self._ts() + "Z",
        }
        network = ipaddress.ip_network(cidr)
        self.networks[net_id] = net
        self.subnets[subnet_id] = {
            "id": subnet_id,
            "name": subnet_name,
            "network_id": net_id,
            "cidr": cidr,
            "ip_version": 4,
            "gateway_ip": str(next(network.hosts())),
            "enable_dhcp": True,
            "allocation_pools": [{"start": str(network[10]), "end": str(network[-2])}],
            "dns_nameservers": [],
            "host_routes": [],
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "description": "",
            "tags": [],
            "revision_number": 1,
            "created_at": self._ts() + "Z",
            "updated_at": self._ts() + "Z",
        }
        return net

    def _subnet_named(self, name: str) -> dict[str, Any]:
        return next(s for s in self.subnets.values() if s["name"] == name)

    def _neutron_list(self, store: dict[str, dict[str, Any]], key: str, req: Req) -> Reply:
        return Reply(200, {key: copy.deepcopy(self._filter(store.values(), req))})

    def _neutron_get(
        self, store: dict[str, dict[str, Any]], key: str, ident: str, what: str
    ) -> Reply:
        if ident not in store:
            raise ApiError(404, f"{what} {ident} could not be found.", f"{what}NotFound")
        return Reply(200, {key: copy.deepcopy(store[ident])})

    def _net_list(self, req: Req) -> Reply:
        return self._neutron_list(self.networks, "networks", req)

    def _net_get(self, req: Req, ident: str) -> Reply:
        return self._neutron_get(self.networks, "network", ident, "Network")

    def _subnet_list(self, req: Req) -> Reply:
        return self._neutron_list(self.subnets, "subnets", req)

    def _subnet_get(self, req: Req, ident: str) -> Reply:
        return self._neutron_get(self.subnets, "subnet", ident, "Subnet")

    def add_port(
        self,
        name: str = "",
        *,
        network: str = "private",
        ip: str | None = None,
        device_id: str = "",
        device_owner: str = "",
    ) -> dict[str, Any]:
        """Seed a Neutron port (network by name or id); returns it."""
        net = next(n for n in self.networks.values() if network in (n["id"], n["name"]))
        return self._new_port(
            {
                "name": name,
                "network_id": net["id"],
                "ip_address": ip,
                "device_id": device_id,
                "device_owner": device_owner,
            }
        )

    def _new_port(self, body: dict[str, Any]) -> dict[str, Any]:
        net = self.networks.get(body.get("network_id", ""))
        if net is None:
            raise ApiError(
                404, f"Network {body.get('network_id')} could not be found.", "NetworkNotFound"
            )
        subnet = self.subnets[net["subnets"][0]]
        ip = body.get("ip_address")
        if ip is None and body.get("fixed_ips"):
            ip = body["fixed_ips"][0].get("ip_address")
        if ip is None:
            ip = self._next_public_ip() if net["router:external"] else self._next_private_ip()
        ident = _new_id()
        port = {
            "id": ident,
            "name": body.get("name", ""),
            "network_id": net["id"],
            "mac_address": "fa:16:3e:" + ":".join(f"{b:02x}" for b in uuid.UUID(ident).bytes[:3]),
            "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": ip}],
            "device_id": body.get("device_id", ""),
            "device_owner": body.get("device_owner", ""),
            "status": "ACTIVE",
            "admin_state_up": True,
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "security_groups": [],
            "description": "",
            "binding:vnic_type": "normal",
            "tags": [],
            "allowed_address_pairs": [],
            "extra_dhcp_opts": [],
            "revision_number": 1,
            "created_at": self._ts() + "Z",
            "updated_at": self._ts() + "Z",
        }
        self.ports[ident] = port
        return port

    def _port_gone(self, port_id: str) -> None:
        for fip in self.floating_ips.values():
            if fip["port_id"] == port_id:
                fip.update(
                    port_id=None,
                    fixed_ip_address=None,
                    router_id=None,
                    status="DOWN",
                    port_details=None,
                )

    def _port_list(self, req: Req) -> Reply:
        items = self._filter(self.ports.values(), req)
        return Reply(200, {"ports": copy.deepcopy(items)})

    def _port_get(self, req: Req, ident: str) -> Reply:
        return self._neutron_get(self.ports, "port", ident, "Port")

    def _port_create(self, req: Req) -> Reply:
        body = (req.body or {}).get("port") if isinstance(req.body, dict) else None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input: missing 'port'", "HTTPBadRequest")
        return Reply(201, {"port": copy.deepcopy(self._new_port(body))})

    def _port_delete(self, req: Req, ident: str) -> Reply:
        if ident not in self.ports:
            raise ApiError(404, f"Port {ident} could not be found.", "PortNotFound")
        del self.ports[ident]
        self._port_gone(ident)
        return Reply(204)

    def add_floating_ip(
        self,
        address: str | None = None,
        *,
        description: str = "",
        port_id: str | None = None,
        network: str = "public",
    ) -> dict[str, Any]:
        """Seed a floating IP (optionally associated with ``port_id``); returns it."""
        net = next(n for n in self.networks.values() if network in (n["id"], n["name"]))
        return self._new_fip(
            {
                "floating_network_id": net["id"],
                "floating_ip_address": address,
                "description": description,
                "port_id": port_id,
            }
        )

    def _new_fip(self, body: dict[str, Any]) -> dict[str, Any]:
        net = self.networks.get(body.get("floating_network_id") or "")
        if net is None or not net["router:external"]:
            raise ApiError(
                404 if net is None else 400,
                f"External network {body.get('floating_network_id')} could not be found.",
                "ExternalGatewayForFloatingIPNotFound",
            )
        address = body.get("floating_ip_address")
        if address:
            subnet = self.subnets[net["subnets"][0]]
            if ipaddress.ip_address(address) not in ipaddress.ip_network(subnet["cidr"]):
                raise ApiError(
                    400,
                    f"Invalid input: IP address {address} is not a valid IP "
                    f"for the specified subnet.",
                    "InvalidInput",
                )
            if any(f["floating_ip_address"] == address for f in self.floating_ips.values()):
                raise ApiError(
                    409,
                    f"Unable to complete operation for network {net['id']}. "
                    f"The IP address {address} is in use.",
                    "IpAddressInUse",
                )
        else:
            address = self._next_public_ip()
        ident = _new_id()
        fip = {
            "id": ident,
            "floating_ip_address": address,
            "floating_network_id": net["id"],
            "fixed_ip_address": None,
            "port_id": None,
            "router_id": None,
            "status": "DOWN",
            "description": body.get("description", ""),
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "dns_domain": "",
            "dns_name": "",
            "port_details": None,
            "qos_policy_id": None,
            "tags": [],
            "port_forwardings": [],
            "revision_number": 0,
            "created_at": self._ts() + "Z",
            "updated_at": self._ts() + "Z",
        }
        self.floating_ips[ident] = fip
        if body.get("port_id"):
            self._associate(fip, body["port_id"])
        return fip

    def _associate(self, fip: dict[str, Any], port_id: str | None) -> None:
        if port_id is None:
            fip.update(
                port_id=None,
                fixed_ip_address=None,
                router_id=None,
                status="DOWN",
                port_details=None,
            )
            return
        port = self.ports.get(port_id)
        if port is None:
            raise ApiError(404, f"Port {port_id} could not be found.", "PortNotFound")
        for other in self.floating_ips.values():
            if other["port_id"] == port_id and other["id"] != fip["id"]:
                raise ApiError(
                    409,
                    f"Cannot associate floating IP {fip['floating_ip_address']}"
                    f" ({fip['id']}) with port {port_id} using fixed IP "
                    f"{port['fixed_ips'][0]['ip_address']}, as that fixed IP "
                    f"already has a floating IP on external network "
                    f"{fip['floating_network_id']}.",
                    "FloatingIPPortAlreadyAssociated",
                )
        fip.update(
            port_id=port_id,
            fixed_ip_address=port["fixed_ips"][0]["ip_address"],
            router_id="router-" + port["network_id"][:8],
            status="ACTIVE",
            port_details={
                "name": port["name"],
                "network_id": port["network_id"],
                "mac_address": port["mac_address"],
                "admin_state_up": True,
                "status": "ACTIVE",
                "device_id": port["device_id"],
                "device_owner": port["device_owner"],
            },
        )

    def _fip_list(self, req: Req) -> Reply:
        return self._neutron_list(self.floating_ips, "floatingips", req)

    def _fip_get(self, req: Req, ident: str) -> Reply:
        return self._neutron_get(self.floating_ips, "floatingip", ident, "FloatingIP")

    def _fip_create(self, req: Req) -> Reply:
        body = (req.body or {}).get("floatingip") if isinstance(req.body, dict) else None
        if not isinstance(body, dict) or not body.get("floating_network_id"):
            raise ApiError(
                400,
                "Invalid input for operation: floating_network_id is required.",
                "HTTPBadRequest",
            )
        return Reply(201, {"floatingip": copy.deepcopy(self._new_fip(body))})

    def _fip_update(self, req: Req, ident: str) -> Reply:
        if ident not in self.floating_ips:
            raise ApiError(404, f"Floating IP {ident} could not be found.", "FloatingIPNotFound")
        fip = self.floating_ips[ident]
        body = (req.body or {}).get("floatingip", {}) if isinstance(req.body, dict) else {}
        if "port_id" in body:
            self._associate(fip, body["port_id"])
        if "description" in body:
            fip["description"] = body["description"]
        fip["revision_number"] += 1
        fip["updated_at"] = self._ts() + "Z"
        return Reply(200, {"floatingip": copy.deepcopy(fip)})

    def _fip_delete(self, req: Req, ident: str) -> Reply:
        if ident not in self.floating_ips:
            raise ApiError(404, f"Floating IP {ident} could not be found.", "FloatingIPNotFound")
        del self.floating_ips[ident]
        return Reply(204)

    # ================================================================= Nova
    def add_flavor(
        self,
        name: str,
        *,
        vcpus: int,
        ram: int,
        disk: int,
        extra_specs: dict[str, str] | None = None,
        flavor_id: str | None = None,
        is_public: bool = True,
    ) -> dict[str, Any]:
        """Seed a flavor (``ram`` in MiB, ``disk`` in GiB); returns it."""
        ident = flavor_id or _new_id()
        flavor = {
            "id": ident,
            "name": name,
            "vcpus": vcpus,
            "ram": ram,
            "disk": disk,
            "swap": 0,
            "OS-FLV-EXT-DATA:ephemeral": 0,
            "OS-FLV-DISABLED:disabled": False,
            "os-flavor-access:is_public": is_public,
            "rxtx_factor": 1.0,
            "description": None,
            "extra_specs": dict(extra_specs or {}),
            "links": [
                {"href": f"{NOVA}/v2.1/flavors/{ident}", "rel": "self"},
                {"href": f"{NOVA}/flavors/{ident}", "rel": "bookmark"},
            ],
        }
        self.flavors[ident] = flavor
        return flavor

    def _flavor_list(self, req: Req) -> Reply:
        public = (req.q("is_public") or "true").lower()
        items = [
            f
            for f in self.flavors.values()
            if public == "none"
            or f["os-flavor-access:is_public"] == (public in {"true", "1", "t", "yes"})
        ]
        return Reply(200, {"flavors": copy.deepcopy(items)})

    def _flavor_list_summary(self, req: Req) -> Reply:
        items = self._flavor_list(req).body["flavors"]
        return Reply(
            200,
            {"flavors": [{k: f[k] for k in ("id", "name", "links", "description")} for f in items]},
        )

    def _flavor_get(self, req: Req, ident: str) -> Reply:
        if ident not in self.flavors:
            raise ApiError(404, f"Flavor {ident} could not be found.")
        return Reply(200, {"flavor": copy.deepcopy(self.flavors[ident])})

    def add_server(
        self,
        name: str,
        *,
        flavor: str = "m1.medium",
        address: str | None = None,
        status: str = "ACTIVE",
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Seed a Nova server on the private network (flavor by name or id); returns it."""
        fl = next((f for f in self.flavors.values() if flavor in (f["id"], f["name"])), None)
        if fl is None:
            raise KeyError(f"no flavor {flavor!r}")
        ident = _new_id()
        ip = address or self._next_private_ip()
        server = {
            "id": ident,
            "name": name,
            "status": status,
            "tenant_id": PROJECT_ID,
            "user_id": USER_ID,
            "metadata": dict(metadata or {}),
            "hostId": uuid.uuid4().hex,
            "image": {"id": _new_id()},
            "key_name": None,
            "created": self._ts() + "Z",
            "updated": self._ts() + "Z",
            "progress": 0,
            "accessIPv4": "",
            "accessIPv6": "",
            "config_drive": "",
            "locked": False,
            "tags": [],
            "description": None,
            "addresses": {
                "private": [
                    {
                        "addr": ip,
                        "version": 4,
                        "OS-EXT-IPS:type": "fixed",
                        "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01",
                    }
                ]
            },
            "flavor": {
                "original_name": fl["name"],
                "vcpus": fl["vcpus"],
                "ram": fl["ram"],
                "disk": fl["disk"],
                "ephemeral": 0,
                "swap": 0,
                "extra_specs": dict(fl["extra_specs"]),
            },
            "OS-EXT-STS:vm_state": "active" if status == "ACTIVE" else status.lower(),
            "OS-EXT-STS:task_state": None,
            "OS-EXT-STS:power_state": 1,
            "OS-EXT-AZ:availability_zone": "nova",
            "security_groups": [{"name": "default"}],
            "os-extended-volumes:volumes_attached": [],
            "links": [{"href": f"{NOVA}/v2.1/servers/{ident}", "rel": "self"}],
        }
        self.servers[ident] = server
        return server

    def remove_server(self, name_or_id: str) -> None:
        """Make a server disappear (e.g. a node replaced behind an LB's back)."""
        for ident, server in list(self.servers.items()):
            if name_or_id in (ident, server["name"]):
                del self.servers[ident]

    def _server_items(self, req: Req) -> list[dict[str, Any]]:
        name = req.q("name")
        status = req.q("status")
        return [
            s
            for s in self.servers.values()
            if (name is None or re.search(name, s["name"]))
            and (status is None or s["status"] == status.upper())
        ]

    def _server_list(self, req: Req) -> Reply:
        return Reply(200, {"servers": copy.deepcopy(self._server_items(req))})

    def _server_list_summary(self, req: Req) -> Reply:
        return Reply(
            200,
            {
                "servers": [
                    {k: s[k] for k in ("id", "name", "links")} for s in self._server_items(req)
                ]
            },
        )

    def _server_get(self, req: Req, ident: str) -> Reply:
        if ident not in self.servers:
            raise ApiError(404, "Instance could not be found.")
        return Reply(200, {"server": copy.deepcopy(self.servers[ident])})


def iter_state(cloud: FakeCloud) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """(name, store) for every state dict, e.g. for debugging dumps."""
    for name in (
        "templates",
        "clusters",
        "nodegroups",
        "load_balancers",
        "listeners",
        "pools",
        "members",
        "networks",
        "subnets",
        "ports",
        "floating_ips",
        "flavors",
        "servers",
    ):
        yield name, getattr(cloud, name)


@pytest.fixture
def fake_cloud() -> Iterator[FakeCloud]:
    """A fresh fake OpenStack cloud, active for the whole test (see the module docstring)."""
    cloud = FakeCloud().start()
    try:
        yield cloud
    finally:
        cloud.stop()
