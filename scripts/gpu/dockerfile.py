"""Read a Dockerfile far enough to know which build arguments it declares and uses.

gpu.build-driver passes FEDORA_VERSION and DRIVER_VERSION and names the image after
them; a Dockerfile that never declares them would be tagged with versions it does
not contain (the classic builder only warns). The same reading lets the tests lint
gpu_driver/Dockerfile without building it: a full build needs NVIDIA's sources and
the network.

Scoping follows Docker's rules: an ARG before the first FROM is visible only in FROM
lines; each stage sees only the ARGs it declares itself (which may take the global
default) and ENVs it sets or inherits from an earlier stage it builds on.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

# $NAME or ${NAME}, ${NAME:-default}, ${NAME:+word}; not \$NAME, not $(command).
_REFERENCE = re.compile(
    r"(?<!\\)\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)[^}]*\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Docker provides these to every build without a declaration.
PREDEFINED_ARGS = frozenset(
    {
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "FTP_PROXY",
        "ftp_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    }
)


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    arguments: str

    def references(self) -> list[str]:
        return [m["braced"] or m["bare"] for m in _REFERENCE.finditer(self.arguments)]


@dataclass
class Stage:
    line: int
    base: str
    name: str
    args: dict[str, str | None] = field(default_factory=dict)
    # ENV names set by the stage it builds on, and by the stage itself.
    inherited_env: set[str] = field(default_factory=set)
    env: set[str] = field(default_factory=set)
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    global_args: dict[str, str | None] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def declared_args(self) -> set[str]:
        """Every ARG name, wherever it is declared."""
        names = set(self.global_args)
        for stage in self.stages:
            names |= set(stage.args)
        return names

    @property
    def final(self) -> Stage | None:
        return self.stages[-1] if self.stages else None


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, instruction text) with continuations joined, comments dropped."""
    found: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continuation are ignored by Docker too
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        found.append((start, " ".join(part for part in pending if part)))
        pending = []
    if pending:
        found.append((start, " ".join(part for part in pending if part)))
    return found


def _assignments(arguments: str) -> list[tuple[str, str | None]]:
    """NAME=value pairs of ARG/ENV (also the legacy `ENV NAME value` form)."""
    try:
        words = shlex.split(arguments)
    except ValueError:
        words = arguments.split()
    if not words:
        return []
    if "=" not in words[0]:
        # ARG NAME, or the legacy ENV NAME value
        return [(words[0], " ".join(words[1:]) or None)]
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        name, _, value = word.partition("=")
        pairs.append((name, value))
    return pairs


def parse(text: str) -> Dockerfile:
    parsed = Dockerfile()
    stages_by_name: dict[str, Stage] = {}
    for line, body in logical_lines(text):
        keyword, _, arguments = body.partition(" ")
        keyword = keyword.upper()
        instruction = Instruction(line, keyword, arguments.strip())
        if keyword == "FROM":
            words = [w for w in instruction.arguments.split() if not w.startswith("--")]
            base = words[0] if words else ""
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
            stage = Stage(line, base, name)
            parent = stages_by_name.get(base)
            if parent is not None:
                # ENV carries over to a derived stage; ARG does not.
                stage.inherited_env = set(parent.env)
                stage.env = set(parent.env)
            stage.instructions.append(instruction)
            parsed.stages.append(stage)
            if name:
                stages_by_name[name] = stage
            continue
        if not parsed.stages:
            if keyword == "ARG":
                for name, value in _assignments(instruction.arguments):
                    parsed.global_args[name] = value
            else:
                parsed.problems.append(f"line {line}: {keyword} before the first FROM")
            continue
        stage = parsed.stages[-1]
        stage.instructions.append(instruction)
        if keyword == "ARG":
            for name, value in _assignments(instruction.arguments):
                if not _NAME.match(name):
                    parsed.problems.append(f"line {line}: ARG {name!r} is not a valid name")
                # `ARG NAME` inside a stage takes the global default, if any.
                stage.args[name] = value if value is not None else parsed.global_args.get(name)
        elif keyword == "ENV":
            for name, _value in _assignments(instruction.arguments):
                stage.env.add(name)
    if not parsed.stages:
        parsed.problems.append("no FROM instruction")
    return parsed


def undeclared(dockerfile: Dockerfile) -> list[str]:
    """Variables used where they are not in scope, as 'line N: $NAME ...' sentences."""
    problems = list(dockerfile.problems)
    for stage in dockerfile.stages:
        visible: set[str] = set(PREDEFINED_ARGS) | set(stage.inherited_env)
        declared_args: set[str] = set()
        for instruction in stage.instructions:
            if instruction.keyword == "FROM":
                scope = set(dockerfile.global_args) | PREDEFINED_ARGS
                for name in instruction.references():
                    if name not in scope:
                        problems.append(
                            f"line {instruction.line}: ${name} in FROM is not declared by an "
                            "ARG before the first FROM"
                        )
                continue
            for name in instruction.references():
                if name in visible or name in declared_args:
                    continue
                hint = (
                    f"(it is declared before FROM; repeat `ARG {name}` inside the stage)"
                    if name in dockerfile.global_args
                    else f"(declare `ARG {name}` or `ENV {name}=...` first)"
                )
                problems.append(f"line {instruction.line}: ${name} is not in scope {hint}")
            # The declaration takes effect after its own line.
            if instruction.keyword == "ARG":
                declared_args |= {n for n, _ in _assignments(instruction.arguments)}
            elif instruction.keyword == "ENV":
                visible |= {n for n, _ in _assignments(instruction.arguments)}
    return problems


def from_uses(stage: Stage, name: str) -> bool:
    """Whether a stage's FROM line refers to the build argument `name`."""
    head = stage.instructions[0] if stage.instructions else None
    return head is not None and name in head.references()
