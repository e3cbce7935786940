"""The core graph is the document: edits are commands, each an undo step, announced to observers."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medical_imaging_framework.core import Graph, LinkError, Node, NodeRegistry, load_pipeline
from medical_imaging_framework.core.edit_commands import GraphEditor, GraphObserver
from medical_imaging_framework.core.graph import Link
from medical_imaging_framework.core.pipeline_file import graph_to_dict

PIPELINES = sorted((Path(__file__).resolve().parents[2] / "medical_imaging_framework" / "resources"
                    / "pipelines").glob("*.json"))


class Mirror(GraphObserver):
    """Rebuilds the graph's content from the notifications alone (what the canvas does)."""

    def __init__(self, graph: Graph) -> None:
        self.nodes = {i: (n.type_id, dict(n.config), tuple(n.position)) for i, n in graph.nodes.items()}
        self.links = set(graph.links)

    def node_added(self, node: Node) -> None:
        assert node.id not in self.nodes
        self.nodes[node.id] = (node.type_id, dict(node.config), tuple(node.position))

    def node_removed(self, node: Node) -> None:
        assert not any(node.id in (ln.source, ln.target) for ln in self.links), "links go before their node"
        del self.nodes[node.id]

    def link_added(self, link: Link) -> None:
        assert link.source in self.nodes and link.target in self.nodes
        self.links.add(link)

    def link_removed(self, link: Link) -> None:
        self.links.remove(link)

    def config_changed(self, node: Node) -> None:
        self.nodes[node.id] = (node.type_id, dict(node.config), self.nodes[node.id][2])

    def position_changed(self, node: Node) -> None:
        self.nodes[node.id] = (node.type_id, self.nodes[node.id][1], tuple(node.position))

    def matches(self, graph: Graph) -> bool:
        nodes = {i: (n.type_id, dict(n.config), tuple(n.position)) for i, n in graph.nodes.items()}
        return nodes == self.nodes and set(graph.links) == self.links


def apply_random_edit(editor: GraphEditor, registry: NodeRegistry, data: Any) -> None:
    """One random edit; refused links change nothing (and push nothing)."""
    graph, specs = editor.graph, registry.specs()
    node_ids = list(graph.nodes)
    kind = data.draw(st.sampled_from(["add", "remove", "link", "unlink", "move", "params", "rename"]))
    if kind == "add" or not node_ids:
        spec = data.draw(st.sampled_from(specs))
        editor.create_node(spec, (data.draw(st.integers(-500, 500)), data.draw(st.integers(-500, 500))))
    elif kind == "remove":
        editor.remove_nodes(data.draw(st.lists(st.sampled_from(node_ids), min_size=1, max_size=3)))
    elif kind == "link":
        source, target = data.draw(st.sampled_from(node_ids)), data.draw(st.sampled_from(node_ids))
        outputs, inputs = graph.nodes[source].spec.outputs, graph.nodes[target].spec.inputs
        if outputs and inputs:
            out_port, in_port = data.draw(st.sampled_from(outputs)), data.draw(st.sampled_from(inputs))
            occupied = [ln for ln in graph.links if (ln.target, ln.target_port) == (target, in_port.name)]
            new = Link(source, out_port.name, target, in_port.name)
            with contextlib.suppress(LinkError):
                editor.rewire(occupied, [new])  # as a drop on an occupied input does
    elif kind == "unlink" and graph.links:
        editor.disconnect([data.draw(st.sampled_from(graph.links))])
    elif kind == "move":
        moved = data.draw(st.lists(st.sampled_from(node_ids), min_size=1, max_size=3, unique=True))
        editor.move_nodes({i: (data.draw(st.floats(-999, 999, width=32)), 12.5) for i in moved})
    elif kind == "rename":
        node_id = data.draw(st.sampled_from(node_ids))
        new_id = data.draw(st.sampled_from([f"{node_id}_renamed", *node_ids]))
        with contextlib.suppress(ValueError):
            editor.rename_node(node_id, new_id)  # another node's id is refused and changes nothing
    elif kind == "params":
        node = graph.nodes[data.draw(st.sampled_from(node_ids))]
        if node.spec.params:
            param = data.draw(st.sampled_from(node.spec.params))
            value = data.draw(st.one_of(st.integers(-3, 3), st.text(max_size=4), st.just(param.default)))
            editor.set_config(node.id, {**node.config, param.name: value})


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: p.stem)
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_n_edits_then_n_undos_restore_the_file_form_exactly(pipeline: Path, registry: NodeRegistry, data: Any) -> None:
    graph = load_pipeline(pipeline, registry)
    original = graph_to_dict(graph)
    editor = GraphEditor(graph)
    mirror = Mirror(graph)
    editor.add_observer(mirror)
    for _ in range(data.draw(st.integers(1, 12))):
        apply_random_edit(editor, registry, data)
        assert mirror.matches(graph)
    steps = editor.history.index
    edited = graph_to_dict(graph)
    for _ in range(steps):
        assert editor.undo()
        assert mirror.matches(graph)
    assert graph_to_dict(graph) == original
    assert editor.history.is_clean() and not editor.history.can_undo()
    for _ in range(steps):
        assert editor.redo()
    assert graph_to_dict(graph) == edited
    assert mirror.matches(graph)


