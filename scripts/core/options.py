"""Command-line options: every mistake is one line naming the option, and exit 2.

invoke converts an option's text with the type of its default (`int("abc")`),
and a ValueError there escapes as a traceback; its parser errors ("No idea what
'--foo' is!") exit 1. This module gives every task's arguments a checked
conversion (which works under any invoke Program, plain `invoke` included) and
turns invoke's parse errors into our wording (used by scripts/cli.py's Program).
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any

from invoke.collection import Collection
from invoke.exceptions import Exit, ParseError
from invoke.parser.argument import Argument
from invoke.tasks import Task

from .errors import EXIT_BAD_INPUT, one_line, shown

_KIND_WORDS: dict[type, str] = {int: "a whole number", float: "a number"}


def flag_of(argument: Argument) -> str:
    # As invoke's parser names it (parser/context.py translate_underscores): `from_` (a
    # keyword as a parameter) is --from.
    name = str(argument.name).strip("_").replace("_", "-")
    return f"--{name}" if len(name) > 1 else f"-{name}"


def refuse(option: str, message: str) -> Exit:
    """The Exit every Program prints as one line and turns into exit 2."""
    return Exit(one_line(f"error: option {option}: {message}"), code=EXIT_BAD_INPUT)


class CheckedArgument(Argument):
    """An Argument whose conversion failure names the option instead of a traceback."""

    def set_value(self, value: Any, cast: bool = True) -> None:
        kind = self.kind
        if cast and kind in _KIND_WORDS and isinstance(value, str):
            words = _KIND_WORDS[kind]
            try:
                number = kind(value)
            except (ValueError, OverflowError):
                raise refuse(flag_of(self), f"{shown(value)} is not {words}") from None
            if isinstance(number, float) and not math.isfinite(number):
                raise refuse(flag_of(self), f"{shown(value)} is not a finite number")
        super().set_value(value, cast)

    def __repr__(self) -> str:
        # invoke puts the Argument's repr in its messages ("Flag <...> needed value").
        return flag_of(self)


def checked(argument: Argument) -> Argument:
    if type(argument) is Argument:
        argument.__class__ = CheckedArgument
    return argument


class _CheckedTask(Task[Any]):
    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        return [checked(a) for a in super().get_arguments(ignore_unknown_help)]


def check_every_task(collection: Collection) -> None:
    """Give each task of the collection (and its sub-collections) checked arguments."""
    for task in collection.tasks.values():
        if type(task) is Task:
            task.__class__ = _CheckedTask
    for child in collection.collections.values():
        check_every_task(child)


# ---------------------------------------------------------------- invoke's parse errors

_UNKNOWN = re.compile(r"^No idea what '(?P<token>.*)' is!$", re.DOTALL)
_NEEDS_VALUE = re.compile(r"^Flag (?P<flag>\S+) needed value and was not given one!$")
_NO_VALUE = re.compile(r"^Flag (?P<flag>\S+) doesn't take any value!$")
_POSITIONAL = re.compile(r"^'(?P<task>[^']+)' did not receive required positional arguments: ")


def describe_parse_error(
    error: ParseError, collection: Collection | None, binary: str = "invoke"
) -> str:
    """invoke's parse error as our one line: the option or task named, what is allowed."""
    message = str(error)
    context = getattr(error, "context", None)
    task = getattr(context, "name", None)
    found = _UNKNOWN.match(message)
    if found:
        return _unknown(found["token"], task, context, collection, binary)
    found = _NEEDS_VALUE.match(message)
    if found:
        return f"error: option {found['flag']}: needs a value (--name VALUE or --name=VALUE)"
    found = _NO_VALUE.match(message)
    if found:
        return f"error: option {found['flag']}: takes no value; give the flag alone"
    if _POSITIONAL.match(message):
        return f"error: task {task}: {message}"
    return one_line(f"error: command line: {message}")


def _unknown(
    token: str, task: str | None, context: Any, collection: Collection | None, binary: str
) -> str:
    if token.startswith("-"):
        flags = sorted(getattr(context, "flags", {}) or {}) if task else []
        where = f"for task {task}" if task else "before any task"
        close = difflib.get_close_matches(token, flags, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        allowed = f"; allowed: {', '.join(flags)}" if flags else ""
        named = token if re.fullmatch(r"--?[\w-]{1,60}", token) else shown(token)
        return one_line(f"error: option {named}: unknown {where}{hint}{allowed}")
    names = sorted(collection.task_names) if collection is not None else []
    close = difflib.get_close_matches(token, names, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    if task:
        return one_line(
            f"error: task {task}: unexpected argument {shown(token)}{hint}; "
            "options take the form --name VALUE"
        )
    return one_line(
        f"error: task {shown(token)}: unknown{hint}; `{binary} --list` shows every task"
    )


# The one help text of every task's --env option (tests/core/test_task_shape.py checks
# that no task words it differently): the lookup order lives in core.loading.
ENV_HELP = "environment name (default: $JHUB_ENV, else example)"
