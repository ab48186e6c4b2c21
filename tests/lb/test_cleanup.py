"""lb.cleanup against the fake cloud and the Kubernetes emulator: only orphans go, only the
cloud provider's addresses are released, the pinned address survives, a dry run and a
refusal change nothing, and a second run has nothing to do."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scripts.core.changes import Changes
from scripts.core.console import Console
from scripts.core.errors import OperationFailed
from scripts.lb import cleanup, removal
from scripts.lb.inventory import FloatingIp
from tests.conftest import TaskRun
from tests.lb.conftest import ENV, HUB_LB, HUB_SERVICE, NAMESPACE, PINNED, Scene, lb_name
from tests.support.fakecloud import FakeClock

Run = Callable[..., TaskRun]


def run(scene: Scene, **options: object) -> cleanup.Outcome:
    return cleanup.run(scene.environment(), Console(), clock=FakeClock(), **options)  # type: ignore[arg-type]


def lb_deletes(scene: Scene) -> list[tuple[str, list[str]]]:
    return [
        (r.path.rsplit("/", 1)[-1], [value.lower() for value in r.query.get("cascade", [])])
        for r in scene.cloud.log.find("DELETE", r"/lbaas/loadbalancers/")
    ]


def test_only_orphans_go_with_the_addresses_the_provider_made_for_them(scene: Scene) -> None:
    hub = scene.healthy_hub()
    grafana = scene.balancer("prometheus", "grafana")
    scene.service("prometheus", "grafana", ingress="203.0.113.150")
    old_web = scene.balancer("teaching", "old-web")
    made = scene.address_of(scene.floating_ip(on=old_web, made_for="teaching/old-web"))
    old_api = scene.balancer("teaching", "old-api")
    by_hand = scene.address_of(scene.floating_ip(on=old_api))  # someone attached their own
    other_cluster = scene.balancer("teaching", "old-web", cluster="jhub-example-staging")
    # A Service that stopped being a LoadBalancer leaves its load balancer orphaned too.
    cluster_ip = scene.balancer("teaching", "api")
    scene.kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "api", "namespace": "teaching"},
            "spec": {"type": "ClusterIP", "ports": [{"port": 80}]},
        }
    )
    scene.forget_requests()

    outcome = run(scene, yes=True)

    assert sorted(outcome.deleted) == sorted(
        [lb_name("teaching", "old-web"), lb_name("teaching", "old-api"), lb_name("teaching", "api")]
    )
    assert sorted(lb_deletes(scene)) == sorted(
        (b["id"], ["true"]) for b in (old_web, old_api, cluster_ip)
    )
    remaining = set(scene.cloud.load_balancers)
    assert remaining == {hub["id"], grafana["id"], other_cluster["id"]}
    assert outcome.released == [made]
    assert scene.ip_record(made) is None
    kept = scene.ip_record(by_hand)
    assert kept is not None and kept["port_id"] is None  # detached with the LB, not released
    assert outcome.kept == [by_hand]
    assert scene.ip_record(PINNED)["port_id"] == hub["vip_port_id"]  # type: ignore[index]
    assert scene.kube.mutating_requests() == []


def test_the_pinned_address_on_an_orphan_survives(scene: Scene) -> None:
    """The hub was uninstalled (Service gone) and its load balancer stayed behind holding
    the pinned address; the load balancer goes, the address stays allocated."""
    orphan = scene.balancer(NAMESPACE, HUB_SERVICE)
    scene.floating_ip(PINNED, on=orphan, made_for=f"{NAMESPACE}/{HUB_SERVICE}")
    scene.forget_requests()

    outcome = run(scene, yes=True)

    assert outcome.deleted == [HUB_LB]
    assert outcome.released == []
    pinned = scene.ip_record(PINNED)
    assert pinned is not None and pinned["port_id"] is None
    assert scene.cloud.log.find("DELETE", r"/floatingips/") == []


def test_without_a_pin_the_hubs_old_address_is_kept_for_its_dns_name(scene: Scene) -> None:
    scene.pin(None)
    orphan = scene.balancer(NAMESPACE, HUB_SERVICE)
    old = scene.address_of(scene.floating_ip(on=orphan, made_for=f"{NAMESPACE}/{HUB_SERVICE}"))

    outcome = run(scene, yes=True)

    assert outcome.deleted == [HUB_LB]
    assert outcome.kept == [old]
    assert scene.ip_record(old) is not None


def test_releasing_the_pinned_address_is_refused_whatever_the_caller_says(scene: Scene) -> None:
    record = scene.floating_ip(PINNED)
    scene.forget_requests()
    ip = FloatingIp(record["id"], PINNED, None, "")

    with pytest.raises(OperationFailed, match=r"it is hub\.floating_ip"):
        removal.release_ip(scene.cloud.conn, ip, Changes(Console()), pinned=PINNED)

    assert scene.cloud.mutating_calls() == []
    assert scene.ip_record(PINNED) is not None


def test_dry_run_lists_and_changes_nothing_on_either_side(scene: Scene, run_task: Run) -> None:
    scene.healthy_hub()
    old_web = scene.balancer("teaching", "old-web")
    made = scene.address_of(scene.floating_ip(on=old_web, made_for="teaching/old-web"))
    scene.forget_requests()

    result = run_task("lb.cleanup", "--env", ENV, "--dry-run")

    assert result.code == 0, result.err
    assert f"would delete load balancer {lb_name('teaching', 'old-web')}" in result.out
    assert f"would release floating IP {made}" in result.out
    assert "dry run: nothing was changed" in result.out
    assert scene.cloud.mutating_calls() == []
    assert scene.kube.mutating_requests() == []
    assert old_web["id"] in scene.cloud.load_balancers


def test_without_yes_and_without_a_terminal_it_refuses_naming_yes(
    scene: Scene, run_task: Run
) -> None:
    scene.balancer("teaching", "old-web")
    scene.forget_requests()

    result = run_task("lb.cleanup", "--env", ENV)

    assert result.code == 2
    assert "option --yes: required to delete 1 load balancer(s)" in result.err
    assert f"load balancer {lb_name('teaching', 'old-web')}" in result.out  # listed first
    assert scene.cloud.mutating_calls() == []


@pytest.mark.parametrize(("answer", "deleted"), [("y", True), ("n", False), ("", False)])
def test_a_person_at_the_terminal_decides(scene: Scene, answer: str, deleted: bool) -> None:
    orphan = scene.balancer("teaching", "old-web")
    questions: list[str] = []

    def ask(question: str) -> str:
        questions.append(question)
        return answer

    run(scene, ask=ask)

    assert questions == ["Delete 1 load balancer(s)? [y/N] "]
    assert (orphan["id"] not in scene.cloud.load_balancers) is deleted


def test_a_second_run_has_nothing_to_do(scene: Scene, run_task: Run) -> None:
    scene.healthy_hub()
    scene.balancer("teaching", "old-web")
    run(scene, yes=True)
    scene.forget_requests()

    result = run_task("lb.cleanup", "--env", ENV)

    assert result.code == 0, result.err
    assert "none; every load balancer of this cluster has its Service" in result.out
    assert scene.cloud.mutating_calls() == []


def test_an_orphan_octavia_is_still_working_on_is_left_for_later(scene: Scene) -> None:
    busy = scene.balancer("teaching", "old-web", status="PENDING_UPDATE")

    outcome = run(scene, yes=True)

    assert outcome.skipped == [busy["name"]]
    assert scene.cloud.mutating_calls() == []


def test_a_service_created_meanwhile_saves_its_load_balancer(scene: Scene) -> None:
    orphan = scene.balancer("teaching", "web")

    def ask(question: str) -> str:
        # While the operator reads the list, someone deploys the Service again.
        scene.service("teaching", "web")
        return "y"

    outcome = run(scene, ask=ask)

    assert outcome.deleted == []
    assert orphan["id"] in scene.cloud.load_balancers
    assert scene.cloud.mutating_calls() == []


def test_a_busy_octavia_is_retried_until_it_accepts(scene: Scene) -> None:
    orphan = scene.balancer("teaching", "old-web")
    scene.cloud.fail_request("DELETE", r"/lbaas/loadbalancers/", kind="503", times=2)

    outcome = run(scene, yes=True)

    assert outcome.deleted == [orphan["name"]]
    assert len(lb_deletes(scene)) == 3  # two refusals, then the delete
