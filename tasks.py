"""Invoke namespace: composes the collections; all logic lives in scripts/."""

from importlib import import_module
from pathlib import Path

from invoke.collection import Collection

from scripts import top_tasks

AREAS = ("config", "cluster", "hub", "monitoring", "gpu", "lb", "local")

ns = Collection(*top_tasks.TASKS)
for area in AREAS:
    # Each area package exposes `ns` from scripts/<area>/tasks.py.
    if (Path(__file__).parent / "scripts" / area / "tasks.py").exists():
        ns.add_collection(import_module(f"scripts.{area}.tasks").ns)
