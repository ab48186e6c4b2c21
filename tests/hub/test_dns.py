"""`invoke hub.dns` against the fake cloud's Designate, behind the real openstacksdk.

The example environment names the hub jupyter.example.org with floating IP 192.0.2.10;
Designate keeps names with their trailing dot.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TaskRun
from tests.hub import environments
from tests.support.fakecloud import PROJECT_ID, FakeCloud
from tests.support.fakecloud.identity import Identity
from tests.support.fakecloud.magnum import Magnum
from tests.support.fakecloud.neutron import Neutron
from tests.support.fakecloud.nova import Nova
from tests.support.fakecloud.octavia import Octavia

Run = Callable[..., TaskRun]
ENV = "dnsenv"
NAME = "jupyter.example.org."
ADDRESS = "192.0.2.10"


@pytest.fixture
def dns_env(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., None]:
    def write(cloud: FakeCloud, **dns: Any) -> None:
        cloud.clouds_yaml(tmp_path, monkeypatch)
        config = environments.example()
        config["cloud"] = "fake"
        config["hub"]["dns"] = {"manage": True, **dns}
        environments.write(config_dir, ENV, config)

    return write


def a_records(cloud: FakeCloud, name: str = NAME) -> list[dict[str, Any]]:
    return [r for r in cloud.recordsets.values() if r["name"] == name and r["type"] == "A"]


def dns_writes(cloud: FakeCloud) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in cloud.mutating_calls() if r.service == "designate"]


def test_creates_the_record_in_the_longest_matching_zone(
    run_task: Run, fake_cloud: FakeCloud, dns_env: Callable[..., None]
) -> None:
    fake_cloud.add_zone("example.org.")
    deeper = fake_cloud.add_zone("jupyter.example.org.")
    fake_cloud.add_zone("example.com.")
    dns_env(fake_cloud)
    result = run_task("hub.dns", "--env", ENV)
    assert result.code == 0, result.err
    (record,) = a_records(fake_cloud)
    assert record["zone_id"] == deeper["id"]
    assert record["records"] == [ADDRESS]
    assert record["ttl"] == 300
    # The task waited for Designate's backend: PENDING became ACTIVE.
    assert record["status"] == "ACTIVE"
    assert "created; ACTIVE in zone jupyter.example.org." in result.out
    assert dns_writes(fake_cloud) == [("POST", f"/v2/zones/{deeper['id']}/recordsets")]


def test_a_second_run_changes_nothing(
    run_task: Run, fake_cloud: FakeCloud, dns_env: Callable[..., None]
) -> None:
    fake_cloud.add_zone("example.org.")
    dns_env(fake_cloud)
    assert run_task("hub.dns", "--env", ENV).code == 0
    before = len(fake_cloud.mutating_calls())
    again = run_task("hub.dns", "--env", ENV)
    assert again.code == 0, again.err
    assert len(fake_cloud.mutating_calls()) == before
    assert "already points there (ttl 300) in zone example.org." in again.out
    assert len(a_records(fake_cloud)) == 1


def test_dry_run_says_what_it_would_create_and_writes_nothing(
    run_task: Run, fake_cloud: FakeCloud, dns_env: Callable[..., None]
) -> None:
    fake_cloud.add_zone("example.org.")
    dns_env(fake_cloud)
    result = run_task("hub.dns", "--env", ENV, "--dry-run")
    assert result.code == 0, result.err
    assert "would create A record jupyter.example.org. → 192.0.2.10 (ttl 300)" in result.out
    assert dns_writes(fake_cloud) == []
    assert a_records(fake_cloud) == []


def test_a_record_pointing_elsewhere_is_left_alone_without_yes(
    run_task: Run, fake_cloud: FakeCloud, dns_env: Callable[..., None]
) -> None:
    fake_cloud.add_zone("example.org.")
    fake_cloud.add_recordset("example.org.", NAME, "A", ["198.51.100.7"])
    dns_env(fake_cloud)
    result = run_task("hub.dns", "--env", ENV)
    assert result.code == 1
    assert "points to 198.51.100.7, not to hub.floating_ip 192.0.2.10" in result.err
    assert "--yes" in result.err
    assert dns_writes(fake_cloud) == []
    assert a_records(fake_cloud)[0]["records"] == ["198.51.100.7"]


def test_yes_replaces_a_record_pointing_elsewhere(
    run_task: Run, fake_cloud: FakeCloud, dns_env: Callable[..., None]
) -> None:
    fake_cloud.add_zone("example.org.")
    old = fake_cloud.add_recordset("example.org.", NAME, "A", ["198.51.100.7"], ttl=3600)
    dns_env(fake_cloud)
    result = run_task("hub.dns", "--env", ENV, "--yes")
    assert result.code == 0, result.err
    (record,) = a_records(fake_cloud)
    assert record["id"] == old["id"]
    assert (record["records"], record["ttl"], record["status"]) == ([ADDRESS], 300, "ACTIVE")
    ((method, path),) = dns_writes(fake_cloud)
    assert method == "PUT" and path.endswith(f"/recordsets/{old['id']}")


def test_a_changed_ttl_updates_our_own_record(
    run_task: Run, fake_cloud: FakeCloud, dns_env: Callable[..., None]
) -> None:
    fake_cloud.add_zone("example.org.")
    fake_cloud.add_recordset("example.org.", NAME, "A", [ADDRESS], ttl=300)
    dns_env(fake_cloud, ttl=600)
    result = run_task("hub.dns", "--env", ENV)
    assert result.code == 0, result.err
    assert a_records(fake_cloud)[0]["ttl"] == 600


def test_a_cloud_without_dns_is_refused(run_task: Run, dns_env: Callable[..., None]) -> None:
    class CloudWithoutDns(Identity, Magnum, Octavia, Neutron, Nova):
        """The same cloud with no Designate in its catalog."""

    cloud = CloudWithoutDns().start()
    try:
        dns_env(cloud)
        result = run_task("hub.dns", "--env", ENV)
    finally:
        cloud.stop()
    assert result.code == 1
    assert "no DNS service (Designate)" in result.err
    assert "hub.dns.manage: false" in result.err


def test_no_zone_of_the_project_is_refused(
    run_task: Run, fake_cloud: FakeCloud, dns_env: Callable[..., None]
) -> None:
    fake_cloud.add_zone("example.com.")
    dns_env(fake_cloud)
    result = run_task("hub.dns", "--env", ENV)
    assert result.code == 1
    assert "no DNS zone of this project contains jupyter.example.org." in result.err
    assert "zones: example.com." in result.err
    assert dns_writes(fake_cloud) == []


def test_a_zone_shared_from_another_project_is_refused(
    run_task: Run, fake_cloud: FakeCloud, dns_env: Callable[..., None]
) -> None:
    other = "0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c"
    assert other != PROJECT_ID
    fake_cloud.add_zone("example.org.", project_id=other, shared_with_us=True)
    dns_env(fake_cloud)
    result = run_task("hub.dns", "--env", ENV)
    assert result.code == 1
    assert f"belongs to project {other}, not this one" in result.err
    assert dns_writes(fake_cloud) == []


def test_a_named_zone_must_hold_the_domain(
    run_task: Run, fake_cloud: FakeCloud, dns_env: Callable[..., None]
) -> None:
    fake_cloud.add_zone("example.org.")
    fake_cloud.add_zone("jupyter.example.org.")
    dns_env(fake_cloud, zone="example.org")
    assert run_task("hub.dns", "--env", ENV).code == 0
    (record,) = a_records(fake_cloud)
    assert record["zone_name"] == "example.org."
    dns_env(fake_cloud, zone="example.net")
    refused = run_task("hub.dns", "--env", ENV)
    assert refused.code == 1
    assert "hub.dns.zone example.net. is not a DNS zone of this project" in refused.err


def test_manage_false_is_refused_before_any_call(
    run_task: Run, fake_cloud: FakeCloud, dns_env: Callable[..., None]
) -> None:
    fake_cloud.add_zone("example.org.")
    dns_env(fake_cloud, manage=False)
    result = run_task("hub.dns", "--env", ENV)
    assert result.code == 2
    assert "hub.dns.manage: is false" in result.err
    assert fake_cloud.log == []


def test_a_retried_create_makes_one_record(
    run_task: Run, fake_cloud: FakeCloud, dns_env: Callable[..., None]
) -> None:
    # The first POST takes effect but its answer is lost; the retry finds the record.
    fake_cloud.add_zone("example.org.")
    fake_cloud.fail_request("POST", r"/recordsets$", kind="read_timeout", applied=True)
    dns_env(fake_cloud)
    result = run_task("hub.dns", "--env", ENV)
    assert result.code == 0, result.err
    assert len(a_records(fake_cloud)) == 1
    assert fake_cloud.count("POST", r"/recordsets$") == 1


# ------------------------------------------------------------------ the fake itself


def test_the_fake_refuses_what_designate_refuses(fake_cloud: FakeCloud) -> None:
    from openstack import exceptions

    zone = fake_cloud.add_zone("example.org.")
    dns = fake_cloud.conn.dns
    with pytest.raises(exceptions.BadRequestException, match="Please supply a FQDN"):
        dns.create_recordset(zone["id"], name="hub.example.org", type="A", records=[ADDRESS])
    with pytest.raises(exceptions.BadRequestException, match="not contained within"):
        dns.create_recordset(zone["id"], name="hub.example.net.", type="A", records=[ADDRESS])
    dns.create_recordset(zone["id"], name="hub.example.org.", type="A", records=[ADDRESS])
    with pytest.raises(exceptions.ConflictException, match="Duplicate RecordSet"):
        dns.create_recordset(zone["id"], name="hub.example.org.", type="A", records=[ADDRESS])
    with pytest.raises(exceptions.NotFoundException, match="Could not find Zone"):
        list(dns.recordsets("4d7c2b9e-3f1a-4e6b-8c5d-9a0b1c2d3e4f"))
    body = fake_cloud.log[-1]
    assert body.status == 404


@pytest.mark.parametrize("kind", ["503", "504", "connection_reset"])
def test_a_failed_version_discovery_is_retried(
    run_task: Run, fake_cloud: FakeCloud, dns_env: Callable[..., None], kind: str
) -> None:
    # openstacksdk finds Designate's version with `GET /` first; when the load balancer
    # answers that with an error page (or the connection drops), keystoneauth finds no
    # version and openstacksdk says the service "does not have any supported versions"
    # (openstack/service_description.py _make_proxy): not the cloud's last word.
    fake_cloud.add_zone("example.org.")
    # keystoneauth tries each discovery URL it derives from the catalog (both `/` here).
    fake_cloud.fail_request("GET", r"^/$", kind=kind, times=2)
    dns_env(fake_cloud)
    result = run_task("hub.dns", "--env", ENV)
    assert result.code == 0, result.err
    assert [(r.service, r.fault) for r in fake_cloud.injected_faults] == [("designate", kind)] * 2
    assert len(a_records(fake_cloud)) == 1
