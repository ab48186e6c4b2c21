"""The two kinds of expected failure and their exit codes.

Anything else that escapes a task is a bug: the task wrapper prints one line and
points at ``--debug`` for the traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it is and what is allowed."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


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
