"""The `NodeSpec` check hook: `Graph.validate` calls it in dependency order with the facts stated
upstream, and reports its problems naming node and field (issue 10 §2)."""

from __future__ import annotations

from medical_imaging_framework.core import Graph, NodeRegistry, NodeSpec, Param, ParamKind, Port, Problem
from medical_imaging_framework.core.checks import CheckContext, Fact


def _source_check(ctx: CheckContext) -> None:
    ctx.provide("out", **{Fact.SPATIAL_DIMS: ctx.known(ctx.config["dims"], "dims")})


def _sink_check(ctx: CheckContext) -> None:
    dims = ctx.fact("data", Fact.SPATIAL_DIMS)
    if dims is not None and len(ctx.config["size"]) != dims.value:
        ctx.conflict("size", f"has {len(ctx.config['size'])} values for {dims.value}D data", dims)


def _registry(calls: list[str]) -> NodeRegistry:
    def source_check(ctx: CheckContext) -> None:
        calls.append(ctx.node_id)
        _source_check(ctx)

    registry = NodeRegistry(discover=False)
    registry.register(NodeSpec(
        "test.Source", "Source", "Test", run=lambda ctx, inputs, config: {"out": 1},
        outputs=(Port("out", "Data"),), params=(Param("dims", ParamKind.INT, 2, minimum=1),), check=source_check,
    ))
    registry.register(NodeSpec(
        "test.Pass", "Pass", "Test", run=lambda ctx, inputs, config: {"out": inputs["data"]},
        inputs=(Port("data", "Data"),), outputs=(Port("out", "Data"),),  # no check: facts flow through
    ))
    registry.register(NodeSpec(
        "test.Sink", "Sink", "Test", run=lambda ctx, inputs, config: {}, inputs=(Port("data", "Data"),),
        params=(Param("size", ParamKind.INT_LIST, [8, 8], minimum=1),), check=_sink_check,
    ))
    return registry


def _chain(registry: NodeRegistry, dims: object, size: object) -> Graph:
    graph = Graph()
    graph.add_node(registry.create("test.Source", "source", dims=dims))
    graph.add_node(registry.create("test.Pass", "middle"))
    graph.add_node(registry.create("test.Sink", "sink", size=size))
    graph.connect("source", "out", "middle", "data")
    graph.connect("middle", "out", "sink", "data")
    return graph


def test_check_sees_upstream_facts_through_a_pass_through_node() -> None:
    calls: list[str] = []
    registry = _registry(calls)
    assert _chain(registry, 2, [8, 8]).validate() == []
    problems = _chain(registry, 3, [8, 8]).validate()
    assert Problem("sink", "has 2 values for 3D data (set by node 'source', field 'dims')", "size") in problems
    assert Problem("source", "has 2 values for 3D data (conflicts with node 'sink', field 'size')", "dims") in problems
    assert calls == ["source", "source"]


def test_a_node_whose_parameters_fail_states_no_facts_and_is_not_checked() -> None:
    calls: list[str] = []
    problems = _chain(_registry(calls), "three", [8, 8]).validate()
    assert [(p.node_id, p.field) for p in problems] == [("source", "dims")]
    assert calls == []


def test_checks_are_skipped_on_a_cycle_but_the_cycle_is_reported() -> None:
    calls: list[str] = []
    registry = _registry(calls)
    graph = Graph()
    graph.add_node(registry.create("test.Pass", "a"))
    graph.add_node(registry.create("test.Pass", "b"))
    graph.connect("a", "out", "b", "data")
    graph.links.append(type(graph.links[0])("b", "out", "a", "data"))
    assert any("cycle" in p.message for p in graph.validate())


def test_graph_module_does_not_import_the_registry() -> None:
    import ast
    from pathlib import Path

    import medical_imaging_framework.core.graph as graph_module

    tree = ast.parse(Path(graph_module.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "medical_imaging_framework.core.registry" not in imported
