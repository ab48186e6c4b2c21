"""Asking before deleting: --yes, or a person at a terminal who answers yes."""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..core.errors import bad_option

Ask = Callable[[str], str]


def confirm(what: str, *, yes: bool, ask: Ask | None = None) -> bool:
    """True to go ahead. Without --yes and without a terminal this is bad input (exit 2):
    a pipeline must never delete because nobody was there to say no."""
    if yes:
        return True
    if ask is None and not sys.stdin.isatty():
        raise bad_option(
            "--yes", f"required to {what} when nobody is at a terminal to confirm; nothing changed"
        )
    try:
        reply = (ask or input)(f"{what[:1].upper()}{what[1:]}? [y/N] ")
    except EOFError:
        return False
    return reply.strip().lower() in {"y", "yes"}
