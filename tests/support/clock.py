"""The one fake clock of the tests: time passes only when the code under test sleeps.

It satisfies `scripts.core.waiting.Clock` (monotonic, sleep), so a 15-minute wait costs
nothing and every requested sleep is recorded. `on_sleep` is what the world does meanwhile:
a controller takes a step, an operator presses Ctrl-C, a thread gets a moment of real time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

# What time() counts from: a fixed date, so a test never depends on the day it runs.
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class FakeClock:
    """Injectable time: `sleep` advances it (and calls `on_sleep`); `sleeps` lists each sleep."""

    def __init__(
        self, start: float = 0.0, *, on_sleep: Callable[[float], None] | None = None
    ) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        """Seconds since the Unix epoch, counted from EPOCH."""
        return EPOCH.timestamp() + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        if self.on_sleep is not None:
            self.on_sleep(seconds)

    def advance(self, seconds: float) -> None:
        """Time passing outside any sleep (a slow call, another process)."""
        self.now += seconds
