"""An explicit step graph: steps with dependencies, each started as soon as its own are done.

`invoke deploy` is such a graph (scripts/orchestrate.py): the hub needs only the cluster
and its default workers, so it must not wait for a GPU node group that takes 10-15
minutes. The rules, which make a run's outcome depend only on the graph and on which
steps fail (never on thread timing):

* a step starts when every step it comes after has succeeded; steps that become ready
  together start in the order they were declared;
* a step whose dependency failed (or was itself not run) is not run, and says why;
* one failing branch never stops the others: every runnable step runs to its end, then
  the caller reports all failures together;
* a `trunk` step runs in the calling thread with the caller's console and its errors
  propagate unchanged (nothing else is running then, so there is nothing to wait for);
  the others run in threads, each writing to its own buffer, printed as one block when
  it finishes. Each step builds its own clients, so no client is shared between threads.

`simulate` schedules the same graph on a virtual timeline, for the benchmark.
"""

from __future__ import annotations

import contextvars
import io
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from .core.console import Console
from .core.errors import BadInput, OperationFailed

Action = Callable[[Console], object]


@dataclass(frozen=True)
class Step:
    name: str
    run: Action
    after: tuple[str, ...] = ()
    heading: str = ""  # printed when the step starts (the stage messages of `deploy`)
    trunk: bool = False


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # "ok", "failed" or "not run"
    seconds: float = 0.0
    error: str = ""
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def check(steps: Sequence[Step]) -> None:
    """Unknown names, duplicates and cycles are programming errors: refuse them loudly."""
    seen: set[str] = set()
    for step in steps:
        if step.name in seen:
            raise ValueError(f"step {step.name!r} declared twice")
        for before in step.after:
            # Only earlier steps may be depended on: declaration order is a topological order,
            # so there can be no cycle.
            if before not in seen:
                raise ValueError(f"step {step.name!r} comes after unknown or later {before!r}")
        seen.add(step.name)


def buffered_console() -> tuple[Console, io.StringIO]:
    from rich.console import Console as RichConsole

    buffer = io.StringIO()

    def make() -> RichConsole:
        return RichConsole(file=buffer, highlight=False, soft_wrap=True, color_system=None)

    return Console(stream=make(), errors=make()), buffer


def describe_failure(problem: BaseException) -> str:
    if isinstance(problem, BadInput):
        return "; ".join(str(p) for p in problem.problems)
    if isinstance(problem, OperationFailed):
        return problem.cause + (f" — {problem.remedy}" if problem.remedy else "")
    return f"unexpected {type(problem).__name__}: {problem}"


def _run_buffered(step: Step) -> Outcome:
    console, buffer = buffered_console()
    started = time.monotonic()
    error = ""
    try:
        step.run(console)
    except Exception as problem:  # one branch's failure must not hide the others' results
        error = describe_failure(problem)
    return Outcome(
        step.name,
        "failed" if error else "ok",
        time.monotonic() - started,
        error,
        console.redact(buffer.getvalue()),
    )


def run(steps: Sequence[Step], ui: Console) -> list[Outcome]:
    """Run the graph to its end; answers one outcome per step, in declaration order."""
    check(steps)
    outcomes: dict[str, Outcome] = {}
    running: dict[Future[Outcome], Step] = {}
    with ThreadPoolExecutor(max_workers=max(len(steps), 1), thread_name_prefix="step") as pool:
        while len(outcomes) < len(steps):
            progressed = False
            for step in steps:
                if step.name in outcomes or step in running.values():
                    continue
                blocked = [b for b in step.after if b in outcomes and not outcomes[b].ok]
                if blocked:
                    outcomes[step.name] = Outcome(
                        step.name, "not run", error=f"not run: {blocked[0]} did not succeed"
                    )
                    progressed = True
                    continue
                if not all(b in outcomes for b in step.after):
                    continue
                if step.heading:
                    ui.heading(step.heading)
                if step.trunk and not running:
                    started = time.monotonic()
                    step.run(ui)  # errors propagate: nothing else runs yet
                    outcomes[step.name] = Outcome(step.name, "ok", time.monotonic() - started)
                    progressed = True
                    break  # re-scan: steps after this one may be ready now
                # In a copy of this context, so the clock `deploy` installed
                # (core.waiting.using) reaches the step's waits and retries.
                context = contextvars.copy_context()
                running[pool.submit(context.run, _run_buffered, step)] = step
                progressed = True
            if progressed:
                continue
            if not running:  # nothing runnable and nothing running: only a bug gets here
                raise RuntimeError("step graph stalled")
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            # Several may finish together: print them in declaration order.
            for future in sorted(done, key=lambda f: steps.index(running[f])):
                running.pop(future)
                outcome = future.result()
                outcomes[outcome.name] = outcome
                _print_block(outcome, ui)
    return [outcomes[step.name] for step in steps]


def _print_block(outcome: Outcome, ui: Console) -> None:
    mark = "✓" if outcome.ok else "✗"
    ui.heading(f"{mark} {outcome.name} ({outcome.seconds:.1f}s)")
    for line in outcome.output.rstrip().splitlines():
        ui.print(f"  │ {line}")
    if outcome.error:
        ui.error(f"{outcome.name}: {outcome.error}")


def simulate(
    graph: Sequence[tuple[str, tuple[str, ...]]], minutes: Callable[[str], float]
) -> dict[str, tuple[float, float]]:
    """(start, end) of each step when each starts as soon as its dependencies ended.

    This is `run`'s schedule on a virtual clock: no step waits for anything but the
    steps it comes after.
    """
    times: dict[str, tuple[float, float]] = {}
    for name, after in graph:
        start = max((times[b][1] for b in after), default=0.0)
        times[name] = (start, start + minutes(name))
    return times
