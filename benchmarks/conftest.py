"""Benchmarks share the test suite's fixtures (fake cloud, kmock) where they need them."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
