"""The house rules that a reading of the source can check (stdlib only: nox's lint runs it).

`python -m tests.support.house_rules` prints every breach, one per line, and exits 1
if there is one; tests/test_house_rules.py asserts the same lists are empty.

- Import contracts: scripts.core imports no area; an area (cluster, hub incl. hub.tls,
  lb, gpu, monitoring, local, config) imports only itself and core; the orchestration
  layer (every module directly under scripts/) may import any area.
- Task shape: every invoke @task under scripts/ calls `session.begin(...)` before any
  other work (after its docstring, local imports and pure option parsing), never loads
  an environment or builds a Console itself, and its --env help is core.options.ENV_HELP.
- Secrets are registered for redaction only in scripts/core.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AREAS = frozenset({"cluster", "hub", "lb", "gpu", "monitoring", "local", "config"})

# Breaches that exist and are not yet fixed, named so that they cannot grow unseen:
# the test fails when one of these is fixed (remove it here) or a new one appears.
# (lb.recreate and local.up were; scripts/cross_area.py joins their areas now.)
KNOWN_IMPORT_BREACHES: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module


def modules(root: Path = ROOT) -> Iterator[Module]:
    for path in sorted((root / "scripts").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield Module(".".join(parts), path, ast.parse(path.read_text(), str(path)))


def _area(module: str) -> str | None:
    """'core', an area's name, or None for the orchestration layer and non-scripts modules."""
    parts = module.split(".")
    if parts[0] != "scripts" or (len(parts) < 3 and not _is_package(parts)):
        return None
    return parts[1]


def _is_package(parts: list[str]) -> bool:
    return len(parts) == 2 and parts[1] in AREAS | {"core"}


def _imported(module: Module) -> Iterator[tuple[str, int]]:
    package = module.name.split(".")
    if module.path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module:
                yield target, node.lineno
            else:
                # `from .. import hub` names modules, not attributes.
                for alias in node.names:
                    yield f"{target}.{alias.name}", node.lineno


def import_breaches(root: Path = ROOT) -> list[str]:
    found: set[str] = set()
    for module in modules(root):
        own = _area(module.name)
        if own is None:
            continue
        for target, _line in _imported(module):
            theirs = _area(target)
            if theirs is None and target.startswith("scripts") and target != "scripts":
                theirs = "orchestration"
            if theirs is None or theirs == own or (theirs == "core" and own != "core"):
                continue
            found.add(f"{module.name} imports {target}")
    return sorted(found)


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _tasks(module: Module) -> Iterator[tuple[ast.FunctionDef, ast.Call | None]]:
    for node in ast.walk(module.tree):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if _decorator_name(decorator) == "task":
                    yield node, decorator if isinstance(decorator, ast.Call) else None


def _calls(node: ast.AST) -> Iterator[ast.Call]:
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            yield child


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        owner = func.value
        prefix = owner.id if isinstance(owner, ast.Name) else "?"
        return f"{prefix}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else "?"


def _is_begin(call: ast.Call) -> bool:
    return _call_name(call) in {"session.begin", "begin"}


def _is_parsing(statement: ast.stmt) -> bool:
    """Pure option parsing/validation: calls that only look at the task's own arguments.

    Such a call may not reach an environment, a console or the network; we accept a
    statement whose calls name a parse/check/option helper (core.options, bad_option,
    parse_*), and `if ...: raise ...` guards.
    """
    if isinstance(statement, ast.If):
        return all(_parsing_call(call) for call in _calls(statement.test)) and all(
            _is_parsing(s) for s in statement.body + statement.orelse
        )
    if isinstance(statement, ast.Raise):
        return True
    calls = list(_calls(statement))
    if not calls:
        return isinstance(statement, (ast.Assign, ast.AnnAssign))
    return all(_parsing_call(call) for call in calls)


_PARSING_WORDS = (
    "parse",
    "check",
    "refuse",
    "bad_option",
    "option",
    "choice",
    "normalise",
    "problem",
    "badinput",
    "isdigit",
)


def _parsing_call(call: ast.Call) -> bool:
    name = _call_name(call).lower()
    if name in {"?.strip", "?.split", "?.lower", "?.replace"} or name.split(".")[-1] in {
        "strip",
        "split",
        "lower",
        "replace",
        "tuple",
        "int",
        "float",
        "str",
        "bool",
        "list",
        "frozenset",
        "set",
        "len",
        "sorted",
    }:
        return True
    return any(word in name for word in _PARSING_WORDS)


_SELF_LOADING = {"load", "loading.load", "Console", "console.Console"}


# Tasks that cannot begin with session.begin, and why (checked to still exist).
SHAPE_EXCEPTIONS = {
    # config.init creates the environment: there is nothing to load yet, and its --env
    # help says which files it writes.
    "scripts/config/tasks.py init": "creates the environment session.begin would load",
    # Checking and rebuilding dashboards are offline and need no environment; only
    # --apply (which does call session.begin) touches a cluster.
    "scripts/monitoring/tasks.py dashboards": "offline unless --apply",
}


