"""The Kubernetes emulator's API-server rules, through the real kubernetes client.

Each test names the upstream behaviour it holds the fake to (sources in
tests/support/kube_rules.py and docs/testing.md). Expected values are written out as the
API server produces them, never computed with the fake's own functions.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch

from tests.support.fakekube import FakeKube


def refusal(error: k8s.ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    return body


def namespace(kube: FakeKube, name: str) -> None:
    k8s.CoreV1Api(kube.api_client).create_namespace({"metadata": {"name": name}})


# ------------------------------------------------------------------ defaulting


def test_namespace_gets_its_name_label_finalizer_and_phase(kube: FakeKube) -> None:
    created = k8s.CoreV1Api(kube.api_client).create_namespace(
        {"metadata": {"name": "jhub", "labels": {"team": "x"}}}
    )
    assert created.metadata.labels == {"team": "x", "kubernetes.io/metadata.name": "jhub"}
    assert created.spec.finalizers == ["kubernetes"]
    assert created.status.phase == "Active"


def test_secret_type_defaults_to_opaque_and_string_data_becomes_data(kube: FakeKube) -> None:
    namespace(kube, "jhub")
    created = k8s.CoreV1Api(kube.api_client).create_namespaced_secret(
        "jhub", {"metadata": {"name": "s"}, "stringData": {"token": "abc"}}
    )
    assert created.type == "Opaque"
    assert created.data == {"token": base64.b64encode(b"abc").decode()}
    stored = kube.get("secrets", "s", "jhub")
    assert stored is not None and "stringData" not in stored


def test_storage_class_defaults(kube: FakeKube) -> None:
    created = k8s.StorageV1Api(kube.api_client).create_storage_class(
        {"metadata": {"name": "plain"}, "provisioner": "cinder.csi.openstack.org"}
    )
    assert created.reclaim_policy == "Delete"
    assert created.volume_binding_mode == "Immediate"


def test_priority_class_preemption_policy_and_omitted_zero_values(kube: FakeKube) -> None:
    scheduling = k8s.SchedulingV1Api(kube.api_client)
    scheduling.create_priority_class(
        {"metadata": {"name": "gpu"}, "value": 1000, "globalDefault": False, "description": ""}
    )
    raw = kube.get("priorityclasses", "gpu")
    assert raw is not None
    assert raw["preemptionPolicy"] == "PreemptLowerPriority"
    # omitempty plain fields: false and "" are not served
    assert "globalDefault" not in raw and "description" not in raw


def test_service_defaults_of_a_load_balancer(kube: FakeKube) -> None:
    namespace(kube, "jhub")
    created = k8s.CoreV1Api(kube.api_client).create_namespaced_service(
        "jhub",
        {
            "metadata": {"name": "proxy-public"},
            "spec": {"type": "LoadBalancer", "ports": [{"name": "https", "port": 443}]},
        },
    )
    spec = created.spec
    assert spec.session_affinity == "None"
    assert spec.external_traffic_policy == "Cluster"
    assert spec.internal_traffic_policy == "Cluster"
    assert spec.allocate_load_balancer_node_ports is True
    assert spec.cluster_ip and spec.cluster_i_ps == [spec.cluster_ip]
    assert spec.ip_families == ["IPv4"] and spec.ip_family_policy == "SingleStack"
    (port,) = spec.ports
    assert port.protocol == "TCP" and port.target_port == 443
    assert 30000 <= port.node_port <= 32767


# ------------------------------------------------------------------ immutable fields


def test_priority_class_value_and_preemption_policy_are_immutable(kube: FakeKube) -> None:
    scheduling = k8s.SchedulingV1Api(kube.api_client)
    scheduling.create_priority_class({"metadata": {"name": "gpu"}, "value": 1000})
    with pytest.raises(k8s.ApiException) as value:
        scheduling.patch_priority_class("gpu", {"value": 5})
    assert value.value.status == 422
    assert refusal(value.value)["reason"] == "Invalid"
    assert refusal(value.value)["message"] == (
        'PriorityClass.scheduling.k8s.io "gpu" is invalid: value: Forbidden: '
        "may not be changed in an update."
    )
    with pytest.raises(k8s.ApiException) as policy:
        scheduling.patch_priority_class("gpu", {"preemptionPolicy": "Never"})
    assert refusal(policy.value)["message"] == (
        'PriorityClass.scheduling.k8s.io "gpu" is invalid: preemptionPolicy: '
        'Invalid value: "Never": field is immutable'
    )


def test_storage_class_parameters_are_immutable(kube: FakeKube) -> None:
    storage = k8s.StorageV1Api(kube.api_client)
    storage.create_storage_class(
        {"metadata": {"name": "c"}, "provisioner": "p", "parameters": {"type": "ssd"}}
    )
    with pytest.raises(k8s.ApiException) as failure:
        storage.patch_storage_class("c", {"parameters": {"type": "hdd"}, "reclaimPolicy": "Retain"})
    assert refusal(failure.value)["message"] == (
        'StorageClass.storage.k8s.io "c" is invalid: [parameters: Forbidden: updates to '
        "parameters are forbidden., reclaimPolicy: Forbidden: updates to reclaimPolicy are "
        "forbidden.]"
    )
    # Annotations may change.
    patched = storage.patch_storage_class("c", {"metadata": {"annotations": {"a": "b"}}})
    assert patched.metadata.annotations == {"a": "b"}


def test_secret_type_is_immutable(kube: FakeKube) -> None:
    namespace(kube, "jhub")
    core = k8s.CoreV1Api(kube.api_client)
    core.create_namespaced_secret("jhub", {"metadata": {"name": "s"}, "data": {}})
    with pytest.raises(k8s.ApiException) as failure:
        core.patch_namespaced_secret("s", "jhub", {"type": "kubernetes.io/tls"})
    assert refusal(failure.value)["message"] == (
        'Secret "s" is invalid: type: Invalid value: "kubernetes.io/tls": field is immutable'
    )


def test_daemonset_selector_is_immutable_and_generation_follows_the_spec(kube: FakeKube) -> None:
    apps = k8s.AppsV1Api(kube.api_client)
    body = {
        "metadata": {"name": "plugin"},
        "spec": {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {
                "metadata": {"labels": {"app": "a"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    assert apps.create_namespaced_daemon_set("kube-system", body).metadata.generation == 1
    patched = apps.patch_namespaced_daemon_set(
        "plugin",
        "kube-system",
        [
            {
                "op": "add",
                "path": "/spec/template/spec/tolerations",
                "value": [{"operator": "Exists"}],
            }
        ],
    )
    assert patched.metadata.generation == 2
    status_only = apps.patch_namespaced_daemon_set(
        "plugin", "kube-system", {"metadata": {"labels": {"x": "y"}}}
    )
    assert status_only.metadata.generation == 2
    with pytest.raises(k8s.ApiException) as failure:
        apps.patch_namespaced_daemon_set(
            "plugin", "kube-system", {"spec": {"selector": {"matchLabels": {"app": "b"}}}}
        )
    assert failure.value.status == 422
    assert "spec.selector: Invalid value" in refusal(failure.value)["message"]
    assert "field is immutable" in refusal(failure.value)["message"]


# ------------------------------------------------------------------ writes in general


def test_an_update_that_changes_nothing_is_not_written(kube: FakeKube) -> None:
    namespace(kube, "jhub")
    before = kube.get("namespaces", "jhub")
    assert before is not None
    same = k8s.CoreV1Api(kube.api_client).patch_namespace(
        "jhub", {"metadata": {"labels": {"kubernetes.io/metadata.name": "jhub"}}}
    )
    assert same.metadata.resource_version == before["metadata"]["resourceVersion"]
    assert len(kube.history("namespaces", "jhub")) == 1


def test_stale_resource_version_is_a_conflict_in_the_api_words(kube: FakeKube) -> None:
    namespace(kube, "jhub")
    core = k8s.CoreV1Api(kube.api_client)
    core.create_namespaced_config_map("jhub", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    old = core.read_namespaced_config_map("c", "jhub")
    core.patch_namespaced_config_map("c", "jhub", {"data": {"a": "2"}})
    old.data = {"a": "3"}
    with pytest.raises(k8s.ApiException) as failure:
        core.replace_namespaced_config_map("c", "jhub", old)
    assert failure.value.status == 409
    assert refusal(failure.value)["reason"] == "Conflict"
    assert refusal(failure.value)["message"] == (
        'Operation cannot be fulfilled on configmaps "c": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def test_create_in_a_missing_namespace_is_not_found(kube: FakeKube) -> None:
    with pytest.raises(k8s.ApiException) as failure:
        k8s.CoreV1Api(kube.api_client).create_namespaced_secret(
            "nowhere", {"metadata": {"name": "s"}}
        )
    assert failure.value.status == 404
    assert refusal(failure.value)["message"] == 'namespaces "nowhere" not found'


def test_already_exists_in_the_api_words(kube: FakeKube) -> None:
    storage = k8s.StorageV1Api(kube.api_client)
    storage.create_storage_class({"metadata": {"name": "c"}, "provisioner": "p"})
    with pytest.raises(k8s.ApiException) as failure:
        storage.create_storage_class({"metadata": {"name": "c"}, "provisioner": "p"})
    assert failure.value.status == 409
    assert refusal(failure.value)["reason"] == "AlreadyExists"
    assert refusal(failure.value)["message"] == ('storageclasses.storage.k8s.io "c" already exists')


def test_server_dry_run_stores_nothing(kube: FakeKube) -> None:
    k8s.StorageV1Api(kube.api_client).create_storage_class(
        {"metadata": {"name": "c"}, "provisioner": "p"}, dry_run="All"
    )
    assert kube.get("storageclasses", "c") is None


def test_server_side_apply_creates_then_merges_and_needs_a_field_manager(kube: FakeKube) -> None:
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "probes.monitoring.coreos.com", "annotations": {"v": "1"}},
        "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced"},
    }
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}"

    def apply(query: list[tuple[str, str]]) -> None:
        kube.api_client.call_api(
            path,
            "PATCH",
            query_params=query,
            header_params={"Content-Type": "application/apply-patch+yaml"},
            body=crd,
            response_type="object",
            _return_http_data_only=True,
        )

    with pytest.raises(k8s.ApiException) as failure:
        apply([])
    assert failure.value.status == 422
    assert "fieldManager: Required value" in refusal(failure.value)["message"]
    apply([("fieldManager", "test"), ("force", "true")])
    crd["metadata"]["annotations"] = {"v": "2"}
    apply([("fieldManager", "test"), ("force", "true")])
    stored = kube.get("customresourcedefinitions", crd["metadata"]["name"])
    assert stored is not None and stored["metadata"]["annotations"] == {"v": "2"}
    methods = [(r.method, r.content_type) for r in kube.mutating_requests()]
    assert methods[-1] == ("PATCH", "application/apply-patch+yaml")


# ------------------------------------------------------------------ deletion


def test_a_deleted_namespace_is_terminating_until_its_content_is_gone(kube: FakeKube) -> None:
    kube.hold_namespaces()
    namespace(kube, "jhub")
    core = k8s.CoreV1Api(kube.api_client)
    core.create_namespaced_config_map("jhub", {"metadata": {"name": "plain"}})
    core.create_namespaced_config_map(
        "jhub", {"metadata": {"name": "held", "finalizers": ["example.org/keep"]}}
    )

    core.delete_namespace("jhub")

    terminating = core.read_namespace("jhub")
    assert terminating.status.phase == "Terminating"
    assert terminating.metadata.deletion_timestamp is not None
    assert kube.get("configmaps", "plain", "jhub") is None
    held = kube.get("configmaps", "held", "jhub")
    assert held is not None and held["metadata"]["deletionTimestamp"]
    with pytest.raises(k8s.ApiException) as failure:
        core.create_namespaced_secret("jhub", {"metadata": {"name": "late"}})
    assert failure.value.status == 403
    assert refusal(failure.value)["message"] == (
        'secrets "late" is forbidden: unable to create new content in namespace jhub '
        "because it is being terminated"
    )
    assert kube.finish_namespace("jhub") is False  # "held" keeps it

    core.patch_namespaced_config_map("held", "jhub", {"metadata": {"finalizers": None}})
    assert kube.get("configmaps", "held", "jhub") is None
    assert kube.finish_namespace("jhub") is True
    with pytest.raises(k8s.ApiException) as gone:
        core.read_namespace("jhub")
    assert gone.value.status == 404


def test_namespace_goes_by_itself_a_moment_later(kube: FakeKube) -> None:
    namespace(kube, "jhub")
    core = k8s.CoreV1Api(kube.api_client)
    core.delete_namespace("jhub")
    assert core.read_namespace("jhub").status.phase == "Terminating"
    deadline = time.monotonic() + 5
    while kube.get("namespaces", "jhub") is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert kube.get("namespaces", "jhub") is None


def test_object_with_finalizers_waits_and_watchers_see_each_step(kube: FakeKube) -> None:
    namespace(kube, "jhub")
    core = k8s.CoreV1Api(kube.api_client)
    created = core.create_namespaced_config_map(
        "jhub", {"metadata": {"name": "c", "finalizers": ["example.org/x"]}}
    )
    seen: list[str] = []

    def observe() -> None:
        for event in k8s_watch.Watch().stream(
            core.list_namespaced_config_map,
            "jhub",
            resource_version=created.metadata.resource_version,
            timeout_seconds=3,
        ):
            seen.append(event["type"])
            if event["type"] == "DELETED":
                return

    watcher = threading.Thread(target=observe)
    watcher.start()
    time.sleep(0.2)
    core.delete_namespaced_config_map("c", "jhub")
    assert kube.get("configmaps", "c", "jhub") is not None
    core.patch_namespaced_config_map("c", "jhub", {"metadata": {"finalizers": []}})
    watcher.join()
    assert kube.get("configmaps", "c", "jhub") is None
    assert seen == ["MODIFIED", "DELETED"]


# ------------------------------------------------------------------ protobuf bodies


def protobuf_secret(name: str, data: dict[str, bytes]) -> bytes:
    """A Secret as client-go's typed client encodes it (k8s\\x00 + runtime.Unknown)."""

    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2]) + varint(len(payload)) + payload

    def varint(value: int) -> bytes:
        out = b""
        while True:
            byte, value = value & 0x7F, value >> 7
            if value:
                out += bytes([byte | 0x80])
            else:
                return out + bytes([byte])

    meta = field(1, name.encode()) + field(11, field(1, b"owner") + field(2, b"helm"))
    secret = field(1, meta)
    for key, value in data.items():
        secret += field(2, field(1, key.encode()) + field(2, value))
    secret += field(3, b"helm.sh/release.v1")
    type_meta = field(1, b"v1") + field(2, b"Secret")
    return b"k8s\x00" + field(1, type_meta) + field(2, secret)


