"""The house rules, executable: import contracts, task shape, the --env help, docs entries.

The source checks live in tests/support/house_rules.py (stdlib only, so nox's lint
session runs the same thing: `python -m tests.support.house_rules`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import house_rules

ROOT = house_rules.ROOT


def test_core_imports_no_area_and_areas_do_not_import_each_other() -> None:
    breaches = house_rules.import_breaches()
    new = [b for b in breaches if b not in house_rules.KNOWN_IMPORT_BREACHES]
    assert not new, (
        "rule: scripts/core imports no area and areas do not import each other; move shared "
        "code to scripts/core or the cross-area procedure to the orchestration layer:\n"
        + "\n".join(new)
    )


def test_known_import_breaches_are_still_real() -> None:
    # Once one is fixed its entry goes, so the list only ever shrinks.
    fixed = sorted(house_rules.KNOWN_IMPORT_BREACHES - set(house_rules.import_breaches()))
    assert not fixed, "fixed, remove from KNOWN_IMPORT_BREACHES: " + ", ".join(fixed)


def test_every_task_begins_with_session_begin() -> None:
    breaches = house_rules.task_shape_breaches()
    assert not breaches, "\n".join(breaches)


def test_shape_exceptions_name_existing_tasks() -> None:
    tasks = {
        f"{module.path.relative_to(ROOT)} {function.name}"
        for module in house_rules.modules()
        for function, _ in house_rules._tasks(module)
    }
    assert set(house_rules.SHAPE_EXCEPTIONS) <= tasks


def test_env_help_is_written_once() -> None:
    breaches = house_rules.literal_env_help()
    assert not breaches, "\n".join(breaches)


def test_secrets_are_registered_only_in_core() -> None:
    breaches = house_rules.redaction_breaches()
    assert not breaches, "\n".join(breaches)


def test_one_fake_clock() -> None:
    breaches = house_rules.private_clocks()
    assert not breaches, "\n".join(breaches)


def test_tests_do_not_import_test_modules() -> None:
    breaches = house_rules.imports_of_test_modules()
    assert not breaches, "\n".join(breaches)


def _readme_rows() -> dict[str, str]:
    """Task name -> the guide its README row links to."""
    rows: dict[str, str] = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        cells = line.split("|")
        guide = re.search(r"\]\((docs/[^)]+)\)", cells[3])
        assert guide, f"README task row without a guide link: {line}"
        for name in re.findall(r"`([^`]+)`", cells[1]):
            rows[name] = guide.group(1)
    return rows


@pytest.fixture(scope="module")
def task_names() -> list[str]:
    from scripts.namespace import build

    return sorted(build().task_names)


def test_every_task_has_a_readme_row(task_names: list[str]) -> None:
    missing = [name for name in task_names if name not in _readme_rows()]
    assert not missing, "rule: each task gets a line in README's task table: " + ", ".join(missing)


def test_every_readme_task_exists(task_names: list[str]) -> None:
    unknown = [name for name in _readme_rows() if name not in task_names]
    assert not unknown, "README's task table names tasks that do not exist: " + ", ".join(unknown)


def test_every_task_is_in_its_guide(task_names: list[str]) -> None:
    rows = _readme_rows()
    missing = [
        f"{name} (in {rows[name]})"
        for name in task_names
        if name in rows
        and f"`{name}" not in Path(ROOT, rows[name]).read_text(encoding="utf-8")
        and f"invoke {name}" not in Path(ROOT, rows[name]).read_text(encoding="utf-8")
    ]
    assert not missing, "rule: each task has a section in its docs/<area>.md: " + ", ".join(missing)
