"""How a task fails: one line and an exit code, a traceback only when asked."""

from __future__ import annotations

import pytest
from invoke.collection import Collection
from invoke.context import Context
from invoke.program import Program
from invoke.tasks import task

from scripts.core.errors import OperationFailed
from scripts.core.runner import procedure


@task
@procedure
def broken_cloud(c: Context) -> None:
    raise OperationFailed("Magnum answered 503", "retry in a few minutes")


@task
@procedure
def bug(c: Context) -> None:
    raise KeyError("surprise")


def run(name: str) -> int:
    try:
        Program(namespace=Collection(broken_cloud, bug)).run(["invoke", name], exit=True)
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def test_failed_operation_prints_cause_and_remedy(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("broken-cloud") == 1
    err = capsys.readouterr().err
    assert err.splitlines() == ["error: Magnum answered 503", "  fix: retry in a few minutes"]


def test_unexpected_error_has_no_traceback_unless_debugging(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JHUB_DEBUG", raising=False)
    assert run("bug") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "unexpected KeyError" in err and "--debug" in err

    monkeypatch.setenv("JHUB_DEBUG", "1")
    assert run("bug") == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'surprise'" in err
