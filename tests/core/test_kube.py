"""core.kube against kmock's Kubernetes emulator, through the real kubernetes client."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from scripts.core import kube as corekube
from scripts.core import manifests
from scripts.core.changes import Changes
from scripts.core.console import Console
from scripts.core.errors import OperationFailed
from scripts.core.settings import Storage
from tests.support.clock import FakeClock
from tests.support.fakekube import FakeKube


def changes(dry_run: bool = False) -> Changes:
    return Changes(Console(), dry_run=dry_run)


def stored(kube: FakeKube, resource: str, name: str, namespace: str | None = None) -> Any:
    found = kube.get(resource, name, namespace)
    assert found is not None, f"{resource}/{name} missing"
    return found


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}


# ------------------------------------------------------------------ client


def test_api_client_reads_a_kubeconfig(kube: FakeKube) -> None:
    from kubernetes import client

    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "seen"}})
    api = corekube.api_client(kube.kubeconfig_path)
    names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
    assert "seen" in names


def test_missing_kubeconfig_names_the_task(tmp_path: Path) -> None:
    with pytest.raises(OperationFailed, match="does not exist") as failure:
        corekube.api_client(tmp_path / "nope")
    assert "cluster.kubeconfig" in failure.value.remedy


def test_broken_kubeconfig_is_an_operation_failure(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    with pytest.raises(OperationFailed, match="not usable"):
        corekube.api_client(path)


# ------------------------------------------------------------------ ensure


def test_namespace_created_then_unchanged(kube: FakeKube) -> None:
    manifest = manifests.namespace("jhub")
    assert corekube.ensure(kube.api_client, manifest, changes()) == "created"
    # The API server adds the name label itself (SetDefaults_Namespace).
    assert stored(kube, "namespaces", "jhub")["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "jhub-openstack",
        "kubernetes.io/metadata.name": "jhub",
    }
    kube.clear_requests()
    assert corekube.ensure(kube.api_client, manifest, changes()) == "unchanged"
    assert kube.mutating_requests() == []


def test_foreign_labels_survive_and_ours_are_restored(kube: FakeKube) -> None:
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "jhub", "labels": {"team": "research"}},
        }
    )
    assert corekube.ensure(kube.api_client, manifests.namespace("jhub"), changes()) == "updated"
    labels = stored(kube, "namespaces", "jhub")["metadata"]["labels"]
    assert labels == {
        "team": "research",
        "app.kubernetes.io/managed-by": "jhub-openstack",
        "kubernetes.io/metadata.name": "jhub",
    }
    (patch,) = [r for r in kube.mutating_requests() if r.method == "PATCH"]
    # Only our label is sent: the team's label is left to its owner.
    assert patch.body["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "jhub-openstack"}


def test_dry_run_reads_but_does_not_write(kube: FakeKube) -> None:
    planned = changes(dry_run=True)
    assert corekube.ensure(kube.api_client, manifests.namespace("jhub"), planned) == "created"
    assert kube.mutating_requests() == []
    assert kube.get("namespaces", "jhub") is None
    assert planned.made == ["(dry run) create Namespace jhub"]


def secret_manifest(data: dict[str, str]) -> dict[str, Any]:
    return manifests.secret("hub-metrics-token", "prometheus", data)


def test_secret_compares_decoded_data(kube: FakeKube) -> None:
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prometheus"}})
    first = secret_manifest({"token": "s3cret-value-one", "extra": "x"})
    assert corekube.ensure(kube.api_client, first, changes()) == "created"
    assert decoded(stored(kube, "secrets", "hub-metrics-token", "prometheus")) == {
        "token": "s3cret-value-one",
        "extra": "x",
    }
    kube.clear_requests()
    assert corekube.ensure(kube.api_client, first, changes()) == "unchanged"
    assert kube.mutating_requests() == []

    record = changes()
    second = secret_manifest({"token": "s3cret-value-two"})
    assert corekube.ensure(kube.api_client, second, record) == "updated"
    assert decoded(stored(kube, "secrets", "hub-metrics-token", "prometheus")) == {
        "token": "s3cret-value-two"
    }
    # What was changed is named, never the value.
    assert record.made == ["update Secret prometheus/hub-metrics-token (data)"]


def test_config_map_data_is_replaced_key_by_key(kube: FakeKube) -> None:
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prometheus"}})
    board = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "dash",
            "namespace": "prometheus",
            "labels": {"grafana_dashboard": "1"},
        },
        "data": {"a.json": "{}", "b.json": "{}"},
    }
    assert corekube.ensure(kube.api_client, board, changes()) == "created"
    board["data"] = {"a.json": '{"v": 2}'}
    assert corekube.ensure(kube.api_client, board, changes()) == "updated"
    assert stored(kube, "configmaps", "dash", "prometheus")["data"] == {"a.json": '{"v": 2}'}


def test_storage_class_default_annotation_follows_config(kube: FakeKube) -> None:
    storage = Storage(availability_zone="nova", default_class=True)
    assert (
        corekube.ensure(kube.api_client, manifests.storage_class(storage), changes()) == "created"
    )
    live = stored(kube, "storageclasses", "cinder-storage")
    assert live["provisioner"] == "cinder.csi.openstack.org"
    assert live["parameters"] == {"availability": "nova"}
    assert live["metadata"]["annotations"] == {
        "storageclass.kubernetes.io/is-default-class": "true"
    }
    not_default = manifests.storage_class(Storage(availability_zone="nova", default_class=False))
    assert corekube.ensure(kube.api_client, not_default, changes()) == "updated"
    annotations = stored(kube, "storageclasses", "cinder-storage")["metadata"].get("annotations")
    assert not annotations
    kube.clear_requests()
    assert corekube.ensure(kube.api_client, not_default, changes()) == "unchanged"
    assert kube.mutating_requests() == []


def test_immutable_storage_class_fields_are_refused_not_patched(kube: FakeKube) -> None:
    corekube.ensure(kube.api_client, manifests.storage_class(Storage()), changes())
    kube.clear_requests()
    moved = manifests.storage_class(Storage(availability_zone="ceph-az"))
    with pytest.raises(OperationFailed, match="parameters") as failure:
        corekube.ensure(kube.api_client, moved, changes())
    assert "kubectl delete storageclass cinder-storage" in failure.value.remedy
    assert kube.mutating_requests() == []


def test_priority_class_value_is_immutable(kube: FakeKube) -> None:
    wanted = manifests.priority_class("nvidia-priority-class")
    assert corekube.ensure(kube.api_client, wanted, changes()) == "created"
    assert corekube.ensure(kube.api_client, wanted, changes()) == "unchanged"
    lowered = {**wanted, "value": 1000}
    with pytest.raises(OperationFailed, match="value"):
        corekube.ensure(kube.api_client, lowered, changes())


def test_unsupported_kind_is_a_bug() -> None:
    with pytest.raises(ValueError, match="not 'Deployment'"):
        corekube.ensure(None, {"kind": "Deployment", "metadata": {"name": "x"}}, changes())


def test_api_errors_carry_the_servers_message(kube: FakeKube) -> None:
    import kmock

    refusal = {"kind": "Status", "status": "Failure", "message": "forbidden by policy"}
    # kmock 0.8 imports Response into its package but leaves it out of __all__.
    response = kmock.Response(status=403, payload=refusal)  # type: ignore[attr-defined]
    kube.emulator["get /api/v1/namespaces/broken"] << response
    with pytest.raises(OperationFailed, match=r"403 .*forbidden by policy"):
        corekube.ensure(kube.api_client, manifests.namespace("broken"), changes())
    assert kube.mutating_requests() == []


# ------------------------------------------------------------------ reading


def test_read_secret_decodes_and_missing_is_none(kube: FakeKube) -> None:
    assert corekube.read_secret(kube.api_client, "jhub", "proxy-public-tls-acme") is None
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "proxy-public-tls-acme", "namespace": "jhub"},
            "data": {"acme.json": base64.b64encode(b'{"certs": 1}').decode()},
        }
    )
    assert corekube.read_secret(kube.api_client, "jhub", "proxy-public-tls-acme") == {
        "acme.json": '{"certs": 1}'
    }


def test_load_balancer_address(kube: FakeKube) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "proxy-public", "namespace": "jhub"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
    }
    assert corekube.load_balancer_address(kube.api_client, "jhub", "proxy-public") is None
    kube.create(service)
    assert corekube.load_balancer_address(kube.api_client, "jhub", "proxy-public") is None
    kube.patch(
        "services",
        "proxy-public",
        {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}},
        namespace="jhub",
    )
    assert corekube.load_balancer_address(kube.api_client, "jhub", "proxy-public") == "192.0.2.10"


# ------------------------------------------------------------------ waiting


def pod(name: str, ready: bool, waiting: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "phase": "Running" if ready else "Pending",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    if waiting:
        status["containerStatuses"] = [
            {
                "name": "hub",
                "image": "hub",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": waiting}},
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "jhub", "labels": {"component": "hub"}},
        "spec": {"containers": [{"name": "hub", "image": "hub"}]},
        "status": status,
    }


def test_wait_for_pods_returns_when_all_are_ready(kube: FakeKube) -> None:
    kube.create(pod("hub-1", ready=False))

    def ready_after_two_polls(_: float) -> None:
        if len(clock.sleeps) == 2:
            kube.patch("pods", "hub-1", {"status": pod("hub-1", True)["status"]}, "jhub")

    clock = FakeClock(on_sleep=ready_after_two_polls)
    found = corekube.wait_for_pods(
        kube.api_client, "jhub", "component=hub", what="the hub", timeout=300, clock=clock
    )
    assert [(p.name, p.ready) for p in found] == [("hub-1", True)]
    assert len(clock.sleeps) == 2


def test_wait_for_pods_times_out_naming_the_pod_state(kube: FakeKube) -> None:
    kube.create(pod("hub-1", ready=False, waiting="ImagePullBackOff"))
    with pytest.raises(OperationFailed, match=r"the hub.*hub-1: ImagePullBackOff") as failure:
        corekube.wait_for_pods(
            kube.api_client,
            "jhub",
            "component=hub",
            what="the hub",
            timeout=60,
            clock=FakeClock(),
        )
    assert "kubectl describe pod -n jhub hub-1" in failure.value.remedy


def test_wait_for_pods_without_pods_says_so(kube: FakeKube) -> None:
    with pytest.raises(OperationFailed, match="no pod in jhub matches component=hub"):
        corekube.wait_for_pods(
            kube.api_client,
            "jhub",
            "component=hub",
            what="the hub",
            timeout=30,
            clock=FakeClock(),
        )


def test_hopeless_pods_fail_at_once(kube: FakeKube) -> None:
    kube.create(pod("hub-1", ready=False, waiting="InvalidImageName"))
    clock = FakeClock()
    with pytest.raises(OperationFailed, match="cannot start \\(InvalidImageName\\)"):
        corekube.wait_for_pods(
            kube.api_client, "jhub", "component=hub", what="the hub", timeout=600, clock=clock
        )
    assert clock.sleeps == []


# ------------------------------------------------------------------ what the server adds


def service_manifest() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "probe", "namespace": "jhub", "labels": {"app": "probe"}},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}]},
    }


EVERY_KIND = {
    "Namespace": lambda: manifests.namespace("jhub"),
    "Secret": lambda: manifests.secret("token", "jhub", {"token": "s3cret-value-one"}),
    "ConfigMap": lambda: {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "dash", "namespace": "jhub"},
        "data": {"a.json": "{}"},
    },
    "StorageClass": lambda: manifests.storage_class(Storage()),
    "PriorityClass": lambda: manifests.priority_class("nvidia-priority-class"),
    "Service": service_manifest,
}


@pytest.mark.parametrize("kind", sorted(EVERY_KIND))
def test_a_second_ensure_is_unchanged_despite_server_defaulting(kube: FakeKube, kind: str) -> None:
    """The API server defaults fields and leaves zero values out (the emulator does as it
    does); none of that may look like a difference, or every re-run would patch or refuse."""
    if kind != "Namespace":
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jhub"}})
    manifest = EVERY_KIND[kind]()
    assert corekube.ensure(kube.api_client, manifest, changes()) == "created"
    kube.clear_requests()
    assert corekube.ensure(kube.api_client, EVERY_KIND[kind](), changes()) == "unchanged"
    assert kube.mutating_requests() == []


def test_priority_class_as_the_server_keeps_it(kube: FakeKube) -> None:
    corekube.ensure(kube.api_client, manifests.priority_class("nvidia-priority-class"), changes())
    live = stored(kube, "priorityclasses", "nvidia-priority-class")
    # What the real API server stores for our manifest: preemptionPolicy defaulted,
    # globalDefault false not served (omitempty).
    assert live["preemptionPolicy"] == "PreemptLowerPriority"
    assert "globalDefault" not in live
    assert live["value"] == 1_000_000_000


def test_a_terminating_namespace_is_waited_for_then_created(kube: FakeKube) -> None:
    from kubernetes import client

    kube.hold_namespaces()
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jhub"}})
    client.CoreV1Api(kube.api_client).delete_namespace("jhub")

    def finish(_: float) -> None:
        kube.finish_namespace("jhub")

    clock = FakeClock(on_sleep=finish)
    outcome = corekube.ensure(kube.api_client, manifests.namespace("jhub"), changes(), clock=clock)
    assert outcome == "created"
    assert clock.sleeps  # it waited
    assert stored(kube, "namespaces", "jhub")["status"]["phase"] == "Active"


def test_a_namespace_stuck_terminating_names_the_remedy(kube: FakeKube) -> None:
    from kubernetes import client

    kube.hold_namespaces()
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jhub"}})
    client.CoreV1Api(kube.api_client).delete_namespace("jhub")
    with pytest.raises(OperationFailed, match="Namespace jhub to finish deleting") as failure:
        corekube.ensure(
            kube.api_client,
            manifests.namespace("jhub"),
            changes(),
            clock=FakeClock(),
            terminating_timeout=30,
        )
    assert "kubectl get namespace jhub -o yaml" in failure.value.remedy
    planned = changes(dry_run=True)
    assert corekube.ensure(kube.api_client, manifests.namespace("jhub"), planned) == "created"
    assert planned.made == [
        "(dry run) wait for Namespace jhub to finish deleting (Terminating)",
        "(dry run) create Namespace jhub",
    ]


# ------------------------------------------------------------------ lost answers


@pytest.mark.parametrize("kind", ["dropped_response", "504"])
def test_a_create_whose_answer_was_lost_is_not_made_twice_nor_an_error(
    kube: FakeKube, kind: str
) -> None:
    # The API server stores the namespace, then the answer is lost: the connection closes
    # (urllib3 does not retry a POST) or the load balancer in front answers 504.
    faults = kube.fail_request("POST", r"^/api/v1/namespaces$", kind)
    clock = FakeClock()
    outcome = corekube.ensure(kube.api_client, manifests.namespace("lost"), changes(), clock=clock)
    assert outcome == "created"
    assert [(f.kind, f.applied) for f in faults.injected] == [(kind, True)]
    posts = [r for r in kube.requests if r.method == "POST" and r.path == "/api/v1/namespaces"]
    assert len(posts) == 2  # the lost one and the retry that met the stored namespace
    assert stored(kube, "namespaces", "lost")["metadata"]["name"] == "lost"
    assert clock.sleeps  # the retry waited on the given clock, not the real one


def test_a_first_create_meeting_a_new_object_still_fails(kube: FakeKube) -> None:
    # AlreadyExists on the first attempt is someone else's object (made between our read
    # and our create): it is not adopted silently.
    from kubernetes import client

    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "taken"}})
    create = client.CoreV1Api(kube.api_client).create_namespace
    attempt = corekube.create_once(lambda: create(body=manifests.namespace("taken")))
    with pytest.raises(client.exceptions.ApiException) as raised:
        attempt()
    assert raised.value.status == 409
