"""Kubernetes objects we own: create when missing, update only what differs.

`ensure` compares the fields this tool sets with the live object and patches only
those, so labels added by others survive and a re-run makes no write at all. What the
API server adds on its own is never a difference: a field we do not set is not looked
at (the Namespace's `kubernetes.io/metadata.name` label, a PriorityClass's defaulted
`preemptionPolicy`, a Service's cluster IP), and a field we set to its zero value
matches one the server leaves out (`globalDefault: false` is `omitempty`, so it is not
served). Fields the API server will not change after creation (a StorageClass's
provisioner, a PriorityClass's value) are reported with a remedy instead of attempted.
An object that is being deleted (`Terminating`) is waited for, then created anew.

The kubernetes client is imported inside functions: `invoke --list` must not
pay for it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from . import known_objects
from .changes import Changes
from .errors import OperationFailed
from .waiting import Clock, retry, wait_until

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

Manifest = dict[str, Any]
Outcome = Literal["created", "updated", "unchanged"]
T = TypeVar("T")
DEFAULT_CLASS_ANNOTATION = known_objects.DEFAULT_CLASS_ANNOTATION
# How long a re-run waits for an object of ours that is still being deleted (a namespace
# deletes its content first) before it says what holds it.
TERMINATING_TIMEOUT = 180.0


@dataclass(frozen=True)
class Kind:
    """How to reach one kind through the typed client, and which fields we own.

    `fields`: top-level fields we set; what we set in them is compared (maps by the keys we
    set, lists item by item), what the server adds is not. `whole`: maps we own entirely
    (a key we no longer set is removed). `immutable`: fields the API server refuses to
    change, compared only when our manifest sets them.
    """

    api: str
    method: str
    namespaced: bool
    fields: tuple[str, ...] = ()
    whole: tuple[str, ...] = ()
    immutable: tuple[str, ...] = ()
    # Annotations whose absence from our manifest means "must not be set".
    owned_annotations: tuple[str, ...] = ()


KINDS: dict[str, Kind] = {
    "Namespace": Kind("CoreV1Api", "namespace", namespaced=False),
    "Secret": Kind("CoreV1Api", "secret", namespaced=True, whole=("data",), immutable=("type",)),
    "ConfigMap": Kind("CoreV1Api", "config_map", namespaced=True, whole=("data",)),
    "StorageClass": Kind(
        "StorageV1Api",
        "storage_class",
        namespaced=False,
        fields=("allowVolumeExpansion",),
        immutable=("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"),
        owned_annotations=(DEFAULT_CLASS_ANNOTATION,),
    ),
    "PriorityClass": Kind(
        "SchedulingV1Api",
        "priority_class",
        namespaced=False,
        fields=("globalDefault", "description"),
        immutable=("value", "preemptionPolicy"),
    ),
    "Service": Kind("CoreV1Api", "service", namespaced=True, fields=("spec",)),
}


def api_client(kubeconfig: Path) -> ApiClient:
    """A client for the cluster in a kubeconfig file."""
    from kubernetes import client, config

    if kubeconfig.exists() or kubeconfig.is_symlink():
        check_kubeconfig(kubeconfig)
    if not kubeconfig.is_file():
        raise OperationFailed(
            f"kubeconfig {kubeconfig} does not exist",
            "write it with `invoke cluster.kubeconfig --env ENV` (or set cluster.kubeconfig)",
        )
    configuration = client.Configuration()
    try:
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    except config.ConfigException as error:
        raise OperationFailed(
            f"kubeconfig {kubeconfig} is not usable: {error}",
            "regenerate it with `invoke cluster.kubeconfig --env ENV`",
        ) from None
    return client.ApiClient(configuration)


def check_kubeconfig(path: Path) -> None:
    """A directory, non-UTF-8 bytes or broken YAML: one line naming the file (exit 2),
    before the client's loader turns it into a traceback."""
    from . import input_files
    from .errors import BadInput, Problem

    document = input_files.read_yaml(path)
    if not isinstance(document, dict):
        raise BadInput(Problem(str(path), "is not a kubeconfig (a YAML mapping with clusters)"))


# ------------------------------------------------------------------ API calls


