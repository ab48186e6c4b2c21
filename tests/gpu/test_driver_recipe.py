"""The project's own driver recipe in gpu_driver/, checked without building it.

A full build downloads Fedora packages and NVIDIA's driver package, which CI here
cannot reach; what can be checked offline is checked: the build arguments, their
scope, the files the Dockerfile copies, and the entry script's syntax.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from scripts.gpu import dockerfile
from tests.conftest import ROOT

RECIPE = ROOT / "gpu_driver"


def parsed() -> dockerfile.Dockerfile:
    return dockerfile.parse((RECIPE / "Dockerfile").read_text(encoding="utf-8"))


def test_every_variable_is_declared_where_it_is_used() -> None:
    assert dockerfile.undeclared(parsed()) == []


def test_the_two_build_arguments_exist_and_pick_the_base_image() -> None:
    recipe = parsed()
    assert {"FEDORA_VERSION", "DRIVER_VERSION"} <= recipe.declared_args()
    assert recipe.final is not None
    assert dockerfile.from_uses(recipe.final, "FEDORA_VERSION")
    assert recipe.final.base.startswith("registry.fedoraproject.org/fedora:")
    # Both are needed inside the stage too (the image's ENV tells the entry script).
    assert {"FEDORA_VERSION", "DRIVER_VERSION"} <= set(recipe.final.args)
    assert {"FEDORA_VERSION", "DRIVER_VERSION"} <= recipe.final.env


def test_copied_files_exist_in_the_context() -> None:
    for stage in parsed().stages:
        for instruction in stage.instructions:
            if instruction.keyword in {"COPY", "ADD"}:
                *sources, _destination = instruction.arguments.split()
                for source in sources:
                    assert (RECIPE / source).is_file(), f"{source} is not in gpu_driver/"


def test_entry_script_is_valid_bash_and_executable() -> None:
    script = RECIPE / "nvidia-driver"
    assert script.stat().st_mode & 0o111
    checked = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    # The operator starts the container as `nvidia-driver init`.
    assert 'ENTRYPOINT ["nvidia-driver"]' in (RECIPE / "Dockerfile").read_text()
    assert "init) init ;;" in script.read_text()


def test_readme_says_what_a_full_build_needs() -> None:
    notes = (RECIPE / "README.md").read_text(encoding="utf-8").lower()
    assert "network" in notes
    assert "nvidia" in notes and "driver package" in notes
    assert "invoke gpu.build-driver" in notes


# ------------------------------------------------------------ the checker can fail


def test_undeclared_variable_is_reported() -> None:
    recipe = dockerfile.parse(
        "ARG FEDORA_VERSION\nFROM fedora:${FEDORA_VERSION}\nARG DRIVER_VERSION\n"
        "RUN echo $DRIVER_VERSION ${DRIVR_VERSION:-x}\n"
    )
    assert dockerfile.undeclared(recipe) == [
        "line 4: $DRIVR_VERSION is not in scope (declare `ARG DRIVR_VERSION` or "
        "`ENV DRIVR_VERSION=...` first)"
    ]


def test_global_argument_must_be_repeated_inside_the_stage() -> None:
    recipe = dockerfile.parse("ARG V=1\nFROM scratch\nLABEL v=$V\n")
    (problem,) = dockerfile.undeclared(recipe)
    assert problem.startswith("line 3: $V is not in scope (it is declared before FROM")


def test_from_needs_a_global_argument() -> None:
    recipe = dockerfile.parse("FROM fedora:${FEDORA_VERSION}\nARG FEDORA_VERSION\n")
    (problem,) = dockerfile.undeclared(recipe)
    assert "in FROM is not declared by an ARG before the first FROM" in problem
    assert not dockerfile.from_uses(dockerfile.parse("FROM fedora:42\n").stages[0], "X")


def test_env_is_inherited_by_a_derived_stage_but_arg_is_not() -> None:
    recipe = dockerfile.parse(
        "FROM scratch AS base\nARG A\nENV B=$A\n"
        "FROM base\nLABEL b=$B \\\n  # a comment inside a continuation\n  a=$A\n"
    )
    assert dockerfile.undeclared(recipe) == [
        "line 5: $A is not in scope (declare `ARG A` or `ENV A=...` first)"
    ]
    assert recipe.stages[1].inherited_env == {"B"}


def test_use_before_declaration_in_the_same_stage_is_reported() -> None:
    recipe = dockerfile.parse("FROM scratch\nLABEL a=$A\nARG A\nLABEL again=$A\n")
    assert [p.split(":")[0] for p in dockerfile.undeclared(recipe)] == ["line 2"]


def test_escaped_dollar_and_command_substitution_are_not_variables() -> None:
    recipe = dockerfile.parse("FROM scratch\nRUN echo \\$HOME $(uname -r) $$\n")
    assert dockerfile.undeclared(recipe) == []


@pytest.mark.parametrize("text", ["", "# only a comment\n", "RUN true\n"])
def test_a_file_without_from_is_a_problem(text: str) -> None:
    assert dockerfile.undeclared(dockerfile.parse(text)) != []


def test_the_test_fixture_builds_offline() -> None:
    fixture = dockerfile.parse(
        (Path(__file__).parents[1] / "fixtures" / "driver-build" / "Dockerfile").read_text()
    )
    assert dockerfile.undeclared(fixture) == []
    assert fixture.final is not None and fixture.final.base == "scratch"
    assert not any(i.keyword == "RUN" for s in fixture.stages for i in s.instructions)
