"""Executor: dependency order, events to the sink, clean failure and cancellation."""

from __future__ import annotations

from typing import Any

from medical_imaging_framework.core import Graph, NodeRegistry, NodeSpec, Port
from medical_imaging_framework.run.control import CancelToken, NodeError
from medical_imaging_framework.run.events import Event, NodeFailed, NodeFinished, NodeStarted, RunFinished, RunStarted
from medical_imaging_framework.run.executor import Executor


def _source(ctx: Any, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return {"out": 2}


def _double(ctx: Any, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    if inputs["value"] < 0:
        raise NodeError("value must not be negative")
    return {"out": inputs["value"] * 2}


def _explode(ctx: Any, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    raise ZeroDivisionError("division by zero")


def _toy_registry() -> NodeRegistry:
    registry = NodeRegistry(discover=False)
    registry.register(NodeSpec("toy.Source", "Source", "Toy", _source, outputs=(Port("out", "Number"),)))
    registry.register(NodeSpec("toy.Double", "Double", "Toy", _double, inputs=(Port("value", "Number"),),
                               outputs=(Port("out", "Number"),)))
    registry.register(NodeSpec("toy.Explode", "Explode", "Toy", _explode, inputs=(Port("value", "Number"),)))
    return registry


def _chain(registry: NodeRegistry, *types: str) -> Graph:
    graph = Graph("toy")
    previous = None
    # add in reverse so insertion order differs from dependency order
    ids = [f"n{i}" for i in range(len(types))]
    for node_id, type_id in reversed(list(zip(ids, types, strict=True))):
        graph.add_node(registry.create(type_id, node_id))
    for node_id in ids:
        if previous:
            graph.connect(previous, "out", node_id, "value")
        previous = node_id
    return graph


def test_runs_in_dependency_order_and_passes_outputs() -> None:
    events: list[Event] = []
    result = Executor(_chain(_toy_registry(), "toy.Source", "toy.Double", "toy.Double"), events.append).run()
    assert result.status == "done"
    assert result.outputs["n2"]["out"] == 8
    started = [e.node_id for e in events if isinstance(e, NodeStarted)]
    assert started == ["n0", "n1", "n2"]
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert events[-1].status == "done"
    assert len([e for e in events if isinstance(e, NodeFinished)]) == 3


def test_failure_emits_node_failed_with_traceback_and_stops() -> None:
    events: list[Event] = []
    graph = _chain(_toy_registry(), "toy.Source", "toy.Explode")
    result = Executor(graph, events.append).run()
    assert result.status == "failed" and result.failed_node == "n1"
    failed = [e for e in events if isinstance(e, NodeFailed)]
    assert failed[0].message == "ZeroDivisionError: division by zero"
    assert "Traceback" in failed[0].traceback
    assert events[-1] == RunFinished(status="failed", seconds=events[-1].seconds)


def test_node_error_message_is_shown_as_is() -> None:
    registry = _toy_registry()
    registry.register(NodeSpec("toy.Negative", "Neg", "Toy", lambda c, i, k: {"out": -1},
                               outputs=(Port("out", "Number"),)))
    events: list[Event] = []
    Executor(_chain(registry, "toy.Negative", "toy.Double"), events.append).run()
    assert [e.message for e in events if isinstance(e, NodeFailed)] == ["value must not be negative"]


def test_invalid_graph_does_not_run() -> None:
    registry = _toy_registry()
    graph = Graph()
    graph.add_node(registry.create("toy.Double", "lonely"))
    events: list[Event] = []
    result = Executor(graph, events.append).run()
    assert result.status == "invalid" and events == []
    assert "required input 'value'" in str(result.problems[0])


def test_cancelled_before_a_node_stops_the_run() -> None:
    cancel = CancelToken()
    cancel.cancel()
    events: list[Event] = []
    result = Executor(_chain(_toy_registry(), "toy.Source", "toy.Double"), events.append, cancel).run()
    assert result.status == "cancelled"
    assert events[-1].status == "cancelled"
    assert not any(isinstance(e, NodeFinished) for e in events)
