"""Waiting without fixed sleeps: capped exponential back-off and a deadline.

The clock is injectable so tests can simulate a 15-minute cluster creation in
milliseconds and count how often the API was asked. A procedure given a clock
(`orchestrate.deploy`) installs it with `using`, so every wait and retry beneath
it, down to a Kubernetes call's back-off, keeps that one clock.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from .errors import OperationFailed

T = TypeVar("T")


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


_CURRENT: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("clock", default=None)


def current_clock() -> Clock:
    """The clock installed by `using` in this context, else the real one."""
    return _CURRENT.get() or RealClock()


@contextlib.contextmanager
def using(clock: Clock | None) -> Iterator[None]:
    """Make `clock` the default of every wait and retry in this context (None: no change).

    Threads started inside do not inherit it by themselves: start their work with
    `contextvars.copy_context().run` (as `stepgraph.run` and `orchestrate.run_parallel` do).
    """
    if clock is None:
        yield
        return
    token = _CURRENT.set(clock)
    try:
        yield
    finally:
        _CURRENT.reset(token)


@dataclass
class Backoff:
    """Delays of initial, initial*factor, ... never above cap."""

    initial: float = 2.0
    factor: float = 1.6
    cap: float = 60.0
    _next: float = field(default=0.0, init=False)

    def delay(self) -> float:
        self._next = self.initial if not self._next else min(self._next * self.factor, self.cap)
        return self._next

    def reset(self) -> None:
        self._next = 0.0


def wait_until(
    probe: Callable[[], T | None],
    *,
    what: str,
    timeout: float,
    remedy: str = "",
    backoff: Backoff | None = None,
    clock: Clock | None = None,
    on_poll: Callable[[float], None] | None = None,
) -> T:
    """Call probe until it returns something other than None, or fail after timeout.

    probe raises OperationFailed itself for states that will never recover
    (a *_FAILED status), so those stop at once instead of waiting out the clock.
    """
    clock = clock or current_clock()
    backoff = backoff or Backoff()
    started = clock.monotonic()
    while True:
        result = probe()
        elapsed = clock.monotonic() - started
        if on_poll is not None:
            on_poll(elapsed)
        if result is not None:
            return result
        if elapsed >= timeout:
            raise OperationFailed(
                f"timed out after {elapsed:.0f}s waiting for {what}",
                remedy or "check the resource's state, then re-run the task (it resumes)",
            )
        clock.sleep(min(backoff.delay(), max(timeout - elapsed, 0.0)))


def retry(
    call: Callable[[], T],
    *,
    transient: Callable[[Exception], bool],
    attempts: int = 6,
    backoff: Backoff | None = None,
    clock: Clock | None = None,
) -> T:
    """Repeat call while it fails transiently (5xx, 409, resets); re-raise anything else."""
    clock = clock or current_clock()
    backoff = backoff or Backoff(initial=1.0, factor=2.0, cap=20.0)
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as error:
            if attempt == attempts or not transient(error):
                raise
            clock.sleep(backoff.delay())
    raise AssertionError("unreachable")
