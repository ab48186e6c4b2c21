"""Read a file the operator gave us; every way it can be wrong is one BadInput line.

Config and secrets files, kubeconfigs, certificate and key files, backups and
ledgers all come through here, so a directory where a file should be, bytes that
are not UTF-8, or YAML with a repeated key is refused the same way everywhere:
the file (or the option that named it) and what is wrong, never a traceback and
never the file's content (it may be a secrets file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import BadInput, Problem, shown

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (YAML 1.2 forbids it;
    PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[tuple[type, Any], int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                identity = (type(key), key)
                first = seen.get(identity)
            except TypeError:
                continue  # unhashable: the constructor reports it below
            line = key_node.start_mark.line + 1
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {shown(key)} is given twice (lines {first} and {line}); keep one",
                    key_node.start_mark,
                )
            seen[identity] = line
        return super().construct_mapping(node, deep=deep)


def _where(path: Path | str, key: str | None) -> str:
    return key or str(path)


def read_bytes(path: Path, key: str | None = None) -> bytes:
    """The file's bytes; BadInput naming `key` (default: the path) when it cannot be read."""
    where = _where(path, key)
    subject = f"{path}" if key else "file"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BadInput(Problem(where, f"{subject} not found")) from None
    except IsADirectoryError:
        raise BadInput(Problem(where, f"{subject} is a directory; name a file")) from None
    except PermissionError:
        raise BadInput(Problem(where, f"{subject} is not readable by this user")) from None
    except OSError as error:
        raise BadInput(Problem(where, f"cannot read {subject}: {error.strerror}")) from None


def read_text(path: Path, key: str | None = None) -> str:
    """The file as UTF-8 text; a file that is not UTF-8 is refused with the place it breaks."""
    data = read_bytes(path, key)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise BadInput(
            Problem(
                _where(path, key),
                f"{'file ' if not key else f'{path} '}is not UTF-8 text "
                f"(byte 0x{data[error.start]:02x} on line {line}); save it as UTF-8",
            )
        ) from None


def parse_yaml(text: str, where: str) -> Any:
    """YAML without repeated keys; errors name the line, never the text around it."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise BadInput(yaml_problem(error, text, where)) from None


def yaml_problem(error: yaml.YAMLError, text: str, where: str) -> Problem:
    """One line for a YAML error: the line number and the parser's complaint only."""
    line: int | None = None
    if isinstance(error, yaml.reader.ReaderError):
        line = text[: error.position].count("\n") + 1
        code = error.character if isinstance(error.character, int) else 0
        problem = f"character U+{code:04X} is not allowed in YAML text"
    else:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or type(error).__name__
        context = getattr(error, "context", None)
        if context and problem.startswith("but "):
            problem = f"{context}, {problem}"
    if line is None:
        return Problem(where, f"not valid YAML: {problem}")
    if where.startswith("option "):
        return Problem(where, f"not valid YAML on line {line}: {problem}")
    return Problem(f"{where}:{line}", f"not valid YAML: {problem}")


def read_yaml(path: Path, key: str | None = None) -> Any:
    """read_text then parse_yaml, errors named after `key` or the path."""
    return parse_yaml(read_text(path, key), _where(path, key))
