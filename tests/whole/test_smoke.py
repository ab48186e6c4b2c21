"""The cloud smoke suite's control flow (scripts/smoke.py), against the fake cloud.

Each step is the real `invoke` command, run in this process (`run_task`) instead of a
subprocess, so the fake cloud, the Kubernetes emulator and the recording helm answer it.
The only help the harness gives: once Magnum made the cluster, its API address is
pointed at the emulator and the emulator is seeded with what the chart's controllers
would have produced (`tests.support.driver_clusters.seed`), as in the driver tests.
`hub.health` needs a JupyterHub answering on the hub's public URL, which none of the
fakes is (tests/hub/test_health.py runs it against the real component): the harness
records it as passed without running it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml

from scripts import smoke
from tests.cluster.conftest import CLUSTER, HEAT_IMAGE, merge
from tests.conftest import TaskRun
from tests.support.clock import FakeClock
from tests.support.driver_clusters import seed
from tests.support.fake_helm import FakeHelm
from tests.support.fakecloud import FakeCloud
from tests.support.fakekube import FakeKube

ENV = "smoke-ci"
SMALLEST = {"min_workers": 1, "max_workers": 1, "node_groups": [], "gpu": {"enabled": False}}


@pytest.fixture
def smoke_env(
    config_dir: Path,
    run_task: Callable[..., TaskRun],
    fake_cloud: FakeCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    fake_cloud.clouds_yaml(tmp_path, monkeypatch)
    assert run_task("config.init", "--env", ENV).code == 0
    path = config_dir / f"{ENV}.yaml"
    config = yaml.safe_load(path.read_text())
    config["cloud"] = "fake"
    # A Fedora CoreOS image: Magnum hands those to the heat driver (cluster preflight).
    heat = {"driver": "heat", "image": HEAT_IMAGE}
    config["cluster"] = merge(merge(CLUSTER, heat), SMALLEST)
    config["hub"]["floating_ip"] = None
    # No GPU group, so no GPU profile either (config.check refuses one without the other).
    config["hub"]["profiles"] = [p for p in config["hub"]["profiles"] if not p.get("gpus")]
    path.write_text(yaml.safe_dump(config))
    secrets_path = config_dir / f"{ENV}.secrets.yaml"
    secrets = yaml.safe_load(secrets_path.read_text())
    secrets["oauth_client_secret"] = "client-secret-for-tests"
    secrets_path.write_text(yaml.safe_dump(secrets))
    return path


class Harness:
    """The runner: real commands in-process; `fail` makes one step answer 1 after running."""

    def __init__(self, run_task: Callable[..., TaskRun], cloud: FakeCloud, kube: FakeKube):
        self.run_task, self.cloud, self.kube = run_task, cloud, kube
        self.fail = ""
        self.interrupt = ""
        self.ran: list[tuple[str, int]] = []
        self.out = ""
        self.clock = FakeClock()

    def run(self, *argv: str) -> TaskRun:
        self.clock.advance(60.0)  # every command "takes" a minute on the smoke's clock
        return self.run_task(*argv)

    def __call__(self, argv: Sequence[str]) -> int:
        if argv[0] == self.interrupt:
            raise KeyboardInterrupt
        if argv[0] == "hub.health":
            self.ran.append(("hub.health", 0))
            return 1 if self.fail == "hub.health" else 0
        if argv[0] == "deploy":
            made = self.run("cluster.deploy", "--env", ENV)
            self.out += made.out + made.err
            self.ran.append(("cluster.deploy", made.code))
            if made.code:
                return made.code
            for cluster in self.cloud.clusters.values():
                cluster["api_address"] = self.kube.url
            seed(self.kube, "heat")
        result = self.run(*argv)
        self.out += result.out + result.err
        self.ran.append((argv[0], result.code))
        if argv[0] == self.fail:
            return 1
        # status reads the hub's URL too (health, certificate): with no hub answering
        # there, its exit code says nothing about the control flow under test.
        return 0 if argv[0] == "status" else result.code


@pytest.fixture
def harness(
    run_task: Callable[..., TaskRun], fake_cloud: FakeCloud, kube: FakeKube, fake_helm: FakeHelm
) -> Harness:
    return Harness(run_task, fake_cloud, kube)


def cluster_left(cloud: FakeCloud) -> list[str]:
    return sorted(f"{c['name']} {c['status']}" for c in cloud.clusters.values())


STEPS = ["deploy", "hub.health", "status", "lb.doctor"]


def test_success_path_deploys_checks_destroys_and_reports_durations(
    smoke_env: Path, harness: Harness, fake_cloud: FakeCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    code = smoke.main([ENV], {"OS_CLOUD": "fake"}, harness, clock=harness.clock)

    assert code == 0, harness.out
    assert [name for name, _ in harness.ran] == ["cluster.deploy", *STEPS, "destroy"]
    assert all(code == 0 for _, code in harness.ran[:2]), harness.out
    assert fake_cloud.count("POST", r"/clusters$") == 1  # the smoke made its cluster
    assert cluster_left(fake_cloud) == []
    lines = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    # The harness's clock lets each command take 60 s (deploy: cluster.deploy + deploy).
    assert "✓ deploy 120.0s invoke deploy --env smoke-ci --no-health" in lines
    assert "✓ lb.doctor 60.0s invoke lb.doctor --env smoke-ci" in lines
    assert "✓ destroy 60.0s invoke destroy --env smoke-ci --yes --no-backup" in lines
    assert "left in the project: nothing this run created" in lines


@pytest.mark.parametrize("failing", STEPS)
def test_a_failed_step_still_destroys_and_later_checks_are_skipped(
    failing: str, smoke_env: Path, harness: Harness, fake_cloud: FakeCloud
) -> None:
    harness.fail = failing

    report = smoke.run(ENV, harness, clock=harness.clock, say=lambda line: None)

    names = [step.name for step in report.steps]
    assert names == [*STEPS[: STEPS.index(failing) + 1], "destroy"]
    assert not report.ok
    assert report.steps[-1].ok and report.left == []
    assert cluster_left(fake_cloud) == []


def test_a_cluster_that_fails_to_create_is_destroyed(
    smoke_env: Path, harness: Harness, fake_cloud: FakeCloud
) -> None:
    fake_cloud.fail_next("cluster", "No valid host was found")

    report = smoke.run(ENV, harness, clock=harness.clock, say=lambda line: None)

    assert [(s.name, s.ok) for s in report.steps] == [("deploy", False), ("destroy", True)]
    assert cluster_left(fake_cloud) == []


def test_a_failed_destroy_says_what_is_left(
    smoke_env: Path, harness: Harness, fake_cloud: FakeCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_cloud.fail_next("cluster_delete", "Resource DELETE failed: volume in use")

    code = smoke.main([ENV], {"OS_CLOUD": "fake"}, harness, clock=harness.clock)

    assert code == 1
    assert cluster_left(fake_cloud) == ["jhub-test DELETE_FAILED"]
    out = capsys.readouterr().out
    assert "✗ (exit 1) destroy" in out
    assert "left in the project:" in out and "the cluster jhub-test" in out
    assert "invoke destroy --env smoke-ci --yes" in out


def test_ctrl_c_during_a_check_still_destroys(
    smoke_env: Path, harness: Harness, fake_cloud: FakeCloud
) -> None:
    harness.interrupt = "status"

    report = smoke.run(ENV, harness, clock=harness.clock, say=lambda line: None)

    assert report.interrupted and not report.ok
    assert [s.name for s in report.steps] == ["deploy", "hub.health", "destroy"]
    assert cluster_left(fake_cloud) == []


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ([ENV], {}, "cloud-smoke refused: OS_CLOUD: must name the clouds.yaml entry"),
        ([], {"OS_CLOUD": "fake"}, "cloud-smoke refused: environment: give exactly one"),
        (["prod"], {"OS_CLOUD": "fake"}, "cloud-smoke refused: environment: 'prod' does not"),
    ],
)
def test_refusals_exit_2_with_one_line_before_any_call(  # noqa: PLR0917 - pytest fixtures
    argv: list[str],
    environ: dict[str, str],
    message: str,
    smoke_env: Path,
    harness: Harness,
    fake_cloud: FakeCloud,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert smoke.main(argv, environ, harness) == 2

    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert harness.ran == []
    assert list(fake_cloud.log) == []


def test_a_config_bigger_than_the_smallest_cluster_is_refused(
    smoke_env: Path, harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    config = yaml.safe_load(smoke_env.read_text())
    config["cluster"]["max_workers"] = 3
    smoke_env.write_text(yaml.safe_dump(config))

    assert smoke.main([ENV], {"OS_CLOUD": "fake"}, harness) == 2

    assert capsys.readouterr().err == (
        "cloud-smoke refused: cluster.min_workers/max_workers: must both be 1 for a smoke run\n"
    )
    assert harness.ran == []


def test_nox_never_runs_the_smoke_by_default() -> None:
    import nox

    import noxfile

    defaults = list(nox.options.sessions or [])
    assert defaults == ["lint", "typecheck", "tests"]
    assert callable(noxfile.cloud_smoke)  # the session exists, but not among the defaults
