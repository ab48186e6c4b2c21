"""Everything a task prints goes through here: numbered steps, waits, redaction.

Known secret values are replaced before any text reaches the terminal, so a
secret that slips into an API error message or a diff is still not shown. The
values come from the process-wide registry in core.redaction (filled when an
environment is loaded), and the terminal streams themselves redact, so a table
printed straight to `ui.stream` is covered as well.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Literal, cast

from rich.console import Console as RichConsole
from rich.markup import escape

from .redaction import REDACTED, redact
from .redaction import register as _register

__all__ = ["REDACTED", "Console", "Step", "WaitStatus", "redact", "register_secrets"]


def register_secrets(values: list[str]) -> None:
    """Values to redact from now on, in this process (kept for existing callers)."""
    _register(values)


class RedactingStream(io.TextIOBase):
    """sys.stdout or sys.stderr, looked up at each write, with secrets removed.

    Looked up late because tests (and pytest's capture) replace sys.stdout.
    """

    def __init__(self, name: Literal["stdout", "stderr"]) -> None:
        super().__init__()
        self._name = name

    @property
    def _target(self) -> io.TextIOBase:
        return getattr(sys, self._name)  # type: ignore[no-any-return]

    def write(self, text: str) -> int:
        self._target.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", None) or "utf-8"


def _terminal(name: Literal["stdout", "stderr"]) -> RichConsole:
    return RichConsole(file=cast(IO[str], RedactingStream(name)), highlight=False, soft_wrap=True)


Outcome = Literal["done", "unchanged", "failed", "skipped", "planned"]
MARKS = {"done": "✓", "unchanged": "–", "failed": "✗", "skipped": "·", "planned": "→"}
COLOURS = {
    "done": "green",
    "unchanged": "dim",
    "failed": "red",
    "skipped": "dim",
    "planned": "cyan",
}


@dataclass
class Step:
    number: int
    title: str
    outcome: Outcome = "done"
    detail: str = ""

    def unchanged(self, detail: str = "") -> None:
        self.outcome, self.detail = "unchanged", detail

    def done(self, detail: str = "") -> None:
        self.outcome, self.detail = "done", detail

    def skipped(self, detail: str = "") -> None:
        self.outcome, self.detail = "skipped", detail

    def planned(self, detail: str = "") -> None:
        self.outcome, self.detail = "planned", detail


@dataclass
class Console:
    """Task output. One per task run; holds the secrets it must never print."""

    stream: RichConsole = field(default_factory=lambda: _terminal("stdout"))
    errors: RichConsole = field(default_factory=lambda: _terminal("stderr"))
    steps: list[Step] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def add_secrets(self, values: list[str]) -> None:
        """More values to redact (an environment's own are registered when it is loaded)."""
        _register(values)

    def redact(self, text: str) -> str:
        return redact(text)

    def print(self, text: str = "", style: str | None = None) -> None:
        self.stream.print(escape(self.redact(text)), style=style)

    def heading(self, text: str) -> None:
        self.stream.print(f"\n[bold]{escape(self.redact(text))}[/bold]")

    def warn(self, text: str) -> None:
        self.errors.print(f"[yellow]warning:[/yellow] {escape(self.redact(text))}")

    def error(self, text: str) -> None:
        self.errors.print(f"[red]error:[/red] {escape(self.redact(text))}")

    @contextmanager
    def step(self, title: str) -> Iterator[Step]:
        """A numbered step; the body marks it unchanged/skipped, otherwise it is done."""
        current = Step(len(self.steps) + 1, title)
        self.steps.append(current)
        begun = time.monotonic()
        try:
            yield current
        except BaseException:
            current.outcome = "failed"
            self._report(current, time.monotonic() - begun)
            raise
        self._report(current, time.monotonic() - begun)

    def _report(self, step: Step, seconds: float) -> None:
        mark = MARKS[step.outcome]
        colour = COLOURS[step.outcome]
        detail = f" — {step.detail}" if step.detail else ""
        elapsed = f" [dim]({seconds:.1f}s)[/dim]" if seconds >= 1 else ""
        self.stream.print(
            f"[{colour}]{mark}[/{colour}] {step.number:>2}. "
            f"{escape(self.redact(step.title + detail))}{elapsed}"
        )

    @contextmanager
    def waiting(self, what: str) -> Iterator[WaitStatus]:
        """A live status line while waiting; plain lines when not on a terminal."""
        status = WaitStatus(self, what)
        if self.stream.is_terminal:
            with self.stream.status(escape(self.redact(what))) as live:
                status.live = live
                yield status
        else:
            yield status

    def summary(self, lines: list[str] | None = None) -> None:
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.outcome] = counts.get(step.outcome, 0) + 1
        parts = [f"{n} {name}" for name, n in counts.items()]
        elapsed = time.monotonic() - self.started
        self.stream.print(
            f"\n[bold]Done[/bold] in {elapsed:.1f}s: {', '.join(parts) or 'nothing to do'}"
        )
        for line in lines or []:
            self.print(f"  {line}")


@dataclass
class WaitStatus:
    console: Console
    what: str
    live: object | None = None
    last: str = ""

    def update(self, text: str) -> None:
        message = self.console.redact(f"{self.what}: {text}")
        if self.live is not None:
            self.live.update(escape(message))  # type: ignore[attr-defined]
        elif text != self.last:
            print(message, file=sys.stdout, flush=True)
        self.last = text