def test_remove_then_undo_puts_links_back_in_their_places(registry: NodeRegistry) -> None:
    graph = load_pipeline(PIPELINES[0], registry)
    before = graph_to_dict(graph)
    editor = GraphEditor(graph)
    node_id = next(i for i, n in graph.nodes.items() if n.type_id == "models.UNet")
    editor.remove_nodes([node_id])
    assert node_id not in graph.nodes and all(node_id not in (ln.source, ln.target) for ln in graph.links)
    editor.undo()
    assert graph_to_dict(graph) == before
    editor.redo()
    editor.undo()
    assert graph_to_dict(graph) == before


def test_refused_link_changes_nothing_and_names_the_reason(registry: NodeRegistry) -> None:
    editor = GraphEditor(Graph())
    trainer = editor.create_node(registry.get("training.Trainer"))
    adam = editor.create_node(registry.get("optim.Adam"))
    steps = editor.history.index
    with pytest.raises(LinkError, match="cannot link Optimizer output to Loss input"):
        editor.connect(adam.id, "optimizer", trainer.id, "loss")
    assert editor.graph.links == [] and editor.history.index == steps
    assert "Optimizer" in editor.link_refusal(Link(adam.id, "optimizer", trainer.id, "loss"))


def test_cycle_is_refused(registry: NodeRegistry) -> None:
    editor = GraphEditor(Graph())
    first = editor.create_node(registry.get("transforms.RandomFlip"))
    second = editor.create_node(registry.get("transforms.RandomFlip"))
    out_port, in_port = "transform", "transform"
    editor.connect(first.id, out_port, second.id, in_port)
    assert "cycle" in editor.link_refusal(Link(second.id, out_port, first.id, in_port))
    with pytest.raises(LinkError, match="cycle"):
        editor.connect(second.id, out_port, first.id, in_port)


def test_clean_state_follows_the_history(registry: NodeRegistry) -> None:
    editor = GraphEditor(Graph())
    flips: list[bool] = []
    editor.history.add_clean_listener(flips.append)
    node = editor.create_node(registry.get("training.Trainer"))
    editor.history.set_clean()
    editor.set_config(node.id, {**node.config, "num_epochs": 7})
    editor.undo()
    editor.redo()
    assert flips == [False, True, False, True, False]
    editor.undo()
    editor.create_node(registry.get("optim.Adam"))  # the saved state is now out of reach
    assert not editor.history.is_clean() and not editor.history.can_redo()


def test_paste_adds_renamed_shifted_copies_as_one_step(registry: NodeRegistry) -> None:
    graph = load_pipeline(PIPELINES[0], registry)
    before = graph_to_dict(graph)
    editor = GraphEditor(graph)
    part = Graph()
    part.nodes = {i: graph.nodes[i] for i in ("unet", "trainer")}
    part.links = [ln for ln in graph.links if ln.source in part.nodes and ln.target in part.nodes]
    assert editor.paste_graph(part, (40.0, 40.0)) == ["unet_2", "trainer_2"]
    assert Link("unet_2", "model", "trainer_2", "model") in graph.links
    x, y = graph.nodes["trainer"].position
    assert graph.nodes["trainer_2"].position == (x + 40.0, y + 40.0)
    assert graph.nodes["trainer_2"].config == graph.nodes["trainer"].config
    assert graph.nodes["trainer_2"].config is not graph.nodes["trainer"].config
    editor.undo()
    assert graph_to_dict(graph) == before


def test_rename_moves_the_links_keeps_the_order_and_is_one_undo_step(registry: NodeRegistry) -> None:
    graph = load_pipeline(PIPELINES[0], registry)
    before = graph_to_dict(graph)
    order = list(graph.nodes)
    editor = GraphEditor(graph)
    mirror = Mirror(graph)
    editor.add_observer(mirror)
    touching = [ln for ln in graph.links if "unet" in (ln.source, ln.target)]
    assert touching
    assert editor.rename_node("unet", "encoder-3d")
    assert "unet" not in graph.nodes and list(graph.nodes) == [("encoder-3d" if i == "unet" else i) for i in order]
    assert not [ln for ln in graph.links if "unet" in (ln.source, ln.target)]
    assert Link("encoder-3d", "model", "trainer", "model") in graph.links
    assert mirror.matches(graph) and editor.history.undo_text() == "rename 'unet' to 'encoder-3d'"
    editor.undo()
    assert graph_to_dict(graph) == before and mirror.matches(graph)
    editor.redo()
    assert "encoder-3d" in graph.nodes and not editor.rename_node("encoder-3d", "encoder-3d")


@pytest.mark.parametrize(("new_id", "reason"), [
    ("trainer", "node id 'trainer' is already used"),
    ("my unet", "must start with a letter or _ and hold only letters, digits, _ or - (no spaces)"),
    ("3d", "must start with a letter"),
    ("", "cannot be empty"),
])
def test_a_refused_rename_says_why_and_changes_nothing(registry: NodeRegistry, new_id: str, reason: str) -> None:
    graph = load_pipeline(PIPELINES[0], registry)
    before = graph_to_dict(graph)
    editor = GraphEditor(graph)
    assert reason in editor.rename_refusal("unet", new_id)
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        editor.rename_node("unet", new_id)
    assert graph_to_dict(graph) == before and not editor.history.can_undo()
