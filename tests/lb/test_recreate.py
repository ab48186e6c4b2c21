"""lb.recreate against the fake cloud, kmock and the recording helm, with the cluster's cloud
controller played by `CloudController` while the task waits: the seed's whole fix from the
stuck symptom to a new load balancer holding the pinned address, and the refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from scripts import cross_area
from scripts.core import helm
from scripts.core.console import Console
from scripts.core.errors import OperationFailed
from scripts.core.templates import render
from scripts.lb import doctor, recreate
from tests.conftest import TaskRun
from tests.lb.conftest import (
    ENV,
    FINALIZER,
    HUB_LB,
    HUB_SERVICE,
    NAMESPACE,
    PINNED,
    CloudController,
    ControllerClock,
    Scene,
    ready_pod,
)
from tests.support.fake_helm import FakeHelm

Run = Callable[..., TaskRun]


def normalised(values: Any) -> Any:
    """Values as helm stores and prints them (JSON types only)."""
    return json.loads(json.dumps(values))


def deployed_hub(scene: Scene) -> dict[str, Any]:
    """The release as hub.deploy installed it, and its pods running; returns its values."""
    environment = scene.environment(secrets=True)
    assert environment.secrets is not None
    values: dict[str, Any] = normalised(
        render("jupyterhub", environment.settings, environment.secrets).values
    )
    helm.Helm(kubeconfig=environment.kubeconfig).upgrade_install(
        "jhub",
        "jupyterhub",
        repo="https://hub.jupyter.org/helm-chart",
        version="4.4.0",
        namespace=NAMESPACE,
        values=values,
    )
    scene.kube.create(ready_pod("hub-7c9d", "hub"))
    scene.kube.create(ready_pod("proxy-5f6b", "proxy"))
    return values


def stuck_hub(scene: Scene) -> dict[str, Any]:
    """The seed's symptom: the Service <pending>, its old load balancer ACTIVE with the
    pinned address, and a member on a node that has since been replaced."""
    old = scene.balancer(NAMESPACE, HUB_SERVICE)
    scene.floating_ip(PINNED, on=old)
    scene.service(NAMESPACE, HUB_SERVICE, load_balancer_ip=PINNED)
    scene.remove_node(scene.workers[0])
    return old


def recreate_with_controller(
    scene: Scene, fake_helm: FakeHelm
) -> tuple[recreate.Outcome, CloudController]:
    controller = CloudController(scene, fake_helm)
    outcome = cross_area.recreate_lb(
        scene.environment(secrets=True),
        Console(),
        yes=True,
        clock=ControllerClock(controller),
    )
    return outcome, controller


def test_the_stuck_hub_gets_a_new_load_balancer_with_the_pinned_address(
    scene: Scene, fake_helm: FakeHelm
) -> None:
    values = deployed_hub(scene)
    old = stuck_hub(scene)
    old_uid = scene.kube.get("services", HUB_SERVICE, NAMESPACE)["metadata"]["uid"]  # type: ignore[index]
    upgrades_before = len(fake_helm.upgrades())
    scene.forget_requests()

    outcome, _ = recreate_with_controller(scene, fake_helm)

    # The old load balancer went with cascade, and nothing else was deleted in OpenStack.
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in scene.cloud.mutating_calls()] == [
        ("DELETE", old["id"])
    ]
    assert old["id"] not in scene.cloud.load_balancers
    # The Service was deleted and re-created by helm re-applying the deployed values.
    assert ("DELETE", f"/api/v1/namespaces/{NAMESPACE}/services/{HUB_SERVICE}") in [
        (r.method, r.path) for r in scene.kube.mutating_requests()
    ]
    (reapplied,) = fake_helm.upgrades()[upgrades_before:]
    argv = reapplied["argv"]
    assert argv[:4] == ["upgrade", "--install", "jhub", "jupyterhub"]
    assert argv[argv.index("--version") + 1] == "4.4.0"
    assert reapplied["values_mode"] == 0o600
    assert normalised(yaml.safe_load(reapplied["values_text"])) == values
    service = scene.kube.get("services", HUB_SERVICE, NAMESPACE)
    assert service is not None and service["metadata"]["uid"] != old_uid
    assert service["status"]["loadBalancer"]["ingress"] == [{"ip": PINNED}]
    # The new load balancer is on the nodes that exist, and holds the pinned address.
    (new,) = scene.balancers_named(HUB_LB)
    assert new["id"] == outcome.new_balancer
    assert new["provisioning_status"] == "ACTIVE"
    members = {m["address"] for m in scene.cloud.members.values() if m["_lb"] == new["id"]}
    assert members == {scene.workers[1]}
    assert scene.ip_record(PINNED)["port_id"] == new["vip_port_id"]  # type: ignore[index]
    assert outcome.pinned_attached and outcome.address == PINNED
    # And the doctor agrees.
    assert doctor.run(scene.environment(), Console()).healthy


def test_an_address_the_provider_picked_is_released_and_the_pinned_one_taken(
    scene: Scene, fake_helm: FakeHelm
) -> None:
    deployed_hub(scene)
    old = scene.balancer(NAMESPACE, HUB_SERVICE)
    picked = scene.address_of(scene.floating_ip(on=old, made_for=f"{NAMESPACE}/{HUB_SERVICE}"))
    scene.floating_ip(PINNED)  # pinned after the first deploy, never attached
    scene.service(NAMESPACE, HUB_SERVICE, ingress=picked)

    outcome, _ = recreate_with_controller(scene, fake_helm)

    assert outcome.released == [picked]
    assert scene.ip_record(picked) is None
    (new,) = scene.balancers_named(HUB_LB)
    assert scene.ip_record(PINNED)["port_id"] == new["vip_port_id"]  # type: ignore[index]
    assert outcome.address == PINNED


def test_without_a_pin_it_refuses_to_lose_the_hubs_address(
    scene: Scene, fake_helm: FakeHelm, run_task: Run
) -> None:
    scene.pin(None)
    deployed_hub(scene)
    old = scene.balancer(NAMESPACE, HUB_SERVICE)
    address = scene.address_of(scene.floating_ip(on=old, made_for=f"{NAMESPACE}/{HUB_SERVICE}"))
    scene.service(NAMESPACE, HUB_SERVICE)
    scene.forget_requests()
    calls = len(fake_helm.calls())

    result = run_task("lb.recreate", "--env", ENV, "--yes")

    assert result.code == 1
    assert f"has the floating IP {address} and no hub.floating_ip is pinned" in result.err
    assert f"fix: pin it: set hub.floating_ip: {address} in config/{ENV}.yaml" in result.err
    assert "Traceback" not in result.err
    assert scene.cloud.mutating_calls() == []
    assert scene.kube.mutating_requests() == []
    assert len(fake_helm.calls()) == calls


def test_a_pinned_address_held_by_something_else_is_refused(
    scene: Scene, fake_helm: FakeHelm, run_task: Run
) -> None:
    deployed_hub(scene)
    old = scene.balancer(NAMESPACE, HUB_SERVICE)
    scene.service(NAMESPACE, HUB_SERVICE)
    port = scene.cloud.add_port("someone-elses-vm")
    scene.cloud.add_floating_ip(PINNED, port_id=port["id"])
    scene.forget_requests()

    result = run_task("lb.recreate", "--env", ENV, "--yes")

    assert result.code == 1
    assert f"hub.floating_ip {PINNED} is attached to port {port['id']}" in result.err
    assert f"openstack floating ip unset --port {PINNED}" in result.err
    assert scene.cloud.mutating_calls() == []
    assert scene.kube.mutating_requests() == []
    assert old["id"] in scene.cloud.load_balancers


def test_dry_run_says_what_would_happen_and_changes_nothing(
    scene: Scene, fake_helm: FakeHelm, run_task: Run
) -> None:
    deployed_hub(scene)
    old = stuck_hub(scene)
    scene.forget_requests()
    calls = len(fake_helm.calls())

    result = run_task("lb.recreate", "--env", ENV, "--dry-run")

    assert result.code == 0, result.err
    assert f"would delete Service {NAMESPACE}/{HUB_SERVICE}" in result.out
    assert f"would delete load balancer {HUB_LB} ({old['id']})" in result.out
    assert "would re-apply release jhub with its deployed values" in result.out
    assert scene.cloud.mutating_calls() == []
    assert scene.kube.mutating_requests() == []
    assert len(fake_helm.calls()) == calls


def test_without_yes_and_without_a_terminal_it_refuses_naming_yes(
    scene: Scene, fake_helm: FakeHelm, run_task: Run
) -> None:
    deployed_hub(scene)
    stuck_hub(scene)
    scene.forget_requests()

    result = run_task("lb.recreate", "--env", ENV)

    assert result.code == 2
    assert "option --yes: required to replace the load balancer of Service" in result.err
    assert scene.cloud.mutating_calls() == []
    assert scene.kube.mutating_requests() == []


def test_a_healthy_hub_is_recreated_only_after_a_warning(
    scene: Scene, fake_helm: FakeHelm, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed_hub(scene)
    scene.healthy_hub()

    outcome, _ = recreate_with_controller(scene, fake_helm)

    assert "lb.doctor finds nothing wrong with the hub's load balancer" in capsys.readouterr().err
    assert outcome.pinned_attached


def test_a_service_held_by_its_finalizer_times_out_with_the_reason(
    scene: Scene, fake_helm: FakeHelm
) -> None:
    deployed_hub(scene)
    stuck_hub(scene)
    controller = CloudController(scene, fake_helm)
    controller.finalize = False  # the cloud controller is down

    with pytest.raises(OperationFailed) as failure:
        cross_area.recreate_lb(
            scene.environment(secrets=True), Console(), yes=True, clock=ControllerClock(controller)
        )

    assert f"still there: Service {NAMESPACE}/{HUB_SERVICE} (finalizers: {FINALIZER})" in (
        failure.value.cause
    )
    assert "openstack-cloud-controller-manager" in failure.value.remedy
    assert len(fake_helm.upgrades()) == 1  # nothing redeployed on top of a half-deleted hub
