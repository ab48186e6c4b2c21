"""The wire-level fakes behave like the real services as far as our code relies on them.

Everything here goes through the REAL client libraries (openstacksdk, python-magnumclient,
kubernetes); the fakes only replace the servers.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
from pathlib import Path
from typing import Any

import keystoneauth1.exceptions
import openstack
import openstack.exceptions
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from magnumclient import client as magnum_client
from magnumclient import exceptions as magnum_exc

from tests.support.fakecloud import FakeClock, FakeCloud
from tests.support.fakekube import FakeKube, match_label_selector


# ============================================================================ OpenStack
def _template(cloud: FakeCloud) -> Any:
    return cloud.conn.container_infrastructure_management.create_cluster_template(
        name="k8s-capi",
        coe="kubernetes",
        image_id="ubuntu-2204-kube-v1.31.4",
        external_network_id="public",
        flavor_id="m1.medium",
        master_flavor_id="m1.small",
        labels={"kube_tag": "v1.31.4", "auto_scaling_enabled": "true"},
    )


def _complete_cluster(cloud: FakeCloud, name: str = "hub") -> dict[str, Any]:
    return cloud.add_cluster(name, node_count=2)


def test_cluster_create_polls_through_in_progress_to_complete(fake_cloud: FakeCloud) -> None:
    coe = fake_cloud.conn.container_infrastructure_management
    template = _template(fake_cloud)
    assert [t.name for t in coe.cluster_templates()] == ["k8s-capi"]

    created = coe.create_cluster(
        name="hub", cluster_template_id=template.id, node_count=2, master_count=1
    )
    assert created.status is None  # Magnum answers 202 with the uuid only
    assert fake_cloud.log.find("POST", r"^/v1/clusters$")[-1].body["node_count"] == 2

    first = coe.get_cluster(created.id)
    assert first.status == "CREATE_IN_PROGRESS"
    assert first.api_address is None
    second = coe.get_cluster(created.id)
    assert second.status == "CREATE_COMPLETE"
    assert second.status_reason == "Stack CREATE completed successfully"
    assert second.api_address.startswith("https://") and second.api_address.endswith(":6443")
    assert second.labels["kube_tag"] == "v1.31.4"  # inherited from the template
    # magnum-capi-helm (the default template's driver) never fills the address lists.
    assert second.node_addresses == [] and second.master_addresses == []

    # The list is a summary, like Magnum's: no status_reason or api_address there.
    listed = fake_cloud.conn.session.get("https://magnum.fake.test/v1/clusters").json()["clusters"][
        0
    ]
    assert listed["status"] == "CREATE_COMPLETE" and "api_address" not in listed
    # Nodes exist as Nova servers once the cluster is complete.
    names = sorted(s.name for s in fake_cloud.conn.compute.servers())
    # capi-helm names them after the release (stack_id): `<stack_id>-control-plane-N`.
    assert len(names) == 3 and any(n.startswith("hub-") and "-control-plane-" in n for n in names)


def test_find_cluster_by_name_keeps_the_name_as_id(fake_cloud: FakeCloud) -> None:
    cluster = _complete_cluster(fake_cloud)
    found = fake_cloud.conn.container_infrastructure_management.find_cluster("hub")
    assert found.uuid == cluster["uuid"]
    assert found.id == "hub"  # openstacksdk quirk with Magnum's name-or-uuid GET


def test_failed_creation_reports_status_reason(fake_cloud: FakeCloud) -> None:
    template = _template(fake_cloud)
    fake_cloud.fail_next("cluster", "Quota exceeded for instances: Requested 3, allowed 2")
    created = fake_cloud.conn.container_infrastructure_management.create_cluster(
        name="hub", cluster_template_id=template.id
    )
    fake_cloud.settle_all()

    via_sdk = fake_cloud.conn.container_infrastructure_management.get_cluster(created.id)
    via_magnum = fake_cloud.magnum.clusters.get(created.id)
    assert via_sdk.status == via_magnum.status == "CREATE_FAILED"
    assert via_magnum.status_reason.startswith("Quota exceeded")
    assert via_sdk.status_reason == via_magnum.status_reason
    groups = fake_cloud.magnum.nodegroups.list(created.id)
    assert {g.status for g in groups} == {"CREATE_FAILED"}


def test_transitions_follow_the_injected_clock(fake_cloud: FakeCloud) -> None:
    fake_cloud.settle_polls = None
    fake_cloud.settle_seconds = 600
    template = _template(fake_cloud)
    coe = fake_cloud.conn.container_infrastructure_management
    created = coe.create_cluster(name="hub", cluster_template_id=template.id)
    for _ in range(5):
        assert coe.get_cluster(created.id).status == "CREATE_IN_PROGRESS"
    fake_cloud.clock.sleep(599)
    assert coe.get_cluster(created.id).status == "CREATE_IN_PROGRESS"
    fake_cloud.clock.advance(1)
    assert coe.get_cluster(created.id).status == "CREATE_COMPLETE"
    assert fake_cloud.clock.sleeps == [599]


def test_fake_clock() -> None:
    clock = FakeClock(start=10)
    clock.sleep(2.5)
    clock.advance(1)
    assert clock.monotonic() == 13.5
    assert clock.time() > 1.7e9


def test_cluster_delete_goes_through_delete_in_progress(fake_cloud: FakeCloud) -> None:
    cluster = _complete_cluster(fake_cloud)
    coe = fake_cloud.conn.container_infrastructure_management
    coe.delete_cluster(cluster["uuid"])
    assert coe.get_cluster(cluster["uuid"]).status == "DELETE_IN_PROGRESS"
    with pytest.raises(openstack.exceptions.NotFoundException):
        coe.get_cluster(cluster["uuid"])
    assert fake_cloud.clusters == {} and fake_cloud.nodegroups == {}
    assert fake_cloud.servers == {}


def test_duplicate_names_make_get_by_name_ambiguous(fake_cloud: FakeCloud) -> None:
    template = _template(fake_cloud)
    coe = fake_cloud.conn.container_infrastructure_management
    coe.create_cluster(name="hub", cluster_template_id=template.id)
    coe.create_cluster(name="hub", cluster_template_id=template.id)
    with pytest.raises(openstack.exceptions.ConflictException):
        coe.find_cluster("hub")


def test_cluster_resize_and_patch_via_magnumclient(fake_cloud: FakeCloud) -> None:
    cluster = _complete_cluster(fake_cloud)
    mc = fake_cloud.magnum
    mc.clusters.update(cluster["uuid"], [{"op": "replace", "path": "/node_count", "value": 3}])
    assert mc.clusters.get(cluster["uuid"]).status == "UPDATE_IN_PROGRESS"
    fake_cloud.settle_all()
    assert mc.clusters.get(cluster["uuid"]).node_count == 3
    mc.clusters.resize(cluster["uuid"], 1)
    fake_cloud.settle_all()
    assert mc.clusters.get(cluster["uuid"]).node_count == 1
    with pytest.raises(magnum_exc.BadRequest):
        mc.clusters.update(cluster["uuid"], [{"op": "replace", "path": "/name", "value": "x"}])
    # openstacksdk's update_cluster sends a `move /uuid -> /id` op that Magnum rejects.
    with pytest.raises(openstack.exceptions.BadRequestException):
        fake_cloud.conn.container_infrastructure_management.update_cluster(
            cluster["uuid"], node_count=2
        )


def test_cluster_update_while_in_progress_is_silently_ignored(fake_cloud: FakeCloud) -> None:
    cluster = fake_cloud.add_cluster("hub", status="CREATE_IN_PROGRESS", node_count=1)
    mc = fake_cloud.magnum
    mc.clusters.update(cluster["uuid"], [{"op": "replace", "path": "/node_count", "value": 4}])
    fake_cloud.settle_all()
    assert mc.clusters.get(cluster["uuid"]).node_count == 1


def test_nodegroups_via_magnumclient(fake_cloud: FakeCloud) -> None:
    cluster = _complete_cluster(fake_cloud)
    mc = fake_cloud.magnum
    listed = mc.nodegroups.list(cluster["uuid"])
    assert {(g.name, g.role, g.is_default) for g in listed} == {
        ("default-master", "master", True),
        ("default-worker", "worker", True),
    }
    assert not hasattr(listed[0], "max_node_count")  # summaries, like Magnum
    # min_node_count > node_count (default 1): NodeGroupInvalidInput, a 409 Conflict in Magnum
    with pytest.raises(magnum_exc.Conflict, match="min_node_count for gpu is invalid"):
        mc.nodegroups.create(
            cluster["uuid"],
            name="gpu",
            flavor_id="g1.large.a100",
            min_node_count=2,
            max_node_count=3,
        )

    created = mc.nodegroups.create(
        cluster["uuid"],
        name="gpu",
        flavor_id="g1.large.a100",
        node_count=1,
        min_node_count=0,
        max_node_count=3,
        role="gpu",
        labels={"gpu": "true"},
    )
    assert created.status == "CREATE_IN_PROGRESS"
    assert mc.nodegroups.get(cluster["uuid"], created.uuid).status == "CREATE_IN_PROGRESS"
    full = mc.nodegroups.get(cluster["uuid"], "gpu")
    assert full.status == "CREATE_COMPLETE"
    assert (full.min_node_count, full.max_node_count, full.labels) == (0, 3, {"gpu": "true"})
    with pytest.raises(magnum_exc.Conflict):
        mc.nodegroups.create(cluster["uuid"], name="gpu", node_count=1)

    updated = mc.nodegroups.update(
        cluster["uuid"],
        "default-worker",
        patch=[
            {"op": "replace", "path": "/max_node_count", "value": 5},
            {"op": "replace", "path": "/min_node_count", "value": 1},
        ],
    )
    assert (updated.min_node_count, updated.max_node_count) == (1, 5)
    with pytest.raises(magnum_exc.BadRequest):
        mc.nodegroups.update(
            cluster["uuid"],
            "default-worker",
            patch=[{"op": "replace", "path": "/node_count", "value": 9}],
        )
    with pytest.raises(magnum_exc.Conflict):  # NodeGroupInvalidInput: 409
        mc.nodegroups.update(
            cluster["uuid"],
            "default-worker",
            patch=[{"op": "replace", "path": "/max_node_count", "value": 0}],
        )
    with pytest.raises(magnum_exc.BadRequest):
        mc.nodegroups.delete(cluster["uuid"], "default-worker")

    mc.nodegroups.delete(cluster["uuid"], "gpu")
    fake_cloud.settle_all()
    assert {g.name for g in mc.nodegroups.list(cluster["uuid"])} == {
        "default-master",
        "default-worker",
    }


def test_nodegroup_failure_and_not_ready_cluster(fake_cloud: FakeCloud) -> None:
    pending = fake_cloud.add_cluster("early", status="CREATE_IN_PROGRESS")
    with pytest.raises(magnum_exc.Conflict):
        fake_cloud.magnum.nodegroups.create(pending["uuid"], name="gpu", node_count=1)
    cluster = _complete_cluster(fake_cloud)
    fake_cloud.fail_next("nodegroup", "No valid host was found.", name="gpu")
    fake_cloud.magnum.nodegroups.create(cluster["uuid"], name="gpu", node_count=1)
    fake_cloud.settle_all()
    failed = fake_cloud.magnum.nodegroups.get(cluster["uuid"], "gpu")
    assert (failed.status, failed.status_reason) == ("CREATE_FAILED", "No valid host was found.")


def test_magnumclient_without_api_version_gets_406_on_nodegroups(fake_cloud: FakeCloud) -> None:
    cluster = _complete_cluster(fake_cloud)
    bare = magnum_client.Client("1", session=fake_cloud.conn.session)
    assert bare.clusters.get(cluster["uuid"]).name == "hub"  # 1.1 is enough for clusters
    with pytest.raises(magnum_exc.HttpError) as failure:
        bare.nodegroups.list(cluster["uuid"])
    assert failure.value.http_status == 406


def _csr(common_name: str) -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


def test_certificate_signing_yields_a_cert_that_verifies_against_the_ca(
    fake_cloud: FakeCloud,
) -> None:
    cluster = _complete_cluster(fake_cloud)
    coe = fake_cloud.conn.container_infrastructure_management
    ca = x509.load_pem_x509_certificate(coe.get_cluster_certificate(cluster["uuid"]).pem.encode())
    key, csr_pem = _csr("admin")

    signed = coe.create_cluster_certificate(cluster_uuid=cluster["uuid"], csr=csr_pem)
    cert = x509.load_pem_x509_certificate(signed.pem.encode())
    cert.verify_directly_issued_by(ca)
    signed_key = cert.public_key()
    assert isinstance(signed_key, rsa.RSAPublicKey)
    assert signed_key.public_numbers() == key.public_key().public_numbers()
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "admin"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    assert cert.not_valid_after_utc > datetime.datetime.now(tz=datetime.UTC)

    via_magnum = fake_cloud.magnum.certificates.create(
        cluster_uuid=cluster["uuid"], csr=_csr("other")[1]
    )
    x509.load_pem_x509_certificate(via_magnum.pem.encode()).verify_directly_issued_by(ca)
    with pytest.raises(openstack.exceptions.BadRequestException):
        coe.create_cluster_certificate(cluster_uuid=cluster["uuid"], csr="not a csr")


def test_load_balancer_lifecycle(fake_cloud: FakeCloud) -> None:
    lb_api = fake_cloud.conn.load_balancer
    subnet = fake_cloud.conn.network.find_subnet("private-subnet")
    lb = lb_api.create_load_balancer(name="diag", vip_subnet_id=subnet.id)
    assert lb.provisioning_status == "PENDING_CREATE"
    assert lb_api.get_load_balancer(lb.id).provisioning_status == "PENDING_CREATE"
    assert lb_api.get_load_balancer(lb.id).provisioning_status == "ACTIVE"

    ssh = lb_api.create_listener(
        name="ssh", protocol="TCP", protocol_port=22, load_balancer_id=lb.id
    )
    with pytest.raises(openstack.exceptions.ConflictException):  # immutable while updating
        lb_api.create_listener(
            name="api", protocol="TCP", protocol_port=6443, load_balancer_id=lb.id
        )
    fake_cloud.settle_all()
    api = lb_api.create_listener(
        name="api", protocol="TCP", protocol_port=6443, load_balancer_id=lb.id
    )
    fake_cloud.settle_all()
    pool = lb_api.create_pool(
        name="api", protocol="TCP", lb_algorithm="ROUND_ROBIN", listener_id=api.id
    )
    fake_cloud.settle_all()
    lb_api.create_member(pool, address="10.0.0.50", protocol_port=6443, subnet_id=subnet.id)
    fake_cloud.settle_all()
    assert [m.address for m in lb_api.members(pool)] == ["10.0.0.50"]
    assert lb_api.get_listener(ssh.id).provisioning_status == "ACTIVE"
    assert lb_api.get_listener(api.id).default_pool_id == pool.id

    assert [x.id for x in lb_api.load_balancers(name="diag")] == [lb.id]
    assert list(lb_api.load_balancers(name="other")) == []
    with pytest.raises(openstack.exceptions.BadRequestException):  # has children
        lb_api.delete_load_balancer(lb.id)
    lb_api.delete_load_balancer(lb.id, cascade=True)
    assert fake_cloud.log[-1].query == {"cascade": ["True"]}  # what openstacksdk sends
    assert lb_api.get_load_balancer(lb.id).provisioning_status == "PENDING_DELETE"
    with pytest.raises(openstack.exceptions.NotFoundException):
        lb_api.get_load_balancer(lb.id)
    assert fake_cloud.listeners == fake_cloud.pools == fake_cloud.members == {}
    assert fake_cloud.load_balancers == {}


def test_seeded_service_load_balancer_and_vanished_nodes(fake_cloud: FakeCloud) -> None:
    node = fake_cloud.add_server("hub-abc-default-worker-0")
    address = node["addresses"]["private"][0]["addr"]
    name = "kube_service_hub_jhub_proxy-public"
    fake_cloud.add_load_balancer(
        name, listeners=[("TCP", 80), ("TCP", 443)], members=[address], member_port=31080
    )
    lb_api = fake_cloud.conn.load_balancer
    (lb,) = lb_api.load_balancers(name=name)
    assert lb.provisioning_status == "ACTIVE" and len(lb.listeners) == 2
    pools = list(lb_api.pools(loadbalancer_id=lb.id))
    assert {m.address for p in pools for m in lb_api.members(p)} == {address}
    fake_cloud.remove_server(node["name"])
    live = {a["addr"] for s in fake_cloud.conn.compute.servers() for a in s.addresses["private"]}
    assert address not in live


def test_floating_ips(fake_cloud: FakeCloud) -> None:
    net_api = fake_cloud.conn.network
    public = net_api.find_network("public")
    assert public.is_router_external
    fip = net_api.create_ip(floating_network_id=public.id, description="hub proxy")
    assert fip.status == "DOWN" and fip.port_id is None
    pinned = net_api.create_ip(floating_network_id=public.id, floating_ip_address="203.0.113.99")
    with pytest.raises(openstack.exceptions.ConflictException):
        net_api.create_ip(floating_network_id=public.id, floating_ip_address="203.0.113.99")

    assert [i.id for i in net_api.ips(floating_ip_address="203.0.113.99")] == [pinned.id]
    assert [i.id for i in net_api.ips(description="hub proxy")] == [fip.id]

    port = fake_cloud.add_port("vip", ip="10.0.0.200")
    updated = net_api.update_ip(fip, port_id=port["id"])
    assert (updated.port_id, updated.fixed_ip_address, updated.status) == (
        port["id"],
        "10.0.0.200",
        "ACTIVE",
    )
    assert fake_cloud.log[-1].body == {"floatingip": {"port_id": port["id"]}}
    with pytest.raises(openstack.exceptions.ConflictException):
        net_api.update_ip(pinned, port_id=port["id"])
    assert net_api.update_ip(fip, port_id=None).port_id is None
    net_api.delete_ip(pinned)
    assert net_api.get_ip(fip.id).floating_ip_address == fip.floating_ip_address
    assert pinned.id not in fake_cloud.floating_ips


def test_flavors_and_servers(fake_cloud: FakeCloud) -> None:
    compute = fake_cloud.conn.compute
    flavor = compute.find_flavor("m1.large")
    assert (flavor.vcpus, flavor.ram, flavor.disk) == (4, 8192, 80)
    assert compute.get_flavor(flavor.id).name == "m1.large"
    gpu = fake_cloud.add_flavor(
        "g2.h100", vcpus=32, ram=262144, disk=200, extra_specs={"pci_passthrough:alias": "h100:1"}
    )
    assert compute.find_flavor("g2.h100").extra_specs == gpu["extra_specs"]
    assert compute.find_flavor("nope", ignore_missing=True) is None
    fake_cloud.add_server("worker-1", flavor="m1.large")
    (server,) = compute.servers(name="worker")
    assert server.flavor["vcpus"] == 4


def test_request_log(fake_cloud: FakeCloud) -> None:
    cluster = _complete_cluster(fake_cloud)
    fake_cloud.magnum.clusters.get(cluster["uuid"])
    fake_cloud.conn.network.create_ip(floating_network_id=fake_cloud.public_network_id)
    assert fake_cloud.count("POST", r"/auth/tokens") == 1
    assert fake_cloud.count("GET", r"^/v1/clusters/") == 1
    assert fake_cloud.count(None, "") == len(fake_cloud.log)
    mutating = fake_cloud.mutating_calls()
    assert [(r.method, r.path) for r in mutating] == [("POST", "/v2.0/floatingips")]
    assert mutating[0].body["floatingip"]["floating_network_id"] == fake_cloud.public_network_id


def test_clouds_yaml_for_application_code(
    fake_cloud: FakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = fake_cloud.clouds_yaml(tmp_path, monkeypatch)
    assert path.stat().st_mode & 0o777 == 0o600
    conn = openstack.connect(cloud="fake")
    try:
        flavor = conn.compute.find_flavor("m1.small")
        assert flavor is not None and flavor.vcpus == 1
        mc = magnum_client.Client("1", session=conn.session, api_version="latest")
        assert mc.cluster_templates.list() == []
    finally:
        conn.close()


def test_unknown_hosts_are_refused(fake_cloud: FakeCloud) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get("https://example.org/", timeout=1)


def test_random_faults_respect_rate_and_seed(fake_cloud: FakeCloud) -> None:
    session = fake_cloud.conn.session
    url = "https://nova.fake.test/v2.1/flavors/detail"

    def run(seed: int) -> list[str]:
        fake_cloud.inject_faults(0.2, seed=seed, methods=["GET"])
        outcomes = []
        for _ in range(300):
            try:
                outcomes.append(str(session.get(url, raise_exc=False).status_code))
            except keystoneauth1.exceptions.ConnectTimeout:
                outcomes.append("timeout")
        return outcomes

    first = run(seed=7)
    failed = sum(1 for o in first if o != "200")
    assert 35 <= failed <= 85  # 20 % of 300, binomial sd ~7
    assert {o for o in first if o != "200"} <= {"500", "502", "503", "timeout"}
    assert len(fake_cloud.injected_faults) == failed
    assert run(seed=7) == first
    fake_cloud.clear_faults()
    assert session.get(url).status_code == 200


def test_timed_out_create_may_have_happened(fake_cloud: FakeCloud) -> None:
    template = _template(fake_cloud)
    coe = fake_cloud.conn.container_infrastructure_management
    fake_cloud.fail_request("POST", r"^/v1/clusters$", "read_timeout", applied=True)
    with pytest.raises(keystoneauth1.exceptions.ConnectTimeout):
        coe.create_cluster(name="hub", cluster_template_id=template.id)
    assert [c["name"] for c in fake_cloud.clusters.values()] == ["hub"]  # it happened anyway
    assert fake_cloud.log[-1].fault == "read_timeout" and fake_cloud.log[-1].applied

    fake_cloud.fail_request("POST", r"^/v1/clusters$", "read_timeout", applied=False)
    with pytest.raises(keystoneauth1.exceptions.ConnectTimeout):
        coe.create_cluster(name="hub2", cluster_template_id=template.id)
    assert "hub2" not in {c["name"] for c in fake_cloud.clusters.values()}

    fake_cloud.fail_request("POST", r"^/v1/clusters$", "503")
    with pytest.raises(openstack.exceptions.HttpException) as failure:
        coe.create_cluster(name="hub3", cluster_template_id=template.id)
    assert failure.value.status_code == 503
    coe.create_cluster(name="hub3", cluster_template_id=template.id)  # one-shot rule
    assert sorted(c["name"] for c in fake_cloud.clusters.values()) == ["hub", "hub3"]


def test_wire_faults_are_haproxys_pages_resets_and_lost_answers(fake_cloud: FakeCloud) -> None:
    from tests.support.fakecloud.core import HAPROXY_PAGES

    template = _template(fake_cloud)
    coe = fake_cloud.conn.container_infrastructure_management
    url = "https://nova.fake.test/v2.1/flavors/detail"
    session = fake_cloud.conn.session
    fake_cloud.fail_request("GET", r"/flavors/detail$", "504")
    answer = session.get(url, raise_exc=False)
    assert answer.status_code == 504 and answer.headers["Content-Type"] == "text/html"
    assert answer.text == (
        "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n"
        "</body></html>\n"
    )
    assert set(HAPROXY_PAGES) == {502, 503, 504}

    # A 504 while the service went on: the create happened, the client saw the error.
    fake_cloud.fail_request("POST", r"^/v1/clusters$", "504", applied=True)
    with pytest.raises(openstack.exceptions.HttpException) as failure:
        coe.create_cluster(name="hub", cluster_template_id=template.id)
    assert failure.value.status_code == 504
    assert [c["name"] for c in fake_cloud.clusters.values()] == ["hub"]
    fake_cloud.fail_request("POST", r"^/v1/clusters$", "504", applied=False)
    with pytest.raises(openstack.exceptions.HttpException):
        coe.create_cluster(name="hub2", cluster_template_id=template.id)
    assert [c["name"] for c in fake_cloud.clusters.values()] == ["hub"]

    # A reset before the service saw the request: keystoneauth's ConnectFailure, no effect.
    fake_cloud.fail_request("POST", r"^/v1/clusters$", "connection_reset")
    with pytest.raises(keystoneauth1.exceptions.ConnectFailure):
        coe.create_cluster(name="hub3", cluster_template_id=template.id)
    assert [c["name"] for c in fake_cloud.clusters.values()] == ["hub"]
    assert [r.fault for r in fake_cloud.injected_faults] == [
        "504",
        "504",
        "504",
        "connection_reset",
    ]


def test_the_emulator_fails_requests_at_the_wire(kube: FakeKube) -> None:
    from kubernetes import client
    from urllib3.exceptions import ProtocolError

    core = client.CoreV1Api(kube.api_client)
    faults = kube.fail_request("POST", r"^/api/v1/namespaces$", "dropped_response")
    with pytest.raises(ProtocolError):
        core.create_namespace({"metadata": {"name": "stored"}})
    assert kube.get("namespaces", "stored") is not None  # it happened anyway
    kube.fail_request("POST", r"^/api/v1/namespaces$", "503")
    with pytest.raises(client.exceptions.ApiException) as refused:
        core.create_namespace({"metadata": {"name": "refused"}})
    assert refused.value.status == 503 and "No server is available" in refused.value.body
    assert kube.get("namespaces", "refused") is None
    kube.fail_request("POST", r"^/api/v1/namespaces$", "connection_reset")
    with pytest.raises(ProtocolError):
        core.create_namespace({"metadata": {"name": "reset"}})
    assert kube.get("namespaces", "reset") is None
    assert [(f.kind, f.applied) for f in faults.injected] == [
        ("dropped_response", True),
        ("503", False),
        ("connection_reset", False),
    ]

    # Random faults are seeded: the same seed fails the same requests.
    def failures(seed: int) -> list[str]:
        kube.inject_faults(0.3, seed=seed, kinds=("503",))
        seen = []
        for _ in range(40):
            try:
                core.read_namespace("default")
                seen.append("ok")
            except client.exceptions.ApiException as error:
                seen.append(str(error.status))
        return seen

    first = failures(3)
    assert 4 <= first.count("503") <= 20 and failures(3) == first
    kube.clear_faults()
    core.read_namespace("default")


# ============================================================================ Kubernetes
DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "hub", "labels": {"app": "jupyterhub", "component": "hub"}},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"component": "hub"}},
        "template": {
            "metadata": {"labels": {"component": "hub"}},
            "spec": {
                "containers": [
                    {
                        "name": "hub",
                        "image": "quay.io/jupyterhub/k8s-hub:4.4.0",
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    }
                ]
            },
        },
    },
}


def _pod(name: str, namespace: str = "jhub", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
    }


def test_namespace_and_deployment_through_the_real_client(kube: FakeKube) -> None:
    core, apps = k8s.CoreV1Api(kube.api_client), k8s.AppsV1Api(kube.api_client)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name="jhub")))
    # A cluster starts with its four system namespaces.
    assert [n.metadata.name for n in core.list_namespace().items] == [
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "jhub",
    ]
    assert core.read_namespace("jhub").metadata.uid

    created = apps.create_namespaced_deployment("jhub", DEPLOYMENT)
    assert created.metadata.namespace == "jhub" and created.metadata.resource_version
    stored = kube.get("deployments", "hub", "jhub")
    assert stored is not None and stored["spec"]["replicas"] == 1
    with pytest.raises(k8s.ApiException) as conflict:
        apps.create_namespaced_deployment("jhub", DEPLOYMENT)
    assert conflict.value.status == 409
    assert json.loads(conflict.value.body)["reason"] == "AlreadyExists"
    with pytest.raises(k8s.ApiException) as missing:
        apps.read_namespaced_deployment("nope", "jhub")
    assert missing.value.status == 404


def test_json_patch_with_test_op(kube: FakeKube) -> None:
    kube.create({**DEPLOYMENT, "metadata": {**DEPLOYMENT["metadata"], "namespace": "jhub"}})
    apps = k8s.AppsV1Api(kube.api_client)
    patched = apps.patch_namespaced_deployment(
        "hub",
        "jhub",
        [
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 0},
        ],
    )
    assert patched.spec.replicas == 0
    with pytest.raises(k8s.ApiException) as failure:
        apps.patch_namespaced_deployment(
            "hub",
            "jhub",
            [
                {"op": "test", "path": "/spec/replicas", "value": 1},
                {"op": "replace", "path": "/spec/replicas", "value": 5},
            ],
        )
    assert failure.value.status == 422
    assert json.loads(failure.value.body)["reason"] == "Invalid"
    assert kube.get("deployments", "hub", "jhub")["spec"]["replicas"] == 0  # type: ignore[index]
    patch_request = kube.mutating_requests()[-1]
    assert patch_request.content_type == "application/json-patch+json"
    assert patch_request.body == [  # as sent, without what the emulator adds
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 5},
    ]


def test_dict_patch_merges_dicts_but_replaces_lists(kube: FakeKube) -> None:
    kube.create({**DEPLOYMENT, "metadata": {**DEPLOYMENT["metadata"], "namespace": "jhub"}})
    apps = k8s.AppsV1Api(kube.api_client)
    patched = apps.patch_namespaced_deployment(
        "hub",
        "jhub",
        {
            "metadata": {"annotations": {"restarted": "now"}, "labels": {"component": None}},
            "spec": {"template": {"spec": {"containers": [{"name": "hub", "image": "new"}]}}},
        },
    )
    assert patched.metadata.labels == {"app": "jupyterhub"}  # None deletes a key
    assert patched.metadata.annotations == {"restarted": "now"}
    assert patched.spec.selector.match_labels == {"component": "hub"}  # dicts merge
    (container,) = patched.spec.template.spec.containers
    assert container.image == "new" and container.env is None  # list replaced, not merged
    assert kube.mutating_requests()[-1].content_type == "application/strategic-merge-patch+json"


def test_list_with_label_and_field_selectors(kube: FakeKube) -> None:
    kube.create(_pod("hub-1", component="hub", app="jupyterhub"))
    kube.create(_pod("proxy-1", component="proxy", app="jupyterhub"))
    kube.create(_pod("other", namespace="default", app="x"))
    kube.patch("pods", "proxy-1", {"status": {"phase": "Running"}}, namespace="jhub")
    core = k8s.CoreV1Api(kube.api_client)

    def names(**kwargs: Any) -> list[str]:
        return sorted(p.metadata.name for p in core.list_pod_for_all_namespaces(**kwargs).items)

    assert names(label_selector="component=hub") == ["hub-1"]
    assert names(label_selector="app=jupyterhub,component!=hub") == ["proxy-1"]
    assert names(label_selector="component in (hub, proxy)") == ["hub-1", "proxy-1"]
    assert names(label_selector="!component") == ["other"]
    assert names(field_selector="status.phase=Running") == ["proxy-1"]
    assert names(field_selector="metadata.namespace=default") == ["other"]
    assert [
        p.metadata.name for p in core.list_namespaced_pod("jhub", label_selector="component").items
    ] == ["hub-1", "proxy-1"]
    assert match_label_selector({"a": "1"}, "a notin (2,3)")


def test_delete_pod_replace_and_stale_resource_version(kube: FakeKube) -> None:
    kube.create(_pod("autohttps-1", component="autohttps"))
    core = k8s.CoreV1Api(kube.api_client)
    pod = core.read_namespaced_pod("autohttps-1", "jhub")
    pod.metadata.labels["touched"] = "yes"
    replaced = core.replace_namespaced_pod("autohttps-1", "jhub", pod)
    assert replaced.metadata.labels["touched"] == "yes"
    assert replaced.metadata.uid == pod.metadata.uid
    with pytest.raises(k8s.ApiException) as stale:
        core.replace_namespaced_pod("autohttps-1", "jhub", pod)  # old resourceVersion
    assert stale.value.status == 409

    core.delete_namespaced_pod("autohttps-1", "jhub")
    assert kube.get("pods", "autohttps-1", "jhub") is None
    with pytest.raises(k8s.ApiException):
        core.read_namespaced_pod("autohttps-1", "jhub")
    methods = [(r.method, r.path) for r in kube.mutating_requests()]
    assert methods[-1] == ("DELETE", "/api/v1/namespaces/jhub/pods/autohttps-1")
    method, path, body = kube.requests[0]
    assert (method, path, body) == ("GET", "/api/v1/namespaces/jhub/pods/autohttps-1", None)


def test_namespace_delete_removes_its_objects(kube: FakeKube) -> None:
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jhub"}})
    kube.create(_pod("hub-1"))
    kube.create(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dg=="}}
    )
    k8s.CoreV1Api(kube.api_client).delete_namespace("jhub")
    assert kube.objects("pods") == []
    assert kube.get("secrets", "s", "default") is not None
    # Terminating until the namespace controller (stand-in) finishes a moment later.
    assert kube.finish_namespace("jhub")
    assert kube.get("namespaces", "jhub") is None


def test_watch_with_the_real_client(kube: FakeKube) -> None:
    kube.create(_pod("hub-1", component="hub"))
    kube.create(_pod("proxy-1", component="proxy"))
    core = k8s.CoreV1Api(kube.api_client)

    def later() -> None:
        time.sleep(0.2)
        kube.patch("pods", "hub-1", {"status": {"phase": "Running"}}, namespace="jhub")

    thread = threading.Thread(target=later)
    thread.start()
    seen = []
    for event in k8s_watch.Watch().stream(
        core.list_namespaced_pod, "jhub", label_selector="component=hub", timeout_seconds=5
    ):
        seen.append(
            (
                event["type"],
                event["object"].metadata.name,
                event["object"].status.phase if event["object"].status else None,
            )
        )
        if event["type"] == "MODIFIED":
            break
    thread.join()
    assert seen == [("ADDED", "hub-1", None), ("MODIFIED", "hub-1", "Running")]

    started = time.monotonic()
    events = list(
        k8s_watch.Watch().stream(
            core.list_namespaced_pod, "jhub", label_selector="component=none", timeout_seconds=1
        )
    )
    assert events == [] and time.monotonic() - started < 4  # timeoutSeconds ends the stream

    listed = core.list_namespaced_pod("jhub")
    kube.create(_pod("user-1", component="singleuser-server"))
    resumed = []
    for event in k8s_watch.Watch().stream(
        core.list_namespaced_pod,
        "jhub",
        timeout_seconds=2,
        resource_version=listed.metadata.resource_version,
    ):
        resumed.append((event["type"], event["object"].metadata.name))
        break
    assert resumed == [("ADDED", "user-1")]  # no replay of what the list already had


def test_pod_logs(kube: FakeKube) -> None:
    kube.create(_pod("autohttps-1", component="autohttps"))
    kube.set_pod_log(
        "jhub",
        "autohttps-1",
        'time=1 level=info msg=start\ntime=2 level=error msg="acme: error 429"\n',
    )
    kube.set_pod_log("jhub", "autohttps-1", "secret-sync\n", container="secret-sync")
    core = k8s.CoreV1Api(kube.api_client)
    text = core.read_namespaced_pod_log("autohttps-1", "jhub", container="traefik")
    assert "acme: error 429" in text
    assert core.read_namespaced_pod_log("autohttps-1", "jhub", tail_lines=1).startswith("time=2")
    assert (
        core.read_namespaced_pod_log("autohttps-1", "jhub", container="secret-sync")
        == "secret-sync\n"
    )
    with pytest.raises(k8s.ApiException):
        core.read_namespaced_pod_log("missing", "jhub")

    kube.set_pod_log("jhub", "autohttps-1", '{"level":"error","msg":"acme"}\n')
    raw = core.read_namespaced_pod_log("autohttps-1", "jhub", _preload_content=False)
    assert raw.data.decode() == '{"level":"error","msg":"acme"}\n'
    # The client's default deserialization mangles a one-line JSON log (same on a real server).
    assert core.read_namespaced_pod_log("autohttps-1", "jhub") != raw.data.decode()


def test_kubeconfig_points_at_the_emulator(kube: FakeKube) -> None:
    kube.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    api_client = k8s_config.new_client_from_config(config_file=str(kube.kubeconfig_path))
    try:
        nodes = k8s.CoreV1Api(api_client).list_node().items
    finally:
        api_client.close()
    assert [n.metadata.name for n in nodes] == ["n1"]
    assert kube.kubeconfig_path.stat().st_mode & 0o777 == 0o600


def test_cluster_scoped_and_extra_resources(kube: FakeKube) -> None:
    storage = k8s.StorageV1Api(kube.api_client)
    storage.create_storage_class({"metadata": {"name": "csi-cinder"}, "provisioner": "x"})
    scheduling = k8s.SchedulingV1Api(kube.api_client)
    scheduling.create_priority_class({"metadata": {"name": "gpu"}, "value": 1000})
    assert kube.get("storageclasses", "csi-cinder")["provisioner"] == "x"  # type: ignore[index]
    assert kube.get("priorityclasses", "gpu")["kind"] == "PriorityClass"  # type: ignore[index]
    k8s.AppsV1Api(kube.api_client).create_namespaced_daemon_set(
        "kube-system",
        {
            "metadata": {"name": "csi"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                },
            },
        },
    )
    assert kube.get("daemonsets", "csi", "kube-system") is not None

    kube.add_resource("monitoring.coreos.com/v1/servicemonitors", kind="ServiceMonitor")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}})
    custom = k8s.CustomObjectsApi(kube.api_client)
    custom.create_namespaced_custom_object(
        "monitoring.coreos.com",
        "v1",
        "monitoring",
        "servicemonitors",
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": "hub"},
            "spec": {"endpoints": [{"port": "hub"}]},
        },
    )
    listed = custom.list_namespaced_custom_object(
        "monitoring.coreos.com", "v1", "monitoring", "servicemonitors"
    )
    assert [i["metadata"]["name"] for i in listed["items"]] == ["hub"]
