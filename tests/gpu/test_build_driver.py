"""gpu.build-driver against a real dockerd and Debian's docker-registry on loopback.

The context is tests/fixtures/driver-build/: FROM scratch and no RUN, so it builds
without the network. Its COPY destination, ENV and LABEL are made of the build
arguments, so the image pulled back from the registry shows what they were.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import TaskRun
from tests.support.components import RegistryServer
from tests.support.processes import LOOPBACK, free_port

if TYPE_CHECKING:
    import docker

FIXTURE = Path(__file__).parents[1] / "fixtures" / "driver-build"
# Where a test wants no daemon contact at all: any attempt fails, differently from exit 2.
NO_DAEMON = "unix:///nonexistent/docker.sock"


@pytest.fixture
def image_name() -> str:
    # The registry lives for the whole session; a fresh name keeps tests apart.
    return f"driver-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Target:
    """An environment whose gpu.driver.registry is the test registry, and its image."""

    env: str
    registry: RegistryServer
    repository: str  # path inside the registry: jhub/<image>

    def reference(self, tag: str) -> str:
        return f"{self.registry.host}/{self.repository}:{tag}"


@pytest.fixture
def target(
    docker_client: docker.DockerClient,
    registry: RegistryServer,
    write_env: Callable[..., str],
    image_name: str,
) -> Iterator[Target]:
    env = write_env(
        **{"gpu.driver.registry": f"{registry.host}/jhub", "gpu.driver.image": image_name}
    )
    found = Target(env, registry, f"jhub/{image_name}")
    yield found
    for image in docker_client.images.list(name=f"{registry.host}/{found.repository}"):
        with contextlib.suppress(Exception):  # already gone is fine
            docker_client.images.remove(image.id, force=True)


def files_in(client: docker.DockerClient, reference: str, directory: str) -> dict[str, bytes]:
    """Regular files below `directory` in an image, read without running it."""
    container = client.api.create_container(reference, command=["/none"])["Id"]
    try:
        stream, _ = client.api.get_archive(container, directory)
        found: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            for member in archive.getmembers():
                if member.isfile():
                    handle = archive.extractfile(member)
                    assert handle is not None
                    found[member.name] = handle.read()
        return found
    finally:
        client.api.remove_container(container, force=True)


def test_build_push_and_pull_back(
    docker_client: docker.DockerClient, target: Target, run_task: Callable[..., TaskRun]
) -> None:
    reference = target.reference("570.86.15-fedora41")

    result = run_task(
        "gpu.build-driver",
        "--env",
        target.env,
        "--fedora-version",
        "41",
        "--driver-version",
        "570.86.15",
        "--context",
        str(FIXTURE),
    )

    assert result.code == 0, result.err
    assert "Step 1/" in result.out  # the build's progress was streamed
    assert "Pushed" in result.out
    assert "sha256:" in result.out
    assert target.registry.tags(target.repository) == ["570.86.15-fedora41"]
    # The versions differ from the config, so the summary says what to change.
    assert "version: '570.86.15'" in result.out and "fedora_version: '41'" in result.out

    # Pull it back from the registry, not from the daemon's cache.
    docker_client.images.remove(reference, force=True)
    docker_client.images.pull(reference)
    files = files_in(docker_client, reference, "/opt/driver-build")
    expected = FIXTURE.joinpath("build-info.txt").read_bytes()
    assert files == {"driver-build/nvidia-570.86.15-fedora41.txt": expected}
    config: dict[str, Any] = docker_client.api.inspect_image(reference)["Config"]
    assert "DRIVER_VERSION=570.86.15" in config["Env"]
    assert "FEDORA_VERSION=41" in config["Env"]
    assert config["Labels"]["org.opencontainers.image.version"] == "570.86.15-fedora41"


def test_versions_default_to_the_config_and_no_push_stays_local(
    docker_client: docker.DockerClient, target: Target, run_task: Callable[..., TaskRun]
) -> None:
    reference = target.reference("580.95.05-fedora42")

    result = run_task(
        "gpu.build-driver", "--env", target.env, "--no-push", "--context", str(FIXTURE)
    )

    assert result.code == 0, result.err
    labels = docker_client.api.inspect_image(reference)["Config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == "580.95.05-fedora42"
    assert target.repository not in target.registry.catalog()
    assert "--no-push" in result.out


def test_failed_build_exits_1_with_the_daemons_message(
    target: Target, run_task: Callable[..., TaskRun], tmp_path: Path
) -> None:
    context = tmp_path / "broken"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM scratch\nARG FEDORA_VERSION\nARG DRIVER_VERSION\n"
        "COPY no-such-file-${DRIVER_VERSION} /x\n"
    )
    result = run_task("gpu.build-driver", "--env", target.env, "--context", str(context))

    assert result.code == 1
    # The daemon's own words, with the build argument expanded by the daemon.
    assert "no-such-file-580.95.05" in result.err
    assert result.err.startswith("error: docker build of ")
    assert "Traceback" not in result.err
    assert target.repository not in target.registry.catalog()


def test_push_to_a_dead_registry_exits_1_with_the_daemons_message(
    docker_client: docker.DockerClient,
    write_env: Callable[..., str],
    run_task: Callable[..., TaskRun],
    image_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dead = f"{LOOPBACK}:{free_port()}"  # nothing listens there
    env = write_env(**{"gpu.driver.registry": dead, "gpu.driver.image": image_name})
    password = f"pw-{secrets.token_hex(12)}"
    monkeypatch.setenv("JHUB_REGISTRY_USERNAME", "robot")
    monkeypatch.setenv("JHUB_REGISTRY_PASSWORD", password)

    try:
        result = run_task("gpu.build-driver", "--env", env, "--context", str(FIXTURE))

        assert result.code == 1
        assert f"error: docker push of {dead}/{image_name}:580.95.05-fedora42 failed" in result.err
        assert "connection refused" in result.err.lower()  # dockerd's dial error
        assert f"check that {dead} is up" in result.err
        assert "Traceback" not in result.err
        assert password not in result.out + result.err
    finally:
        with contextlib.suppress(Exception):
            docker_client.images.remove(f"{dead}/{image_name}:580.95.05-fedora42", force=True)


# ------------------------------------------------------------ refused before any daemon call


@pytest.fixture
def no_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_DAEMON)


refused_before_docker = pytest.mark.usefixtures("no_daemon")


@refused_before_docker
@pytest.mark.parametrize(
    ("options", "config", "expected"),
    [
        (["--fedora-version", "fc42"], {}, "option --fedora-version: must be a two-digit"),
        (["--driver-version", "latest"], {}, "option --driver-version: must be a driver version"),
        ([], {"gpu.driver.registry": ""}, "gpu.driver.registry: empty, so there is nowhere"),
        (
            [],
            {"gpu.driver.registry": "https://harbor.example.org/nvidia"},
            "gpu.driver.registry: 'https://harbor.example.org/nvidia' has a URL scheme",
        ),
        (
            [],
            {"gpu.driver.registry": "harbor.example.org/NVIDIA"},
            "gpu.driver.registry: 'harbor.example.org/NVIDIA' is not a registry path",
        ),
        (["--context", "/nonexistent/context"], {}, "option --context: /nonexistent/context"),
    ],
)
def test_bad_input_exits_2_without_a_daemon_call(
    write_env: Callable[..., str],
    run_task: Callable[..., TaskRun],
    options: list[str],
    config: dict[str, Any],
    expected: str,
) -> None:
    result = run_task("gpu.build-driver", "--env", write_env(**config), *options)

    assert result.code == 2, result.err
    assert expected in result.err


@refused_before_docker
def test_context_that_ignores_the_versions_is_refused(
    write_env: Callable[..., str], run_task: Callable[..., TaskRun], tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nARG DRIVER_VERSION\n")

    result = run_task("gpu.build-driver", "--env", write_env(), "--context", str(tmp_path))

    assert result.code == 2
    assert "declares no ARG FEDORA_VERSION" in result.err


@refused_before_docker
def test_half_set_credentials_are_refused(
    write_env: Callable[..., str],
    run_task: Callable[..., TaskRun],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JHUB_REGISTRY_USERNAME", "robot")
    monkeypatch.delenv("JHUB_REGISTRY_PASSWORD", raising=False)

    result = run_task("gpu.build-driver", "--env", write_env())

    assert result.code == 2
    assert "environment JHUB_REGISTRY_PASSWORD: unset while JHUB_REGISTRY_USERNAME is set" in (
        result.err
    )


@refused_before_docker
def test_dry_run_names_the_image_and_talks_to_no_daemon(
    write_env: Callable[..., str], run_task: Callable[..., TaskRun]
) -> None:
    result = run_task("gpu.build-driver", "--env", write_env(), "--dry-run")

    assert result.code == 0, result.err
    assert "harbor.example.org/nvidia/nvidia-driver:580.95.05-fedora42" in result.out
    assert "would build" in result.out and "FEDORA_VERSION=42, DRIVER_VERSION=580.95.05" in (
        result.out
    )
    assert "would push" in result.out


@refused_before_docker
def test_unreachable_daemon_is_an_operation_failure(
    write_env: Callable[..., str], run_task: Callable[..., TaskRun]
) -> None:
    result = run_task("gpu.build-driver", "--env", write_env(), "--context", str(FIXTURE))

    assert result.code == 1
    assert "cannot reach the Docker daemon" in result.err
    assert "DOCKER_HOST" in result.err