def test_protobuf_secret_bodies_are_stored_as_json(kube: FakeKube) -> None:
    import urllib.request

    namespace(kube, "jhub")
    request = urllib.request.Request(
        f"{kube.url}/api/v1/namespaces/jhub/secrets",
        data=protobuf_secret("sh.helm.release.v1.demo.v1", {"release": b"H4sI"}),
        headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
    stored = kube.get("secrets", "sh.helm.release.v1.demo.v1", "jhub")
    assert stored is not None
    assert stored["type"] == "helm.sh/release.v1"
    assert stored["metadata"]["labels"] == {"owner": "helm"}
    assert stored["data"] == {"release": base64.b64encode(b"H4sI").decode()}


def test_core_discovery_names_its_group_version(kube: FakeKube) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{kube.url}/api/v1") as response:
        assert json.load(response)["groupVersion"] == "v1"


def test_workloads_are_defaulted_as_the_apps_api_does(kube: FakeKube) -> None:
    created = k8s.AppsV1Api(kube.api_client).create_namespaced_deployment(
        "kube-system",
        {
            "metadata": {"name": "scaler"},
            "spec": {
                "selector": {"matchLabels": {"app": "s"}},
                "template": {
                    "metadata": {"labels": {"app": "s"}},
                    "spec": {"containers": [{"name": "c", "image": "scaler:v1.32.0"}]},
                },
            },
        },
    )
    assert created.spec.replicas == 1
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.revision_history_limit == 10
    pod = created.spec.template.spec
    assert (pod.restart_policy, pod.dns_policy) == ("Always", "ClusterFirst")
    assert pod.containers[0].image_pull_policy == "IfNotPresent"


def test_reapplying_the_same_configuration_changes_nothing(kube: FakeKube) -> None:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            },
        },
    }
    seen = []
    for _ in range(2):
        applied = kube.api_client.call_api(
            "/apis/apps/v1/namespaces/default/deployments/web",
            "PATCH",
            query_params=[("fieldManager", "helm")],
            header_params={"Content-Type": "application/apply-patch+yaml"},
            body=body,
            response_type="object",
            _return_http_data_only=True,
        )
        seen.append((applied["metadata"]["generation"], applied["metadata"]["resourceVersion"]))
    assert seen[0] == seen[1]


