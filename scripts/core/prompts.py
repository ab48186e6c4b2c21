"""Asking the operator before a step that interrupts users or deletes something."""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..core.errors import bad_option

Ask = Callable[[str], str]


def interactive() -> bool:
    """A person at a terminal can answer; pipelines and CI cannot."""
    return sys.stdin.isatty()


def confirm_interruption(question: str, *, yes: bool, ask: Ask | None = None) -> bool:
    """For a short outage (a hub restart): --yes or an unattended run proceeds."""
    if yes or (ask is None and not interactive()):
        return True
    return _answer(ask or input, question)


def confirm_deletion(what: str, *, yes: bool, ask: Ask | None = None) -> bool:
    """For deleting something: --yes, or a person who answers yes; never by default.

    Unattended without --yes is bad input (exit 2), so a pipeline cannot delete by accident.
    """
    if yes:
        return True
    if ask is None and not interactive():
        raise bad_option(
            "--yes",
            f"required to {what} when nobody is at a terminal to confirm; nothing changed",
        )
    return _answer(ask or input, f"{what[:1].upper()}{what[1:]}?")


def _answer(ask: Ask, question: str) -> bool:
    try:
        reply = ask(f"{question} [y/N] ")
    except EOFError:
        return False
    return reply.strip().lower() in {"y", "yes"}
