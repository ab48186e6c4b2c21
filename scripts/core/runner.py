"""Turn a task body into a command: expected failures become one line and an exit code."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from invoke.exceptions import Exit

from .errors import EXIT_BAD_INPUT, EXIT_FAILED, BadInput, OperationFailed, one_line
from .redaction import format_exception, redact

F = TypeVar("F", bound=Callable[..., Any])


def debugging() -> bool:
    """`invoke --debug ...` or JHUB_DEBUG=1 asks for tracebacks."""
    return bool(os.environ.get("JHUB_DEBUG")) or logging.getLogger().isEnabledFor(logging.DEBUG)


def procedure(body: F) -> F:
    @functools.wraps(body)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return body(*args, **kwargs)
        except BadInput as error:
            for problem in error.problems:
                _say(f"error: {problem}")
            raise Exit(code=EXIT_BAD_INPUT) from None
        except OperationFailed as error:
            _debug_trace(error)
            _say(f"error: {error.cause}")
            if error.remedy:
                _say(f"  fix: {error.remedy}")
            raise Exit(code=EXIT_FAILED) from None
        except (Exit, KeyboardInterrupt):
            raise
        except Exception as error:
            if debugging():
                # The traceback, redacted: exception texts can quote API bodies.
                _debug_trace(error)
            else:
                _say(f"error: unexpected {type(error).__name__}: {one_line(str(error))}")
                _say("  fix: re-run with `invoke --debug ...` (or JHUB_DEBUG=1) for the traceback")
            raise Exit(code=EXIT_FAILED) from None

    return run  # type: ignore[return-value]


def _debug_trace(error: BaseException) -> None:
    if debugging():
        print(format_exception(error), file=sys.stderr, end="", flush=True)


def _say(text: str) -> None:
    print(redact(text), file=sys.stderr, flush=True)
