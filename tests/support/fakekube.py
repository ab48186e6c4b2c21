"""A Kubernetes API server for tests: kmock's ``KubernetesEmulator`` on loopback, made strict.

The emulator (kmock 0.8, aiohttp) runs in a background thread with its own event loop and
listens on ``127.0.0.1:<free port>``, so the REAL, synchronous ``kubernetes`` client (and the
real ``helm`` binary) talk to it over HTTP. Fixture: ``kube`` (a :class:`FakeKube`).

What it does like a real API server (the rules, with the upstream file each follows, are in
``tests/support/kube_rules.py`` and the table in docs/testing.md):

* **Writes follow the API server.** Create, update (PUT), patch and delete of single objects
  are handled here, not by kmock: defaulting on every write (Namespace label, finalizer and
  phase; Secret type and stringData; StorageClass reclaimPolicy and volumeBindingMode;
  PriorityClass preemptionPolicy, and ``omitempty`` zero values not served; Service cluster
  IP, ports, traffic policies), immutable fields refused with 422 ``Invalid`` in the API's
  own words, creates into a missing namespace (404) or a terminating one (403) refused, a
  stale ``metadata.resourceVersion`` refused with 409 ``Conflict``, an update that changes
  nothing not written (same resourceVersion, no watch event), ``metadata.generation``
  bumped when the spec changes, ``?dryRun=All`` honoured.
* **Deletion takes time.** Deleting a Namespace marks it ``Terminating`` (deletionTimestamp,
  ``status.phase``), deletes its content, waits for content with finalizers, then removes
  it shortly after (``Emulator.namespace_finalize_delay``; ``None`` holds it until
  :meth:`FakeKube.finish_namespace`). Any object with ``metadata.finalizers`` is only marked
  for deletion and goes when its finalizers are removed.
* The namespaces every cluster has (default, kube-system, kube-public, kube-node-lease)
  exist from the start.
* **Patches**: a dict body (the python client sends a dict as
  ``application/strategic-merge-patch+json``) is applied as a JSON *merge* patch: dicts merge
  recursively, ``None`` deletes a key, and **lists are replaced whole** — there are no
  strategic-merge list semantics (no merge by ``name`` for containers/env/ports, no
  ``$patch`` directives). A list body (``application/json-patch+json``) is an RFC 6902 JSON
  patch applied with ``jsonpatch``, including ``test``; a failing ``test`` op, or a path that
  does not exist, answers 422 ``Invalid``. Server-side apply (``application/apply-patch+yaml``,
  with the required ``fieldManager``) creates a missing object or merges the applied fields
  into it, as a forced apply would; field ownership and apply conflicts are not tracked.
* Protobuf bodies of Secrets and ConfigMaps (how client-go's typed clients, hence helm,
  write them) are decoded (``tests/support/kube_protobuf.py``), so the real ``helm`` binary
  keeps its release records here; answers are JSON, which those clients also accept.
  kmock's discovery answer for ``/api/v1`` is corrected (``groupVersion: v1``).
* Added on top of kmock (kmock 0.8 lacks them): ``metadata.uid``, ``resourceVersion``
  (a global counter, bumped on every change), ``creationTimestamp``, ``namespace`` and
  ``generateName``; PUT (``replace_*``) of whole objects;
  ``labelSelector`` (``=``, ``==``, ``!=``, ``in``, ``notin``, ``key``, ``!key``) and
  ``fieldSelector`` (``=``, ``==``, ``!=`` on dotted paths such as ``metadata.name`` or
  ``status.phase``) on lists and watches; watch ``timeoutSeconds`` (kmock would stream forever)
  and watch ``resourceVersion`` (kmock replays every object as ADDED; here objects not newer
  than the given version are skipped); the Namespace resource itself (kmock 0.8 mis-parses
  ``/api/v1/namespaces[/{name}]`` as a namespace prefix — patched below); pod logs
  (``/api/v1/namespaces/{ns}/pods/{name}/log``) served from :meth:`FakeKube.set_pod_log`
  as ``text/plain`` (kmock would answer the pod's JSON).
* **exec** (``pods/{name}/exec`` over a websocket, subprotocol ``v4.channel.k8s.io``): the API
  server's refusals (missing pod, container not named or not in the pod, no node), then the
  command runs as a local process chosen by :meth:`FakeKube.on_exec` (the test plays the
  container runtime), its output and exit code on the channels; :attr:`FakeKube.execs` lists
  them (``Emulator._serve_exec`` has the sources).
* Objects seeded with :meth:`FakeKube.create` stand for what is already in the cluster: they
  are defaulted like a write, but skip admission (their namespace need not exist).
* Not emulated: other admission plugins, defaulting and validation of kinds this project
  does not write (anything else is stored as sent; the REAL client still deserializes
  responses into models, so seed objects that the models accept, e.g. a Deployment needs
  ``spec.selector`` and ``spec.template``), controllers (a Deployment never gets pods or status
  unless a test writes them), garbage collection by ownerReferences, ``/scale`` and
  ``/status`` subresources (a PATCH on them patches the main object, which happens to match
  ``{"spec": {"replicas": n}}`` and ``{"status": …}`` bodies), attach and port-forward,
  OpenAPI documents (helm needs ``--disable-openapi-validation`` to install here).
* Kubernetes-client gotcha, same against a real server: ``read_namespaced_pod_log`` with
  the default ``_preload_content=True`` runs ``json.loads`` on the text, so a log that is
  one JSON line comes back as a Python ``repr`` of a dict; read logs with
  ``_preload_content=False`` and decode ``resp.data``.

Raw handlers for reads on any other path use kmock's DSL on :attr:`FakeKube.emulator` (user
reactions win over the emulator's built-in reads), e.g.
``kube.emulator['get /healthz'] << b'ok'``; writes of single objects always take the rules.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import itertools
import json
import re
import secrets
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp.web
import jsonpatch
import jsonpointer
import kmock
import pytest
import yaml
from kmock._internal import parsing
from kubernetes import client as k8s_client

from tests.support import kube_protobuf, kube_rules

T = TypeVar("T")
_EXEC_PATH = re.compile(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/exec")
NAMESPACES = kmock.resource("", "v1", "namespaces")

# Transient faults at the wire (FakeKube.inject_faults). The API of a Magnum cluster sits
# behind a load balancer (Octavia's amphora runs HAProxy), so the errors a client sees are
# HAProxy's own pages (haproxy/haproxy src/http.c http_err_msgs, commit 50872daa):
# 502/503 before the API server is reached, 504 when HAProxy stops waiting (the API server
# may have acted), plus a connection reset before the request is read and a response lost
# after the API server acted (the connection closes with no answer).
KUBE_FAULTS = ("502", "503", "504", "connection_reset", "dropped_response")
HAPROXY_PAGES = {
    502: "<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete"
    " response.\n</body></html>\n",
    503: "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this"
    " request.\n</body></html>\n",
    504: "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n"
    "</body></html>\n",
}
MUTATING_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class KubeFault:
    """One injected fault: the request it hit and whether the API server acted on it."""

    kind: str
    method: str
    path: str
    applied: bool


@dataclass
class KubeFaults:
    """A seeded fault injector: ``rate`` of the requests fail with one of ``kinds``."""

    rate: float = 0.0
    seed: int = 0
    kinds: tuple[str, ...] = KUBE_FAULTS
    injected: list[KubeFault] = field(default_factory=list)
    #: targeted faults, first match wins: [method, path regex, kind, times left]
    targeted: list[list[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        import random

        self._rng = random.Random(self.seed)

    def pick(self, method: str, path: str = "") -> tuple[str | None, bool]:
        """(kind or None, whether a write is served before the fault strikes)."""
        for rule in self.targeted:
            if rule[3] > 0 and rule[0] == method and re.search(rule[1], path):
                rule[3] -= 1
                return rule[2], rule[2] in {"dropped_response", "504"}
        if not self.rate or self._rng.random() >= self.rate:
            return None, True
        kind = self._rng.choice(self.kinds)
        after = kind == "dropped_response" or (kind == "504" and self._rng.random() < 0.5)
        return kind, after


# --------------------------------------------------------------------------------------------
# kmock 0.8 bug fixes (module-level patches of kmock's URL parser, applied on import).
# 1. `/api/v1/namespaces` and `/api/v1/namespaces/{name}[/status|/finalize]`
# are the Namespace resource, not a namespace prefix (kmock crashes with a 500 on the former
# and treats the latter as a namespaced list without a resource). Checked against upstream
# nolar/kmock master (April 2026): still present. Other paths go to kmock's own parser.
# --------------------------------------------------------------------------------------------
_kmock_parse_path = parsing.parse_path


def _parse_path(path: str) -> parsing.ParsedPath:
    parts = path.strip("/").split("/")
    if (
        len(parts) >= 3
        and parts[0] == "api"
        and parts[2] == "namespaces"
        and (len(parts) <= 4 or (len(parts) == 5 and parts[4] in {"status", "finalize"}))
    ):
        return parsing.ParsedPath(
            group="",
            version=parts[1],
            plural="namespaces",
            namespace=None,
            name=parts[3] if len(parts) > 3 else None,
            subresource=parts[4] if len(parts) > 4 else None,
        )
    return _kmock_parse_path(path)


# kmock 0.8 bug fix: a watch is recognised only by `?watch=true`, but the python client sends
# `?watch=True` (Go's ParseBool on the server accepts 1/t/T/true/True/TRUE).
_kmock_guess_k8s = parsing.guess_k8s
_TRUE = {"1", "t", "T", "true", "True", "TRUE"}


def _guess_k8s(
    k8s: parsing.ParsedPath, method: kmock.method, query: dict[str, str]
) -> kmock.action | None:
    if query.get("watch") in _TRUE:
        query = {**query, "watch": "true"}
    return _kmock_guess_k8s(k8s, method, query)


if getattr(parsing.parse_path, "__name__", "") != "_parse_path":
    parsing.parse_path = _parse_path
    parsing.guess_k8s = _guess_k8s


# --------------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------------
_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_selector(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [part.strip() for part in out if part.strip()]


def match_label_selector(labels: dict[str, str] | None, selector: str | None) -> bool:
    """Kubernetes label-selector semantics (equality- and set-based)."""
    if not selector:
        return True
    labels = labels or {}
    for term in _split_selector(selector):
        if m := _SET_RE.match(term):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if op == "in" and labels.get(key) not in values:
                return False
            if op == "notin" and key in labels and labels[key] in values:
                return False
        elif "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _dig(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def match_field_selector(obj: dict[str, Any], selector: str | None) -> bool:
    """Field selectors: ``path=value``, ``path==value``, ``path!=value`` (ANDed by commas)."""
    if not selector:
        return True
    for term in _split_selector(selector):
        negate = "!=" in term
        key, value = (s.strip() for s in re.split(r"!=|==|=", term, maxsplit=1))
        actual = _dig(obj, key)
        actual_str = (
            ""
            if actual is None
            else str(actual).lower()
            if isinstance(actual, bool)
            else str(actual)
        )
        if (actual_str == value) == negate:
            return False
    return True


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ExecCall:
    """One exec the emulator accepted: where, and the command as the client sent it."""

    namespace: str
    pod: str
    container: str
    command: list[str]


# (container, command) -> the local argv that plays the container's program, or None when the
# "image" has no such program (exit 127).
ExecHandler = Callable[[str, list[str]], list[str] | None]


# --------------------------------------------------------------------------------------------
# The emulator subclass
# --------------------------------------------------------------------------------------------
class Emulator(kmock.KubernetesEmulator):
    """kmock's emulator plus the API server's rules listed in the module docstring."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.pod_logs: dict[tuple[str, str, str | None], str] = {}
        self.exec_handlers: dict[tuple[str, str], ExecHandler] = {}
        self.exec_log: list[ExecCall] = []
        self._rv = itertools.count(1)
        self.last_rv = 0
        self.allocate = kube_rules.Allocator()
        # The namespace controller stand-in removes an emptied Terminating namespace after
        # this many seconds (the real one works asynchronously too); None: only when
        # FakeKube.finish_namespace() is called.
        self.namespace_finalize_delay: float | None = 0.05
        self.faults: KubeFaults | None = None

    # -- helpers -----------------------------------------------------------------------------
    def next_rv(self) -> str:
        self.last_rv = next(self._rv)
        return str(self.last_rv)

    def resolve(self, api_version: str, kind: str) -> kmock.resource:
        group, _, version = api_version.rpartition("/")
        for res in self.resources:
            info = self.resources[res]
            if res.group == group and res.version == version and info.kind == kind:
                return res
        raise KeyError(f"unknown resource for apiVersion={api_version!r} kind={kind!r}")

    def find_resource(self, spec: str) -> kmock.resource:
        """``'v1/pods'``, ``'apps/v1/deployments'`` or a bare plural (core group preferred)."""
        if "/" in spec:
            return kmock.resource(spec)
        candidates = [res for res in self.resources if res.plural == spec]
        candidates.sort(key=lambda r: (r.group != "", r.group != "apps", r.group))
        if not candidates:
            raise KeyError(f"unknown resource {spec!r}")
        return candidates[0]

    def _info(self, res: kmock.resource) -> kmock.ResourceInfo | None:
        # Not `.get()`: kmock's ResourcesArray creates missing entries on `[]` (defaultdict-like).
        if res not in self.resources:
            return None
        return self.resources[res]

    def _is_namespaced(self, res: kmock.resource) -> bool:
        info = self._info(res)
        return bool(info is None or info.namespaced is None or info.namespaced)

    def _identity(self, res: kmock.resource) -> tuple[str, str | None]:
        info = self._info(res)
        api_version = f"{res.group}/{res.version}" if res.group else str(res.version)
        return api_version, info.kind if info is not None else None

    def _enrich_new(self, res: kmock.resource, namespace: str | None, obj: dict[str, Any]) -> None:
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        if namespace and self._is_namespaced(res):
            meta["namespace"] = namespace
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = self.next_rv()
        api_version, kind = self._identity(res)
        obj.setdefault("apiVersion", api_version)
        if kind:
            obj.setdefault("kind", kind)

    def _stored(self, res: kmock.resource, namespace: str | None, name: str) -> Any:
        key = (res, namespace if self._is_namespaced(res) else None, name)
        if key not in self._objects or self._objects[key].deleted:
            raise kube_rules.not_found(str(res.plural), str(res.group), name)
        return self._objects[key]

    async def _publish(self, res: kmock.resource, kind: str, raw: dict[str, Any]) -> None:
        await self._buses[res].put({"type": kind, "object": copy.deepcopy(raw)})

    # -- the wire ----------------------------------------------------------------------------
    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        kind, after = (
            self.faults.pick(raw_request.method, raw_request.path) if self.faults else (None, True)
        )
        if kind is not None and not after:
            assert self.faults is not None
            self.faults.injected.append(
                KubeFault(kind, raw_request.method, raw_request.path, applied=False)
            )
            if kind == "connection_reset":
                # Closed before the request was read: nothing happened on the server.
                assert raw_request.transport is not None
                raw_request.transport.abort()
                return aiohttp.web.Response(status=500)
            return aiohttp.web.Response(
                status=int(kind),
                text=HAPROXY_PAGES[int(kind)],
                content_type="text/html",
                headers={"Cache-Control": "no-cache"},
            )
        response = await self._serve_raw(raw_request)
        if kind is not None:
            assert self.faults is not None
            applied = raw_request.method in MUTATING_VERBS and response.status < 400
            self.faults.injected.append(
                KubeFault(kind, raw_request.method, raw_request.path, applied=applied)
            )
            if kind == "504":
                # HAProxy gave up waiting; the API server went on and did it.
                return aiohttp.web.Response(
                    status=504,
                    text=HAPROXY_PAGES[504],
                    content_type="text/html",
                    headers={"Cache-Control": "no-cache"},
                )
            assert raw_request.transport is not None
            raw_request.transport.abort()  # the answer never reaches the client
        return response

    async def _serve_raw(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # helm (client-go's typed clientset) sends Secrets as protobuf; kmock reads JSON.
        if raw_request.content_type == kube_protobuf.CONTENT_TYPE:
            try:
                decoded = kube_protobuf.decode(await raw_request.read())
            except kube_protobuf.Undecodable as error:
                return self._refusal(
                    kube_rules.Refusal(415, "UnsupportedMediaType", f"protobuf body: {error}")
                )
            raw_request._read_bytes = json.dumps(decoded).encode()
        exec_target = _EXEC_PATH.fullmatch(raw_request.path)
        if exec_target is not None and raw_request.method == "GET":
            return await self._serve_exec(raw_request, *exec_target.groups())
        response: aiohttp.web.StreamResponse = await super().__call__(raw_request)
        return response

    # -- exec (pods/exec over a websocket) ---------------------------------------------------
    async def _serve_exec(
        self, raw_request: aiohttp.web.BaseRequest, namespace: str, pod_name: str
    ) -> aiohttp.web.StreamResponse:
        """`kubectl exec`'s protocol: kmock 0.8 has none, so it is served here.

        Checks as the API server makes them before it proxies to the kubelet (kubernetes
        master 008b3652 pkg/registry/core/pod/strategy.go: getPod, 404 for a missing pod;
        validateContainer: with none named and several containers "a container name must
        be specified for pod %s, choose one of: %s", a name not in the pod "container %s is
        not valid for pod %s"; then streamLocation: no spec.nodeName "pod %s does not have
        a host assigned"; all 400 BadRequest). Then the websocket subprotocol
        v4.channel.k8s.io (apimachinery pkg/util/remotecommand/constants.go; apiserver
        pkg/util/wsstream/conn.go): each frame's first byte is its channel (0 stdin,
        1 stdout, 2 stderr, 3 error); channel 3 carries the final metav1.Status: Success,
        or Failure with reason NonZeroExitCode and a cause {reason: ExitCode, message:
        "<code>"} (what kubernetes-client/python 35.0.0 kubernetes/base/stream/ws_client.py
        `returncode` reads: "Success", else details.causes[0].message as the exit code).
        The "container runtime" is the test's:
        FakeKube.on_exec maps the command to a local program, run as a real subprocess.
        """
        query = raw_request.query
        pods = kmock.resource("", "v1", "pods")
        async with self._lock:
            try:
                stored = self._stored(pods, namespace, pod_name)
            except kube_rules.Refusal as refusal:
                return self._refusal(refusal)
            pod = copy.deepcopy(stored.raw)
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container") or ""
        if not container:
            if len(containers) != 1:
                # Go's %s of a []string: [a b]
                return self._bad_request(
                    f"a container name must be specified for pod {pod_name}, choose one of: "
                    f"[{' '.join(containers)}]"
                )
            container = containers[0]
        if container not in containers:
            return self._bad_request(f"container {container} is not valid for pod {pod_name}")
        if not (pod.get("spec") or {}).get("nodeName"):
            return self._bad_request(f"pod {pod_name} does not have a host assigned")
        command = query.getall("command", [])
        self.exec_log.append(ExecCall(namespace, pod_name, container, list(command)))
        handler = self.exec_handlers.get((namespace, pod_name))
        ws = aiohttp.web.WebSocketResponse(protocols=("v4.channel.k8s.io",), max_msg_size=0)
        await ws.prepare(raw_request)
        local = handler(container, list(command)) if handler is not None else None
        if local is None:
            # What a runtime answers for a program the image does not have.
            await self._exec_status(ws, 127)
            await ws.close()
            return ws
        process = await asyncio.create_subprocess_exec(
            *local,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

        async def pump(stream: asyncio.StreamReader | None, channel: int) -> None:
            assert stream is not None
            while chunk := await stream.read(65536):
                await ws.send_bytes(bytes([channel]) + chunk)

        async def feed() -> None:
            assert process.stdin is not None
            async for message in ws:
                raw = message.data
                data = raw.encode() if isinstance(raw, str) else raw
                if isinstance(data, bytes) and data[:1] == b"\x00":
                    process.stdin.write(data[1:])
                    await process.stdin.drain()

        feeder = asyncio.ensure_future(feed())
        await asyncio.gather(pump(process.stdout, 1), pump(process.stderr, 2))
        code = await process.wait()
        feeder.cancel()
        await self._exec_status(ws, code)
        await ws.close()
        return ws

    @staticmethod
    async def _exec_status(ws: aiohttp.web.WebSocketResponse, code: int) -> None:
        status: dict[str, Any] = {"metadata": {}, "status": "Success"}
        if code:
            status = {
                "metadata": {},
                "status": "Failure",
                "message": f"command terminated with non-zero exit code: exit status {code}",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
            }
        await ws.send_bytes(b"\x03" + json.dumps(status).encode())

    def _bad_request(self, message: str) -> aiohttp.web.StreamResponse:
        return self._refusal(kube_rules.Refusal(400, "BadRequest", message))

    async def _serve_version(self, request: kmock.Request) -> Any:
        # kmock 0.8 answers /api/v1 with groupVersion "/v1"; client-go's REST mapper then
        # finds no v1 kinds at all (helm: 'no matches for kind "Secret" in version "v1"').
        found = await super()._serve_version(request)
        if isinstance(found, dict) and found.get("groupVersion") == "/v1":
            found["groupVersion"] = "v1"
        return found

    @staticmethod
    def _refusal(refusal: kube_rules.Refusal) -> aiohttp.web.StreamResponse:
        # The Status object of apimachinery pkg/apis/meta/v1 types.go (StatusReason*).
        return aiohttp.web.json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": refusal.message,
                "reason": refusal.reason,
                "details": {"causes": refusal.causes} if refusal.causes else {},
                "code": refusal.status,
            },
            status=refusal.status,
        )

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        try:
            if request.resource is not None:
                if request.method == "GET" and request.subresource == "log":
                    return await self._serve_log(request)
                if request.method == "GET" and request.action == kmock.action.WATCH:
                    return await self._stream_watch(request)
                written = await self._write(request)
                if written is not None:
                    return written
            response: aiohttp.web.StreamResponse = await super()._handle(request)
            return response
        except kube_rules.Refusal as refusal:
            return self._refusal(refusal)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
            # A failed `test` op or a missing path: 422 Invalid (apiserver
            # pkg/endpoints/handlers/patch.go jsonPatcher answers errors.NewInvalid...).
            return self._refusal(kube_rules.Refusal(422, "Invalid", str(e)))

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        # Real API servers use these `reason` strings; kmock has its own.
        reasons = {404: "NotFound", 409: "AlreadyExists"}
        if (
            isinstance(exc, kmock.KubernetesError)
            and exc.status in reasons
            and exc.reason != "Conflict"
        ):
            exc = kmock.KubernetesError(
                status=exc.status, reason=reasons[exc.status], message=exc.message
            )
        return await super()._render_error(exc)

    # -- writes ------------------------------------------------------------------------------
    async def _write(self, request: kmock.Request) -> aiohttp.web.StreamResponse | None:
        """Every write to a single object, with the API server's rules; None: not a write."""
        dry_run = "dryRun" in request.params
        assert request.resource is not None
        if request.method == "POST" and not request.name:
            body = self._body(request)
            return await self._create(request.resource, request.namespace, body, dry_run)
        if not request.name:
            return None  # collections: kmock's own handling
        if request.method == "PUT":
            body = self._body(request)
            sent = (body.get("metadata") or {}).get("resourceVersion")
            return await self._update(request, lambda _: copy.deepcopy(body), sent, dry_run)
        if request.method == "PATCH":
            return await self._patch(request, dry_run)
        if request.method == "DELETE":
            return await self._delete(request)
        return None

    @staticmethod
    def _body(request: kmock.Request) -> dict[str, Any]:
        body = request.data
        if body is None and request.text:
            body = yaml.safe_load(request.text)
        if not isinstance(body, dict):
            raise kube_rules.Refusal(
                400, "BadRequest", "the body of the request was in an unknown format"
            )
        return body

    async def _create(
        self,
        res: kmock.resource,
        namespace: str | None,
        body: dict[str, Any],
        dry_run: bool,
    ) -> aiohttp.web.StreamResponse:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        api_version, kind = self._identity(res)
        if self._is_namespaced(res):
            namespace = namespace or meta.get("namespace") or "default"
        else:
            namespace = None
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        if not meta.get("name"):
            # apiserver pkg/api/validation/objectmeta.go ValidateObjectMeta.
            raise kube_rules.invalid(
                str(kind),
                "",
                [
                    kube_rules.FieldError(
                        "metadata.name", "Invalid", "name or generateName is required", ""
                    )
                ],
            )
        for key in ("deletionTimestamp", "uid", "resourceVersion"):
            meta.pop(key, None)
        obj["apiVersion"], obj["kind"] = api_version, kind or obj.get("kind")
        kube_rules.apply_defaults(obj, self.allocate)
        errors = kube_rules.validate_create(obj)
        if errors:
            raise kube_rules.invalid(str(kind), meta["name"], errors)
        async with self._lock:
            if namespace is not None:
                self._admit_into(res, namespace, meta["name"])
            where = (res, namespace, meta["name"])
            if where in self._objects and not self._objects[where].deleted:
                raise kube_rules.already_exists(str(res.plural), str(res.group), meta["name"])
            self._enrich_new(res, namespace, obj)
            if dry_run:
                return aiohttp.web.json_response(obj, status=201)
            if where in self._objects:
                self._objects[where].create(obj)
            else:
                self._objects[where] = obj
            raw = copy.deepcopy(self._objects[where].raw)
            await self._publish(res, "ADDED", raw)
        return aiohttp.web.json_response(raw, status=201)

    def _admit_into(self, res: kmock.resource, namespace: str, name: str) -> None:
        """NamespaceLifecycle admission: no content in a missing or terminating namespace."""
        key = (NAMESPACES, None, namespace)
        if key not in self._objects or self._objects[key].deleted:
            raise kube_rules.not_found("namespaces", "", namespace)
        if self._objects[key].get("metadata", {}).get("deletionTimestamp"):
            raise kube_rules.terminating(str(res.plural), str(res.group), name, namespace)

    async def _patch(self, request: kmock.Request, dry_run: bool) -> aiohttp.web.StreamResponse:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type == "application/apply-patch+yaml":
            return await self._apply(request, dry_run)
        body = request.data
        if body is None and request.text:
            body = json.loads(request.text)
        if isinstance(body, list):
            # RFC 6902 (application/json-patch+json), `test` ops included.
            return await self._update(
                request, lambda current: jsonpatch.apply_patch(current, body), None, dry_run
            )
        if not isinstance(body, dict):
            raise kube_rules.Refusal(400, "BadRequest", "the body of the request was not JSON")
        sent = (body.get("metadata") or {}).get("resourceVersion")
        return await self._update(
            request, lambda current: kube_rules.merge_patch(current, body), sent, dry_run
        )

    async def _apply(self, request: kmock.Request, dry_run: bool) -> aiohttp.web.StreamResponse:
        if not request.params.get("fieldManager"):
            # apiserver pkg/endpoints/handlers/patch.go: apply needs a field manager.
            raise kube_rules.Refusal(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                "required for apply patch",
            )
        applied = self._body(request)
        assert request.resource is not None and request.name is not None
        try:
            self._stored(request.resource, request.namespace, request.name)
        except kube_rules.Refusal:
            applied.setdefault("metadata", {})["name"] = request.name
            return await self._create(request.resource, request.namespace, applied, dry_run)
        return await self._update(
            request,
            lambda current: kube_rules.apply_configuration(current, applied),
            None,
            dry_run,
        )

    async def _update(
        self,
        request: kmock.Request,
        change: Callable[[dict[str, Any]], Any],
        sent_rv: str | None,
        dry_run: bool,
    ) -> aiohttp.web.StreamResponse:
        res, name = request.resource, str(request.name)
        assert res is not None
        async with self._lock:
            stored = self._stored(res, request.namespace, name)
            current = copy.deepcopy(stored.raw)
            have = current.get("metadata", {}).get("resourceVersion")
            if sent_rv and have and str(sent_rv) != str(have):
                raise kube_rules.conflict(str(res.plural), str(res.group), name)
            new = change(copy.deepcopy(current))
            if not isinstance(new, dict):
                raise kube_rules.Refusal(422, "Invalid", "the result of the patch is not an object")
            new["apiVersion"], new["kind"] = current.get("apiVersion"), current.get("kind")
            # Defaults first: metadata.generation moves only when the defaulted spec does.
            kube_rules.apply_defaults(new, self.allocate)
            kube_rules.carry_system_metadata(current, new, status=request.subresource == "status")
            errors = kube_rules.validate_update(current, new)
            if errors:
                raise kube_rules.invalid(str(new.get("kind")), name, errors)
            if dry_run or kube_rules.same_content(current, new):
                return aiohttp.web.json_response(current if not dry_run else new)
            new["metadata"]["resourceVersion"] = self.next_rv()
            stored.create(new)
            raw = copy.deepcopy(stored.raw)
            await self._settle(res, stored, raw)
        return aiohttp.web.json_response(raw)

    async def _settle(self, res: kmock.resource, stored: Any, raw: dict[str, Any]) -> None:
        """Publish a change; an object marked for deletion goes once its finalizers are gone
        (apiserver pkg/registry/generic/registry/store.go deleteWithoutFinalizers)."""
        meta = raw.get("metadata", {})
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            if res == NAMESPACES:
                if not (raw.get("spec") or {}).get("finalizers"):
                    stored.delete()
                    await self._publish(res, "DELETED", raw)
                    return
            else:
                stored.delete()
                await self._publish(res, "DELETED", raw)
                if meta.get("namespace"):
                    self._schedule_namespace(meta["namespace"])
                return
        await self._publish(res, "MODIFIED", raw)

    async def _delete(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        res, name = request.resource, str(request.name)
        assert res is not None
        async with self._lock:
            stored = self._stored(res, request.namespace, name)
            current = copy.deepcopy(stored.raw)
            meta = current.setdefault("metadata", {})
            if meta.get("deletionTimestamp"):
                return aiohttp.web.json_response(current)  # already Terminating
            if res == NAMESPACES:
                await self._terminate_namespace(stored, current)
                return aiohttp.web.json_response(current)
            if meta.get("finalizers"):
                # Kept, marked for deletion, until its finalizers are removed.
                meta["deletionTimestamp"] = _now()
                meta["resourceVersion"] = self.next_rv()
                stored.create(current)
                await self._publish(res, "MODIFIED", current)
                return aiohttp.web.json_response(current)
            stored.delete()
            await self._publish(res, "DELETED", current)
            if meta.get("namespace"):
                self._schedule_namespace(meta["namespace"])
        return aiohttp.web.json_response(current)

    async def _terminate_namespace(self, stored: Any, current: dict[str, Any]) -> None:
        # pkg/registry/core/namespace/storage/storage.go Delete: a namespace with
        # spec.finalizers is only marked (deletionTimestamp, phase Terminating); the
        # namespace controller (pkg/controller/namespace/deletion) deletes its content,
        # waits for objects with finalizers, then removes the "kubernetes" finalizer.
        namespace = current["metadata"]["name"]
        current["metadata"]["deletionTimestamp"] = _now()
        current.setdefault("status", {})["phase"] = "Terminating"
        current["metadata"]["resourceVersion"] = self.next_rv()
        stored.create(current)
        await self._publish(NAMESPACES, "MODIFIED", current)
        for (res, ns, _name), obj in list(self._objects.items()):
            if ns != namespace or obj.deleted:
                continue
            raw = copy.deepcopy(obj.raw)
            content_meta = raw.setdefault("metadata", {})
            if content_meta.get("finalizers"):
                if not content_meta.get("deletionTimestamp"):
                    content_meta["deletionTimestamp"] = _now()
                    content_meta["resourceVersion"] = self.next_rv()
                    obj.create(raw)
                    await self._publish(res, "MODIFIED", raw)
            else:
                obj.delete()
                await self._publish(res, "DELETED", raw)
        self._schedule_namespace(namespace)

    def _schedule_namespace(self, namespace: str) -> None:
        if self.namespace_finalize_delay is None:
            return
        loop = asyncio.get_running_loop()
        loop.call_later(
            self.namespace_finalize_delay,
            lambda: loop.create_task(self.finalize_namespace(namespace)),
        )

    async def finalize_namespace(self, namespace: str) -> bool:
        """The namespace controller's last step; True when the namespace is gone."""
        async with self._lock:
            key = (NAMESPACES, None, namespace)
            if key not in self._objects or self._objects[key].deleted:
                return True
            stored = self._objects[key]
            if not stored.get("metadata", {}).get("deletionTimestamp"):
                return False
            if any(
                ns == namespace and not obj.deleted for (_r, ns, _n), obj in self._objects.items()
            ):
                return False
            raw = copy.deepcopy(stored.raw)
            stored.delete()
            await self._publish(NAMESPACES, "DELETED", raw)
            return True

    async def _serve_log(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        assert request.resource is not None
        assert request.namespace is not None and request.name is not None
        async with self._lock:
            self._stored(request.resource, request.namespace, request.name)
        container = request.params.get("container")
        text = self.pod_logs.get((request.namespace, request.name, container))
        if text is None:
            text = self.pod_logs.get((request.namespace, request.name, None), "")
        if "tailLines" in request.params:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(request.params["tailLines"]) :]) if lines else ""
        return aiohttp.web.Response(text=text, content_type="text/plain")

    async def _serve_list(self, request: kmock.Request) -> dict[str, Any]:
        result = await super()._serve_list(request)
        # kmock declares the wide Payload union; its K8s list is always this dict.
        assert isinstance(result, dict)
        labels, fields = request.params.get("labelSelector"), request.params.get("fieldSelector")
        result["items"] = [
            item
            for item in result["items"]
            if match_label_selector(item.get("metadata", {}).get("labels"), labels)
            and match_field_selector(item, fields)
        ]
        result["metadata"] = {"resourceVersion": str(self.last_rv)}
        if request.resource is not None:
            api_version, kind = self._identity(request.resource)
            result["apiVersion"] = api_version
            if kind:
                result["kind"] = f"{kind}List"
        return result

    async def _stream_watch(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        """Watch events as the API server streams them: JSON lines, Content-Type
        application/json (kmock's stream says application/octet-stream, which client-go's
        watchers, helm's --wait among them, cannot decode)."""
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        # kmock leaves _raw_request None only for requests it builds in its own tests.
        assert request._raw_request is not None
        await response.prepare(request._raw_request)
        try:
            async for item in self._serve_watch(request):
                if isinstance(item, bytes | bytearray):
                    if item:
                        await response.write(bytes(item))
                    continue
                await response.write(json.dumps(item).encode() + b"\n")
            await response.write_eof()
        except (ConnectionResetError, RuntimeError):
            pass  # the client went away
        return response

    async def _serve_watch(self, request: kmock.Request) -> AsyncIterator[Any]:
        """Watch semantics of the API server (apiserver pkg/storage/cacher watch):

        * no resourceVersion (or "0"): every existing object first, as ADDED;
        * a resourceVersion: only changes after it;
        * sendInitialEvents=true (client-go's WatchList, on by default in client-go 1.35 and
          so in helm 4's --wait): the existing objects, then a BOOKMARK annotated
          ``k8s.io/initial-events-end: "true"`` (KEP-3157), then changes;
        * labelSelector, fieldSelector and timeoutSeconds as for lists.
        """
        assert request.resource is not None
        res, namespace = request.resource, request.namespace
        labels, fields = request.params.get("labelSelector"), request.params.get("fieldSelector")
        timeout = request.params.get("timeoutSeconds")
        since = request.params.get("resourceVersion") or "0"
        since_rv = int(since) if since.isdigit() else 0
        initial = request.params.get("sendInitialEvents") == "true"

        def wanted(obj: dict[str, Any]) -> bool:
            meta = obj.get("metadata", {})
            return (
                (namespace is None or meta.get("namespace") == namespace)
                and match_label_selector(meta.get("labels"), labels)
                and match_field_selector(obj, fields)
            )

        bus = self._buses[res]
        marker = await bus.mark()
        try:
            async with self._lock:
                existing = [
                    (self._first_rv(obj), copy.deepcopy(obj.raw))
                    for (r, _ns, _n), obj in self._objects.items()
                    if r == res and not obj.deleted
                ]
                start_rv = self.last_rv
            yield b""
            replay = initial or since_rv == 0
            for first_rv, obj in existing:
                if not wanted(obj):
                    continue
                if replay:
                    yield {"type": "ADDED", "object": obj}
                elif int(obj["metadata"].get("resourceVersion") or 0) > since_rv:
                    # Changed since the version asked for (the server's watch cache
                    # replays those): created after it, or modified after it.
                    yield {"type": "ADDED" if first_rv > since_rv else "MODIFIED", "object": obj}
            if initial:
                api_version, kind = self._identity(res)
                yield {
                    "type": "BOOKMARK",
                    "object": {
                        "apiVersion": api_version,
                        "kind": kind,
                        "metadata": {
                            "resourceVersion": str(start_rv),
                            "annotations": {"k8s.io/initial-events-end": "true"},
                        },
                    },
                }
            loop = asyncio.get_running_loop()
            deadline = loop.time() + float(timeout) if timeout else None
            stream = bus.stream(since=marker)
            floor = max(start_rv, since_rv)
            while True:
                if deadline is None:
                    item = await anext(stream)
                else:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return
                    try:
                        item = await asyncio.wait_for(anext(stream), remaining)
                    except TimeoutError:
                        return
                obj = item.get("object", {}) if isinstance(item, dict) else {}
                rv = str(obj.get("metadata", {}).get("resourceVersion", "0"))
                if rv.isdigit() and int(rv) <= floor:
                    continue  # already in the initial events, or older than asked for
                if wanted(obj):
                    yield item
        except StopAsyncIteration:
            return
        finally:
            await bus.unmark(marker)

    @staticmethod
    def _first_rv(obj: Any) -> int:
        for version in obj.history:
            if version is not None:
                return int(version.get("metadata", {}).get("resourceVersion") or 0)
        return 0

    # -- direct (non-HTTP) access, called on the loop thread ---------------------------------
    async def seed(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        res = self.resolve(obj["apiVersion"], obj["kind"])
        namespace = obj.get("metadata", {}).get("namespace") or "default"
        if not self._is_namespaced(res):
            namespace = None
        kube_rules.apply_defaults(obj, self.allocate)
        async with self._lock:
            self._enrich_new(res, namespace, obj)
            key = (res, namespace, obj["metadata"]["name"])
            if key in self._objects and not self._objects[key].deleted:
                raise KeyError(f"already exists: {key}")
            if key in self._objects:
                self._objects[key].create(obj)
            else:
                self._objects[key] = obj
            raw: dict[str, Any] = self._objects[key].raw
            await self._buses[res].put({"type": "ADDED", "object": raw})
        return copy.deepcopy(raw)

    async def snapshot(
        self, res: kmock.resource, namespace: str | None, name: str | None
    ) -> list[dict[str, Any]]:
        async with self._lock:
            return [
                copy.deepcopy(obj.raw)
                for (r, ns, n), obj in self._objects.items()
                if r == res
                and not obj.deleted
                and (namespace is None or ns == namespace)
                and (name is None or n == name)
            ]

    async def remove(self, res: kmock.resource, namespace: str | None, name: str) -> None:
        async with self._lock:
            key = (res, namespace, name)
            if key in self._objects and not self._objects[key].deleted:
                raw = self._objects[key].raw
                self._objects[key].delete()
                await self._buses[res].put({"type": "DELETED", "object": raw})

    async def update_object(
        self,
        res: kmock.resource,
        namespace: str | None,
        name: str,
        patch: dict[str, Any] | list[Any],
    ) -> dict[str, Any]:
        async with self._lock:
            obj = self._objects[res, namespace, name]
            current = copy.deepcopy(obj.raw)
            if isinstance(patch, dict):
                new = kube_rules.merge_patch(current, patch)
            else:
                new = jsonpatch.apply_patch(current, patch)
            new.setdefault("metadata", {})["resourceVersion"] = self.next_rv()
            obj.create(new)
            raw: dict[str, Any] = copy.deepcopy(obj.raw)
            # A controller removing the last finalizer lets a deleted object go.
            await self._settle(res, obj, raw)
        return raw


# --------------------------------------------------------------------------------------------
# The synchronous facade used by tests
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KubeRequest:
    """One request the emulator received. Unpacks as ``method, path, body``."""

    method: str
    path: str
    body: Any
    query: dict[str, str] = field(default_factory=dict)
    content_type: str = ""

    def __iter__(self) -> Iterator[Any]:
        return iter((self.method, self.path, self.body))


class FakeKube:
    """A running emulator plus a real ``kubernetes`` ApiClient and a kubeconfig pointing at it."""

    def __init__(self, workdir: Path) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fakekube", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("kmock emulator did not start")
        if self._error is not None:
            raise RuntimeError("kmock emulator failed to start") from self._error
        self.url: str = self._url
        self.host, self.port = self._host, self._port
        self.kubeconfig_path: Path = workdir / "kubeconfig"
        self.kubeconfig_path.write_text(yaml.safe_dump(self.kubeconfig()))
        self.kubeconfig_path.chmod(0o600)
        configuration = k8s_client.Configuration(host=self.url)
        self.api_client = k8s_client.ApiClient(configuration)

    # -- lifecycle ---------------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as e:  # pragma: no cover - startup failures
            self._error = e
            self._ready.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self.emulator = Emulator()
        self.emulator.resources.load_bundled()
        for name in kube_rules.SYSTEM_NAMESPACES:
            await self.emulator.seed(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            )
        async with self.emulator, kmock.Server(self.emulator, host="127.0.0.1") as server:
            self._url = str(server.url).rstrip("/")
            self._host, self._port = server.host, server.port
            self._ready.set()
            await self._stop.wait()

    def close(self) -> None:
        self.api_client.close()
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        if not self._loop.is_closed() and not self._thread.is_alive():
            self._loop.close()

    def call(self, fn: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30) -> T:
        """Run a coroutine function on the emulator's loop thread and return its result."""
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result(timeout)

    def kubeconfig(self, namespace: str = "default") -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [
                {
                    "name": "fake",
                    "context": {"cluster": "fake", "user": "fake", "namespace": namespace},
                }
            ],
            "current-context": "fake",
        }

    # -- state -------------------------------------------------------------------------------
    def add_resource(
        self, spec: str, *, kind: str, namespaced: bool = True, subresources: tuple[str, ...] = ()
    ) -> None:
        """Declare an extra resource, e.g. ``'monitoring.coreos.com/v1/servicemonitors'``."""
        self.emulator.resources[spec] = kmock.ResourceInfo(
            kind=kind,
            namespaced=namespaced,
            singular=kind.lower(),
            subresources=subresources,
            verbs={"create", "delete", "get", "list", "patch", "update", "watch"},
        )

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Seed an object (by ``apiVersion``/``kind``) without an HTTP request; returns it.

        Namespaced objects without ``metadata.namespace`` go to ``default``. Watchers see it.
        """
        return self.call(lambda: self.emulator.seed(obj))

    def objects(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Current objects of ``resource`` (``'pods'``, ``'apps/v1/deployments'``…)."""
        res = self.emulator.find_resource(resource)
        return self.call(lambda: self.emulator.snapshot(res, namespace, None))

    def get(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The current object, or ``None``.

        Leave ``namespace`` for cluster-scoped resources; for a namespaced resource it then
        returns the first object of that name in any namespace.
        """
        res = self.emulator.find_resource(resource)
        found = self.call(lambda: self.emulator.snapshot(res, namespace, name))
        if namespace is None:
            found = [o for o in found if not o.get("metadata", {}).get("namespace")] or found
        return found[0] if found else None

    def history(self, resource: str, name: str, namespace: str | None = None) -> list[Any]:
        """All stored versions of an object (``None`` marks a deletion)."""
        res = self.emulator.find_resource(resource)

        async def read() -> list[Any]:
            obj = self.emulator.objects[res, namespace, name]
            return [None if v is None else copy.deepcopy(v.raw) for v in obj.history]

        return self.call(read)

    def delete(self, resource: str, name: str, namespace: str | None = None) -> None:
        """Delete an object without an HTTP request (watchers get DELETED)."""
        res = self.emulator.find_resource(resource)
        self.call(lambda: self.emulator.remove(res, namespace, name))

    def finish_namespace(self, name: str) -> bool:
        """Run the namespace controller's last step now; True when the namespace is gone
        (False while content with finalizers remains)."""
        return self.call(lambda: self.emulator.finalize_namespace(name))

    def hold_namespaces(self) -> None:
        """Keep deleted namespaces Terminating until :meth:`finish_namespace`."""
        self.emulator.namespace_finalize_delay = None

    def patch(
        self,
        resource: str,
        name: str,
        patch: dict[str, Any] | list[Any],
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """Change an object as a controller would (e.g. set ``status``), without HTTP."""
        res = self.emulator.find_resource(resource)
        return self.call(lambda: self.emulator.update_object(res, namespace, name, patch))

    def set_pod_log(
        self, namespace: str, pod: str, text: str, container: str | None = None
    ) -> None:
        """Text served by ``GET .../pods/{pod}/log`` (optionally per ``?container=``)."""
        self.emulator.pod_logs[(namespace, pod, container)] = text

    # -- faults ------------------------------------------------------------------------------
    def inject_faults(
        self, rate: float, seed: int = 0, kinds: tuple[str, ...] = KUBE_FAULTS
    ) -> KubeFaults:
        """Fail ``rate`` of the requests from now on with one of ``kinds`` (:data:`KUBE_FAULTS`:
        HAProxy's 502/503/504 pages, half of the 504s after the API server acted, a connection
        reset before it read the request, a response dropped after it acted); seeded. Returns
        the injector, whose ``injected`` lists every fault."""
        unknown = set(kinds) - set(KUBE_FAULTS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        self.emulator.faults = KubeFaults(rate=rate, seed=seed, kinds=tuple(kinds))
        return self.emulator.faults

    def fail_request(self, method: str, path_regex: str, kind: str, times: int = 1) -> KubeFaults:
        """Fail the next ``times`` requests of ``method`` whose path matches ``path_regex``
        with ``kind`` (``"504"`` and ``"dropped_response"`` after the API server acted)."""
        if kind not in KUBE_FAULTS:
            raise ValueError(f"unknown fault kind {kind!r}")
        if self.emulator.faults is None:
            self.emulator.faults = KubeFaults()
        self.emulator.faults.targeted.append([method.upper(), path_regex, kind, times])
        return self.emulator.faults

    def clear_faults(self) -> None:
        self.emulator.faults = None

    def on_exec(self, namespace: str, pod: str, handler: ExecHandler) -> None:
        """Play the container runtime for execs into one pod: ``handler(container, command)``
        answers the local argv to run (stdin, stdout, stderr and the exit code are wired to
        the exec's channels), or None for a program the image lacks."""
        self.emulator.exec_handlers[(namespace, pod)] = handler

    @property
    def execs(self) -> list[ExecCall]:
        """Every exec accepted, in order."""
        return list(self.emulator.exec_log)

    # -- request log -------------------------------------------------------------------------
    @property
    def requests(self) -> list[KubeRequest]:
        """Every request received, in order, with the body as the client sent it."""
        out = []
        for req in list(self.emulator._requests):
            # From the raw text: the emulator adds metadata to `req.data` while serving it.
            body: Any = None
            if req.text:
                try:
                    body = json.loads(req.text)
                except ValueError:
                    body = req.text
            out.append(
                KubeRequest(
                    method=str(req.method.value if hasattr(req.method, "value") else req.method),
                    path=req.url.path,
                    body=body,
                    query=dict(req.params),
                    content_type=req.headers.get("Content-Type", ""),
                )
            )
        return out

    def mutating_requests(self) -> list[KubeRequest]:
        return [r for r in self.requests if r.method in {"POST", "PUT", "PATCH", "DELETE"}]

    def clear_requests(self) -> None:
        self.call(self._clear)

    async def _clear(self) -> None:
        self.emulator._requests.clear()


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[FakeKube]:
    """A fresh Kubernetes emulator on loopback for one test (see the module docstring)."""
    workdir = tmp_path / "fakekube"
    workdir.mkdir()
    fake = FakeKube(workdir)
    try:
        yield fake
    finally:
        fake.close()
