"""The `jhub` command: invoke's Program with our command-line boundary.

As invoke documents for distinct binaries (invoke/program.py, `Program(namespace=...,
name=..., binary=...)`, run from a console-script entry point), `jhub` is a
Program subclass bound to the project's namespace. The subclass owns every
command-line mistake: an unknown option or task, a missing value or one invoke
cannot convert is one line naming the option, and exit 2 (invoke's own parse
errors exit 1). It also installs log redaction before any task runs.

Plain `invoke` keeps working: tasks.py calls `adopt_running_program()`, which
gives invoke's running Program this class's handling, since invoke loads
tasks.py before it parses the tasks' options.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from invoke.exceptions import Exit, ParseError
from invoke.parser.argument import Argument
from invoke.parser.parser import Parser
from invoke.program import Program

from .core import options, redaction
from .core.errors import EXIT_BAD_INPUT

VERSION = "0.1.0"


class CommandLine(Program):
    """invoke's Program, with command-line mistakes as one line and exit 2.

    No state of its own (no __init__), so invoke's running Program can take this
    class under plain `invoke` (see adopt_running_program).
    """

    def core_args(self) -> list[Argument]:
        return [options.checked(a) for a in super().core_args()]

    def _make_parser(self) -> Parser:
        parser = super()._make_parser()
        for context in parser.contexts.values():
            for argument in context.args.values():
                options.checked(argument)
        return parser

    def parse_core_args(self) -> None:
        with self._command_line_errors():
            super().parse_core_args()

    def parse_tasks(self) -> None:
        with self._command_line_errors():
            super().parse_tasks()

    def parse_cleanup(self) -> None:
        with self._command_line_errors():
            try:
                super().parse_cleanup()
            except Exit as stop:
                # `--list no-such-area`: invoke exits 1 with its own words.
                if stop.code == 1 and str(stop.message or "").startswith("Sub-collection"):
                    raise Exit(f"error: option --list: {stop.message}", EXIT_BAD_INPUT) from None
                raise

    @contextmanager
    def _command_line_errors(self) -> Iterator[None]:
        try:
            yield
        except ParseError as error:
            collection = getattr(self, "collection", None)
            raise Exit(
                options.describe_parse_error(error, collection, self.binary), code=EXIT_BAD_INPUT
            ) from None


def program() -> CommandLine:
    from .namespace import build

    return CommandLine(
        namespace=build(), name="jhub", binary="jhub", binary_names=["jhub"], version=VERSION
    )


def adopt_running_program() -> None:
    """Under plain `invoke`, give invoke's own Program our command-line handling.

    invoke's console script runs `invoke.main.program`, a plain Program; it
    imports tasks.py while loading the collection, before it parses the tasks'
    options, so switching the instance's class here takes effect for the parse.
    """
    redaction.install()
    running: Any = getattr(sys.modules.get("invoke.main"), "program", None)
    if type(running) is Program:
        running.__class__ = CommandLine


def main() -> None:
    """Entry point of the `jhub` console script (pyproject.toml [project.scripts])."""
    redaction.install()
    program().run()


if __name__ == "__main__":
    main()
