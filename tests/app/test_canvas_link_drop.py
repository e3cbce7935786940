"""A link dragged from a port into empty space opens the node search for node types that take it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.core.graph import Link
from tests.app.test_canvas import drag, port_point


def empty_point(window: Any, near: QPoint) -> QPoint:
    """A viewport point with no canvas item under it (nor within 30 px), the nearest to ``near`` on a grid."""
    viewer = window.node_graph.viewer()
    rect = viewer.viewport().rect().adjusted(30, 30, -30, -30)
    free = []
    for x in range(rect.left(), rect.right(), 20):
        for y in range(rect.top(), rect.bottom(), 20):
            area = viewer.mapToScene(x - 30, y - 30, 60, 60)
            if not [i for i in viewer.scene().items(area) if i.isVisible()]:
                free.append(QPoint(x, y))
    assert free, "no empty space on the canvas"
    return min(free, key=lambda p: (p - near).manhattanLength())


def test_dropping_a_new_link_in_space_offers_the_nodes_that_take_it(qtbot: Any, window: Any,
                                                                   registry: NodeRegistry) -> None:
    window.node_graph.set_zoom(-0.4)
    start = port_point(window, "unet", "model", output=True)
    view = window.canvas.canvas_node("train_loader").view  # a drop on a node's body is not in space
    drag(window, start, window.node_graph.viewer().mapFromScene(view.sceneBoundingRect().center()))
    qtbot.wait(20)
    assert window.canvas._search is None
    drag(window, start, empty_point(window, start + QPoint(0, 150)))
    qtbot.waitUntil(lambda: window.canvas._search is not None and window.canvas._search.isVisible())
    popup = window.canvas._search
    offered = [s.title for s in registry.specs() if any(p.kind == "Model" for p in s.inputs)]
    assert sorted(label.split(" — ")[0] for label in popup.labels()) == sorted(offered)
    assert popup.line_edit.placeholderText().startswith("Node types with a Model input")
    QTest.keyClicks(popup.line_edit, "load checkpoint")
    QTest.keyClick(popup.line_edit, Qt.Key.Key_Return)
    assert Link("unet", "model", "load_checkpoint", "model") in window.canvas.graph.links
    assert window.canvas.selected_ids() == ["load_checkpoint"]
    drawn = window.canvas.canvas_node("load_checkpoint").inputs()["model"].connected_ports()
    assert [p.node().name() for p in drawn] == ["unet"]
    window.action_undo.trigger()  # the node and its link were one step
    assert "load_checkpoint" not in window.canvas.graph.nodes
    assert Link("unet", "model", "trainer", "model") in window.canvas.graph.links
    end = port_point(window, "trainer", "model", output=False)  # an existing link dragged off into space
    drag(window, end, empty_point(window, end + QPoint(0, 150)))
    qtbot.wait(20)
    assert Link("unet", "model", "trainer", "model") not in window.canvas.graph.links
    assert not popup.isVisible()  # is removed, as before, and opens no search


def test_an_input_offers_nodes_with_a_matching_output_and_links_their_first_one(window: Any,
                                                                               registry: NodeRegistry) -> None:
    window.canvas.editor.disconnect([Link("unet", "model", "trainer", "model")])
    offered = window.canvas.offered_for("trainer", "model", from_output=False)
    assert offered and all(any(p.kind == "Model" for p in s.outputs) for s in offered)
    assert registry.get("models.UNet") in offered and registry.get("optim.Adam") not in offered
    new_id = window.canvas.create_linked(registry.get("models.UNet"), "trainer", "model", False, (500.0, 80.0))
    assert new_id == "unet_2" and Link("unet_2", "model", "trainer", "model") in window.canvas.graph.links
    assert window.canvas.graph.nodes["unet_2"].position[0] < 500.0  # to the left, its output facing the input
