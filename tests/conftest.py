"""Shared fixtures: run a task in-process, isolated config and build folders."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = [
    "tests.support.components",
    "tests.support.fakecloud",
    "tests.support.fakekube",
    "tests.support.fake_helm",
    "tests.support.network",
]


# Documentation-only values (core.placeholders) are refused by every task that talks to
# a cloud or cluster. The area tests rehearse against the fakes (the fake cloud answers on
# 203.0.113.0/24; the area fixtures write configs from config/example.yaml), as an operator
# rehearsing against a test cloud would with JHUB_ALLOW_DOCUMENTATION_VALUES=1: they ask for
# `documentation_values` (each area's conftest does, for its whole directory). Everything
# else keeps the refusal, and an allowance set in the developer's own shell never leaks in.
@pytest.fixture(autouse=True)
def _refuse_documentation_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from scripts.core.placeholders import ALLOW_VARIABLE

    monkeypatch.delenv(ALLOW_VARIABLE, raising=False)


@pytest.fixture
def documentation_values(
    _refuse_documentation_values: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Allow the example's documentation-only values for this test (a rehearsal on fakes)."""
    from scripts.core.placeholders import ALLOW_VARIABLE

    monkeypatch.setenv(ALLOW_VARIABLE, "1")


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
