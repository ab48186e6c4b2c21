"""A Kubernetes API server for tests: kmock's ``KubernetesEmulator`` on loopback.

The emulator (kmock 0.8, aiohttp) runs in a background thread with its own event loop and
listens on ``127.0.0.1:<free port>``, so the REAL, synchronous ``kubernetes`` client talks to it
over HTTP. Fixture: ``kube`` (a :class:`FakeKube`).

What the emulator does, and what it does not (read this before relying on it):

* Objects are stored in memory; create (POST), read, list, watch, patch, delete work through
  the real client. Discovery (``/api``, ``/apis``, ``/api/v1``…) comes from kmock's bundled
  resource list (``resources.load_bundled()``: built-in K3s resources, no CRDs); declare more
  with :meth:`FakeKube.add_resource`.
* **Patches are plain JSON**: a dict body (the python client sends a dict as
  ``application/strategic-merge-patch+json``) is applied as a JSON *merge* patch: dicts merge
  recursively, ``None`` deletes a key, and **lists are replaced whole** — there are no
  strategic-merge list semantics (no merge by ``name`` for containers/env/ports, no
  ``$patch`` directives). A list body (``application/json-patch+json``) is an RFC 6902 JSON
  patch applied with ``jsonpatch``, including ``test``; a failing ``test`` op, or a path that
  does not exist, answers 422 ``Invalid`` like a real API server (kmock alone would answer 500;
  this module maps it). Server-side apply (``application/apply-patch+yaml``) is not supported.
* Added here on top of kmock (kmock 0.8 lacks them): ``metadata.uid``, ``resourceVersion``
  (a global counter, bumped on every change), ``creationTimestamp``, ``namespace`` and
  ``generateName``; optimistic concurrency (a patch or PUT carrying a stale
  ``metadata.resourceVersion`` gets 409); PUT (``replace_*``) of whole objects;
  ``labelSelector`` (``=``, ``==``, ``!=``, ``in``, ``notin``, ``key``, ``!key``) and
  ``fieldSelector`` (``=``, ``==``, ``!=`` on dotted paths such as ``metadata.name`` or
  ``status.phase``) on lists and watches; watch ``timeoutSeconds`` (kmock would stream forever)
  and watch ``resourceVersion`` (kmock replays every object as ADDED; here objects not newer
  than the given version are skipped); the Namespace resource itself (kmock 0.8 mis-parses
  ``/api/v1/namespaces[/{name}]`` as a namespace prefix — patched below) and deleting a
  Namespace deletes the objects in it at once (no ``Terminating`` phase); pod logs
  (``/api/v1/namespaces/{ns}/pods/{name}/log``) served from :meth:`FakeKube.set_pod_log`
  as ``text/plain`` (kmock would answer the pod's JSON).
* Not emulated: admission, defaulting and validation (anything is stored as sent; the REAL
  client still deserializes responses into models, so seed objects that the models accept,
  e.g. a Deployment needs ``spec.selector`` and ``spec.template``), controllers (a
  Deployment never gets pods or status unless a test writes them), garbage collection by
  ownerReferences, namespaced objects in a missing namespace, ``/scale`` and ``/status``
  subresources (a PATCH on them patches the main object, which happens to match
  ``{"spec": {"replicas": n}}`` and ``{"status": …}`` bodies), exec/attach/port-forward,
  OpenAPI documents (hence no real ``helm install`` against it).
* Kubernetes-client gotcha, same against a real server: ``read_namespaced_pod_log`` with
  the default ``_preload_content=True`` runs ``json.loads`` on the text, so a log that is
  one JSON line comes back as a Python ``repr`` of a dict; read logs with
  ``_preload_content=False`` and decode ``resp.data``.

Raw handlers for any other path use kmock's DSL on :attr:`FakeKube.emulator` (user reactions
win over the emulator's built-in behaviour), e.g.
``kube.emulator['get /healthz'] << b'ok'``.
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

T = TypeVar("T")

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
    parsing.parse_path = _parse_path  # type: ignore[assignment]
    parsing.guess_k8s = _guess_k8s  # type: ignore[assignment]


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


# --------------------------------------------------------------------------------------------
# The emulator subclass
# --------------------------------------------------------------------------------------------
class Emulator(kmock.KubernetesEmulator):  # type: ignore[misc]
    """kmock's emulator plus the behaviour listed in the module docstring."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.pod_logs: dict[tuple[str, str, str | None], str] = {}
        self._rv = itertools.count(1)
        self.last_rv = 0

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

    def _current(self, request: kmock.Request) -> Any:
        key = (request.resource, request.namespace, request.name)
        if key not in self._objects or self._objects[key].deleted:
            raise kmock.KubernetesObjectNotFoundError()
        return self._objects[key]

    @staticmethod
    def _check_rv(stored: Any, body: Any) -> None:
        sent = body.get("metadata", {}).get("resourceVersion") if isinstance(body, dict) else None
        have = stored.get("metadata", {}).get("resourceVersion")
        if sent and have and str(sent) != str(have):
            raise kmock.KubernetesError(
                status=409,
                reason="Conflict",
                message="the object has been modified; please apply your changes to the latest"
                " version and try again",
            )

    # -- request handling -------------------------------------------------------------------
    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        try:
            if request.resource is not None:
                if request.method == "GET" and request.subresource == "log":
                    return await self._serve_log(request)
                if request.method == "PUT" and request.name and not request.subresource:
                    return await self._serve_replace(request)
                if request.action == kmock.action.CREATE and isinstance(request.data, dict):
                    self._enrich_new(request.resource, request.namespace, request.data)
                elif request.action == kmock.action.UPDATE and request.name:
                    async with self._lock:
                        self._check_rv(self._current(request), request.data)
                    rv = self.next_rv()
                    if isinstance(request.data, dict):
                        request.data.setdefault("metadata", {})["resourceVersion"] = rv
                    elif isinstance(request.data, list):
                        request.data.append(
                            {"op": "add", "path": "/metadata/resourceVersion", "value": rv}
                        )
            response = await super()._handle(request)
            if (
                request.action == kmock.action.DELETE
                and request.resource == kmock.resource("", "v1", "namespaces")
                and request.name
            ):
                await self._delete_namespace_contents(request.name)
            return response
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
            raise kmock.KubernetesError(status=422, reason="Invalid", message=str(e)) from e

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
        return await super()._render_error(exc)  # type: ignore[no-any-return]

    async def _delete_namespace_contents(self, namespace: str) -> None:
        async with self._lock:
            for (res, ns, _name), obj in list(self._objects.items()):
                if ns == namespace and not obj.deleted:
                    raw = obj.raw
                    obj.delete()
                    await self._buses[res].put({"type": "DELETED", "object": raw})

    async def _serve_log(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        async with self._lock:
            self._current(request)
        assert request.namespace is not None and request.name is not None
        container = request.params.get("container")
        text = self.pod_logs.get((request.namespace, request.name, container))
        if text is None:
            text = self.pod_logs.get((request.namespace, request.name, None), "")
        if "tailLines" in request.params:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(request.params["tailLines"]) :]) if lines else ""
        return aiohttp.web.Response(text=text, content_type="text/plain")

    async def _serve_replace(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if not isinstance(request.data, dict):
            raise kmock.KubernetesError(status=400, reason="BadRequest", message="not an object")
        async with self._lock:
            obj = self._current(request)
            self._check_rv(obj, request.data)
            new = copy.deepcopy(request.data)
            meta = new.setdefault("metadata", {})
            old_meta = obj.get("metadata", {})
            for key in ("uid", "creationTimestamp", "namespace", "name"):
                if key in old_meta:
                    meta[key] = old_meta[key]
            meta["resourceVersion"] = self.next_rv()
            obj.create(new)
            raw = obj.raw
            assert request.resource is not None
            await self._buses[request.resource].put({"type": "MODIFIED", "object": raw})
        return aiohttp.web.json_response(raw)

    async def _serve_list(self, request: kmock.Request) -> Any:
        result = await super()._serve_list(request)
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

    async def _serve_watch(self, request: kmock.Request) -> AsyncIterator[Any]:
        labels, fields = request.params.get("labelSelector"), request.params.get("fieldSelector")
        timeout = request.params.get("timeoutSeconds")
        since = request.params.get("resourceVersion") or "0"
        since_rv = int(since) if since.isdigit() else 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(timeout) if timeout else None
        events = super()._serve_watch(request)
        try:
            while True:
                if deadline is None:
                    item = await anext(events)
                else:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return
                    try:
                        item = await asyncio.wait_for(anext(events), remaining)
                    except TimeoutError:
                        return
                if isinstance(item, dict):
                    obj = item.get("object", {})
                    meta = obj.get("metadata", {})
                    rv = str(meta.get("resourceVersion", "0"))
                    if item.get("type") == "ADDED" and rv.isdigit() and int(rv) <= since_rv:
                        continue
                    if not match_label_selector(meta.get("labels"), labels):
                        continue
                    if not match_field_selector(obj, fields):
                        continue
                yield item
        except StopAsyncIteration:
            return
        finally:
            await events.aclose()

    # -- direct (non-HTTP) access, called on the loop thread ---------------------------------
    async def seed(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        res = self.resolve(obj["apiVersion"], obj["kind"])
        namespace = obj.get("metadata", {}).get("namespace") or "default"
        if not self._is_namespaced(res):
            namespace = None
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
            rv = self.next_rv()
            if isinstance(patch, dict):
                meta = {**patch.get("metadata", {}), "resourceVersion": rv}
                obj.patch({**patch, "metadata": meta})
            else:
                obj.patch([*patch, {"op": "add", "path": "/metadata/resourceVersion", "value": rv}])
            raw: dict[str, Any] = obj.raw
            await self._buses[res].put({"type": "MODIFIED", "object": raw})
        return copy.deepcopy(raw)


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