def _transient(error: Exception) -> bool:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    if isinstance(error, ApiException):
        return error.status in (429, 500, 502, 503, 504)
    return isinstance(error, HTTPError | ConnectionError)


def api_message(error: Exception) -> str:
    """The API server's own words for a failed call."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(error, ApiException):
        try:
            body = json.loads(error.body or "{}")
        except ValueError:
            body = {}
        message = body.get("message") if isinstance(body, dict) else None
        return f"{error.status} {error.reason}: {message or error.body or ''}".strip()
    return f"{type(error).__name__}: {error}"


def call(what: str, action: Callable[[], T], clock: Clock | None = None) -> T:
    """One API call: transient failures are retried, the rest become OperationFailed."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        return retry(action, transient=_transient, clock=clock)
    except (ApiException, HTTPError, ConnectionError) as error:
        raise OperationFailed(
            f"Kubernetes API: {what} failed: {api_message(error)}",
            "check the cluster with `invoke cluster.check`, then re-run (nothing is repeated)",
        ) from None


def _not_found(error: Exception) -> bool:
    from kubernetes.client.exceptions import ApiException

    return isinstance(error, ApiException) and error.status == 404


def read_or_none(what: str, read: Callable[[], T]) -> T | None:
    """A read that answers None for 404 instead of failing."""
    from kubernetes.client.exceptions import ApiException

    def attempt() -> T | None:
        try:
            return read()
        except ApiException as error:
            if _not_found(error):
                return None
            raise

    return call(what, attempt)


# ------------------------------------------------------------------ ensure


def _kind(manifest: Manifest) -> Kind:
    kind = manifest.get("kind", "")
    if kind not in KINDS:
        raise ValueError(f"ensure() handles {', '.join(KINDS)}, not {kind!r}")
    return KINDS[kind]


def _method(api: ApiClient, kind: Kind, verb: str) -> Callable[..., Any]:
    from kubernetes import client

    typed = getattr(client, kind.api)(api)
    name = f"{verb}_namespaced_{kind.method}" if kind.namespaced else f"{verb}_{kind.method}"
    method: Callable[..., Any] = getattr(typed, name)
    return method


def describe(manifest: Manifest) -> str:
    meta = manifest["metadata"]
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{manifest['kind']} {where}{meta['name']}"


def wire_form(manifest: Manifest) -> Manifest:
    """The manifest as we send it: a Secret's stringData becomes base64 data.

    The API server would convert stringData itself, but comparing and patching is
    simpler (and works on test servers that store bodies verbatim) with data only.
    """
    if manifest.get("kind") != "Secret" or "stringData" not in manifest:
        return manifest
    sent = {key: value for key, value in manifest.items() if key != "stringData"}
    data = dict(manifest.get("data") or {})
    for key, value in manifest["stringData"].items():
        data[key] = base64.b64encode(value.encode()).decode()
    sent["data"] = data
    return sent


