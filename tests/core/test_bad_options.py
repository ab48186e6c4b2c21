"""Every option of every task: a value invoke cannot convert, a missing value, an
unknown option — one line naming it, exit 2, no call made.

The cases are generated from the task namespace, so a new task or option is in the
corpus the day it is added. issue 15: `cluster.autoscaler --min abc` and
`hub.ssl-retry --timeout abc` printed tracebacks; unknown options exited 1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, TaskRun
from tests.core.corpus import (
    assert_refused,
    fresh_secrets,
    ready_config,
    write_config,
    write_secrets,
)

Run = Callable[..., TaskRun]


def _options() -> list[tuple[str, str, type, bool]]:
    """(task, --flag, kind, takes a value) for every option of every task."""
    from scripts.namespace import build

    namespace = build()
    found = []
    for name in sorted(namespace.task_names):
        for argument in namespace[name].get_arguments():
            # invoke's parser/context.py translate_underscores: `from_` is --from.
            flag = "--" + str(argument.name).strip("_").replace("_", "-")
            found.append((name, flag, argument.kind, bool(argument.takes_value)))
    return found


OPTIONS = _options()
TASKS = sorted({task for task, *_ in OPTIONS} | {"status", "plan"})
NUMBERS = [(t, f) for t, f, kind, _ in OPTIONS if kind in (int, float)]
VALUED = [(t, f) for t, f, _, takes in OPTIONS if takes]
FLAGS = [(t, f) for t, f, _, takes in OPTIONS if not takes]


def test_the_corpus_sees_every_task() -> None:
    assert len(TASKS) >= 40
    assert ("cluster.autoscaler", "--min") in NUMBERS
    assert ("hub.ssl-retry", "--timeout") in NUMBERS


@pytest.mark.parametrize("text", ["abc", "1.5", "", "1e3", "0x10", "inf", "nan", "1_0x"])
@pytest.mark.parametrize(("task", "flag"), NUMBERS, ids=[f"{t} {f}" for t, f in NUMBERS])
def test_a_number_option_given_text_is_one_line(  # noqa: PLR0917 - fixtures and parameters
    config_dir: Path, run_task: Run, socket_disabled: None, task: str, flag: str, text: str
) -> None:
    result = run_task(task, f"{flag}={text}")
    assert_refused(result, f"option {flag}:")
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize(("task", "flag"), VALUED, ids=[f"{t} {f}" for t, f in VALUED])
def test_an_option_without_its_value_is_one_line(
    config_dir: Path, run_task: Run, socket_disabled: None, task: str, flag: str
) -> None:
    result = run_task(task, flag)
    assert_refused(result, f"option {flag}: needs a value")


@pytest.mark.parametrize(("task", "flag"), FLAGS, ids=[f"{t} {f}" for t, f in FLAGS])
def test_a_flag_given_a_value_is_one_line(
    config_dir: Path, run_task: Run, socket_disabled: None, task: str, flag: str
) -> None:
    assert_refused(run_task(task, f"{flag}=yes"), f"task {task}: unexpected argument 'yes'")


@pytest.mark.parametrize("task", TASKS)
def test_an_unknown_option_is_one_line(
    config_dir: Path, run_task: Run, socket_disabled: None, task: str
) -> None:
    result = run_task(task, "--no-such-option", "x")
    assert_refused(result, f"option --no-such-option: unknown for task {task}")
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["clustr.deploy"], "task 'clustr.deploy': unknown; did you mean cluster.deploy?"),
        (["plan", "extra"], "task plan: unexpected argument 'extra'"),
        (["cluster.autoscaler", "--mni", "1"], "did you mean --min?"),
        (["--list", "nothere"], "option --list:"),
        (["--list-depth", "x"], "option --list-depth: 'x' is not a whole number"),
        (["--help", "no.such-task"], "task 'no.such-task': unknown"),
        (["plan", "--env", "a\nb"], "option --env"),
    ],
)
def test_command_line_mistakes_are_one_line(
    config_dir: Path, run_task: Run, socket_disabled: None, argv: list[str], expected: str
) -> None:
    result = run_task(*argv)
    assert_refused(result, expected)
    assert len(result.err.strip().splitlines()) == 1


# ---------------------------------------------------------------- the real binaries


def entry_point() -> str:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    return str(scripts["jhub"])


def test_jhub_is_a_console_script_of_the_package() -> None:
    module, _, function = entry_point().partition(":")
    assert (module, function) == ("scripts.cli", "main")


COMMANDS = {
    "invoke": [sys.executable, "-m", "invoke"],
    # What the `jhub` console script runs: pyproject's scripts.cli:main.
    "jhub": [sys.executable, "-c", "from scripts.cli import main; main()"],
}


@pytest.mark.parametrize("binary", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["cluster.autoscaler", "--min", "abc"],
            "error: option --min: 'abc' is not a whole number",
        ),
        (
            ["hub.ssl-retry", "--timeout", "abc"],
            "error: option --timeout: 'abc' is not a whole number",
        ),
        (
            ["cluster.autoscaler", "--foo"],
            "error: option --foo: unknown for task cluster.autoscaler",
        ),
        (["plan", "--env"], "error: option --env: needs a value"),
    ],
)
def test_both_binaries_own_the_command_line(
    tmp_path: Path, binary: str, argv: list[str], expected: str
) -> None:
    env = {**os.environ, "JHUB_CONFIG_DIR": str(tmp_path), "JHUB_BUILD_DIR": str(tmp_path / "b")}
    done = subprocess.run(
        [*COMMANDS[binary], *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == expected or done.stderr.strip().startswith(expected), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("binary", sorted(COMMANDS))
def test_both_binaries_list_and_run_the_tasks(tmp_path: Path, binary: str) -> None:
    env = {**os.environ, "JHUB_CONFIG_DIR": str(tmp_path), "JHUB_BUILD_DIR": str(tmp_path / "b")}
    listed = subprocess.run(
        [*COMMANDS[binary], "--list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert "cluster.autoscaler" in listed.stdout and "plan" in listed.stdout
    (tmp_path / "example.yaml").write_text((ROOT / "config" / "example.yaml").read_text())
    planned = subprocess.run(
        [*COMMANDS[binary], "plan"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert planned.returncode == 0, planned.stderr
    assert "Placeholders" in planned.stdout


# ---------------------------------------------------------------- values a task refuses itself

SEMANTIC: list[tuple[list[str], str]] = [
    (["hub.health", "--timeout", "inf"], "option --timeout"),
    (["hub.health", "--timeout", "nan"], "option --timeout"),
    (["hub.health", "--timeout", "-1"], "option --timeout"),
    (["hub.health", "--timeout", "0"], "option --timeout"),
    (["hub.health", "--url", "http://a b/"], "option --url"),
    (["hub.health", "--url", "http://[::1"], "option --url"),
    (["hub.health", "--url", "http://hub:99999/"], "option --url"),
    (["hub.health", "--url", "ftp://hub/"], "option --url"),
    (["hub.status", "--url", "http:///path"], "option --url"),
    (["hub.status", "--url", "http://hub\x07/"], "option --url"),
    (["hub.ssl-retry", "--timeout", "0"], "option --timeout"),
    (["hub.ssl-retry", "--timeout", "99999999"], "option --timeout"),
    (["hub.ssl-retry", "--resolvers", "1.1.1.1,notanip"], "option --resolvers"),
    (["hub.approve", "--names", ",,"], "option --names"),
    (["hub.capacity", "--users", "-1"], "option --users"),
    (["hub.capacity", "--users", "100001"], "option --users"),
    (["hub.capacity", "--ready-per", "0"], "option --ready-per"),
    (
        ["cluster.autoscaler", "--nodegroup", "x y", "--min", "0", "--max", "2"],
        "option --nodegroup",
    ),
    (
        ["cluster.autoscaler", "--nodegroup", "gpu-worker", "--min", "5", "--max", "2"],
        "option --min",
    ),
    (["cluster.autoscaler", "--nodegroup", "gpu-worker", "--max", "2"], "option --min"),
    (["cluster.autoscaler-logs", "--tail", "-5"], "option --tail"),
    (["gpu.fix-csi", "--timeout", "0"], "option --timeout"),
    (["gpu.build-driver", "--fedora-version", "1e3", "--dry-run"], "option --fedora-version"),
    (["gpu.build-driver", "--driver-version", "latest", "--dry-run"], "option --driver-version"),
    (["gpu.build-driver", "--context", "/etc/passwd", "--dry-run"], "option --context"),
]


@pytest.mark.parametrize(("argv", "expected"), SEMANTIC, ids=[" ".join(a) for a, _ in SEMANTIC])
def test_option_values_the_task_refuses_are_one_line(
    config_dir: Path, run_task: Run, socket_disabled: None, argv: list[str], expected: str
) -> None:
    write_config(config_dir, "dev", ready_config())
    write_secrets(config_dir, "dev", fresh_secrets())
    result = run_task(*argv, "--env", "dev")
    assert_refused(result, expected)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["local.up", "--name", "Bad Name"], "option --name"),
        (["local.up", "--monitoring", "--no-monitoring"], "option --monitoring"),
        (["config.init", "--env", "dev", "--auth", "ldap"], "option --auth"),
        (["config.init", "--env", "dev", "--domain", "bad domain"], "option --domain"),
        (["config.init", "--env", "dev", "--domain", "x" * 300], "option --domain"),
    ],
)
def test_options_of_tasks_without_an_environment_are_one_line(
    config_dir: Path, run_task: Run, socket_disabled: None, argv: list[str], expected: str
) -> None:
    result = run_task(*argv)
    assert_refused(result, expected)
    assert "x" * 100 not in result.err
