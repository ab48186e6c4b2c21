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
    """Run `invoke ARGS...` in this process, as a user would type it."""
    from invoke import Program

    sys.path.insert(0, str(ROOT))
    import tasks

    def run(*argv: str) -> TaskRun:
        capsys.readouterr()
        code = 0
        try:
            Program(namespace=tasks.ns, version="test").run(["invoke", *argv], exit=True)
        except SystemExit as stop:
            code = int(stop.code or 0)
        captured = capsys.readouterr()
        return TaskRun(code, captured.out, captured.err)

    yield run
    sys.path.remove(str(ROOT))
