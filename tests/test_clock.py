"""The fake clock: time passes only in sleep and advance, and each sleep is seen."""

from __future__ import annotations

import datetime as dt

import pytest

from scripts.core.errors import OperationFailed
from scripts.core.waiting import wait_until
from tests.support.clock import FakeClock


def test_sleep_advances_records_and_lets_the_world_act() -> None:
    seen: list[float] = []
    clock = FakeClock(start=10, on_sleep=seen.append)
    clock.sleep(2.5)
    clock.advance(1)
    assert clock.monotonic() == 13.5
    assert clock.sleeps == [2.5] and seen == [2.5]
    assert clock.time() == dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() + 13.5


def test_a_negative_sleep_does_not_turn_time_back() -> None:
    clock = FakeClock()
    clock.sleep(-1)
    assert clock.monotonic() == 0.0 and clock.sleeps == [-1]


def test_a_long_wait_costs_no_real_time() -> None:
    clock = FakeClock()
    with pytest.raises(OperationFailed, match="timed out after 900s"):
        wait_until(lambda: None, what="nothing", timeout=900, clock=clock)
    assert sum(clock.sleeps) == pytest.approx(900)


def test_the_installed_clock_reaches_retries_and_threads_started_with_its_context() -> None:
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    from scripts.core.waiting import current_clock, retry, using

    clock = FakeClock()
    failures = iter([ConnectionError("reset"), ConnectionError("reset")])

    def flaky() -> str:
        error = next(failures, None)
        if error is not None:
            raise error
        return "done"

    with using(clock):
        assert retry(flaky, transient=lambda e: isinstance(e, ConnectionError)) == "done"
        with ThreadPoolExecutor(max_workers=1) as pool:
            inherited = pool.submit(contextvars.copy_context().run, current_clock).result()
            bare = pool.submit(current_clock).result()
    assert clock.sleeps == [1.0, 2.0]  # the default back-off, on the fake clock
    assert inherited is clock
    assert bare is not clock  # a thread without the context keeps the real clock
    assert current_clock() is not clock