def covers(live: Any, wanted: Any) -> bool:
    """Whether the live value already holds everything we want there.

    Maps: every key we set, recursively (keys others set are theirs). Lists: the same
    length, item by item. A value the server left out equals our zero value, since the
    API serves `omitempty` fields only when they are set (kubernetes/api types.go).
    """
    if isinstance(wanted, dict):
        if live is None:
            return all(covers(None, value) for value in wanted.values())
        return isinstance(live, dict) and all(covers(live.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list):
        if live is None:
            return not wanted
        return (
            isinstance(live, list)
            and len(live) == len(wanted)
            and all(covers(have, want) for have, want in zip(live, wanted, strict=True))
        )
    if live is None:
        return (
            wanted is None
            or wanted is False
            or (not isinstance(wanted, bool) and wanted in {"", 0})
        )
    return bool(live == wanted)


def _differences(kind: Kind, wanted: Manifest, live: Manifest) -> tuple[Manifest, list[str]]:
    """A patch that brings live to wanted for the fields we own, and their names.

    The client sends a dict as a strategic merge patch; for the maps and scalars we
    patch (labels, annotations, data, spec scalars) that is the same as a JSON merge
    patch: keys merge, null deletes.
    """
    patch: Manifest = {}
    changed: list[str] = []
    wanted_meta, live_meta = wanted.get("metadata", {}), live.get("metadata", {})
    for section in ("labels", "annotations"):
        ours = dict(wanted_meta.get(section) or {})
        theirs = live_meta.get(section) or {}
        if section == "annotations":
            for key in kind.owned_annotations:
                if key not in ours and key in theirs:
                    ours[key] = None
        delta = {k: v for k, v in ours.items() if theirs.get(k) != v}
        if delta:
            patch.setdefault("metadata", {})[section] = delta
            changed.append(f"metadata.{section}")
    for field in kind.whole:
        if field not in wanted:
            continue
        ours_map, theirs_map = dict(wanted[field] or {}), dict(live.get(field) or {})
        if ours_map != theirs_map:
            # null deletes a key in a merge patch: keys we no longer set go away.
            delta = {k: v for k, v in ours_map.items() if theirs_map.get(k) != v}
            delta.update({k: None for k in theirs_map if k not in ours_map})
            patch[field] = delta
            changed.append(field)
    for field in kind.fields:
        if field in wanted and not covers(live.get(field), wanted[field]):
            patch[field] = wanted[field]
            changed.append(field)
    return patch, changed


def _immutable_changes(kind: Kind, wanted: Manifest, live: Manifest) -> list[str]:
    found = []
    for field in kind.immutable:
        if field not in wanted:
            continue  # the server's default stands; we never asked for anything else
        ours, theirs = wanted.get(field), live.get(field)
        # An empty map and no map are the same thing to the API server.
        if isinstance(ours, dict) or isinstance(theirs, dict):
            same = (ours or None) == (theirs or None)
        else:
            same = covers(theirs, ours)
        if not same:
            found.append(f"{field} (live {theirs!r}, wanted {ours!r})")
    return found


def _terminating(live: Manifest) -> bool:
    return bool((live.get("metadata") or {}).get("deletionTimestamp"))


def ensure(
    api: ApiClient,
    manifest: Manifest,
    changes: Changes,
    *,
    clock: Clock | None = None,
    terminating_timeout: float = TERMINATING_TIMEOUT,
) -> Outcome:
    """Create the object, or patch the fields we own that differ; never recreate it."""
    kind = _kind(manifest)
    wanted = wire_form(manifest)
    meta = wanted["metadata"]
    name, namespace = meta["name"], meta.get("namespace")
    scope = {"namespace": namespace} if kind.namespaced else {}
    label = describe(manifest)

    def read() -> Manifest | None:
        found = read_or_none(f"read {label}", lambda: _method(api, kind, "read")(name, **scope))
        return None if found is None else dict(api.sanitize_for_serialization(found))

    live = read()
    if live is not None and _terminating(live):
        if changes.dry_run:
            changes.make(f"wait for {label} to finish deleting (Terminating)", lambda: None)
            live = None
        else:
            _wait_until_gone(manifest, read, clock, terminating_timeout)
            live = None
    if live is None:
        create = _method(api, kind, "create")
        changes.make(
            f"create {label}",
            lambda: call(
                f"create {label}",
                create_once(lambda: create(**scope, body=wanted)),
                clock=clock,
            ),
        )
        return "created"

    immutable = _immutable_changes(kind, wanted, live)
    if immutable:
        raise OperationFailed(
            f"{label} exists with different {', '.join(immutable)}; "
            "Kubernetes cannot change these in place",
            f"if nothing uses it, delete it (`kubectl delete {manifest['kind'].lower()} {name}`) "
            "and re-run; otherwise set the config to match the live object",
        )
    patch, changed = _differences(kind, wanted, live)
    if not patch:
        return "unchanged"
    update = _method(api, kind, "patch")
    changes.make(
        f"update {label} ({', '.join(changed)})",
        lambda: call(
            f"update {label}",
            lambda: update(name, **scope, body=patch),
        ),
    )
    return "updated"


def create_once(create: Callable[[], T]) -> Callable[[], T | None]:
    """A create that may be retried: when an earlier attempt's answer was lost (the
    connection dropped, or a load balancer's 504, after the API server stored it), the
    retry's 409 AlreadyExists is that object, not someone else's; a first attempt's 409
    still fails (the object appeared after we read)."""
    from kubernetes.client.exceptions import ApiException

    attempts = 0

    def attempt() -> T | None:
        nonlocal attempts
        attempts += 1
        try:
            return create()
        except ApiException as error:
            if attempts > 1 and error.status == 409 and _reason(error) == "AlreadyExists":
                return None
            raise

    return attempt


def _reason(error: Exception) -> str:
    """The `reason` of a Kubernetes Status body (apimachinery pkg/apis/meta/v1 types.go)."""
    try:
        body = json.loads(getattr(error, "body", None) or "{}")
    except ValueError:
        return ""
    return str(body.get("reason", "")) if isinstance(body, dict) else ""


def _wait_until_gone(
    manifest: Manifest, read: Callable[[], Manifest | None], clock: Clock | None, timeout: float
) -> None:
    """A deleted namespace lingers while its content goes; the object is recreated after."""
    label = describe(manifest)
    meta = manifest["metadata"]
    where = f" -n {meta['namespace']}" if meta.get("namespace") else ""
    show = f"kubectl get {manifest['kind'].lower()}{where} {meta['name']} -o yaml"

    def gone() -> bool | None:
        current = read()
        if current is None:
            return True
        if not _terminating(current):
            raise OperationFailed(
                f"{label} was being deleted and came back meanwhile",
                "someone else manages it; re-run when it has settled",
            )
        return None

    wait_until(
        gone,
        what=f"{label} to finish deleting (it is Terminating)",
        timeout=timeout,
        remedy=(
            f"something holds its finalizers: see `{show}` (for a namespace, status.conditions "
            "name what is left), then re-run"
        ),
        clock=clock,
    )


def apply_crd(api: ApiClient, manifest: Manifest, *, field_manager: str) -> None:
    """Server-side apply of a CustomResourceDefinition, forced (kubectl apply --server-side
    --force-conflicts): large CRDs exceed the last-applied annotation's size limit of a
    client-side apply, and fields helm set when it installed them would conflict."""
    name = manifest["metadata"]["name"]
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
    call(
        f"apply CustomResourceDefinition {name}",
        lambda: api.call_api(
            path,
            "PATCH",
            query_params=[("fieldManager", field_manager), ("force", "true")],
            header_params={
                "Content-Type": "application/apply-patch+yaml",
                "Accept": "application/json",
            },
            body=manifest,
            response_type="object",
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
        ),
    )


# ------------------------------------------------------------------ reading


def read_secret(api: ApiClient, namespace: str, name: str) -> dict[str, str] | None:
    """A Secret's data, decoded; None when it does not exist."""
    found = read_secret_manifest(api, namespace, name)
    if found is None:
        return None
    return {
        key: base64.b64decode(value).decode("utf-8", errors="replace")
        for key, value in (found.get("data") or {}).items()
    }


def read_secret_manifest(api: ApiClient, namespace: str, name: str) -> Manifest | None:
    """A Secret as a plain manifest (data still base64); None when it does not exist."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    found = read_or_none(
        f"read Secret {namespace}/{name}", lambda: core.read_namespaced_secret(name, namespace)
    )
    if found is None:
        return None
    manifest: Manifest = api.sanitize_for_serialization(found)
    return manifest


def storage_class_names(api: ApiClient) -> list[str]:
    from kubernetes import client

    listed = call("list StorageClasses", lambda: client.StorageV1Api(api).list_storage_class())
    return [str(item.metadata.name) for item in listed.items]


def find_daemon_set(
    api: ApiClient, refs: tuple[known_objects.ObjectRef, ...], *, container: str
) -> Manifest | None:
    """The first of these DaemonSets that exists, else any DaemonSet running a container
    of that name (a cluster set up by hand or by another installer); None when none."""
    from kubernetes import client

    apps = client.AppsV1Api(api)
    for ref in refs:

        def read(ref: known_objects.ObjectRef = ref) -> Any:
            return apps.read_namespaced_daemon_set(ref.name, ref.namespace)

        found = read_or_none(f"read {ref}", read)
        if found is not None:
            manifest: Manifest = api.sanitize_for_serialization(found)
            return manifest
    listed = call("list DaemonSets", apps.list_daemon_set_for_all_namespaces)
    for item in listed.items:
        pod = item.spec.template.spec if item.spec and item.spec.template else None
        if pod is not None and any(c.name == container for c in pod.containers or []):
            other: Manifest = api.sanitize_for_serialization(item)
            return other
    return None


def default_storage_classes(api: ApiClient) -> list[str]:
    """StorageClasses marked default (GA or beta annotation), newest first: the one a
    claim without a class gets (DefaultStorageClass admission picks the newest)."""
    from kubernetes import client

    listed = call("list StorageClasses", lambda: client.StorageV1Api(api).list_storage_class())
    marked = []
    for item in listed.items:
        annotations = (item.metadata.annotations if item.metadata else None) or {}
        if any(
            annotations.get(key) == "true"
            for key in (
                known_objects.DEFAULT_CLASS_ANNOTATION,
                known_objects.BETA_DEFAULT_CLASS_ANNOTATION,
            )
        ):
            marked.append((str(item.metadata.creation_timestamp or ""), item.metadata.name))
    return [name for _created, name in sorted(marked, reverse=True)]


def load_balancer_address(api: ApiClient, namespace: str, service: str) -> str | None:
    """The external IP (or hostname) of a LoadBalancer Service; None until it has one."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    found = read_or_none(
        f"read Service {namespace}/{service}",
        lambda: core.read_namespaced_service(service, namespace),
    )
    if found is None or found.status is None or found.status.load_balancer is None:
        return None
    for ingress in found.status.load_balancer.ingress or []:
        if ingress.ip or ingress.hostname:
            return str(ingress.ip or ingress.hostname)
    return None