def task_shape_breaches(root: Path = ROOT) -> list[str]:
    found: list[str] = []
    for module in modules(root):
        for function, decorator in _tasks(module):
            if f"{module.path.relative_to(root)} {function.name}" in SHAPE_EXCEPTIONS:
                continue
            where = f"{module.path.relative_to(root)}:{function.lineno} {function.name}"
            for call in _calls(function):
                if _call_name(call) in _SELF_LOADING:
                    found.append(
                        f"{where}: calls {_call_name(call)}(), loading the environment or "
                        "building a Console itself (rule: session.begin does both)"
                    )
            body = list(function.body)
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            body = [s for s in body if not isinstance(s, (ast.Import, ast.ImportFrom))]
            begun = False
            for statement in body:
                if any(_is_begin(call) for call in _calls(statement)):
                    begun = True
                    break
                if not _is_parsing(statement):
                    break
            if not begun:
                found.append(
                    f"{where}: does not start with `environment, ui = session.begin(env, ...)` "
                    "(rule: after the docstring, local imports and option parsing, the "
                    "first work of a task is session.begin)"
                )
            found.extend(_env_help_breaches(where, function, decorator))
    return found


def _env_help_breaches(
    where: str, function: ast.FunctionDef, decorator: ast.Call | None
) -> list[str]:
    if "env" not in [a.arg for a in function.args.args + function.args.kwonlyargs]:
        return []
    help_dict: ast.expr | None = None
    if decorator is not None:
        for keyword in decorator.keywords:
            if keyword.arg == "help":
                help_dict = keyword.value
    entry: ast.expr | None = None
    if isinstance(help_dict, ast.Dict):
        for key, value in zip(help_dict.keys, help_dict.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "env":
                entry = value
    if isinstance(help_dict, ast.Dict) and entry is None:
        # {**ENV_HELP, ...}: top_tasks' dict built from the shared constant.
        if any(key is None for key in help_dict.keys):
            return []
    elif isinstance(help_dict, ast.Name):
        # A module-level dict such as top_tasks.ENV_HELP: accepted when it is built from
        # the shared constant (checked where it is defined, by _literal_env_help).
        return []
    if isinstance(entry, (ast.Name, ast.Attribute)):
        return []
    return [f"{where}: --env help is not the shared constant (rule: use core.options.ENV_HELP)"]


def literal_env_help(root: Path = ROOT) -> list[str]:
    """A second wording of the --env help anywhere but core.options."""
    found: list[str] = []
    for module in modules(root):
        if module.name == "scripts.core.options":
            continue
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.startswith("environment name (default")
            ):
                found.append(
                    f"{module.path.relative_to(root)}:{node.lineno}: writes the --env help "
                    "again (rule: use core.options.ENV_HELP)"
                )
    return found


_REGISTERING = {
    "redaction.register",
    "register_secret",
    "redaction.add",
    "redaction.register_secrets",
}


def redaction_breaches(root: Path = ROOT) -> list[str]:
    """Secrets registered for redaction outside scripts/core."""
    found: list[str] = []
    for module in modules(root):
        if module.name.startswith("scripts.core"):
            continue
        for call in _calls(module.tree):
            name = _call_name(call)
            if name in _REGISTERING or (name.startswith("redaction.") and "register" in name):
                found.append(
                    f"{module.path.relative_to(root)}:{call.lineno}: registers secrets for "
                    "redaction (rule: only scripts/core does, when it loads an environment)"
                )
    return found


def _test_files(root: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted((root / "tests").rglob("*.py")):
        yield path, ast.parse(path.read_text(), str(path))


def private_clocks(root: Path = ROOT) -> list[str]:
    """A fake clock class anywhere but tests/support/clock.py."""
    found: list[str] = []
    for path, tree in _test_files(root):
        if path == root / "tests" / "support" / "clock.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Clock"):
                found.append(
                    f"{path.relative_to(root)}:{node.lineno}: class {node.name} (rule: one fake "
                    "clock, tests/support/clock.FakeClock; on_sleep for the meanwhile)"
                )
    return found


def imports_of_test_modules(root: Path = ROOT) -> list[str]:
    """A test importing another test module (shared helpers belong in a helpers module)."""
    found: list[str] = []
    for path, tree in _test_files(root):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                last = node.module.rsplit(".", 1)[-1]
                if node.module.startswith("tests") and last.startswith("test_"):
                    found.append(
                        f"{path.relative_to(root)}:{node.lineno}: imports {node.module} (rule: "
                        "tests do not import other test modules; move the helper out)"
                    )
    return found


def main() -> int:
    unknown = [b for b in import_breaches() if b not in KNOWN_IMPORT_BREACHES]
    problems = (
        [f"import contract: {b}" for b in unknown]
        + task_shape_breaches()
        + literal_env_help()
        + redaction_breaches()
        + private_clocks()
        + imports_of_test_modules()
    )
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
