"""The two kinds of expected failure and their exit codes.

Anything else that escapes a task is a bug: the task wrapper prints one line and
points at ``--debug`` for the traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
# Longest echoed value, and longest line: a 20,000-character value is not repeated whole.
SHOWN_VALUE_LIMIT = 60
LINE_LIMIT = 400


def one_line(text: str) -> str:
    """The text with control characters escaped (\\n, \\x07, ...): one error, one line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def shown(value: object, limit: int = SHOWN_VALUE_LIMIT) -> str:
    """A value as an error echoes it: repr, one line, long ones cut with their length."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = len(value) if isinstance(value, str | bytes | list | dict) else len(text)
    return f"{text[: limit - 1]}… ({size} characters)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it is and what is allowed."""

    key: str
    message: str

    def __str__(self) -> str:
        line = one_line(f"{self.key}: {self.message}")
        return line if len(line) <= LINE_LIMIT else f"{line[: LINE_LIMIT - 1]}…"


class BadInput(Exception):
    """Configuration or options are wrong; nothing was changed (exit 2)."""

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = problems if isinstance(problems, list) else [problems]
        super().__init__("; ".join(str(p) for p in self.problems))


class OperationFailed(Exception):
    """A cloud or cluster operation failed (exit 1): what happened and what to do."""

    def __init__(self, cause: str, remedy: str = "") -> None:
        self.cause = cause
        self.remedy = remedy
        super().__init__(cause if not remedy else f"{cause} — {remedy}")


def bad_option(option: str, message: str) -> BadInput:
    return BadInput(Problem(f"option {option}", message))
