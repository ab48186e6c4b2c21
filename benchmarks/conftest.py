"""Benchmarks share the test suite's fixtures (fake cloud, kmock, recording helm)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import config_dir, run_task  # noqa: F401

pytest_plugins = [
    "tests.support.components",
    "tests.support.fakecloud",
    "tests.support.fakekube",
    "tests.support.fake_helm",
]
