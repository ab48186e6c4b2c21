"""What a real Kubernetes API server does to objects on the way in, for the emulator.

kmock stores whatever it is sent. A real API server defaults fields, refuses changes to
immutable ones, keeps deleted namespaces and finalized objects ``Terminating`` and words
its refusals in a fixed way; code that compares what it sent with what it reads back
meets all of that. The rules here are the ones this project's code meets, each with the
kubernetes/kubernetes file it follows (read at release-1.35; the Go types and their
``omitempty`` tags are in kubernetes/api v0.35, mirrored here). docs/testing.md lists them.

Everything works on plain dicts in the JSON form the API serves.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

# Namespaces every cluster has from the start (kubernetes pkg/controlplane/controller/
# systemnamespaces/system_namespaces_controller.go: default, kube-system, kube-public,
# kube-node-lease).
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

# API groups of the kinds below, for qualified names in messages ("StorageClass.storage.k8s.io").
_GROUPS = {
    "StorageClass": "storage.k8s.io",
    "PriorityClass": "scheduling.k8s.io",
    "DaemonSet": "apps",
    "Deployment": "apps",
    "StatefulSet": "apps",
    "CustomResourceDefinition": "apiextensions.k8s.io",
}


# ------------------------------------------------------------------ errors


@dataclass
class Refusal(Exception):
    """An API error as the server words it (the emulator renders it as a Status)."""

    status: int
    reason: str
    message: str
    causes: list[dict[str, str]] = field(default_factory=list)


def _resource(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> Refusal:
    # apimachinery pkg/api/errors/errors.go NewNotFound: `%s "%s" not found`.
    return Refusal(404, "NotFound", f'{_resource(plural, group)} "{name}" not found')


def already_exists(plural: str, group: str, name: str) -> Refusal:
    # errors.go NewAlreadyExists: `%s "%s" already exists`.
    return Refusal(409, "AlreadyExists", f'{_resource(plural, group)} "{name}" already exists')


def conflict(plural: str, group: str, name: str) -> Refusal:
    # errors.go NewConflict with registry's OptimisticLockErrorMsg
    # (apiserver pkg/registry/generic/registry/store.go).
    return Refusal(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_resource(plural, group)} "{name}": the object '
        "has been modified; please apply your changes to the latest version and try again",
    )


def terminating(plural: str, group: str, name: str, namespace: str) -> Refusal:
    # apiserver pkg/admission/plugin/namespace/lifecycle/admission.go (NamespaceLifecycle):
    # errors.NewForbidden(..., "unable to create new content in namespace %s because it is
    # being terminated").
    return Refusal(
        403,
        "Forbidden",
        f'{_resource(plural, group)} "{name}" is forbidden: unable to create new content in '
        f"namespace {namespace} because it is being terminated",
    )


def _value(value: Any) -> str:
    # apimachinery pkg/util/validation/field/errors.go: strings quoted, numbers bare.
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class FieldError:
    path: str
    kind: str  # "Invalid" or "Forbidden" (field.ErrorTypeInvalid / ErrorTypeForbidden)
    detail: str
    value: Any = None

    def __str__(self) -> str:
        if self.kind == "Forbidden":
            return f"{self.path}: Forbidden: {self.detail}"
        return f"{self.path}: Invalid value: {_value(self.value)}: {self.detail}"


IMMUTABLE = "field is immutable"  # apimachinery validation.FieldImmutableErrorMsg


def invalid(kind: str, name: str, errors: list[FieldError]) -> Refusal:
    """errors.go NewInvalid: `%s "%s" is invalid: %v` over the aggregate of field errors
    (one error as it is, several in brackets, utilerrors.NewAggregate)."""
    group = _GROUPS.get(kind, "")
    qualified = f"{kind}.{group}" if group else kind
    texts = [str(e) for e in errors]
    body = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    causes = [
        {"reason": f"Field{e.kind}", "message": str(e).split(": ", 1)[1], "field": e.path}
        for e in errors
    ]
    return Refusal(422, "Invalid", f'{qualified} "{name}" is invalid: {body}', causes)


# ------------------------------------------------------------------ defaulting


class Allocator:
    """Cluster IPs and node ports, as the service registry hands them out."""

    def __init__(self) -> None:
        # pkg/registry/core/service/ipallocator: from --service-cluster-ip-range
        # (10.96.0.0/12 is kubeadm's default); .1 is the kubernetes Service.
        self._ips = (str(ipaddress.IPv4Address("10.96.0.10") + n) for n in itertools.count())
        # portallocator: --service-node-port-range defaults to 30000-32767.
        self._ports = itertools.count(30000)

    def cluster_ip(self) -> str:
        return next(self._ips)

    def node_port(self) -> int:
        return next(self._ports)


def _default_namespace(obj: Obj, _: Allocator) -> None:
    name = obj["metadata"]["name"]
    # pkg/apis/core/v1/defaults.go SetDefaults_Namespace: the immutable name label.
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    # pkg/registry/core/namespace/strategy.go PrepareForCreate: the "kubernetes" finalizer
    # and phase Active; status is not taken from the client.
    spec = obj.setdefault("spec", {})
    spec.setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")


def _default_secret(obj: Obj, _: Allocator) -> None:
    # pkg/apis/core/v1/defaults.go SetDefaults_Secret: empty type means Opaque.
    if not obj.get("type"):
        obj["type"] = "Opaque"
    # pkg/apis/core/v1/conversion.go Convert_v1_Secret_To_core_Secret: stringData is
    # merged into data (stringData wins) and never stored or returned.
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _default_storage_class(obj: Obj, _: Allocator) -> None:
    # pkg/apis/storage/v1/defaults.go SetDefaults_StorageClass.
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


def _default_priority_class(obj: Obj, _: Allocator) -> None:
    # pkg/apis/scheduling/v1/defaults.go SetDefaults_PriorityClass (NonPreemptingPriority
    # is GA and always on since 1.24).
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")
    # k8s.io/api scheduling/v1/types.go: `globalDefault` and `description` are omitempty
    # plain fields, so false and "" are not served at all.
    if obj.get("globalDefault") is False:
        del obj["globalDefault"]
    if obj.get("description") == "":
        del obj["description"]


def _default_service(obj: Obj, allocate: Allocator) -> None:
    spec = obj.setdefault("spec", {})
    # pkg/apis/core/v1/defaults.go SetDefaults_Service.
    kind = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
        # pkg/registry/core/service/storage/alloc.go: node ports for these types.
        if kind in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
            port["nodePort"] = allocate.node_port()
    if kind != "ExternalName":
        # alloc.go allocClusterIPs and initIPFamilyFields: one IPv4 address on a
        # single-stack cluster.
        if not spec.get("clusterIP"):
            spec["clusterIP"] = allocate.cluster_ip()
        if spec["clusterIP"] != "None":
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    # pkg/registry/core/service/strategy.go PrepareForCreate resets status; a
    # LoadBalancer's address comes from the cloud controller later.
    obj.setdefault("status", {"loadBalancer": {}})


def _default_pod_template(template: Obj) -> None:
    # pkg/apis/core/v1/defaults.go SetDefaults_PodSpec and SetDefaults_Container.
    spec = template.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        image = str(container.get("image", ""))
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")


def _default_daemon_set(obj: Obj, _: Allocator) -> None:
    # pkg/apis/apps/v1/defaults.go SetDefaults_DaemonSet.
    spec = obj.setdefault("spec", {})
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"maxUnavailable": 1, "maxSurge": 0})
    spec.setdefault("revisionHistoryLimit", 10)
    _default_pod_template(spec.setdefault("template", {}))


def _default_deployment(obj: Obj, _: Allocator) -> None:
    # pkg/apis/apps/v1/defaults.go SetDefaults_Deployment.
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _default_pod_template(spec.setdefault("template", {}))


DEFAULTERS: dict[str, Callable[[Obj, Allocator], None]] = {
    "DaemonSet": _default_daemon_set,
    "Deployment": _default_deployment,
    "Namespace": _default_namespace,
    "Secret": _default_secret,
    "StorageClass": _default_storage_class,
    "PriorityClass": _default_priority_class,
    "Service": _default_service,
}


def apply_defaults(obj: Obj, allocate: Allocator) -> None:
    """The defaulting the API server applies on every create and update of this kind."""
    defaulter = DEFAULTERS.get(str(obj.get("kind", "")))
    if defaulter is not None:
        defaulter(obj, allocate)


# ------------------------------------------------------------------ validation of updates


def _immutable(path: str, old: Any, new: Any) -> list[FieldError]:
    return [] if old == new else [FieldError(path, "Invalid", IMMUTABLE, new)]


def _forbidden_change(path: str, old: Any, new: Any) -> list[FieldError]:
    # storage/validation: "updates to <field> are forbidden."
    if old == new:
        return []
    return [FieldError(path, "Forbidden", f"updates to {path} are forbidden.")]


def _secret_update(old: Obj, new: Obj) -> list[FieldError]:
    # pkg/apis/core/validation/validation.go ValidateSecretUpdate.
    errors = _immutable("type", old.get("type"), new.get("type"))
    if old.get("immutable"):
        errors += _immutable("immutable", True, new.get("immutable"))
        errors += _immutable_data(old, new, "data")
    return errors


def _immutable_data(old: Obj, new: Obj, key: str) -> list[FieldError]:
    if (old.get(key) or {}) == (new.get(key) or {}):
        return []
    return [FieldError(key, "Forbidden", "field is immutable when `immutable` is set")]


def _config_map_update(old: Obj, new: Obj) -> list[FieldError]:
    # validation.go ValidateConfigMapUpdate.
    if not old.get("immutable"):
        return []
    return (
        _immutable("immutable", True, new.get("immutable"))
        + _immutable_data(old, new, "data")
        + _immutable_data(old, new, "binaryData")
    )


def _storage_class_update(old: Obj, new: Obj) -> list[FieldError]:
    # pkg/apis/storage/validation/validation.go ValidateStorageClassUpdate.
    return (
        _forbidden_change("parameters", old.get("parameters") or {}, new.get("parameters") or {})
        + _forbidden_change("provisioner", old.get("provisioner"), new.get("provisioner"))
        + _forbidden_change("reclaimPolicy", old.get("reclaimPolicy"), new.get("reclaimPolicy"))
        + _immutable(
            "volumeBindingMode", old.get("volumeBindingMode"), new.get("volumeBindingMode")
        )
    )


def _priority_class_update(old: Obj, new: Obj) -> list[FieldError]:
    # pkg/apis/scheduling/validation/validation.go ValidatePriorityClassUpdate.
    errors = []
    if old.get("value") != new.get("value"):
        errors.append(FieldError("value", "Forbidden", "may not be changed in an update."))
    errors += _immutable(
        "preemptionPolicy", old.get("preemptionPolicy"), new.get("preemptionPolicy")
    )
    return errors


def _service_update(old: Obj, new: Obj) -> list[FieldError]:
    # validation.go ValidateServiceUpdate: the cluster IP stays (unless the type moves
    # to or from ExternalName).
    before, after = old.get("spec") or {}, new.get("spec") or {}
    if "ExternalName" in (before.get("type"), after.get("type")):
        return []
    return _immutable("spec.clusterIP", before.get("clusterIP"), after.get("clusterIP"))


def _selector_update(old: Obj, new: Obj) -> list[FieldError]:
    # pkg/apis/apps/validation/validation.go ValidateDaemonSetUpdate /
    # ValidateDeploymentUpdate (apps/v1): spec.selector is immutable.
    return _immutable(
        "spec.selector",
        (old.get("spec") or {}).get("selector"),
        (new.get("spec") or {}).get("selector"),
    )


UPDATE_RULES: dict[str, Callable[[Obj, Obj], list[FieldError]]] = {
    "Secret": _secret_update,
    "ConfigMap": _config_map_update,
    "StorageClass": _storage_class_update,
    "PriorityClass": _priority_class_update,
    "Service": _service_update,
    "DaemonSet": _selector_update,
    "Deployment": _selector_update,
}


def validate_create(obj: Obj) -> list[FieldError]:
    kind = obj.get("kind")
    errors = []
    if kind == "PriorityClass" and not str(obj["metadata"]["name"]).startswith("system-"):
        # validation.go ValidatePriorityClass: user classes stop at HighestUserDefinablePriority.
        value = obj.get("value")
        if not isinstance(value, int):
            errors.append(FieldError("value", "Invalid", "must be an integer", value))
        elif value > 1_000_000_000:
            errors.append(
                FieldError(
                    "value",
                    "Forbidden",
                    "maximum allowed value of a user defined priority is 1000000000",
                )
            )
    if kind == "StorageClass" and not obj.get("provisioner"):
        errors.append(FieldError("provisioner", "Invalid", "Required value", ""))
    return errors


def validate_update(old: Obj, new: Obj) -> list[FieldError]:
    rule = UPDATE_RULES.get(str(new.get("kind", "")))
    return rule(old, new) if rule is not None else []


# ------------------------------------------------------------------ metadata on writes

# Fields of metadata a client cannot set or change (apiserver pkg/registry/rest/
# create.go FillObjectMetaSystemFields and update.go: uid, creationTimestamp,
# deletionTimestamp are the server's; name and namespace come from the URL).
SYSTEM_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "name", "namespace")

# Kinds whose metadata.generation moves with each change of spec (registry strategies'
# PrepareForUpdate, e.g. pkg/registry/apps/daemonset/strategy.go).
_GENERATION_FOLLOWS = {"spec", "template", "data"}


def carry_system_metadata(old: Obj, new: Obj, *, status: bool = False) -> None:
    """What the server keeps from the stored object on an update; `status`: the write
    came through the /status subresource."""
    meta, old_meta = new.setdefault("metadata", {}), old.get("metadata", {})
    for key in SYSTEM_METADATA:
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    generation = int(old_meta.get("generation") or 1)
    changed = any(old.get(key) != new.get(key) for key in _GENERATION_FOLLOWS)
    meta["generation"] = generation + 1 if changed and "spec" in new else generation
    if not status and "status" in old and new.get("kind") in ("Namespace", "Service"):
        # The main resource of these kinds ignores status changes
        # (strategy PrepareForUpdate copies the old status).
        new["status"] = copy.deepcopy(old["status"])


def same_content(old: Obj, new: Obj) -> bool:
    """An update that changes nothing is not written (no new resourceVersion, no event):
    apiserver pkg/registry/generic/registry/store.go Update via GuaranteedUpdate, which
    skips the write when the object is unchanged."""

    def strip(obj: Obj) -> Obj:
        out = copy.deepcopy(obj)
        out.get("metadata", {}).pop("resourceVersion", None)
        out.get("metadata", {}).pop("managedFields", None)
        return out

    return strip(old) == strip(new)


# ------------------------------------------------------------------ patches


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge, null deletes, anything else replaces.

    The emulator applies strategic-merge patches the same way: lists are replaced
    whole, never merged by key (the project never patches a list with a dict body;
    tests/test_fakes.py shows it)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_configuration(current: Obj, applied: Obj) -> Obj:
    """Server-side apply, approximated: what the applier sends replaces those fields.

    Real apply tracks field managers and can refuse with conflicts (apiserver
    pkg/endpoints/handlers/fieldmanager); the emulator treats every apply as forced
    (`force=true`, kubectl's --force-conflicts) and keeps fields it was not sent."""
    merged: Obj = merge_patch(current, applied)
    return merged
