"""The --dry-run convention for SDK calls.

Invoke's own --dry only affects c.run(); OpenStack, Kubernetes and Docker calls
go through Changes.make, which in a dry run prints what it would do instead.
Reads are never routed through here: a dry run still looks at the real state
so that it can say precisely what would change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .console import Console

T = TypeVar("T")


@dataclass
class Changes:
    ui: Console
    dry_run: bool = False
    made: list[str] = field(default_factory=list)

    def make(self, description: str, action: Callable[[], T]) -> T | None:
        """Run a mutating call, or in a dry run only announce it."""
        if self.dry_run:
            self.ui.print(f"  would {description}")
            self.made.append(f"(dry run) {description}")
            return None
        result = action()
        self.made.append(description)
        return result
