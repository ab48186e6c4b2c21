"""Shared fixtures: run a task in-process, isolated config and build folders."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

pytest_plugins = [
    "tests.support.components",
    "tests.support.fakecloud",
    "tests.support.fakekube",
    "tests.support.fake_helm",
]


def shared_path(*parts: str) -> Path:
    """A file under ../shared; missing is a skip here and a failure in CI."""
    from tests.support.components import require

    path = SHARED.joinpath(*parts)
    if not path.exists():
        require("shared fixtures", f"{path} is missing (the project's ../shared folder)")
    return path


# Documentation-only values (core.placeholders) are refused by every task that talks to
# a cloud or cluster. A test that stands up a fake or a real service through a shared
# fixture (the fake cloud answers on 203.0.113.0/24; the area fixtures write configs
# from config/example.yaml) is a rehearsal and allows them, as an operator rehearsing
# against a test cloud would with JHUB_ALLOW_DOCUMENTATION_VALUES=1. A test using only
# the fixtures below, its own parameters and fixtures of its own module keeps the
# refusal (the bad-input corpus and the placeholder tests are such tests).
PLAIN_FIXTURES = frozenset(
    {
        "config_dir",
        "run_task",
        "socket_disabled",
        "socket_enabled",
        "tmp_path",
        "tmp_path_factory",
        "tmpdir",
        "tmpdir_factory",
        "monkeypatch",
        "capsys",
        "capsysbinary",
        "capfd",
        "capfdbinary",
        "caplog",
        "recwarn",
        "request",
        "pytestconfig",
        "record_property",
        "record_testsuite_property",
        "doctest_namespace",
        "cache",
        "event_loop_policy",
        "_documentation_values",
    }
)


@pytest.fixture(autouse=True)
def _documentation_values(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    from scripts.core.placeholders import ALLOW_VARIABLE

    callspec = getattr(request.node, "callspec", None)
    parameters = set(callspec.params) if callspec is not None else set()
    shared = {
        name
        for name in set(request.fixturenames) - PLAIN_FIXTURES - parameters
        if not hasattr(request.module, name)
    }
    if shared:
        monkeypatch.setenv(ALLOW_VARIABLE, "1")
    else:
        monkeypatch.delenv(ALLOW_VARIABLE, raising=False)


@dataclass(frozen=True)
class TaskRun:
    code: int
    out: str
    err: str


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty config/ holding a copy of the example, and a private build/."""
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(ROOT / "config" / "example.yaml", folder / "example.yaml")
    monkeypatch.setenv("JHUB_CONFIG_DIR", str(folder))
    monkeypatch.setenv("JHUB_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.delenv("JHUB_ENV", raising=False)
    for variable in [v for v in __import__("os").environ if v.startswith("JHUB__")]:
        monkeypatch.delenv(variable)
    return folder


@pytest.fixture
def run_task(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., TaskRun]]:
    """Run `invoke ARGS...` in this process, as a user would type it (through the
    project's Program, as `invoke` and `jhub` both run it)."""
    from scripts.cli import CommandLine

    sys.path.insert(0, str(ROOT))
    import tasks

    def run(*argv: str) -> TaskRun:
        capsys.readouterr()
        code = 0
        try:
            CommandLine(namespace=tasks.ns, version="test").run(["invoke", *argv], exit=True)
        except SystemExit as stop:
            code = int(stop.code or 0)
        captured = capsys.readouterr()
        return TaskRun(code, captured.out, captured.err)

    yield run
    sys.path.remove(str(ROOT))