# ------------------------------------------------------------------ exec


def _exec_pod(
    kube: FakeKube, name: str, *, node: str | None = "node-1", containers: int = 1
) -> None:
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": "x"} for i in range(containers)]
    }
    if node:
        spec["nodeName"] = node
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
            "status": {"phase": "Running"},
        }
    )


def _exec(kube: FakeKube, pod: str, command: list[str], **kwargs: Any) -> Any:
    from kubernetes.stream import stream

    return stream(
        k8s.CoreV1Api(kube.api_client).connect_get_namespaced_pod_exec,
        pod,
        "default",
        command=command,
        stdin=False,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("node", "containers", "container", "message"),
    [
        (None, 1, None, "pod p does not have a host assigned"),
        ("node-1", 2, None, "a container name must be specified for pod p, choose one of: [c0 c1]"),
        ("node-1", 1, "other", "container other is not valid for pod p"),
    ],
)
def test_exec_is_refused_as_the_api_server_refuses_it(
    kube: FakeKube, node: str | None, containers: int, container: str | None, message: str
) -> None:
    _exec_pod(kube, "p", node=node, containers=containers)
    extra = {"container": container} if container else {}
    with pytest.raises(k8s.ApiException) as refused:
        _exec(kube, "p", ["true"], **extra)
    assert "400 Bad Request" in str(refused.value)
    assert message in str(refused.value)


def test_exec_of_a_missing_pod_is_not_found(kube: FakeKube) -> None:
    with pytest.raises(k8s.ApiException) as refused:
        _exec(kube, "nowhere", ["true"])
    assert '"reason": "NotFound"' in str(refused.value)


def test_exec_carries_output_and_the_exit_code_in_the_status_channel(kube: FakeKube) -> None:
    import sys

    _exec_pod(kube, "p")
    kube.on_exec("default", "p", lambda container, cmd: [sys.executable, "-c", cmd[1]])
    session = _exec(
        kube, "p", ["sh", "import sys; print('out'); sys.stderr.write('err'); sys.exit(3)"]
    )
    session.run_forever(timeout=30)
    assert session.read_stdout() == "out\n"
    assert session.read_stderr() == "err"
    assert session.returncode == 3
    # A program the "image" lacks: exit 127, as a runtime answers.
    kube.on_exec("default", "p", lambda container, cmd: None)
    missing = _exec(kube, "p", ["nope"])
    missing.run_forever(timeout=30)
    assert missing.returncode == 127
    assert [e.command[0] for e in kube.execs] == ["sh", "nope"]
