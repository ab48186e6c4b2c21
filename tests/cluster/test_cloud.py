"""core.cloud: connecting from clouds.yaml, which errors are retried, one clear error."""

from __future__ import annotations

from pathlib import Path

import openstack.exceptions
import pytest
from magnumclient import exceptions as magnum_errors

from scripts.cluster.magnum import Magnum
from scripts.core import cloud as core_cloud
from scripts.core.errors import BadInput, OperationFailed
from tests.cluster.conftest import EnvFactory
from tests.support.fakecloud import FakeCloud


def raised(action: object) -> Exception:
    try:
        action()  # type: ignore[operator]
    except Exception as error:
        return error
    raise AssertionError("nothing was raised")


def test_connect_reaches_the_named_cloud(cloud: FakeCloud, make_env: EnvFactory) -> None:
    connection = core_cloud.connect(make_env().settings)
    templates = list(connection.container_infrastructure_management.cluster_templates())
    assert templates == []
    assert cloud.count("GET", r"/v1/clustertemplates") == 1


def test_unknown_cloud_names_the_key_and_the_known_entries(
    cloud: FakeCloud, make_env: EnvFactory
) -> None:
    with pytest.raises(BadInput) as bad:
        core_cloud.connect(make_env(cloud="prod").settings)
    [problem] = bad.value.problems
    assert problem.key == "cloud"
    assert "'prod'" in problem.message and "entries found: fake" in problem.message
    assert list(cloud.log) == []


@pytest.mark.parametrize(
    ("kind", "transient"),
    [("500", True), ("502", True), ("503", True), ("connect_timeout", True),
     ("read_timeout", True)],
)  # fmt: skip
def test_faults_from_the_wire_are_transient_through_both_sdks(
    cloud: FakeCloud, make_env: EnvFactory, kind: str, transient: bool
) -> None:
    connection = core_cloud.connect(make_env().settings)
    proxy = connection.container_infrastructure_management
    cloud.fail_request("GET", r"/v1/clusters$", kind)
    sdk_error = raised(lambda: list(proxy.clusters()))
    uuid = cloud.add_cluster("c")["uuid"]
    cloud.fail_request("GET", r"/nodegroups/?$", kind)
    magnum_error = raised(lambda: core_cloud.magnum(connection).nodegroups.list(uuid))

    assert core_cloud.transient(sdk_error) is transient
    assert core_cloud.transient(magnum_error) is transient


def test_permanent_answers_are_not_retried(cloud: FakeCloud, make_env: EnvFactory) -> None:
    connection = core_cloud.connect(make_env().settings)
    missing = raised(lambda: connection.container_infrastructure_management.get_cluster("nope"))
    bad_flavor = raised(
        lambda: connection.container_infrastructure_management.create_cluster_template(
            name="t", coe="kubernetes", image_id="i", flavor_id="no-such-flavor"
        )
    )
    assert core_cloud.status_code(missing) == 404 and not core_cloud.transient(missing)
    assert core_cloud.status_code(bad_flavor) == 400 and not core_cloud.transient(bad_flavor)
    assert "Unable to find flavor no-such-flavor" in core_cloud.api_message(bad_flavor)


def test_only_conflicts_that_pass_by_themselves_are_transient() -> None:
    invalid = magnum_errors.Conflict(
        message="min_node_count for gpu is invalid (min_node_count (3) should be less or "
        "equal to node_count (1))."
    )
    exists = magnum_errors.Conflict(message="A node group with name gpu already exists")
    no_api_yet = magnum_errors.Conflict(message="Cluster API address is not available yet")
    lb_busy = openstack.exceptions.ConflictException(
        message="Load Balancer abc is immutable and cannot be updated.", http_status=409
    )
    busy = openstack.exceptions.BadRequestException(
        message="Bad request",
        details="Updating a cluster when status is UPDATE_IN_PROGRESS is not supported",
        http_status=400,
    )
    plain = openstack.exceptions.BadRequestException(message="bad", http_status=400)
    assert not core_cloud.transient(invalid)
    assert not core_cloud.transient(exists)
    assert core_cloud.transient(no_api_yet)
    assert core_cloud.transient(lb_busy)
    assert core_cloud.transient(busy)
    assert not core_cloud.transient(plain)
    assert not core_cloud.transient(ValueError("not from the cloud"))


def test_invalid_node_counts_are_refused_once_with_magnums_409(
    cloud: FakeCloud, make_env: EnvFactory
) -> None:
    """Magnum answers bad counts with NodeGroupInvalidInput (409): no minute of retries."""
    environment = make_env()
    magnum = Magnum(core_cloud.connect(environment.settings), cloud.clock)
    made = cloud.add_cluster("jhub-test", node_count=1)
    started = cloud.clock.monotonic()

    with pytest.raises(OperationFailed) as failure:
        magnum.update_nodegroup(
            made["uuid"],
            "default-worker",
            [{"op": "replace", "path": "/min_node_count", "value": 3}],
        )

    assert "HTTP 409" in failure.value.cause
    assert "min_node_count for default-worker is invalid" in failure.value.cause
    assert "still failing after retries" not in failure.value.cause
    assert cloud.count("PATCH", r"/nodegroups/") == 1
    assert cloud.clock.monotonic() == started


def test_call_retries_then_gives_one_clear_error(cloud: FakeCloud, make_env: EnvFactory) -> None:
    magnum = Magnum(core_cloud.connect(make_env().settings), cloud.clock)
    cloud.fail_request("GET", r"/v1/clusters$", "503", times=3)
    assert magnum.clusters_named("x") == []
    assert cloud.count("GET", r"/v1/clusters$") == 4

    cloud.fail_request("GET", r"/v1/clusters$", "503", times=core_cloud.ATTEMPTS)
    with pytest.raises(OperationFailed) as failed:
        magnum.clusters_named("x")
    assert failed.value.cause.startswith("could not list clusters (still failing after retries)")
    assert "HTTP 503" in failed.value.cause
    # Waiting between tries went to the injected clock, not the wall.
    assert cloud.clock.sleeps[:3] == [1.0, 2.0, 4.0]


def test_wrong_password_says_where_credentials_live(
    cloud: FakeCloud, make_env: EnvFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = cloud.clouds_yaml(tmp_path, monkeypatch)
    path.write_text(path.read_text().replace("fake-password", "wrong"))
    magnum = Magnum(core_cloud.connect(make_env().settings), cloud.clock)

    with pytest.raises(OperationFailed) as failed:
        magnum.clusters_named("x")

    assert "refused the credentials" in failed.value.cause
    assert "clouds.yaml" in failed.value.remedy
    assert "wrong" not in str(failed.value)
