"""lb.doctor against the fake cloud and the Kubernetes emulator: each symptom found, each
with its fix, the healthy case quiet, and never a mutating call."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scripts.core.console import Console
from scripts.lb import doctor
from tests.conftest import TaskRun
from tests.lb.conftest import ENV, HUB_LB, HUB_SERVICE, NAMESPACE, PINNED, Scene, lb_name

Run = Callable[..., TaskRun]


def diagnose(scene: Scene) -> doctor.Report:
    return doctor.run(scene.environment(), Console())


def test_a_healthy_hub_has_no_findings_and_exits_0(scene: Scene, run_task: Run) -> None:
    scene.healthy_hub()
    scene.forget_requests()

    result = run_task("lb.doctor", "--env", ENV)

    assert result.code == 0, result.out + result.err
    assert "No findings" in result.out
    assert f"{HUB_LB}: ACTIVE" in result.out
    assert f"Service {NAMESPACE}/{HUB_SERVICE} at {PINNED}" in result.out
    assert scene.cloud.mutating_calls() == []
    assert scene.kube.mutating_requests() == []


def test_an_orphaned_load_balancer_is_a_finding_fixed_by_cleanup(
    scene: Scene, run_task: Run
) -> None:
    scene.healthy_hub()
    scene.balancer("teaching", "old-web")  # its Service was deleted long ago

    result = run_task("lb.doctor", "--env", ENV)

    assert result.code == 1
    assert f"orphaned load balancer {lb_name('teaching', 'old-web')}" in result.out
    assert f"fix: invoke lb.cleanup --env {ENV}" in result.out
    assert "Findings (1)" in result.out


def test_a_service_pending_behind_an_active_load_balancer_is_the_seed_symptom(
    scene: Scene,
) -> None:
    balancer = scene.balancer(NAMESPACE, HUB_SERVICE)
    scene.floating_ip(PINNED, on=balancer)
    scene.service(NAMESPACE, HUB_SERVICE, load_balancer_ip=PINNED)  # EXTERNAL-IP <pending>

    report = diagnose(scene)

    (finding,) = report.findings
    assert f"Service {NAMESPACE}/{HUB_SERVICE} is <pending>" in finding.problem
    assert HUB_LB in finding.problem
    assert finding.fix == f"invoke lb.recreate --env {ENV}"
    assert finding.service == (NAMESPACE, HUB_SERVICE)


def test_another_stuck_service_gets_the_octavia_and_kubectl_commands(scene: Scene) -> None:
    scene.healthy_hub()
    grafana = scene.balancer("prometheus", "grafana")
    scene.service("prometheus", "grafana")

    report = diagnose(scene)

    (finding,) = report.findings
    assert "Service prometheus/grafana is <pending>" in finding.problem
    first, second = finding.fix.splitlines()
    assert first.startswith(f"openstack loadbalancer delete --cascade {grafana['id']}")
    kubeconfig = scene.config_dir / f"{ENV}.kubeconfig"
    assert second.startswith(
        f"kubectl --kubeconfig {kubeconfig} annotate service -n prometheus grafana "
    )
    assert second.endswith("--overwrite")


def test_members_on_a_node_that_is_gone_are_reported_with_the_address(scene: Scene) -> None:
    scene.healthy_hub()
    gone, kept = scene.workers
    scene.remove_node(gone)

    report = diagnose(scene)

    (finding,) = report.findings
    assert f"load balancer {HUB_LB} sends traffic to {gone}," in finding.problem
    assert kept not in finding.problem
    assert finding.fix == f"invoke lb.recreate --env {ENV}"


def test_a_member_still_known_to_nova_or_kubernetes_is_not_stale(scene: Scene) -> None:
    """A node that is joining (a server, no Node yet) or whose server listing lags behind
    (a Node, no server yet) is no reason to rebuild anything."""
    scene.healthy_hub()
    joining, replaced = scene.workers
    server = next(
        s for s in scene.cloud.servers.values() if s["addresses"]["private"][0]["addr"] == joining
    )
    scene.kube.delete("nodes", server["name"])
    scene.cloud.remove_server(
        next(
            s["id"]
            for s in scene.cloud.servers.values()
            if s["addresses"]["private"][0]["addr"] == replaced
        )
    )

    assert diagnose(scene).healthy


def test_a_load_balancer_in_error_is_a_finding(scene: Scene) -> None:
    scene.balancer(NAMESPACE, HUB_SERVICE, status="ERROR")
    scene.service(NAMESPACE, HUB_SERVICE, load_balancer_ip=PINNED)
    scene.floating_ip(PINNED)

    report = diagnose(scene)

    (finding,) = report.findings
    assert (
        finding.problem
        == f"load balancer {HUB_LB} of Service {NAMESPACE}/{HUB_SERVICE} is in ERROR"
    )


@pytest.mark.parametrize("made_for", ["", f"{NAMESPACE}/{HUB_SERVICE}"])
def test_the_pinned_address_free_is_expected_and_not_a_finding(scene: Scene, made_for: str) -> None:
    """Free while the hub is not deployed; also when the cloud provider once allocated it
    (an operator who pinned the hub's old address)."""
    scene.floating_ip(PINNED, made_for=made_for)

    report = diagnose(scene)

    assert report.healthy
    (note,) = [note for note in report.notes if PINNED in note]
    assert "pinned hub.floating_ip" in note
    assert "expected, not a leftover" in note


def test_a_free_address_the_provider_made_for_this_cluster_is_a_finding(scene: Scene) -> None:
    scene.healthy_hub()
    leftover = scene.address_of(scene.floating_ip(made_for="teaching/old-web"))
    foreign = scene.address_of(scene.floating_ip())  # someone's reservation

    report = diagnose(scene)

    (finding,) = report.findings
    assert f"floating IP {leftover} is attached to nothing" in finding.problem
    assert finding.fix == f"openstack floating ip delete {leftover}"
    assert any(
        foreign in note and "not allocated for this cluster" in note for note in report.notes
    )


def test_the_hubs_old_address_without_a_pin_offers_to_keep_it(scene: Scene) -> None:
    scene.pin(None)
    old = scene.address_of(scene.floating_ip(made_for=f"{NAMESPACE}/{HUB_SERVICE}"))

    (finding,) = diagnose(scene).findings

    first, second = finding.fix.splitlines()
    assert first == f"openstack floating ip delete {old}"
    assert f"hub.floating_ip: {old}" in second


def test_the_hub_on_another_address_than_the_pinned_one_is_a_finding(scene: Scene) -> None:
    balancer = scene.balancer(NAMESPACE, HUB_SERVICE)
    random = scene.address_of(scene.floating_ip(on=balancer, made_for=f"{NAMESPACE}/{HUB_SERVICE}"))
    scene.floating_ip(PINNED)
    scene.service(NAMESPACE, HUB_SERVICE, ingress=random)

    (finding,) = diagnose(scene).findings

    assert finding.problem == (
        f"Service {NAMESPACE}/{HUB_SERVICE} has the address {random}, not hub.floating_ip {PINNED}"
    )
    assert finding.fix == f"invoke lb.recreate --env {ENV}"


def test_the_pinned_address_missing_or_taken_is_a_finding(scene: Scene) -> None:
    (missing,) = diagnose(scene).findings
    assert missing.fix == f"openstack floating ip create --floating-ip-address {PINNED} public"

    port = scene.cloud.add_port("someone-elses-vm")
    scene.cloud.add_floating_ip(PINNED, port_id=port["id"])
    (taken,) = diagnose(scene).findings
    assert f"attached to port {port['id']}" in taken.problem
    assert taken.fix.splitlines()[0].startswith(f"openstack floating ip unset --port {PINNED}")


def test_other_clusters_load_balancers_are_none_of_its_business(scene: Scene) -> None:
    scene.healthy_hub()
    scene.balancer("teaching", "web", cluster="jhub-example-staging")
    scene.cloud.add_load_balancer("jhub-example_master_in")

    report = diagnose(scene)

    assert report.healthy


def test_an_existing_cluster_without_the_controller_name_is_refused_before_any_call(
    scene: Scene, run_task: Run
) -> None:
    scene.config["cluster"]["driver"] = "existing"
    scene.config["cluster"]["kubeconfig"] = str(scene.config_dir / f"{ENV}.kubeconfig")
    scene.write()
    scene.forget_requests()

    result = run_task("lb.doctor", "--env", ENV)

    assert result.code == 2
    assert "cluster.cloud_provider_cluster_name: required by lb.doctor" in result.err
    assert "--cluster-name" in result.err
    assert len(scene.cloud.log) == 0
    assert scene.kube.requests == []


def test_help_says_what_the_exit_status_means(run_task: Run) -> None:
    result = run_task("--help", "lb.doctor")
    assert "0 when healthy, 1 when there are findings" in " ".join(result.out.split())


def test_an_existing_cluster_is_read_by_the_configured_controller_name(
    scene: Scene, run_task: Run
) -> None:
    scene.config["cluster"]["driver"] = "existing"
    scene.config["cluster"]["kubeconfig"] = str(scene.config_dir / f"{ENV}.kubeconfig")
    scene.config["cluster"]["cloud_provider_cluster_name"] = "kubernetes"
    scene.write()
    scene.balancer(NAMESPACE, HUB_SERVICE, cluster="kubernetes")
    scene.balancer("teaching", "old-web", cluster="kubernetes")
    scene.forget_requests()

    result = run_task("lb.doctor", "--env", ENV)

    assert result.code == 1
    assert "orphaned load balancer kube_service_kubernetes_teaching_old-web" in result.out
    assert scene.cloud.count(None, r"/v1/clusters") == 0  # Magnum is not asked


def test_heat_load_balancers_are_named_by_the_cluster_uuid(scene: Scene, run_task: Run) -> None:
    """Magnum's heat driver starts the controller with --cluster-name=<cluster uuid>."""
    (uuid,) = scene.cloud.clusters
    template = scene.cloud.templates[scene.cloud.clusters[uuid]["cluster_template_id"]]
    template["driver"] = "k8s_fedora_coreos_v1"  # the template the heat driver serves
    scene.config["cluster"]["driver"] = "heat"
    scene.write()
    scene.cloud.add_load_balancer(f"kube_service_{uuid}_teaching_old-web")
    scene.forget_requests()

    result = run_task("lb.doctor", "--env", ENV)

    assert result.code == 1
    assert f"orphaned load balancer kube_service_{uuid}_teaching_old-web" in result.out
