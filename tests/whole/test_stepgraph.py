"""The step graph runner: order, failures of one branch, trunk errors, bad graphs."""

from __future__ import annotations

import threading

import pytest

from scripts import stepgraph
from scripts.core.console import Console
from scripts.core.errors import BadInput, OperationFailed, Problem


def test_a_failed_branch_stops_only_what_follows_it_and_the_others_finish() -> None:
    ran: list[str] = []
    gate = threading.Event()

    def ok(name: str) -> stepgraph.Action:
        return lambda console: ran.append(name)

    def slow(console: Console) -> None:
        gate.wait(5)  # finishes only after the failing branch already failed
        ran.append("slow")

    def boom(console: Console) -> None:
        gate.set()
        raise OperationFailed("group went CREATE_FAILED", "see its status_reason")

    steps = [
        stepgraph.Step("root", ok("root"), trunk=True),
        stepgraph.Step("slow", slow, ("root",)),
        stepgraph.Step("boom", boom, ("root",)),
        stepgraph.Step("after boom", ok("after boom"), ("boom",)),
        stepgraph.Step("after slow", ok("after slow"), ("slow",)),
    ]

    outcomes = stepgraph.run(steps, Console())

    assert [(o.name, o.status) for o in outcomes] == [
        ("root", "ok"),
        ("slow", "ok"),
        ("boom", "failed"),
        ("after boom", "not run"),
        ("after slow", "ok"),
    ]
    assert outcomes[2].error == "group went CREATE_FAILED — see its status_reason"
    assert outcomes[3].error == "not run: boom did not succeed"
    assert "after boom" not in ran and ran[-1] == "after slow"


def test_a_trunk_step_raises_unchanged_and_nothing_else_starts() -> None:
    ran: list[str] = []

    def refuse(console: Console) -> None:
        raise BadInput([Problem("cluster.name", "must be set")])

    steps = [
        stepgraph.Step("cluster", refuse, trunk=True),
        stepgraph.Step("hub", lambda console: ran.append("hub"), ("cluster",)),
    ]
    with pytest.raises(BadInput):
        stepgraph.run(steps, Console())
    assert ran == []


def test_a_step_may_only_follow_an_earlier_one() -> None:
    steps = [
        stepgraph.Step("a", lambda console: None, ("b",)),
        stepgraph.Step("b", lambda console: None),
    ]
    with pytest.raises(ValueError, match="unknown or later 'b'"):
        stepgraph.run(steps, Console())


def test_simulate_starts_each_step_when_its_own_dependencies_end() -> None:
    graph = [("a", ()), ("b", ("a",)), ("c", ("a",)), ("d", ("b", "c"))]
    length = {"a": 15.0, "b": 12.0, "c": 3.0, "d": 1.0}
    assert stepgraph.simulate(graph, length.__getitem__) == {
        "a": (0.0, 15.0),
        "b": (15.0, 27.0),
        "c": (15.0, 18.0),
        "d": (27.0, 28.0),
    }