# ------------------------------------------------------------------ waiting

# Container states that no amount of waiting fixes.
_HOPELESS = {"InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError"}


@dataclass(frozen=True)
class PodState:
    name: str
    ready: bool
    detail: str


def pod_states(api: ApiClient, namespace: str, label_selector: str) -> list[PodState]:
    from kubernetes import client

    core = client.CoreV1Api(api)
    pods = call(
        f"list pods {label_selector} in {namespace}",
        lambda: core.list_namespaced_pod(namespace, label_selector=label_selector),
    )
    states = []
    for pod in pods.items:
        if pod.metadata.deletion_timestamp is not None:
            continue
        status = pod.status
        conditions = {c.type: c.status for c in (status.conditions or [])} if status else {}
        ready = conditions.get("Ready") == "True"
        detail = (status.phase if status else None) or "Pending"
        for container in (status.container_statuses or []) if status else []:
            waiting = container.state.waiting if container.state else None
            if waiting is not None and waiting.reason:
                detail = waiting.reason
        states.append(PodState(pod.metadata.name, ready, "Ready" if ready else detail))
    return states


def wait_for_pods(
    api: ApiClient,
    namespace: str,
    label_selector: str,
    *,
    what: str,
    timeout: float,
    clock: Clock | None = None,
) -> list[PodState]:
    """Wait until at least one pod matches and every matching pod is Ready."""
    last: list[PodState] = []

    def probe() -> list[PodState] | None:
        nonlocal last
        last = pod_states(api, namespace, label_selector)
        hopeless = [p for p in last if p.detail in _HOPELESS]
        if hopeless:
            pod = hopeless[0]
            raise OperationFailed(
                f"{what}: pod {pod.name} cannot start ({pod.detail})",
                f"see `kubectl describe pod -n {namespace} {pod.name}`, fix the config, re-run",
            )
        if last and all(p.ready for p in last):
            return last
        return None

    try:
        return wait_until(probe, what=what, timeout=timeout, clock=clock)
    except OperationFailed as error:
        if not error.cause.startswith("timed out"):
            raise
        if not last:
            raise OperationFailed(
                f"{error.cause} (no pod in {namespace} matches {label_selector})",
                f"see `kubectl get pods -n {namespace}` and `helm status`; then re-run",
            ) from None
        seen = ", ".join(f"{p.name}: {p.detail}" for p in last)
        pod = next((p for p in last if not p.ready), last[0])
        raise OperationFailed(
            f"{error.cause} (pods: {seen})",
            f"see `kubectl describe pod -n {namespace} {pod.name}` and its logs, then re-run",
        ) from None
