"""Graph editing and validation: every problem at once, each naming its node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medical_imaging_framework.core import Graph, Link, LinkError, NodeRegistry, NodeSpec, Port, PortKind
from medical_imaging_framework.core.checks import Fact, Known
from medical_imaging_framework.core.pipeline_file import loads
from medical_imaging_framework.nodes.transforms import checks as transform_checks
from tests.support.bounded import load_and_validate_bounded
from tests.support.large_pipelines import transform_chain_text


def _loader_graph(registry: NodeRegistry) -> Graph:
    graph = Graph()
    graph.add_node(registry.create("data.SyntheticPhantoms", "phantoms"))
    graph.add_node(registry.create("data.DataLoader", "loader"))
    return graph


def test_connect_accepts_matching_kinds_and_orders_topologically(registry: NodeRegistry) -> None:
    graph = _loader_graph(registry)
    graph.connect("phantoms", "dataset", "loader", "dataset")
    assert graph.topological_order() == ["phantoms", "loader"]
    assert graph.validate() == []


def test_connect_refuses_kind_mismatch_unknown_port_and_occupied_input(registry: NodeRegistry) -> None:
    graph = _loader_graph(registry)
    graph.add_node(registry.create("training.Trainer", "trainer"))
    with pytest.raises(LinkError, match="cannot link Dataset output to DataLoader input"):
        graph.connect("phantoms", "dataset", "trainer", "train_data")
    with pytest.raises(LinkError, match="has no output 'images'"):
        graph.connect("phantoms", "images", "loader", "dataset")
    graph.connect("phantoms", "dataset", "loader", "dataset")
    graph.add_node(registry.create("data.SyntheticPhantoms", "more"))
    with pytest.raises(LinkError, match="already linked"):
        graph.connect("more", "dataset", "loader", "dataset")
    assert len(graph.links) == 1


def test_connect_refuses_a_cycle(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add_node(registry.create("data.TrainValSplit", "a"))
    graph.add_node(registry.create("data.TrainValSplit", "b"))
    graph.connect("a", "train", "b", "dataset")
    with pytest.raises(LinkError, match="cycle"):
        graph.connect("b", "train", "a", "dataset")


def test_validate_reports_every_problem_at_once(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add_node(registry.create("data.TrainValSplit", "a"))
    graph.add_node(registry.create("data.TrainValSplit", "b"))
    graph.add_node(registry.create("training.Trainer", "trainer"))
    graph.links += [Link("a", "train", "b", "dataset"), Link("b", "train", "a", "dataset")]  # a cycle
    graph.nodes["trainer"].config["save_every_n_epochs"] = "abc"
    graph.nodes["trainer"].config["colour"] = "blue"
    problems = graph.validate()
    text = [str(p) for p in problems]
    assert any("cycle" in t for t in text)
    assert "node 'trainer', field 'save_every_n_epochs': must be a whole number >= 1 (got 'abc')" in text
    assert "node 'trainer', field 'colour': unknown parameter for training.Trainer" in text
    for port in ("model", "loss", "optimizer", "train_data"):
        assert any(p.node_id == "trainer" and f"required input '{port}'" in p.message for p in problems)
    assert not any("val_data" in t for t in text), "optional inputs are not required"


def test_remove_node_drops_its_links(registry: NodeRegistry) -> None:
    graph = _loader_graph(registry)
    graph.connect("phantoms", "dataset", "loader", "dataset")
    graph.remove_node("phantoms")
    assert graph.links == [] and list(graph.nodes) == ["loader"]


def test_node_ids_must_be_unique_and_well_formed(registry: NodeRegistry) -> None:
    graph = _loader_graph(registry)
    with pytest.raises(ValueError, match="already used"):
        graph.add_node(registry.create("data.DataLoader", "loader"))
    with pytest.raises(ValueError, match="must start with a letter"):
        graph.add_node(registry.create("data.DataLoader", "1.bad"))
    assert graph.unique_id("loader") == "loader_2"


@pytest.mark.parametrize("node_id", ["trainer\n", "loader_2\n"])
def test_an_id_ending_in_a_line_break_is_refused_and_shown_escaped(registry: NodeRegistry, node_id: str) -> None:
    graph = _loader_graph(registry)
    with pytest.raises(ValueError) as caught:
        graph.add_node(registry.create("data.DataLoader", node_id))
    assert str(caught.value).startswith(f"node id '{node_id[:-1]}\\x0a' must start with a letter")
    assert node_id not in graph.nodes


def test_upstream_keeps_a_node_and_what_it_depends_on(registry: NodeRegistry) -> None:
    from tests.support.pipelines import make_tiny_graph

    graph = make_tiny_graph(registry, "")
    part = graph.upstream("train_loader")
    assert set(part.nodes) == {"train_loader", "split", "phantoms"}
    assert all(part.nodes[node_id] is graph.nodes[node_id] for node_id in part.nodes)
    assert {(link.source, link.target) for link in part.links} == {("phantoms", "split"), ("split", "train_loader")}
    assert part.validate() == []
    assert set(graph.upstream("trainer").nodes) == set(graph.nodes)  # the Trainer depends on every node
    assert set(graph.upstream("phantoms").nodes) == {"phantoms"} and graph.upstream("phantoms").links == []


def test_a_chain_of_40000_transforms_validates_in_linear_memory(tmp_path: Path) -> None:
    # Each node used to copy the chain's steps so far: 40,000 nodes held 800 million steps (7.8 GB).
    path = tmp_path / "chain.json"
    path.write_text(transform_chain_text(40_000, bad_step=30_000))
    assert path.stat().st_size > 3_000_000
    lines = load_and_validate_bounded(path, memory_bytes=1_500_000_000, timeout_s=300)
    assert lines == [
        "nodes: 40002",
        "problem: node 't30000', field 'spatial_size': has 3 values but the images are 2D (give one per axis) "
        "(images from node 'phantoms', field 'spatial_dims')",
        "problem: node 'phantoms', field 'spatial_dims': the images are 2D but node 't30000' is set for other "
        "images (spatial_size)",
    ]


def test_apply_nodes_sharing_a_chain_and_a_dataset_follow_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # 200 Apply nodes on one chain of 200 steps used to walk 40,000 steps: the product, not the sum.
    followed: list[int] = []
    original = transform_checks._follow

    def counting(*args: Any) -> Any:
        followed.append(len(next(arg for arg in args if isinstance(arg, list))))
        return original(*args)

    monkeypatch.setattr(transform_checks, "_follow", counting)
    seen: dict[str, Any] = {}
    registry = NodeRegistry()
    registry.register(NodeSpec(
        "test.Probe", "Probe", "Test", run=lambda ctx, inputs, config: {}, inputs=(Port("data", PortKind.DATASET),),
        check=lambda ctx: seen.__setitem__(ctx.node_id, ctx.fact("data", Fact.IMAGE_SIZE)),
    ))
    graph = loads(transform_chain_text(200, applies=200), registry)
    for index in range(200):
        graph.add_node(registry.create("test.Probe", f"probe{index}"))
        graph.connect(f"apply{index}", "train", f"probe{index}", "data")
    assert graph.validate() == []
    assert followed == [200]
    assert set(seen) == {f"probe{index}" for index in range(200)}
    assert set(seen.values()) == {Known((64, 64), "t198", "k")}  # every Apply states the size the chain leaves
