"""Wall time of `invoke --list` (tab completion calls it) and `invoke plan`.

Run: python -m pytest benchmarks/bench_cli.py --benchmark-enable
Goal: --list well under 0.5 s; plan about a second on the example.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def invoke(*argv: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "invoke", *argv],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


@pytest.fixture
def isolated(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "JHUB_BUILD_DIR": str(tmp_path / "build")}


def test_invoke_list(benchmark: pytest.FixtureRequest, isolated: dict[str, str]) -> None:
    benchmark.pedantic(invoke, args=("--list",), kwargs={"env": isolated}, rounds=10)  # type: ignore[attr-defined]


def test_invoke_plan(benchmark: pytest.FixtureRequest, isolated: dict[str, str]) -> None:
    benchmark.pedantic(invoke, args=("plan",), kwargs={"env": isolated}, rounds=5)  # type: ignore[attr-defined]
