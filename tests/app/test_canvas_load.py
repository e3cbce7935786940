"""Loading a pipeline onto the canvas in bulk draws exactly what NodeGraphQt's own calls draw (issue 12)."""

from __future__ import annotations

from typing import Any

import pytest
from NodeGraphQt.qgraphics.node_base import NodeItem
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from medical_imaging_framework.app.canvas import items as canvas_items
from medical_imaging_framework.app.canvas.graph_widgets import bulk_drawing
from medical_imaging_framework.core import Graph, Node, NodeRegistry
from medical_imaging_framework.core.pipeline_file import graph_from_dict, graph_to_dict
from tests.support.pipelines import make_tiny_graph


def item_layout(item: QGraphicsItem) -> list[Any]:
    """Position, size, visibility and tooltip of ``item`` and, recursively, of its children."""
    rect = item.boundingRect()
    return [round(item.x(), 2), round(item.y(), 2), round(rect.width(), 2), round(rect.height(), 2),
            item.isVisible(), item.toolTip(), item.zValue(), [item_layout(child) for child in item.childItems()]]


def canvas_layout(window: Any) -> dict[str, Any]:
    """Every node's and pipe's drawing on ``window``'s canvas."""
    drawn: dict[str, Any] = {
        node.name(): [item_layout(node.view), sorted((k, str(v)) for k, v in node.view.properties.items() if k != "id"),
                      node.view.text_item.toPlainText(), node.view.icon, node.model.width, node.model.height]
        for node in window.node_graph.all_nodes()
    }
    pipes = []
    for pipe in window.node_graph.viewer().all_pipes():
        arrow = pipe.childItems()[0]
        ends = (pipe.output_port.node.name, pipe.output_port.name, pipe.input_port.node.name, pipe.input_port.name)
        pipes.append((*ends, pipe.path().boundingRect().getRect(), pipe.pen().color().name(), pipe.pen().widthF(),
                      round(arrow.rotation(), 2), arrow.pos().toTuple(), arrow.brush().color().name()))
    drawn["pipes"] = sorted(pipes)
    return drawn


def every_type_graph(registry: NodeRegistry) -> Graph:
    """The tiny pipeline plus one node of every registered type."""
    graph = make_tiny_graph(registry)
    for index, spec in enumerate(registry.specs()):
        graph.add_node(Node(f"extra_{index}", spec, position=(index * 300.0, -900.0)))
    return graph


def test_bulk_load_draws_what_nodegraphqt_lays_out(make_window: Any, registry: NodeRegistry,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    data = graph_to_dict(every_type_graph(registry))
    fast = make_window()
    fast.show_graph(graph_from_dict(data, registry), None)
    assert all(isinstance(node.view, canvas_items.LaidOutOnceNodeItem) for node in fast.node_graph.all_nodes())
    monkeypatch.setattr(canvas_items, "LaidOutOnceNodeItem", NodeItem)  # NodeGraphQt's item, laid out 3 times
    reference = make_window()
    reference.show_graph(graph_from_dict(data, registry), None)
    assert type(reference.node_graph.all_nodes()[0].view) is NodeItem
    drawn = canvas_layout(fast)
    assert drawn == canvas_layout(reference)
    assert len(drawn["pipes"]) == len(data["links"]) > 0
    for pipe in fast.node_graph.viewer().all_pipes():
        pipe.reset()  # NodeGraphQt's full restyle: the pipes were already styled exactly so
    assert canvas_layout(fast) == drawn


def test_bulk_drawing_restores_the_scene_index_and_repaints(make_window: Any) -> None:
    viewer = make_window().node_graph.viewer()
    scene = viewer.scene()
    assert scene.itemIndexMethod() == QGraphicsScene.ItemIndexMethod.BspTreeIndex
    with pytest.raises(RuntimeError), bulk_drawing(viewer):
        assert scene.itemIndexMethod() == QGraphicsScene.ItemIndexMethod.NoIndex
        assert not viewer.viewport().updatesEnabled()
        raise RuntimeError("a node failed to draw")
    assert scene.itemIndexMethod() == QGraphicsScene.ItemIndexMethod.BspTreeIndex
    assert viewer.viewport().updatesEnabled()


def test_canvas_node_lookup_follows_removal_undo_and_reload(make_window: Any, registry: NodeRegistry) -> None:
    window = make_window()
    window.show_graph(make_tiny_graph(registry), None)
    canvas = window.canvas
    first = canvas.canvas_node("trainer")
    assert first is not None and first.name() == "trainer"
    canvas.select(["trainer"])
    canvas.delete_selected()
    assert canvas.canvas_node("trainer") is None
    canvas.undo()
    again = canvas.canvas_node("trainer")
    assert again is not None and again is not first and again.name() == "trainer"
    assert window.node_graph.get_node_by_name("trainer") is again
    window.show_graph(Graph(name="empty"), None)
    assert canvas.canvas_node("trainer") is None and window.node_graph.all_nodes() == []
